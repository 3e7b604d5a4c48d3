#include "spinval/copula.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <bit>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>

#include "spinval/distribution.hpp"

namespace spinval {

double smallestEigenvalue(const Eigen::MatrixXd& symmetric) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(symmetric, Eigen::EigenvaluesOnly);
  return solver.eigenvalues().minCoeff();
}

Copula::Copula(std::vector<std::size_t> dimensions, const Eigen::MatrixXd& correlation)
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
  for (Eigen::Index j = 0; j < k; ++j) {
    const bool unit = cholesky_(j, j) == 1.0 && (cholesky_.row(j).array() != 0.0).count() == 1;
    unitRows_.push_back(unit ? 1 : 0);
  }
}

Copula Copula::studentT(std::vector<std::size_t> dimensions, const Eigen::MatrixXd& correlation,
                        double dof, std::size_t chiSquareDimension) {
  if (!(dof > 0.0) || !std::isfinite(dof)) {
    throw std::invalid_argument("the t copula needs degrees of freedom > 0");
  }
  if (std::find(dimensions.begin(), dimensions.end(), chiSquareDimension) != dimensions.end()) {
    throw std::invalid_argument("the t copula's chi-square dimension is also a correlated one");
  }
  Copula copula(std::move(dimensions), correlation);
  copula.family_ = CopulaFamily::studentT;
  copula.dof_ = dof;
  copula.chiSquareDimension_ = chiSquareDimension;
  return copula;
}

Copula Copula::fromScenario(const CorrelationInputs& correlations, const Layout& layout) {
  if (correlations.empty()) return {};
  std::vector<std::size_t> dimensions;
  for (const auto& key : correlations.keys) {
    auto index = layout.staticIndex(key);
    if (!index) throw std::invalid_argument("correlated input '" + key + "' is not in the model");
    dimensions.push_back(*index);
  }
  if (correlations.method == CopulaFamily::studentT) {
    return studentT(std::move(dimensions), correlations.matrix, correlations.dof,
                    layout.dimensions());
  }
  return Copula(std::move(dimensions), correlations.matrix);
}

Layout Copula::samplingLayout(const Layout& model) const {
  Layout sampled = model;
  if (ownDimensions() > 0) {
    if (chiSquareDimension_ != model.dimensions()) {
      throw std::invalid_argument(
          "the t copula's chi-square dimension is not the first column after the model's");
    }
    sampled.engineDimensions.push_back(kChiSquareDimension);
  }
  return sampled;
}

void Copula::apply(Eigen::Ref<Eigen::MatrixXd> uniforms) const {
  if (empty()) return;
  // The smallest and largest doubles strictly inside (0, 1) that the samplers can produce.
  constexpr double kLow = 0x1.0p-53, kHigh = 1.0 - 0x1.0p-53;
  const Eigen::Index paths = uniforms.rows();
  const auto k = static_cast<Eigen::Index>(dimensions_.size());
  Eigen::MatrixXd scores(paths, k);
  for (Eigen::Index j = 0; j < k; ++j) {
    normalQuantiles(uniforms.col(static_cast<Eigen::Index>(dimensions_[j])).data(),
                    scores.col(j).data(), static_cast<std::size_t>(paths));
  }
  // Row-wise z' = L z: column j of Z' is the sum over k <= j of L(j, k) times column k of Z, in
  // increasing k, over the nonzero L(j, k) only (correlations usually come in small groups,
  // which make L block diagonal).
  Eigen::MatrixXd correlated(paths, k);
  for (Eigen::Index j = 0; j < k; ++j) {
    auto column = correlated.col(j);
    column.setZero();
    for (Eigen::Index c = 0; c <= j; ++c) {
      if (cholesky_(j, c) != 0.0) column += cholesky_(j, c) * scores.col(c);
    }
  }
  if (family_ == CopulaFamily::gaussian) {
    Eigen::ArrayXd u(paths);
    for (Eigen::Index j = 0; j < k; ++j) {
      // x = z = Phi^-1(u): u itself, which Phi(x) gives back only to within rounding.
      if (unitRows_[static_cast<std::size_t>(j)]) continue;
      normalCdfs(correlated.col(j).data(), u.data(), static_cast<std::size_t>(paths));
      auto column = uniforms.col(static_cast<Eigen::Index>(dimensions_[j]));
      for (Eigen::Index i = 0; i < paths; ++i) column[i] = std::clamp(u[i], kLow, kHigh);
    }
    return;
  }
  // t copula: w = z' / sqrt(s / nu) with s ~ chi2(nu) drawn once per path from its own uniform,
  // shared by every correlated column, so w is multivariate t with correlation matrix P.
  // Double precision throughout (Boost promotes to long double by default): the results agree
  // to about 1e-15 and cost a quarter of the time.
  using Fast = boost::math::policies::policy<boost::math::policies::promote_double<false>>;
  const auto mixing = uniforms.col(static_cast<Eigen::Index>(chiSquareDimension_));
  Eigen::VectorXd scale(paths);
  for (Eigen::Index i = 0; i < paths; ++i) {
    const double s = 2.0 * boost::math::gamma_p_inv(0.5 * dof_, mixing[i], Fast());
    scale[i] = std::sqrt(dof_ / std::max(s, std::numeric_limits<double>::min()));
  }
  const boost::math::students_t_distribution<double, Fast> t(dof_);
  for (Eigen::Index j = 0; j < k; ++j) {
    auto column = uniforms.col(static_cast<Eigen::Index>(dimensions_[j]));
    for (Eigen::Index i = 0; i < paths; ++i) {
      const double w = correlated(i, j) * scale[i];
      column[i] = std::clamp(boost::math::cdf(t, w), kLow, kHigh);
    }
  }
}

