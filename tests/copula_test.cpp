// Tests of the copulas: the Gaussian copula's normal scores and ranks against their targets,
// the t copula's Spearman's rho and tail dependence against quadrature references, its
// chi-square dimension through the sampler and the simulation, and the nearest correlation
// matrix against published and hand-derived answers.
#include "spinval/copula.hpp"

#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <tuple>
#include <vector>

#include "spinval/rng.hpp"
#include "spinval/simulation.hpp"

namespace spinval {
namespace {

// n x columns independent uniforms in (0, 1): column d is the stream (seed, 0, d).
Eigen::MatrixXd independentUniforms(Eigen::Index n, Eigen::Index columns, std::uint64_t seed) {
  Eigen::MatrixXd u(n, columns);
  for (Eigen::Index d = 0; d < columns; ++d) {
    Engine engine = makeEngine(seed, 0, static_cast<std::uint64_t>(d));
    for (Eigen::Index i = 0; i < n; ++i) u(i, d) = toOpenUnit(engine());
  }
  return u;
}

Layout fiveUniformInputs() {
  Layout layout;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    layout.staticInputs.push_back({name, Distribution(Uniform{0, 1})});
  }
  layout.years = 1;
  return layout;
}

double pearson(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  const Eigen::ArrayXd dx = x.array() - x.mean(), dy = y.array() - y.mean();
  return (dx * dy).sum() / std::sqrt((dx * dx).sum() * (dy * dy).sum());
}

// Ranks 1..n of a sample without ties, divided by n + 1.
Eigen::VectorXd normalizedRanks(const Eigen::VectorXd& x) {
  const Eigen::Index n = x.size();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::sort(order.begin(), order.end(),
            [&](Eigen::Index a, Eigen::Index b) { return x[a] < x[b]; });
  Eigen::VectorXd ranks(n);
  for (std::size_t k = 0; k < order.size(); ++k) {
    ranks[order[k]] = static_cast<double>(k + 1) / static_cast<double>(n + 1);
  }
  return ranks;
}

struct RankCorrelation {
  double rho = 0.0;  // Spearman's rho of the sample
  double sd = 0.0;   // plug-in estimate of its standard deviation
};

// Spearman's rho of (x, y) and a plug-in estimate of its sd. rho_S = 12 E[U V] - 3, and
// sqrt(n) (rho_hat - rho_S) tends to N(0, 144 Var(U V + g(U) + h(V))) with g(a) =
// E[V 1{U >= a}] and h(b) = E[U 1{V >= b}] (the estimator's influence function); the variance
// is estimated from the normalised ranks. Under independence it is exactly 1 / n.
RankCorrelation spearman(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  const Eigen::VectorXd u = normalizedRanks(x), v = normalizedRanks(y);
  const Eigen::Index n = u.size();
  // out_i = (1 / n) sum_j value_j 1{key_j >= key_i}: running sums from the top of `key`.
  const auto tailMeans = [n](const Eigen::VectorXd& key, const Eigen::VectorXd& value) {
    std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    std::sort(order.begin(), order.end(),
              [&](Eigen::Index a, Eigen::Index b) { return key[a] > key[b]; });
    Eigen::VectorXd out(n);
    double sum = 0.0;
    for (Eigen::Index i : order) out[i] = (sum += value[i]) / static_cast<double>(n);
    return out;
  };
  const Eigen::ArrayXd influence =
      u.array() * v.array() + tailMeans(u, v).array() + tailMeans(v, u).array();
  const double variance = 144.0 * (influence - influence.mean()).square().sum() / (n - 1.0);
  return {pearson(u, v), std::sqrt(variance / static_cast<double>(n))};
}

// A bound on the sd of Spearman's rho in these tests: it is 1 / sqrt(n - 1) under independence
// and about (1 - rho_S^2) sqrt(1.06 / (n - 3)) for normal scores (Fieller, Hartley and Pearson
// 1957), both below sqrt(1.06 / (n - 3)). Each test also checks its plug-in sd against it.
// With a tolerance of 6 bounds, a correct build fails about once in 5e8 comparisons.
double spearmanSdBound(Eigen::Index n) {
  return std::sqrt(1.06 / (static_cast<double>(n) - 3.0));
}

// Normal scores of the copula's output columns have the target Pearson correlation. The
// sample correlation of n bivariate normals has sd (1 - rho^2) / sqrt(n) to first order; a
// tolerance of 6 sd fails a correct build about once in 5e8 comparisons.
TEST(Copula, NormalScoresHaveTheTargetCorrelation) {
  Eigen::MatrixXd target(3, 3);
  target << 1.0, 0.5, -0.3,  //
      0.5, 1.0, 0.2,         //
      -0.3, 0.2, 1.0;
  const std::vector<std::size_t> dims = {0, 2, 3};
  const Copula copula(dims, target);

  const Eigen::Index n = 200000;
  Eigen::MatrixXd u = independentUniforms(n, 5, 11);
  const Eigen::MatrixXd before = u;
  copula.apply(u);

  Eigen::MatrixXd z(n, 3);
  for (int j = 0; j < 3; ++j) {
    for (Eigen::Index i = 0; i < n; ++i)
      z(i, j) = normalQuantile(u(i, static_cast<Eigen::Index>(dims[j])));
  }
  for (int a = 0; a < 3; ++a) {
    for (int b = a + 1; b < 3; ++b) {
      const double rho = target(a, b);
      const double sd = (1 - rho * rho) / std::sqrt(static_cast<double>(n));
      EXPECT_NEAR(pearson(z.col(a), z.col(b)), rho, 6 * sd) << a << "," << b;
    }
  }
  // Uncorrelated columns are untouched, as is the first correlated one (row 0 of L is
  // (1, 0, 0)); correlated ones keep uniform marginals: mean 1/2 and variance 1/12, the mean's
  // sd sqrt(1/12/n).
  EXPECT_EQ(u.col(1), before.col(1));
  EXPECT_EQ(u.col(4), before.col(4));
  EXPECT_EQ(u.col(0), before.col(0));
  EXPECT_NE(u.col(2), before.col(2));
  for (std::size_t j : dims) {
    const auto column = u.col(static_cast<Eigen::Index>(j));
    EXPECT_NEAR(column.mean(), 0.5, 6 * std::sqrt(1.0 / 12 / n));
    EXPECT_GT(column.minCoeff(), 0.0);
    EXPECT_LT(column.maxCoeff(), 1.0);
  }
}

// Two groups, {0, 1} with rho = 0.5 and {2, 3} with rho = -0.3: L is block diagonal with rows
// (1, 0), (rho, sqrt(1 - rho^2)) in each block. The first input of each group keeps its uniform
// bit for bit; the second becomes Phi(rho z_first + sqrt(1 - rho^2) z_second), z = Phi^-1(u),
// computed here with Boost.
TEST(Copula, KeepsTheUniformsOfUnitRowsAsDrawn) {
  Eigen::MatrixXd target = Eigen::MatrixXd::Identity(4, 4);
  target(0, 1) = target(1, 0) = 0.5;
  target(2, 3) = target(3, 2) = -0.3;
  const Copula copula({0, 1, 2, 3}, target);
  Eigen::MatrixXd u = independentUniforms(2000, 4, 5);
  const Eigen::MatrixXd before = u;
  copula.apply(u);
  EXPECT_EQ(u.col(0), before.col(0));
  EXPECT_EQ(u.col(2), before.col(2));
  const boost::math::normal normal;
  for (const auto& [first, second, rho] : {std::tuple{0, 1, 0.5}, std::tuple{2, 3, -0.3}}) {
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      const double x =
          rho * boost::math::quantile(normal, before(i, first)) +
          std::sqrt(1.0 - rho * rho) * boost::math::quantile(normal, before(i, second));
      EXPECT_NEAR(u(i, second), boost::math::cdf(normal, x), 1e-14) << i;
    }
  }
}

