#include "spinval/copula.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "spinval/sampler.hpp"

namespace spinval {
namespace {

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

// Normal scores of the copula's output columns have the target Pearson correlation. The
// sample correlation of n bivariate normals has sd (1 - rho^2) / sqrt(n) to first order; a
// tolerance of 6 sd fails a correct build about once in 5e8 comparisons.
TEST(GaussianCopula, NormalScoresHaveTheTargetCorrelation) {
  const Layout layout = fiveUniformInputs();
  Eigen::MatrixXd target(3, 3);
  target << 1.0, 0.5, -0.3,  //
      0.5, 1.0, 0.2,         //
      -0.3, 0.2, 1.0;
  const std::vector<std::size_t> dims = {0, 2, 3};
  const GaussianCopula copula(dims, target);

  const Eigen::Index n = 200000;
  Eigen::MatrixXd u(n, 5);
  Sampler(SamplerKind::mc, 11, layout).fill(0, 0, u);
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
  // Uncorrelated columns are untouched; correlated ones keep uniform marginals: mean 1/2 and
  // variance 1/12, the mean's sd sqrt(1/12/n).
  EXPECT_EQ(u.col(1), before.col(1));
  EXPECT_EQ(u.col(4), before.col(4));
  for (std::size_t j : dims) {
    const auto column = u.col(static_cast<Eigen::Index>(j));
    EXPECT_NEAR(column.mean(), 0.5, 6 * std::sqrt(1.0 / 12 / n));
    EXPECT_GT(column.minCoeff(), 0.0);
    EXPECT_LT(column.maxCoeff(), 1.0);
  }
}

// I + 0.9 A with A = [[0, 1, -1], [1, 0, 1], [-1, 1, 0]]: det(A - l I) = -(l - 1)^2 (l + 2), so
// the eigenvalues are 1.9, 1.9 and 1 - 1.8 = -0.8.
TEST(GaussianCopula, RejectsANonPositiveDefiniteMatrixNamingItsSmallestEigenvalue) {
  Eigen::MatrixXd bad(3, 3);
  bad << 1.0, 0.9, -0.9,  //
      0.9, 1.0, 0.9,      //
      -0.9, 0.9, 1.0;
  EXPECT_NEAR(smallestEigenvalue(bad), -0.8, 1e-12);
  try {
    GaussianCopula({0, 1, 2}, bad);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("-0.8"), std::string::npos) << e.what();
  }
}

TEST(GaussianCopula, ResolvesScenarioKeysAgainstTheLayout) {
  const Layout layout = fiveUniformInputs();
  CorrelationInputs inputs{{"b", "e"}, Eigen::MatrixXd::Identity(2, 2)};
  inputs.matrix(0, 1) = inputs.matrix(1, 0) = 0.4;
  EXPECT_FALSE(GaussianCopula::fromScenario(inputs, layout).empty());
  EXPECT_TRUE(GaussianCopula::fromScenario({}, layout).empty());
  inputs.keys[1] = "zz";
  EXPECT_THROW(GaussianCopula::fromScenario(inputs, layout), std::invalid_argument);
}

}  // namespace
}  // namespace spinval
