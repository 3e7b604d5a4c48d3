// The Gaussian copula that correlates static inputs: for the correlated columns of a block,
// z = Phi^-1(u), z' = L z with L L^T the target correlation matrix (Cholesky, Eigen), and
// u' = Phi(z'). Marginals are untouched; the normal scores Phi^-1(u') have the target Pearson
// correlation.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <vector>

#include "spinval/model.hpp"
#include "spinval/scenario.hpp"

namespace spinval {

class GaussianCopula {
 public:
  GaussianCopula() = default;  // no correlation: apply() leaves the block alone
  // `dimensions[i]` is the block column of the matrix's row i. Throws std::invalid_argument,
  // naming the smallest eigenvalue, if the matrix is not positive definite.
  GaussianCopula(std::vector<std::size_t> dimensions, const Eigen::MatrixXd& correlation);

  // The copula of a scenario's correlations, its keys resolved against the layout's static
  // inputs (throws std::invalid_argument for a key the layout does not have).
  static GaussianCopula fromScenario(const CorrelationInputs& correlations, const Layout& layout);

  void apply(Eigen::Ref<Eigen::MatrixXd> uniforms) const;
  bool empty() const { return dimensions_.empty(); }

 private:
  std::vector<std::size_t> dimensions_;
  Eigen::MatrixXd cholesky_;  // lower triangular L
};

// Smallest eigenvalue of a symmetric matrix (for error messages about non-PD matrices).
double smallestEigenvalue(const Eigen::MatrixXd& symmetric);

}  // namespace spinval