// I + 0.9 A with A = [[0, 1, -1], [1, 0, 1], [-1, 1, 0]]: det(A - l I) = -(l - 1)^2 (l + 2), so
// the eigenvalues are 1.9, 1.9 and 1 - 1.8 = -0.8.
TEST(Copula, RejectsANonPositiveDefiniteMatrixNamingItsSmallestEigenvalue) {
  Eigen::MatrixXd bad(3, 3);
  bad << 1.0, 0.9, -0.9,  //
      0.9, 1.0, 0.9,      //
      -0.9, 0.9, 1.0;
  EXPECT_NEAR(smallestEigenvalue(bad), -0.8, 1e-12);
  try {
    Copula({0, 1, 2}, bad);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("-0.8"), std::string::npos) << e.what();
  }
}

TEST(Copula, ResolvesScenarioKeysAgainstTheLayout) {
  const Layout layout = fiveUniformInputs();
  CorrelationInputs inputs;
  inputs.keys = {"b", "e"};
  inputs.matrix = Eigen::MatrixXd::Identity(2, 2);
  inputs.matrix(0, 1) = inputs.matrix(1, 0) = 0.4;
  EXPECT_FALSE(Copula::fromScenario(inputs, layout).empty());
  EXPECT_TRUE(Copula::fromScenario({}, layout).empty());
  inputs.keys[1] = "zz";
  EXPECT_THROW(Copula::fromScenario(inputs, layout), std::invalid_argument);
}