// ---- Spearman's rho and the copula parameter

double gaussianSpearman(double rho) {
  return 6.0 / std::numbers::pi * std::asin(rho / 2.0);
}

double gaussianPearsonFromSpearman(double spearman) {
  return 2.0 * std::sin(std::numbers::pi * spearman / 6.0);
}

namespace {

// The p-quantile of Beta(a, b), given p and q = 1 - p each to full precision: Boost's inverse
// when it is accurate, else bisection over the ordered bit patterns of the doubles in [0, 1]
// on the regularised incomplete beta function (ibeta below the median, ibetac above).
double betaQuantile(double a, double b, double p, double q) {
  const bool lower = p <= q;
  const auto accurate = [&](double x) {
    if (!(x >= 0.0 && x <= 1.0)) return false;
    const double back = lower ? boost::math::ibeta(a, b, x) : boost::math::ibetac(a, b, x);
    const double target = lower ? p : q;
    return std::abs(back - target) <= 1e-12 * target;
  };
  try {
    const double x = lower ? boost::math::ibeta_inv(a, b, p) : boost::math::ibetac_inv(a, b, q);
    if (accurate(x)) return x;
  } catch (const std::exception&) {
    // Boost's root finder gives up for a few parameters; bisect instead.
  }
  std::uint64_t lo = 0, hi = std::bit_cast<std::uint64_t>(1.0);
  while (hi - lo > 1) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    const double x = std::bit_cast<double>(mid);
    const bool below = lower ? boost::math::ibeta(a, b, x) < p : boost::math::ibetac(a, b, x) > q;
    (below ? lo : hi) = mid;
  }
  return std::bit_cast<double>(hi);
}

}  // namespace

// With X = sqrt(W) Z, W = nu / chi2(nu), and independent copies X', X'':
// rho_S = 3 (P[(X1 - X1')(X2 - X2'') > 0] - P[... < 0]); given the three mixing variables the
// differences are bivariate normal, so
//   rho_S = (6 / pi) E[asin(rho W / sqrt((W + W')(W + W'')))].
// With W = nu / (2 G), G ~ Gamma(nu / 2), the argument is rho sqrt(B (1 - T) / (1 - T B)) where
// B = G' / (G + G') ~ Beta(a, a) and T = (G + G') / (G + G' + G'') ~ Beta(2a, a), a = nu / 2,
// are independent (neutrality of the Dirichlet). The expectation is a double integral over the
// two quantile functions, done on a tensor tanh-sinh rule, which is unaffected by the power-law
// behaviour of the integrand at the ends of (0, 1). Below dof 1 the quantile functions are
// steeper at the ends and the rule is refined.
StudentTSpearman::StudentTSpearman(double dof) {
  if (!(dof > 0.0) || !std::isfinite(dof)) {
    throw std::invalid_argument("the t copula needs degrees of freedom > 0");
  }
  const double a = 0.5 * dof;
  const double step = dof < 1.0 ? 1.0 / 32.0 : 1.0 / 16.0, range = dof < 1.0 ? 4.0 : 3.5;
  std::vector<double> weights, b, bc, t, tc;
  const int steps = static_cast<int>(range / step);
  for (int m = -steps; m <= steps; ++m) {
    // u = 1 / (1 + exp(-pi sinh x)), du/dx = pi cosh x u (1 - u); 1 - u without cancellation.
    const double x = m * step;
    const double s = std::numbers::pi * std::sinh(x);
    const double u = 1.0 / (1.0 + std::exp(-s)), uc = 1.0 / (1.0 + std::exp(s));
    const double w = step * std::numbers::pi * std::cosh(x) * u * uc;
    if (!(u > 0.0) || !(uc > 0.0) || w < 1e-300) continue;
    weights.push_back(w);
    b.push_back(betaQuantile(a, a, u, uc));
    bc.push_back(betaQuantile(a, a, uc, u));  // 1 - B, by the symmetry of Beta(a, a)
    t.push_back(betaQuantile(2.0 * a, a, u, uc));
    tc.push_back(betaQuantile(a, 2.0 * a, uc, u));  // 1 - T ~ Beta(a, 2a)
  }
  const std::size_t n = weights.size();
  ratio_.reserve(n * n);
  weight_.reserve(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      // 1 - T B = (1 - T) + T (1 - B), free of cancellation when T and B are near 1.
      const double denominator = tc[j] + t[j] * bc[i];
      ratio_.push_back(denominator > 0.0 ? std::sqrt(b[i] * tc[j] / denominator) : 0.0);
      weight_.push_back(weights[i] * weights[j]);
    }
  }
}

