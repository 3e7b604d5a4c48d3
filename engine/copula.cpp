#include "spinval/copula.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "spinval/distribution.hpp"

namespace spinval {

double smallestEigenvalue(const Eigen::MatrixXd& symmetric) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(symmetric, Eigen::EigenvaluesOnly);
  return solver.eigenvalues().minCoeff();
}

GaussianCopula::GaussianCopula(std::vector<std::size_t> dimensions,
                               const Eigen::MatrixXd& correlation)
    : dimensions_(std::move(dimensions)) {
  const auto k = static_cast<Eigen::Index>(dimensions_.size());
  if (correlation.rows() != k || correlation.cols() != k) {
    throw std::invalid_argument("correlation matrix size does not match its dimensions");
  }
  Eigen::LLT<Eigen::MatrixXd> llt(correlation);
  if (llt.info() != Eigen::Success || smallestEigenvalue(correlation) <= 0.0) {
    std::ostringstream message;
    message << "correlation matrix is not positive definite (smallest eigenvalue "
            << smallestEigenvalue(correlation) << ")";
    throw std::invalid_argument(message.str());
  }
  cholesky_ = llt.matrixL();
}

GaussianCopula GaussianCopula::fromScenario(const CorrelationInputs& correlations,
                                            const Layout& layout) {
  if (correlations.empty()) return {};
  std::vector<std::size_t> dimensions;
  for (const auto& key : correlations.keys) {
    auto index = layout.staticIndex(key);
    if (!index) throw std::invalid_argument("correlated input '" + key + "' is not in the model");
    dimensions.push_back(*index);
  }
  return GaussianCopula(std::move(dimensions), correlations.matrix);
}

void GaussianCopula::apply(Eigen::Ref<Eigen::MatrixXd> uniforms) const {
  if (empty()) return;
  // The smallest and largest doubles strictly inside (0, 1) that the samplers can produce.
  constexpr double kLow = 0x1.0p-53, kHigh = 1.0 - 0x1.0p-53;
  const Eigen::Index paths = uniforms.rows();
  const auto k = static_cast<Eigen::Index>(dimensions_.size());
  Eigen::MatrixXd scores(paths, k);
  for (Eigen::Index j = 0; j < k; ++j) {
    const auto column = uniforms.col(static_cast<Eigen::Index>(dimensions_[j]));
    for (Eigen::Index i = 0; i < paths; ++i) scores(i, j) = normalQuantile(column[i]);
  }
  // Row-wise z' = L z, i.e. Z' = Z L^T.
  const Eigen::MatrixXd correlated = scores * cholesky_.transpose();
  for (Eigen::Index j = 0; j < k; ++j) {
    auto column = uniforms.col(static_cast<Eigen::Index>(dimensions_[j]));
    for (Eigen::Index i = 0; i < paths; ++i) {
      column[i] = std::clamp(normalCdf(correlated(i, j)), kLow, kHigh);
    }
  }
}

}  // namespace spinval