// ---- Spearman's rho

TEST(Spearman, GaussianConversionIsExact) {
  // 2 sin(pi / 12) = (sqrt(6) - sqrt(2)) / 2.
  EXPECT_NEAR(gaussianPearsonFromSpearman(0.5), (std::sqrt(6.0) - std::sqrt(2.0)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(gaussianPearsonFromSpearman(1.0), 1.0);
  EXPECT_DOUBLE_EQ(gaussianPearsonFromSpearman(-1.0), -1.0);
  EXPECT_EQ(gaussianPearsonFromSpearman(0.0), 0.0);
  for (double rho : {-0.95, -0.3, 0.1, 0.6, 0.99}) {
    EXPECT_NEAR(gaussianSpearman(gaussianPearsonFromSpearman(rho)), rho, 1e-15) << rho;
  }
}

// Ranks of the copula's outputs (and so of the inputs after any continuous marginals) have the
// Spearman correlation the scenario asks for when it is converted by 2 sin(pi rho_S / 6).
TEST(Spearman, GaussianCopulaOutputsHaveTheTargetRankCorrelation) {
  Eigen::MatrixXd target(3, 3);
  target << 1.0, 0.6, -0.3,  //
      0.6, 1.0, 0.2,         //
      -0.3, 0.2, 1.0;
  const Eigen::MatrixXd parameter =
      target.unaryExpr([](double r) { return r == 1.0 ? 1.0 : gaussianPearsonFromSpearman(r); });
  const Copula copula({0, 1, 2}, parameter);
  const Eigen::Index n = 200000;
  Eigen::MatrixXd u = independentUniforms(n, 3, 12);
  copula.apply(u);
  const double bound = spearmanSdBound(n);
  for (int a = 0; a < 3; ++a) {
    for (int b = a + 1; b < 3; ++b) {
      const RankCorrelation r = spearman(u.col(a), u.col(b));
      EXPECT_LE(r.sd, bound) << a << "," << b;
      EXPECT_NEAR(r.rho, target(a, b), 6 * bound) << a << "," << b;
    }
  }
  // The plug-in sd is exact under independence: 1 / sqrt(n) to first order.
  const Eigen::MatrixXd w = independentUniforms(n, 2, 13);
  const RankCorrelation independent = spearman(w.col(0), w.col(1));
  EXPECT_NEAR(independent.sd * std::sqrt(static_cast<double>(n)), 1.0, 0.02);
  EXPECT_NEAR(independent.rho, 0.0, 6 * bound);
}

TEST(Spearman, StudentTFunctionIsOddIncreasingAndTendsToTheGaussian) {
  for (double dof : {0.5, 1.0, 4.0, 30.0}) {
    SCOPED_TRACE(dof);
    const StudentTSpearman t(dof);
    EXPECT_EQ(t.spearman(0.0), 0.0);
    EXPECT_EQ(t.spearman(1.0), 1.0);
    EXPECT_EQ(t.spearman(-1.0), -1.0);
    double previous = -1.0;
    for (double rho = -0.99; rho < 1.0; rho += 0.03) {
      const double s = t.spearman(rho);
      EXPECT_GT(s, previous) << rho;
      EXPECT_NEAR(t.spearman(-rho), -s, 1e-14) << rho;
      EXPECT_NEAR(t.pearson(s), rho, 1e-12) << rho;
      previous = s;
    }
    // rho_S(1) = 1 for every dof: the quadrature's weights integrate the arcsine exactly there.
    EXPECT_NEAR(t.spearman(1.0 - 1e-12), 1.0, 1e-5);
  }
  // Heavier tails lower the rank correlation of a given rho; as dof grows the t copula becomes
  // the Gaussian one, whose rho_S is (6 / pi) asin(rho / 2); the gap shrinks like 1 / dof.
  double previous = 0.0;
  for (double dof : {0.5, 1.0, 2.0, 4.0, 10.0, 100.0}) {
    const double s = StudentTSpearman(dof).spearman(0.5);
    EXPECT_GT(s, previous) << dof;
    EXPECT_LT(s, gaussianSpearman(0.5)) << dof;
    previous = s;
  }
  const StudentTSpearman nearlyNormal(1e6);
  for (double rho : {-0.9, -0.5, 0.2, 0.7, 0.95}) {
    EXPECT_NEAR(nearlyNormal.spearman(rho), gaussianSpearman(rho), 1e-6) << rho;
  }
  EXPECT_THROW(StudentTSpearman(0.0), std::invalid_argument);
}

// The t copula's ranks have the target Spearman correlation when it is converted numerically;
// the Gaussian copula's conversion would miss it by more than this test resolves. The shared
// chi-square makes the inputs' magnitudes dependent even where rho is near 0, which raises the
// sd of Spearman's rho above the Gaussian bound there; so the tolerance is 6 plug-in sds, each
// checked to be at most twice that bound.
TEST(Spearman, StudentTCopulaOutputsHaveTheTargetRankCorrelation) {
  const double dof = 1.0;
  const StudentTSpearman conversion(dof);
  Eigen::MatrixXd target(3, 3);
  target << 1.0, 0.5, -0.4,  //
      0.5, 1.0, 0.1,         //
      -0.4, 0.1, 1.0;
  const Eigen::MatrixXd parameter =
      target.unaryExpr([&](double r) { return r == 1.0 ? 1.0 : conversion.pearson(r); });
  const Copula copula = Copula::studentT({0, 1, 2}, parameter, dof, 3);
  const Eigen::Index n = 200000;
  Eigen::MatrixXd u = independentUniforms(n, 4, 14);
  copula.apply(u);
  const double bound = spearmanSdBound(n);
  for (int a = 0; a < 3; ++a) {
    for (int b = a + 1; b < 3; ++b) {
      const RankCorrelation r = spearman(u.col(a), u.col(b));
      EXPECT_LE(r.sd, 2 * bound) << a << "," << b;
      EXPECT_NEAR(r.rho, target(a, b), 6 * r.sd) << a << "," << b;
    }
  }
  EXPECT_GT(std::abs(conversion.spearman(gaussianPearsonFromSpearman(0.5)) - 0.5), 12 * bound);
}

// ---- the t copula

// Phi2(h, h; rho) = P(Z1 <= h, Z2 <= h) for standard normals with correlation rho >= 0, by
// Plackett's identity d Phi2 / d rho = phi2: Phi(h)^2 + (1 / 2 pi) int_0^rho
// exp(-h^2 / (1 + r)) / sqrt(1 - r^2) dr.
double normalLowerOrthant(double h, double rho) {
  const auto density = [h](double r) { return std::exp(-h * h / (1 + r)) / std::sqrt(1 - r * r); };
  const double integral =
      boost::math::quadrature::gauss_kronrod<double, 31>::integrate(density, 0.0, rho, 15, 1e-13);
  return normalCdf(h) * normalCdf(h) + integral / (2 * std::numbers::pi);
}

// P(U1 > q, U2 > q) for the t copula: by radial symmetry P(X1 < -c, X2 < -c), c = t_nu^-1(q);
// given the chi-square S = x^2 the pair is bivariate normal with thresholds -c x / sqrt(nu), so
// it is the integral of Phi2 against the density of x = sqrt(S), 2 x^(nu - 1) e^(-x^2 / 2) /
// (2^(nu / 2) Gamma(nu / 2)), which is finite at 0 for nu >= 1. Exact up to the quadrature's
// 1e-12.
double studentTJointExceedance(double q, double rho, double dof) {
  const double c = boost::math::quantile(boost::math::students_t_distribution<double>(dof), q);
  const double logNorm = std::log(2.0) - 0.5 * dof * std::log(2.0) - std::lgamma(0.5 * dof);
  const auto integrand = [&](double x) {
    const double density = std::pow(x, dof - 1) * std::exp(logNorm - 0.5 * x * x);
    return density * normalLowerOrthant(-c * x / std::sqrt(dof), rho);
  };
  return boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
      integrand, 0.0, std::numeric_limits<double>::infinity(), 15, 1e-12);
}

// The coefficient of upper tail dependence of the t copula, the limit of P(U1 > q | U2 > q)
// as q -> 1: 2 t_{nu + 1}(-sqrt((nu + 1)(1 - rho) / (1 + rho))).
double studentTTailDependence(double rho, double dof) {
  return 2 * boost::math::cdf(boost::math::students_t_distribution<double>(dof + 1),
                              -std::sqrt((dof + 1) * (1 - rho) / (1 + rho)));
}

// The references: the finite-q conditional exceedance tends to the closed-form lambda, and
// for the Gaussian copula (no tail dependence) it tends to 0.
TEST(StudentTCopula, TailDependenceReferences) {
  const double rho = 0.5, dof = 4.0;
  const double lambda = studentTTailDependence(rho, dof);
  EXPECT_NEAR(lambda, 0.2532, 1e-4);
  double previous = 1.0;
  for (double tail : {1e-2, 1e-4, 1e-6, 1e-8}) {
    const double conditional = studentTJointExceedance(1 - tail, rho, dof) / tail;
    EXPECT_LT(conditional, previous) << tail;
    EXPECT_GT(conditional, lambda) << tail;
    previous = conditional;
  }
  EXPECT_NEAR(previous, lambda, 0.002);
  // The orthant probability of any centred elliptical pair: P(X1 > 0, X2 > 0) =
  // 1/4 + asin(rho) / (2 pi), whatever the dof; and independent normals.
  for (double d : {1.0, 4.0, 30.0}) {
    EXPECT_NEAR(studentTJointExceedance(0.5, rho, d),
                0.25 + std::asin(rho) / (2 * std::numbers::pi), 1e-12)
        << d;
  }
  EXPECT_NEAR(normalLowerOrthant(normalQuantile(0.01), 0.0) / 1e-4, 1.0, 1e-10);
  EXPECT_LT(normalLowerOrthant(normalQuantile(1e-8), rho) / 1e-8, 0.01);
}

// P(U1 > q, U2 > q) of the t copula's outputs matches the quadrature reference within 6 sd
// (the count is binomial, sd sqrt(p (1 - p) / n) at the exact p), and is clearly above the
// Gaussian copula's at the same rho and q, which the same uniforms also match.
TEST(StudentTCopula, ShowsTailDependenceOfTheRightSize) {
  const double rho = 0.5, dof = 4.0, q = 0.99;
  Eigen::MatrixXd correlation(2, 2);
  correlation << 1.0, rho, rho, 1.0;
  const Eigen::Index n = 400000;
  const Eigen::MatrixXd uniforms = independentUniforms(n, 3, 15);

  const auto jointExceedance = [&](const Copula& copula) {
    Eigen::MatrixXd u = uniforms;
    copula.apply(u);
    return ((u.col(0).array() > q) && (u.col(1).array() > q)).cast<double>().mean();
  };
  const double tExact = studentTJointExceedance(q, rho, dof);
  const double gaussianExact = normalLowerOrthant(normalQuantile(1 - q), rho);
  const double tSd = std::sqrt(tExact * (1 - tExact) / static_cast<double>(n));
  const double gaussianSd = std::sqrt(gaussianExact * (1 - gaussianExact) / static_cast<double>(n));
  EXPECT_GT(tExact - gaussianExact, 12 * tSd);  // the test tells the copulas apart

  EXPECT_NEAR(jointExceedance(Copula::studentT({0, 1}, correlation, dof, 2)), tExact, 6 * tSd);
  EXPECT_NEAR(jointExceedance(Copula({0, 1}, correlation)), gaussianExact, 6 * gaussianSd);
  // At q = 0.99 the conditional probability is still above its limit lambda.
  EXPECT_GT(tExact / (1 - q), studentTTailDependence(rho, dof));
}

// Each path's t scores are its correlated normal scores times one factor sqrt(nu / s), s the
// chi-square quantile of the path's uniform in the copula's own column.
TEST(StudentTCopula, SharesOneChiSquareDrawPerPath) {
  const double dof = 3.0;
  Eigen::MatrixXd correlation(2, 2);
  correlation << 1.0, 0.3, 0.3, 1.0;
  const Eigen::MatrixXd l = correlation.llt().matrixL();
  const Copula copula = Copula::studentT({2, 0}, correlation, dof, 1);
  Eigen::MatrixXd u = independentUniforms(1000, 3, 16);
  const Eigen::MatrixXd before = u;
  copula.apply(u);
  EXPECT_EQ(u.col(1), before.col(1));  // the chi-square column is read, not changed
  const boost::math::students_t_distribution<double> t(dof);
  for (Eigen::Index i = 0; i < u.rows(); ++i) {
    const double z0 = normalQuantile(before(i, 2)), z1 = normalQuantile(before(i, 0));
    const double scale = std::sqrt(dof / (2 * boost::math::gamma_p_inv(dof / 2, before(i, 1))));
    EXPECT_NEAR(boost::math::quantile(t, u(i, 2)), z0 * scale, 1e-8 * (1 + std::abs(z0 * scale)));
    const double w1 = l(1, 0) * z0 + l(1, 1) * z1;
    EXPECT_NEAR(boost::math::quantile(t, u(i, 0)), w1 * scale, 1e-8 * (1 + std::abs(w1 * scale)));
  }
}

TEST(StudentTCopula, RejectsBadSettings) {
  const Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(2, 2);
  EXPECT_THROW(Copula::studentT({0, 1}, identity, 0.0, 2), std::invalid_argument);
  EXPECT_THROW(Copula::studentT({0, 1}, identity, -1.0, 2), std::invalid_argument);
  EXPECT_THROW(Copula::studentT({0, 1}, identity, 4.0, 1), std::invalid_argument);
}

// ---- the copula's own dimension

CorrelationInputs studentTInputs(double dof) {
  CorrelationInputs inputs;
  inputs.keys = {"b", "e"};
  inputs.matrix = Eigen::MatrixXd::Identity(2, 2);
  inputs.matrix(0, 1) = inputs.matrix(1, 0) = 0.6;
  inputs.method = CopulaFamily::studentT;
  inputs.dof = dof;
  return inputs;
}

TEST(Copula, SamplingLayoutAppendsTheChiSquareDimension) {
  const Layout layout = fiveUniformInputs();
  ASSERT_EQ(layout.dimensions(), 5u);

  CorrelationInputs gaussian = studentTInputs(0.0);
  gaussian.method = CopulaFamily::gaussian;
  const Copula g = Copula::fromScenario(gaussian, layout);
  EXPECT_EQ(g.ownDimensions(), 0u);
  EXPECT_EQ(g.samplingLayout(layout).dimensions(), 5u);

  const Copula t = Copula::fromScenario(studentTInputs(5.0), layout);
  EXPECT_EQ(t.family(), CopulaFamily::studentT);
  EXPECT_EQ(t.dof(), 5.0);
  EXPECT_EQ(t.ownDimensions(), 1u);
  const Layout sampled = t.samplingLayout(layout);
  EXPECT_EQ(sampled.dimensions(), 6u);
  EXPECT_EQ(sampled.modelDimensions(), 5u);
  EXPECT_EQ(sampled.dimensionName(5), "copula.chi2");
  EXPECT_EQ(sampled.dimensionName(4), "e");
  EXPECT_EQ(layout.dimensions(), 5u);  // the model's layout is left alone

  // A t copula built for another layout does not fit this one.
  EXPECT_THROW(
      Copula::studentT({0, 1}, Eigen::MatrixXd::Identity(2, 2), 4.0, 7).samplingLayout(layout),
      std::invalid_argument);
  // With no correlated inputs there is nothing to mix and no extra dimension.
  EXPECT_EQ(Copula::fromScenario({}, layout).samplingLayout(layout).dimensions(), 5u);
}

// Outputs "a" and "b" are the uniforms of the static inputs of the same names.
class UniformPairModel final : public Model {
 public:
  UniformPairModel() {
    layout_.staticInputs = {{"a", Distribution(Uniform{0, 1})}, {"b", Distribution(Uniform{0, 1})}};
    layout_.years = 1;
    layout_.outputs = {"a", "b"};
  }
  const Layout& layout() const override { return layout_; }
  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& u, BlockOutput& out) const override {
    EXPECT_EQ(u.cols(), 2);
    out.outputs = u;
  }

 private:
  Layout layout_;
};