double StudentTSpearman::spearman(double rho) const {
  if (rho <= -1.0 || rho >= 1.0) return std::clamp(rho, -1.0, 1.0);
  double sum = 0.0;
  for (std::size_t m = 0; m < ratio_.size(); ++m) sum += weight_[m] * std::asin(rho * ratio_[m]);
  return std::clamp(6.0 / std::numbers::pi * sum, -1.0, 1.0);
}

double StudentTSpearman::pearson(double spearman) const {
  if (spearman <= -1.0 || spearman >= 1.0) return std::clamp(spearman, -1.0, 1.0);
  if (spearman == 0.0) return 0.0;
  // rho_S(rho) is odd and increasing: Newton's method on [0, 1] for |rho_S|, from the Gaussian
  // copula's answer, falling back to bisection whenever a step leaves the bracket.
  const double target = std::abs(spearman);
  double lo = 0.0, hi = 1.0, x = std::clamp(gaussianPearsonFromSpearman(target), 0.0, 1.0);
  for (int iteration = 0; iteration < 200 && hi - lo > 1e-15; ++iteration) {
    double value = 0.0, slope = 0.0;
    for (std::size_t m = 0; m < ratio_.size(); ++m) {
      const double r = ratio_[m];
      value += weight_[m] * std::asin(x * r);
      slope += weight_[m] * r / std::sqrt(std::max(1.0 - x * x * r * r, 1e-300));
    }
    const double f = 6.0 / std::numbers::pi * value - target;
    if (f == 0.0) break;
    (f < 0.0 ? lo : hi) = x;
    double next = x - f / (6.0 / std::numbers::pi * slope);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (std::abs(next - x) <= 1e-16) break;
    x = next;
  }
  return std::copysign(x, spearman);
}

// ---- nearest correlation matrix

NearestCorrelation nearestCorrelation(const Eigen::MatrixXd& symmetric,
                                      const NearestCorrelationSettings& settings) {
  const Eigen::Index n = symmetric.rows();
  if (symmetric.cols() != n)
    throw std::invalid_argument("nearestCorrelation needs a square matrix");
  NearestCorrelation result;
  // Y: the unit-diagonal iterate; X: the iterate with eigenvalues >= floor; dS: Dykstra's
  // correction, the part of the last eigenvalue projection that the next one must undo.
  Eigen::MatrixXd y = 0.5 * (symmetric + symmetric.transpose());
  Eigen::MatrixXd x = y, previousX = y, previousY = y;
  Eigen::MatrixXd correction = Eigen::MatrixXd::Zero(n, n);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(n);
  for (result.iterations = 1; result.iterations <= settings.maxIterations; ++result.iterations) {
    const Eigen::MatrixXd r = y - correction;
    eigen.compute(r);
    const Eigen::VectorXd clipped = eigen.eigenvalues().cwiseMax(settings.eigenvalueFloor);
    x = eigen.eigenvectors() * clipped.asDiagonal() * eigen.eigenvectors().transpose();
    correction = x - r;
    y = x;
    y.diagonal().setOnes();
    const double size = y.norm();
    const double change =
        std::max({(x - previousX).norm(), (y - previousY).norm(), (y - x).norm()});
    previousX = x;
    previousY = y;
    if (change <= settings.tolerance * size) {
      result.converged = true;
      break;
    }
  }
  result.iterations = std::min(result.iterations, settings.maxIterations);
  // X has eigenvalues >= floor; D^-1/2 X D^-1/2 with D = diag(X) has a unit diagonal and stays
  // positive definite (a congruence), and differs from Y by no more than the tolerance allows.
  const Eigen::VectorXd scale = x.diagonal().cwiseSqrt().cwiseInverse();
  result.matrix = scale.asDiagonal() * x * scale.asDiagonal();
  result.matrix = 0.5 * (result.matrix + result.matrix.transpose()).eval();
  result.matrix.diagonal().setOnes();
  return result;
}

}  // namespace spinval
