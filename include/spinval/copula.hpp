// The copula that correlates static inputs, and the preparation of its correlation matrix.
// For the correlated columns of a block of uniforms (paths x dimensions, column-major):
// z = Phi^-1(u), z' = L z with L L^T = P the copula's correlation matrix (Cholesky, Eigen), and
//   Gaussian copula:  u' = Phi(z')
//   t copula:         u' = T_nu(z' / sqrt(s / nu)), s = F^-1_{chi2(nu)}(v), one draw per path
// where v is the path's uniform in the copula's own dimension "copula.chi2". Marginals are
// untouched. The copula's own dimensions follow the model's (Layout::engineDimensions):
//
//   Copula copula = Copula::fromScenario(scenario.correlations, model.layout());
//   Layout sampled = copula.samplingLayout(model.layout());  // model's dimensions + copula's
//   Sampler sampler(kind, seed, sampled);  // fills paths x sampled.dimensions()
//   copula.apply(u);                       // then the model reads u.leftCols(model dimensions)
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <string>
#include <vector>

#include "spinval/model.hpp"
#include "spinval/scenario.hpp"

namespace spinval {

// The name of the t copula's chi-square dimension: the sampler draws it by the same
// (seed, block, dimension name) rule as every other dimension.
inline constexpr const char* kChiSquareDimension = "copula.chi2";

class Copula {
 public:
  Copula() = default;  // no correlation: apply() leaves the block alone

  // The Gaussian copula. `dimensions[i]` is the block column of the matrix's row i. Throws
  // std::invalid_argument, naming the smallest eigenvalue, if the matrix is not positive
  // definite.
  Copula(std::vector<std::size_t> dimensions, const Eigen::MatrixXd& correlation);

  // The t copula with `dof` > 0 degrees of freedom; `chiSquareDimension` is the block column of
  // the uniform that gives each path's chi-square draw.
  static Copula studentT(std::vector<std::size_t> dimensions, const Eigen::MatrixXd& correlation,
                         double dof, std::size_t chiSquareDimension);

  // The copula of a scenario's correlations, its keys resolved against the model's layout
  // (throws std::invalid_argument for a key the layout does not have). A t copula takes its
  // chi-square uniform from the first column after the model's, layout.dimensions().
  static Copula fromScenario(const CorrelationInputs& correlations, const Layout& layout);

  // The layout the sampler draws: `model` with the copula's own dimensions appended as
  // engine dimensions (none for the Gaussian copula). Throws std::invalid_argument if the
  // copula's own dimension is not the first column after `model`'s.
  Layout samplingLayout(const Layout& model) const;

  // Correlates the block in place. `uniforms` has the columns of samplingLayout(model).
  void apply(Eigen::Ref<Eigen::MatrixXd> uniforms) const;

  // How many dimensions the copula appends after the model's: 1 for the t copula, else 0.
  std::size_t ownDimensions() const {
    return family_ == CopulaFamily::studentT && !empty() ? 1 : 0;
  }
  bool empty() const { return dimensions_.empty(); }
  CopulaFamily family() const { return family_; }
  double dof() const { return dof_; }

 private:
  std::vector<std::size_t> dimensions_;
  Eigen::MatrixXd cholesky_;  // lower triangular L
  // Rows of L that are unit vectors (the first input of each group of correlated inputs): there
  // x = z exactly, so the Gaussian copula leaves their uniforms as drawn.
  std::vector<char> unitRows_;
  CopulaFamily family_ = CopulaFamily::gaussian;
  double dof_ = 0.0;
  std::size_t chiSquareDimension_ = 0;
};

// Smallest eigenvalue of a symmetric matrix (for error messages about non-PD matrices).
double smallestEigenvalue(const Eigen::MatrixXd& symmetric);

// ---- Spearman's rho and the copula parameter

// Spearman's rho of the Gaussian copula with correlation rho, and its inverse:
// rho_S = (6 / pi) asin(rho / 2), rho = 2 sin(pi rho_S / 6).
double gaussianSpearman(double rho);
double gaussianPearsonFromSpearman(double spearman);

// Spearman's rho of the t copula with `dof` degrees of freedom as a function of its
// correlation rho, by quadrature (docs/model.md section 2.3), and its inverse. Accurate to
// about 1e-9 for dof >= 0.2 (1e-6 at dof 0.05). Construction evaluates a few hundred beta
// quantiles (milliseconds); each evaluation sums a few tens of thousands of terms.
class StudentTSpearman {
 public:
  explicit StudentTSpearman(double dof);  // throws std::invalid_argument unless dof > 0
  double spearman(double rho) const;      // rho_S(rho), odd and increasing on [-1, 1]
  double pearson(double spearman) const;  // the rho with rho_S(rho) = spearman

 private:
  std::vector<double> ratio_, weight_;  // the quadrature's nodes and weights
};

// ---- nearest correlation matrix

struct NearestCorrelationSettings {
  double tolerance = 1e-10;       // relative change of the iterates at which to stop
  int maxIterations = 10000;      // of the alternating projections
  double eigenvalueFloor = 1e-8;  // the result's eigenvalues are at least about this
};

struct NearestCorrelation {
  Eigen::MatrixXd matrix;  // symmetric, unit diagonal, positive definite
  int iterations = 0;
  bool converged = false;
};

// The correlation matrix nearest to a symmetric matrix in the Frobenius norm among those with
// eigenvalues >= eigenvalueFloor: Higham's alternating projections with Dykstra's correction
// (N. J. Higham, "Computing the nearest correlation matrix - a problem from finance", IMA J.
// Numer. Anal. 22, 2002), projecting onto {eigenvalues >= floor} and {unit diagonal} in turn.
NearestCorrelation nearestCorrelation(const Eigen::MatrixXd& symmetric,
                                      const NearestCorrelationSettings& settings = {});

}  // namespace spinval