// Through the simulation, the t copula's chi-square uniform comes from the sampler's stream for
// "copula.chi2" (mc: makeEngine(seed, block, hashName(name))), the model sees only its own two
// columns, and the result is the same on any number of threads.
TEST(StudentTCopula, TheSimulationDrawsTheChiSquareFromTheSampler) {
  const UniformPairModel model;
  CorrelationInputs inputs = studentTInputs(4.0);
  inputs.keys = {"a", "b"};
  const Copula copula = Copula::fromScenario(inputs, model.layout());
  RunSettings settings;
  settings.paths = 3000;
  settings.seed = 21;
  settings.threads = 1;
  const RunResult one = simulate(model, copula, settings);
  settings.threads = 3;
  const RunResult three = simulate(model, copula, settings);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto x = one.statistics.outputValues(k), y = three.statistics.outputValues(k);
    ASSERT_EQ(x.size(), 3000u);
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin())) << k;
  }
  // Path 0 of block 0: a's t score is its normal score times sqrt(nu / s).
  const auto first = [&](const char* name) {
    return toOpenUnit(makeEngine(settings.seed, 0, hashName(name))());
  };
  const double z = normalQuantile(first("a"));
  const double s = 2 * boost::math::gamma_p_inv(2.0, first("copula.chi2"));
  const double w = boost::math::quantile(boost::math::students_t_distribution<double>(4.0),
                                         one.statistics.outputValues(0)[0]);
  EXPECT_NEAR(w, z * std::sqrt(4.0 / s), 1e-8 * (1 + std::abs(w)));
}

// ---- the nearest correlation matrix

double frobenius(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm();
}

void expectCorrelationMatrix(const Eigen::MatrixXd& c) {
  EXPECT_TRUE(c.isApprox(c.transpose(), 0.0)) << c;
  EXPECT_TRUE((c.diagonal().array() == 1.0).all()) << c;
  EXPECT_EQ(Eigen::LLT<Eigen::MatrixXd>(c).info(), Eigen::Success) << c;
  EXPECT_GT(smallestEigenvalue(c), 0.0) << c;
}

// Higham (2002), section 4: the nearest correlation matrix to [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
// is [[1, 0.7607, 0.1573], [0.7607, 1, 0.7607], [0.1573, 0.7607, 1]] to four decimals.
TEST(NearestCorrelation, MatchesHighamsPublishedExample) {
  Eigen::MatrixXd a(3, 3);
  a << 1, 1, 0,  //
      1, 1, 1,   //
      0, 1, 1;
  const NearestCorrelation nearest = nearestCorrelation(a);
  EXPECT_TRUE(nearest.converged);
  expectCorrelationMatrix(nearest.matrix);
  Eigen::MatrixXd published(3, 3);
  published << 1, 0.7607, 0.1573,  //
      0.7607, 1, 0.7607,           //
      0.1573, 0.7607, 1;
  EXPECT_LE((nearest.matrix - published).cwiseAbs().maxCoeff(), 0.5e-4) << nearest.matrix;
}

// I + 0.9 A, A = [[0, 1, -1], [1, 0, 1], [-1, 1, 0]]: flipping the sign of the second input
// turns it into the matrix with every off-diagonal -0.9, whose nearest correlation matrix is
// by symmetry the equicorrelation matrix with off-diagonal -1/2 (the smallest that is positive
// semidefinite in 3 dimensions). So the answer is I + 0.5 A, at distance sqrt(6) 0.4; the
// floor on the eigenvalues moves it by about 1e-8.
TEST(NearestCorrelation, MatchesAHandDerivedAnswer) {
  Eigen::MatrixXd a(3, 3);
  a << 0, 1, -1,  //
      1, 0, 1,    //
      -1, 1, 0;
  const Eigen::MatrixXd bad = Eigen::MatrixXd::Identity(3, 3) + 0.9 * a;
  const NearestCorrelation nearest = nearestCorrelation(bad);
  EXPECT_TRUE(nearest.converged);
  expectCorrelationMatrix(nearest.matrix);
  const Eigen::MatrixXd expected = Eigen::MatrixXd::Identity(3, 3) + 0.5 * a;
  EXPECT_LE((nearest.matrix - expected).cwiseAbs().maxCoeff(), 1e-7) << nearest.matrix;
  EXPECT_NEAR(frobenius(nearest.matrix, bad), std::sqrt(6.0) * 0.4, 1e-7);
  EXPECT_NEAR(smallestEigenvalue(nearest.matrix), 1e-8, 1e-9);
}

// A larger invalid matrix: the result is a valid correlation matrix, nearer than the simple
// repair that clips the eigenvalues and rescales to a unit diagonal.
TEST(NearestCorrelation, BeatsEigenvalueClipping) {
  const int k = 12;
  Eigen::MatrixXd bad = Eigen::MatrixXd::Identity(k, k);
  Engine engine = makeEngine(3, 0, 0);
  for (int i = 0; i < k; ++i) {
    for (int j = i + 1; j < k; ++j) bad(i, j) = bad(j, i) = 1.6 * toOpenUnit(engine()) - 0.8;
  }
  ASSERT_LT(smallestEigenvalue(bad), -0.5);
  const NearestCorrelation nearest = nearestCorrelation(bad);
  EXPECT_TRUE(nearest.converged);
  expectCorrelationMatrix(nearest.matrix);

  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(bad);
  Eigen::MatrixXd clipped = eigen.eigenvectors() * eigen.eigenvalues().cwiseMax(1e-8).asDiagonal() *
                            eigen.eigenvectors().transpose();
  const Eigen::VectorXd scale = clipped.diagonal().cwiseSqrt().cwiseInverse();
  clipped = scale.asDiagonal() * clipped * scale.asDiagonal();
  EXPECT_LT(frobenius(nearest.matrix, bad), frobenius(clipped, bad));
}

TEST(NearestCorrelation, LeavesAValidMatrixAlone) {
  Eigen::MatrixXd valid(3, 3);
  valid << 1.0, 0.5, -0.3,  //
      0.5, 1.0, 0.2,        //
      -0.3, 0.2, 1.0;
  const NearestCorrelation nearest = nearestCorrelation(valid);
  EXPECT_TRUE(nearest.converged);
  EXPECT_EQ(nearest.iterations, 1);
  EXPECT_LE((nearest.matrix - valid).cwiseAbs().maxCoeff(), 1e-14);
}

}  // namespace
}  // namespace spinval
