// Tests of the distributions behind the scenario's [D] inputs. Every expected number comes from
// Boost.Math (in double, or in 50 significant digits where the double evaluation of a reference
// would itself lose digits), from a closed form derived in a comment, or from a hand count.
#include "spinval/distribution.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/lognormal.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/triangular.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/multiprecision/cpp_bin_float.hpp>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <string>
#include <vector>

namespace spinval {
namespace {

using Real50 = boost::multiprecision::cpp_bin_float_50;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Probabilities from deep in the lower tail to deep in the upper one. 1 - 1e-12 and friends are
// the doubles nearest those values; implementation and reference receive the same double.
const std::vector<double> kGrid = {1e-12, 1e-9,     1e-6,     1e-3,     0.01,     0.05,
                                   0.1,   0.25,     0.5,      0.75,     0.9,      0.95,
                                   0.99,  1 - 1e-3, 1 - 1e-6, 1 - 1e-9, 1 - 1e-12};

// |actual - expected| <= rel |expected| + abs.
::testing::AssertionResult near(double actual, double expected, double rel, double abs = 0.0) {
  const double error = std::fabs(actual - expected);
  if (std::isfinite(actual) && error <= rel * std::fabs(expected) + abs) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "actual " << std::setprecision(17) << actual << ", expected " << expected
         << ", relative error " << error / std::fabs(expected) << " (tolerance rel " << rel
         << ", abs " << abs << ")";
}

// The parameter named by the ParameterError that `make` throws, or a marker when it throws none.
std::string thrownParameter(const std::function<void()>& make) {
  try {
    make();
  } catch (const ParameterError& e) {
    return e.parameter();
  }
  return "<nothing thrown>";
}

std::string thrownMessage(const std::function<void()>& make) {
  try {
    make();
  } catch (const ParameterError& e) {
    return e.what();
  }
  return "<nothing thrown>";
}

// ---------------------------------------------------------------------------------------------
// Standard normal

TEST(NormalQuantile, MatchesBoostFromTheCentreToExtremeTails) {
  // AS241 is accurate to a few ulps (about 1e-15 relative at worst over 1e5 log-uniform points
  // down to 1e-300); Boost's double quantile evaluates in long double. 0.075 and 0.925 sit at
  // AS241's first split, exp(-25) at its second.
  std::vector<double> points = {1e-300, 1e-200, 1e-100, 1e-50, 1e-20,          1e-15,
                                1e-11,  0.075,  0.0751, 0.3,   0.4999999,      0.5000001,
                                0.7,    0.925,  0.9249, 0.999, std::exp(-25.0)};
  points.insert(points.end(), kGrid.begin(), kGrid.end());
  const boost::math::normal_distribution<double> standard;
  for (double p : points) {
    SCOPED_TRACE(p);
    EXPECT_TRUE(near(normalQuantile(p), boost::math::quantile(standard, p), 2e-15));
  }
  EXPECT_EQ(normalQuantile(0.5), 0.0);
}

TEST(NormalQuantile, IsAntisymmetricWhereOneMinusUIsExact) {
  // For u = 2^-k, k <= 53, 1 - u is exact, so Phi^-1(1 - u) = -Phi^-1(u) must hold to a bit or two.
  for (int k = 2; k <= 53; ++k) {
    const double u = std::ldexp(1.0, -k);
    SCOPED_TRACE(k);
    EXPECT_TRUE(near(normalQuantile(1.0 - u), -normalQuantile(u), 4e-16));
  }
}

TEST(NormalQuantile, EdgesAndOutOfRange) {
  EXPECT_EQ(normalQuantile(0.0), -kInfinity);
  EXPECT_EQ(normalQuantile(1.0), kInfinity);
  EXPECT_TRUE(std::isnan(normalQuantile(-0.1)));
  EXPECT_TRUE(std::isnan(normalQuantile(1.1)));
  EXPECT_TRUE(std::isnan(normalQuantile(kNaN)));
  // The smallest subnormal still gives a finite deviate near -38.5.
  const double z = normalQuantile(std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::isfinite(z));
  EXPECT_LT(z, -38.0);
}

TEST(NormalCdf, MatchesBoost) {
  // erfc(-z / sqrt 2) inherits the rounding of its argument amplified by about z^2, so the
  // tolerance is 1e-15 max(1, z^2) relative (1.4e-12 at z = -37).
  const boost::math::normal_distribution<double> standard;
  for (double z : {-37.0, -30.0, -20.0, -10.0, -5.0, -2.0, -1.0, -0.1, 0.0, 0.5, 1.0, 3.0, 8.0}) {
    SCOPED_TRACE(z);
    EXPECT_TRUE(
        near(normalCdf(z), boost::math::cdf(standard, z), 1e-15 * std::max(1.0, z * z), 1e-300));
  }
  // The upper tail through Phi(-z) keeps relative precision where 1 - Phi(z) would not.
  EXPECT_TRUE(
      near(normalCdf(-30.0), boost::math::cdf(boost::math::complement(standard, 30.0)), 1e-12));
}

// ---------------------------------------------------------------------------------------------
// Quantiles of the untruncated distributions against Boost.Math

TEST(Quantile, UniformMatchesBoost) {
  // Both evaluate min + u (max - min): a rounding or two.
  for (auto [a, b] : {std::pair{-2.0, 3.0}, std::pair{0.0, 1.0}, std::pair{1e9, 4e9}}) {
    const Distribution d(Uniform{a, b});
    const boost::math::uniform_distribution<double> ref(a, b);
    for (double u : kGrid) {
      SCOPED_TRACE(u);
      EXPECT_TRUE(near(d.quantile(u), boost::math::quantile(ref, u), 1e-15, 1e-15 * (b - a)));
    }
  }
}

TEST(Quantile, TriangularMatchesBoost) {
  // Closed forms min + sqrt(u w (mode - min)) and max - sqrt((1 - u) w (max - mode)) on both
  // sides: a few roundings. The modes include both ends of the range.
  const std::vector<Triangular> cases = {{1, 2, 5}, {0, 0, 1}, {0, 1, 1}, {-3, 1, 2}, {10, 14, 30}};
  for (const Triangular& t : cases) {
    const Distribution d(t);
    const boost::math::triangular_distribution<double> ref(t.min, t.mode, t.max);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      EXPECT_TRUE(
          near(d.quantile(u), boost::math::quantile(ref, u), 1e-14, 1e-15 * (t.max - t.min)));
    }
  }
}

TEST(Quantile, BetaMatchesScaledBoostBeta) {
  // The reference is Boost's quantile evaluated in long double, the implementation inverts the
  // incomplete beta in double (measured within 3e-15); 1e-13 leaves room for other shapes.
  const std::vector<Beta> cases = {
      {2, 5}, {0.5, 0.5}, {20, 3, 2, 7}, {1, 1, -1, 1}, {0.8, 6, 0, 100}};
  for (const Beta& b : cases) {
    const Distribution d(b);
    const boost::math::beta_distribution<double> ref(b.alpha, b.beta);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const double expected = b.min + (b.max - b.min) * boost::math::quantile(ref, u);
      EXPECT_TRUE(near(d.quantile(u), expected, 1e-13, 1e-15 * (b.max - b.min)));
    }
  }
}

TEST(Quantile, PertMatchesBoostBetaWithDerivedShapes) {
  // Tolerance as for the beta above.
  // alpha = 1 + lambda (mode - min) / (max - min), beta = 1 + lambda (max - mode) / (max - min).
  const std::vector<Pert> cases = {
      {0.3, 0.4, 0.5}, {0, 1, 10}, {100, 100, 200, 6}, {2, 3, 4, 0.5}, {0, 9, 10, 20}};
  for (const Pert& p : cases) {
    const Distribution d(p);
    const double w = p.max - p.min;
    const boost::math::beta_distribution<double> ref(1 + p.lambda * (p.mode - p.min) / w,
                                                     1 + p.lambda * (p.max - p.mode) / w);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const double expected = p.min + w * boost::math::quantile(ref, u);
      EXPECT_TRUE(near(d.quantile(u), expected, 1e-13, 1e-15 * w));
    }
  }
}

TEST(Quantile, NormalMatchesBoost) {
  // AS241 against Boost's erfc_inv, then mean + sd z in both: 1e-14 relative, with an absolute
  // floor of 1e-15 sd where mean + sd z passes through 0.
  for (auto [mean, sd] : {std::pair{0.0, 1.0}, std::pair{2.5, 0.3}, std::pair{-1e6, 1e3}}) {
    const Distribution d(Normal{mean, sd});
    const boost::math::normal_distribution<double> ref(mean, sd);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      EXPECT_TRUE(near(d.quantile(u), boost::math::quantile(ref, u), 1e-14, 1e-15 * sd));
    }
  }
}

TEST(Quantile, LognormalMatchesBoost) {
  // exp(mu + sigma z) turns an absolute error e in the exponent into a relative error e, and
  // |mu + sigma z| reaches 28 here, so 1e-13.
  const std::vector<Lognormal> cases = {
      {0.0, 1.0}, lognormalFromMedian(25e9, 0.4), lognormalFromMoments(3.0, 2.0), {-2.0, 0.05}};
  for (const Lognormal& l : cases) {
    const Distribution d(l);
    const boost::math::lognormal_distribution<double> ref(l.mu, l.sigma);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      EXPECT_TRUE(near(d.quantile(u), boost::math::quantile(ref, u), 1e-13));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Truncated quantiles against the closed form Q(F(a) + u (F(b) - F(a))), evaluated in 50 digits.
// Where the window lies above the median the same closed form is applied to the mirror image,
// Q(u) = -Q'(1 - u) with Q' the quantile of the reflected distribution, because F(a) near 1
// would swallow the digits that matter even at 50 digits (1 - Phi(30) = 5e-198).

Real50 truncatedStandardNormal(double a, double b, double u) {
  const boost::math::normal_distribution<Real50> n;
  const auto phi = [&](double z) {
    return std::isinf(z) ? Real50(z < 0 ? 0 : 1) : boost::math::cdf(n, Real50(z));
  };
  if (a > 0) {  // reflect: X in [a, b]  <=>  -X in [-b, -a]
    const Real50 lo = phi(-b), hi = phi(-a);
    return -boost::math::quantile(n, lo + (Real50(1) - Real50(u)) * (hi - lo));
  }
  const Real50 lo = phi(a), hi = phi(b);
  return boost::math::quantile(n, lo + Real50(u) * (hi - lo));
}

TEST(TruncatedQuantile, NormalMatchesClosedForm) {
  struct Case {
    double mean, sd, min, max;
  };
  const std::vector<Case> cases = {
      {0.1, 0.1, 0.0, kInfinity},  // the example of MODEL.md section 2
      {0, 1, 3, kInfinity},
      {0, 1, -kInfinity, -4},
      {0, 1, -1, 2},
      {0, 1, 5, 6},
      {0, 1, 8, 9},
      {0, 1, 30, 31},
      {0, 1, -31, -30},
      {10, 2, 0, 12},
      {0, 1, -0.5, 0.5},
      {5, 1, -kInfinity, 20},
  };
  for (const Case& c : cases) {
    const Distribution d(Normal{c.mean, c.sd}, c.min, c.max);
    const double a = (c.min - c.mean) / c.sd, b = (c.max - c.mean) / c.sd;
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const double expected = static_cast<double>(c.mean + c.sd * truncatedStandardNormal(a, b, u));
      // mean + sd z cancels where the draw passes near 0 (the window [0, 12] of N(10, 2)),
      // leaving an absolute error of a few ulps of |mean| + sd.
      EXPECT_TRUE(near(d.quantile(u), expected, 1e-12, 2e-15 * (std::fabs(c.mean) + c.sd)));
    }
  }
}

TEST(TruncatedQuantile, LognormalMatchesClosedForm) {
  struct Case {
    Lognormal l;
    double min, max;
  };
  const std::vector<Case> cases = {{{0.0, 0.5}, 0.5, 3.0},
                                   {lognormalFromMedian(25e9, 0.4), 0.0, 1e10},
                                   {lognormalFromMedian(25e9, 0.4), 1e11, kInfinity},
                                   {{1.0, 2.0}, -5.0, 1.0}};
  for (const Case& c : cases) {
    const Distribution d(c.l, c.min, c.max);
    const double a = c.min > 0 ? (std::log(c.min) - c.l.mu) / c.l.sigma : -kInfinity;
    const double b = (std::log(c.max) - c.l.mu) / c.l.sigma;
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const Real50 z = truncatedStandardNormal(a, b, u);
      const double expected = static_cast<double>(exp(Real50(c.l.mu) + Real50(c.l.sigma) * z));
      EXPECT_TRUE(near(d.quantile(u), expected, 1e-12));
    }
  }
}

TEST(TruncatedQuantile, BoundedDistributionsMatchClosedForm) {
  struct Case {
    Distribution d;
    std::function<Real50(Real50)> cdf, quantile;
    double min, max;
  };
  using boost::math::beta_distribution;
  using boost::math::triangular_distribution;
  const beta_distribution<Real50> beta25(2, 5);
  // PERT(0, 1, 10), lambda 4: alpha = 1 + 4 / 10 = 1.4, beta = 1 + 4 * 9 / 10 = 4.6.
  const beta_distribution<Real50> pert(Real50(14) / 10, Real50(46) / 10);
  const triangular_distribution<Real50> tri(0, 2, 10);
  const std::vector<Case> cases = {
      {Distribution(Beta{2, 5}, 0.1, 0.6), [&](Real50 x) { return cdf(beta25, x); },
       [&](Real50 p) { return quantile(beta25, p); }, 0.1, 0.6},
      {Distribution(Pert{0, 1, 10}, 2.0), [&](Real50 x) { return cdf(pert, x / 10); },
       [&](Real50 p) { return 10 * quantile(pert, p); }, 2.0, 10.0},
      {Distribution(Triangular{0, 2, 10}, 5.0, 9.5), [&](Real50 x) { return cdf(tri, x); },
       [&](Real50 p) { return quantile(tri, p); }, 5.0, 9.5},
  };
  for (const Case& c : cases) {
    const Real50 lo = c.cdf(Real50(c.min)), hi = c.cdf(Real50(c.max));
    for (double u : kGrid) {
      SCOPED_TRACE(c.d.describe() + " u " + std::to_string(u));
      const double expected = static_cast<double>(c.quantile(lo + Real50(u) * (hi - lo)));
      EXPECT_TRUE(near(c.d.quantile(u), expected, 1e-12));
    }
  }
  // A truncated uniform is the uniform on the window.
  const Distribution uniform(Uniform{0, 10}, 2.0, 3.0);
  for (double u : kGrid) EXPECT_TRUE(near(uniform.quantile(u), 2.0 + u, 1e-15));
}

TEST(TruncatedQuantile, StaysInsideTheWindowAndNonDecreasing) {
  // Windows in far tails and thin slices; u from the smallest subnormal to the largest double
  // below 1. Every draw is finite, inside [min, max] and non-decreasing in u.
  std::vector<double> us = {std::numeric_limits<double>::denorm_min(), 1e-320, 1e-300, 1e-100};
  for (int i = 1; i < 200; ++i) us.push_back(i / 200.0);
  us.push_back(1 - 1e-16);
  us.push_back(std::nextafter(1.0, 0.0));
  std::sort(us.begin(), us.end());
  const std::vector<Distribution> cases = {
      Distribution(Normal{0, 1}, 30, 31),
      Distribution(Normal{0, 1}, -37.5, -37),
      Distribution(Normal{0, 1}, 37, kInfinity),
      Distribution(Normal{0, 1}, 1, 1 + 1e-9),
      Distribution(Normal{0.1, 0.1}, 0.0),
      Distribution(Lognormal{0, 3}, 1e-6, 1e-5),
      Distribution(Beta{0.5, 0.5}, 0.999999, 1.0),
      Distribution(Pert{0, 0, 1}, 0.99),
      Distribution(Triangular{0, 1, 1}, -1.0, 1e-6),
  };
  for (const Distribution& d : cases) {
    SCOPED_TRACE(d.describe());
    double previous = -kInfinity;
    for (double u : us) {
      const double x = d.quantile(u);
      ASSERT_TRUE(std::isfinite(x)) << "u " << u;
      ASSERT_GE(x, d.lower()) << "u " << u;
      ASSERT_LE(x, d.upper()) << "u " << u;
      ASSERT_GE(x, previous) << "u " << u;
      previous = x;
    }
  }
}

TEST(TruncatedQuantile, BoundsOutsideTheSupportChangeNothing) {
  // A lognormal with min 0 or below and a beta bounded beyond its own range draw exactly as the
  // untruncated distributions.
  const Distribution plain(Lognormal{0.3, 0.7}), bounded(Lognormal{0.3, 0.7}, -5.0);
  const Distribution beta(Beta{2, 3, 1, 4}), wide(Beta{2, 3, 1, 4}, 0.0, 10.0);
  for (double u : kGrid) {
    EXPECT_EQ(bounded.quantile(u), plain.quantile(u));
    EXPECT_EQ(wide.quantile(u), beta.quantile(u));
  }
  EXPECT_EQ(bounded.lower(), 0.0);
  EXPECT_EQ(wide.lower(), 1.0);
  EXPECT_EQ(wide.upper(), 4.0);
}

// ---------------------------------------------------------------------------------------------
// Discrete distributions, by hand

TEST(Discrete, SortsValuesWithTheirProbabilities) {
  // Sorted: 1 (1/4), 2 (1/4), 3 (1/2), so F(1) = 1/4, F(2) = 1/2, F(3) = 1; all exact in binary.
  const Distribution d(Discrete{{3, 1, 2}, {0.5, 0.25, 0.25}});
  const auto& kind = std::get<Discrete>(d.kind());
  EXPECT_EQ(kind.values, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(kind.probs, (std::vector<double>{0.25, 0.25, 0.5}));
  // The smallest x with F(x) >= u.
  EXPECT_EQ(d.quantile(1e-12), 1.0);
  EXPECT_EQ(d.quantile(0.25), 1.0);
  EXPECT_EQ(d.quantile(std::nextafter(0.25, 1.0)), 2.0);
  EXPECT_EQ(d.quantile(0.5), 2.0);
  EXPECT_EQ(d.quantile(std::nextafter(0.5, 1.0)), 3.0);
  EXPECT_EQ(d.quantile(1 - 1e-16), 3.0);
  EXPECT_EQ(d.cdf(0.999), 0.0);
  EXPECT_EQ(d.cdf(1.0), 0.25);
  EXPECT_EQ(d.cdf(2.5), 0.5);
  EXPECT_EQ(d.cdf(3.0), 1.0);
  EXPECT_EQ(d.cdf(kInfinity), 1.0);
}

TEST(Discrete, RescalesProbabilitiesWithinTolerance) {
  // Thirds typed to 10 digits sum to 0.9999999999, inside the 1e-9 tolerance; rescaled they sum
  // to 1 and the last value is reached exactly at u -> 1.
  const Distribution d(Discrete{{2027, 2028, 2029}, {0.3333333333, 0.3333333333, 0.3333333333}});
  const auto& kind = std::get<Discrete>(d.kind());
  EXPECT_NEAR(kind.probs[0] + kind.probs[1] + kind.probs[2], 1.0, 4e-16);
  EXPECT_EQ(d.quantile(0.3), 2027.0);
  EXPECT_EQ(d.quantile(0.5), 2028.0);
  EXPECT_EQ(d.quantile(std::nextafter(1.0, 0.0)), 2029.0);
}

TEST(Discrete, CdfOfQuantileIsAtLeastU) {
  const Distribution d(Discrete{{0.1, 0.7, 0.3, 0.2}, {0.1, 0.2, 0.3, 0.4}});
  for (int i = 1; i < 1000; ++i) {
    const double u = i / 1000.0;
    EXPECT_GE(d.cdf(d.quantile(u)), u) << u;
  }
}

TEST(Bernoulli, OneAboveOneMinusP) {
  // F(0) = 1 - p = 0.75 (exact): quantile(u) = 0 for u <= 0.75, 1 above.
  const Distribution d(Bernoulli{0.25});
  EXPECT_EQ(d.quantile(1e-12), 0.0);
  EXPECT_EQ(d.quantile(0.75), 0.0);
  EXPECT_EQ(d.quantile(std::nextafter(0.75, 1.0)), 1.0);
  EXPECT_EQ(d.quantile(1 - 1e-12), 1.0);
  EXPECT_EQ(d.cdf(-0.5), 0.0);
  EXPECT_EQ(d.cdf(0.0), 0.75);
  EXPECT_EQ(d.cdf(0.5), 0.75);
  EXPECT_EQ(d.cdf(1.0), 1.0);
  // p = 0 never draws 1 and p = 1 always does.
  const Distribution never(Bernoulli{0.0}), always(Bernoulli{1.0});
  for (double u : kGrid) {
    EXPECT_EQ(never.quantile(u), 0.0);
    EXPECT_EQ(always.quantile(u), 1.0);
  }
}

TEST(Constant, AlwaysItsValue) {
  const Distribution d = Distribution::constant(4.5);
  for (double u : kGrid) EXPECT_EQ(d.quantile(u), 4.5);
  EXPECT_EQ(d.cdf(4.4), 0.0);
  EXPECT_EQ(d.cdf(4.5), 1.0);
  const Distribution zero;
  EXPECT_EQ(zero.quantile(0.3), 0.0);
  EXPECT_EQ(zero.name(), "constant");
}

// ---------------------------------------------------------------------------------------------
// CDF and quantile are inverse to each other

TEST(Cdf, InvertsTheQuantile) {
  // |cdf(quantile(u)) - u| <= 1e-12 u + 1e-15 + the change of the CDF across the doubles next to
  // x = quantile(u): the draw is a double, so near a point where the density is large relative to
  // the spacing of doubles (just above the window's min of a normal truncated to [3, inf), where
  // x - 3 ~ 1e-13 carries u = 1e-12 to three digits only) no quantile could do better.
  const std::vector<Distribution> cases = {
      Distribution(Uniform{-2, 3}),
      Distribution(Triangular{0, 2, 10}),
      Distribution(Triangular{0, 0, 1}),
      Distribution(Beta{2, 5}),
      Distribution(Beta{0.5, 0.5}),
      Distribution(Pert{0, 1, 10}),
      Distribution(Normal{0, 1}),
      Distribution(Normal{2.5, 0.3}),
      Distribution(Lognormal{0, 1}),
      Distribution(lognormalFromMedian(25e9, 0.4)),
      Distribution(Normal{0.1, 0.1}, 0.0),
      Distribution(Normal{0, 1}, 3.0),
      Distribution(Normal{0, 1}, 5.0, 6.0),
      Distribution(Normal{0, 1}, -kInfinity, -4.0),
      Distribution(Normal{0, 1}, -1.0, 2.0),
      Distribution(Lognormal{0, 0.5}, 0.5, 3.0),
      Distribution(Beta{2, 5}, 0.1, 0.6),
  };
  for (const Distribution& d : cases) {
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const double x = d.quantile(u);
      const double spread =
          d.cdf(std::nextafter(x, kInfinity)) - d.cdf(std::nextafter(x, -kInfinity));
      EXPECT_TRUE(near(d.cdf(x), u, 1e-12, 1e-15 + spread));
    }
    EXPECT_EQ(d.cdf(d.lower() - 1.0), 0.0);
    EXPECT_EQ(d.cdf(d.upper()), 1.0);
  }
}

TEST(Cdf, MatchesBoostForUntruncatedDistributions) {
  const boost::math::normal_distribution<double> normal(2.5, 0.3);
  const boost::math::lognormal_distribution<double> lognormal(0.2, 0.6);
  const boost::math::beta_distribution<double> beta(2, 5);
  const boost::math::triangular_distribution<double> tri(0, 2, 10);
  for (double x : {0.05, 0.3, 0.7, 1.9, 2.4, 2.6, 3.5, 8.0}) {
    SCOPED_TRACE(x);
    EXPECT_TRUE(near(Distribution(Normal{2.5, 0.3}).cdf(x), cdf(normal, x), 1e-13, 1e-300));
    EXPECT_TRUE(near(Distribution(Lognormal{0.2, 0.6}).cdf(x), cdf(lognormal, x), 1e-13));
    EXPECT_TRUE(near(Distribution(Triangular{0, 2, 10}).cdf(x), cdf(tri, x), 1e-14));
    // Beta(2, 5) on [0, 10] at x is Beta(2, 5) on [0, 1] at x / 10.
    EXPECT_TRUE(near(Distribution(Beta{2, 5, 0, 10}).cdf(x), cdf(beta, x / 10), 1e-13));
  }
}

// ---------------------------------------------------------------------------------------------
// Mean and variance

TEST(Moments, UntruncatedMatchBoost) {
  const auto check = [](const Distribution& d, double mean, double variance) {
    SCOPED_TRACE(d.describe());
    EXPECT_TRUE(near(d.mean(), mean, 1e-14, 1e-300));
    EXPECT_TRUE(near(d.variance(), variance, 1e-13));
  };
  const boost::math::uniform_distribution<double> uniform(-2, 3);
  check(Distribution(Uniform{-2, 3}), boost::math::mean(uniform), boost::math::variance(uniform));
  const boost::math::triangular_distribution<double> tri(1, 2, 5);
  check(Distribution(Triangular{1, 2, 5}), boost::math::mean(tri), boost::math::variance(tri));
  const boost::math::beta_distribution<double> beta(20, 3);
  // Beta on [2, 7]: X = 2 + 5 Y, E X = 2 + 5 E Y, Var X = 25 Var Y.
  check(Distribution(Beta{20, 3, 2, 7}), 2 + 5 * boost::math::mean(beta),
        25 * boost::math::variance(beta));
  const boost::math::normal_distribution<double> normal(0.1, 0.05);
  check(Distribution(Normal{0.1, 0.05}), boost::math::mean(normal), boost::math::variance(normal));
  const Lognormal l = lognormalFromMedian(25e9, 0.4);
  const boost::math::lognormal_distribution<double> lognormal(l.mu, l.sigma);
  check(Distribution(l), boost::math::mean(lognormal), boost::math::variance(lognormal));
}

TEST(Moments, PertClosedForm) {
  // With s = alpha + beta = lambda + 2, E Y = alpha / s gives
  //   E X = (min + lambda mode + max) / (lambda + 2),
  // and Var Y = (alpha / s)(beta / s) / (s + 1) gives Var X = (E X - min)(max - E X) / (lambda +
  // 3).
  for (const Pert& p : {Pert{0.3, 0.4, 0.5}, Pert{0, 1, 10}, Pert{100, 100, 200, 6}}) {
    const Distribution d(p);
    const double mean = (p.min + p.lambda * p.mode + p.max) / (p.lambda + 2);
    SCOPED_TRACE(d.describe());
    EXPECT_TRUE(near(d.mean(), mean, 1e-14));
    EXPECT_TRUE(near(d.variance(), (mean - p.min) * (p.max - mean) / (p.lambda + 3), 1e-13));
  }
}

TEST(Moments, LognormalFromMomentsReproducesThem) {
  const Distribution d(lognormalFromMoments(3.0, 2.0));
  EXPECT_TRUE(near(d.mean(), 3.0, 1e-14));
  EXPECT_TRUE(near(std::sqrt(d.variance()), 2.0, 1e-14));
  const Distribution wide(lognormalFromMoments(1e-3, 5.0));
  EXPECT_TRUE(near(wide.mean(), 1e-3, 1e-13));
  EXPECT_TRUE(near(std::sqrt(wide.variance()), 5.0, 1e-13));
  // The median parameterisation puts u = 1/2 at the median; exp(ln m) carries the rounding of
  // ln m = 23.9, whose ulp is 3.6e-15.
  EXPECT_TRUE(near(Distribution(lognormalFromMedian(25e9, 0.4)).quantile(0.5), 25e9, 4e-15));
}

TEST(Moments, DiscreteByHand) {
  // E X = 1/4 + 2/4 + 3/2 = 2.25; E X^2 = 1/4 + 1 + 9/2 = 5.75; Var = 5.75 - 2.25^2 = 0.6875.
  const Distribution d(Discrete{{3, 1, 2}, {0.5, 0.25, 0.25}});
  EXPECT_DOUBLE_EQ(d.mean(), 2.25);
  EXPECT_DOUBLE_EQ(d.variance(), 0.6875);
  EXPECT_DOUBLE_EQ(Distribution(Bernoulli{0.3}).mean(), 0.3);
  EXPECT_DOUBLE_EQ(Distribution(Bernoulli{0.3}).variance(), 0.21);
  EXPECT_EQ(Distribution::constant(7).mean(), 7.0);
  EXPECT_EQ(Distribution::constant(7).variance(), 0.0);
}

// E[g(X) | min < X < max] by adaptive Gauss-Kronrod on the density, split where it has a kink.
double conditional(const std::function<double(double)>& pdf, const std::function<double(double)>& g,
                   std::vector<double> breaks) {
  double total = 0.0, weighted = 0.0;
  for (std::size_t i = 0; i + 1 < breaks.size(); ++i) {
    using boost::math::quadrature::gauss_kronrod;
    total += gauss_kronrod<double, 61>::integrate(pdf, breaks[i], breaks[i + 1], 15, 1e-13);
    weighted += gauss_kronrod<double, 61>::integrate([&](double x) { return g(x) * pdf(x); },
                                                     breaks[i], breaks[i + 1], 15, 1e-13);
  }
  return weighted / total;
}

void expectMoments(const Distribution& d, const std::function<double(double)>& pdf,
                   const std::vector<double>& breaks, double rel) {
  SCOPED_TRACE(d.describe());
  const double mean = conditional(
      pdf, [](double x) { return x; }, breaks);
  const double variance = conditional(
      pdf, [&](double x) { return (x - mean) * (x - mean); }, breaks);
  EXPECT_TRUE(near(d.mean(), mean, rel));
  EXPECT_TRUE(near(d.variance(), variance, rel));
}

TEST(Moments, TruncatedMatchIntegralsOfTheDensity) {
  // Gauss-Kronrod on Boost's densities, independent of the truncated-normal formulas and of the
  // quantile quadrature. Infinite sides are cut 40 sd out, beyond which the mass is below 1e-300.
  const boost::math::normal_distribution<double> n01(0, 1), n(0.1, 0.1);
  const auto pdf01 = [&](double x) { return boost::math::pdf(n01, x); };
  expectMoments(
      Distribution(Normal{0.1, 0.1}, 0.0), [&](double x) { return pdf(n, x); }, {0.0, 0.1, 4.1},
      1e-12);
  expectMoments(Distribution(Normal{0, 1}, 3.0), pdf01, {3.0, 4.0, 40.0}, 1e-11);
  expectMoments(Distribution(Normal{0, 1}, -1.0, 2.0), pdf01, {-1.0, 0.0, 2.0}, 1e-12);
  expectMoments(Distribution(Normal{0, 1}, -kInfinity, -4.0), pdf01, {-40.0, -5.0, -4.0}, 1e-11);
  expectMoments(Distribution(Normal{0, 1}, 5.0, 6.0), pdf01, {5.0, 6.0}, 1e-11);

  const boost::math::lognormal_distribution<double> ln(0.0, 0.5);
  expectMoments(
      Distribution(Lognormal{0.0, 0.5}, 0.5, 3.0), [&](double x) { return pdf(ln, x); },
      {0.5, 1.0, 3.0}, 1e-12);
  expectMoments(
      Distribution(Lognormal{0.0, 0.5}, -kInfinity, 0.8),
      [&](double x) { return x > 0 ? pdf(ln, x) : 0.0; }, {0.0, 0.3, 0.8}, 1e-11);

  const boost::math::triangular_distribution<double> tri(0, 2, 10);
  expectMoments(
      Distribution(Triangular{0, 2, 10}, 1.0, 9.5), [&](double x) { return pdf(tri, x); },
      {1.0, 2.0, 9.5}, 1e-11);
  const boost::math::uniform_distribution<double> uni(0, 10);
  expectMoments(
      Distribution(Uniform{0, 10}, 2.0, 3.0), [&](double x) { return pdf(uni, x); }, {2.0, 3.0},
      1e-12);
}

TEST(Moments, TruncatedBetaClosedForm) {
  // For Y ~ Beta(a, b): y^k f(y) = [B(a + k, b) / B(a, b)] f_{a+k,b}(y), so with I the regularised
  // incomplete beta,
  //   E[Y; lo < Y < hi]   = a / (a + b) (I_hi(a + 1, b) - I_lo(a + 1, b))
  //   E[Y^2; lo < Y < hi] = a (a + 1) / ((a + b)(a + b + 1)) (I_hi(a + 2, b) - I_lo(a + 2, b)).
  const auto moments = [](double a, double b, double lo, double hi) {
    using boost::math::ibeta;
    const double z = ibeta(a, b, hi) - ibeta(a, b, lo);
    const double m1 = a / (a + b) * (ibeta(a + 1, b, hi) - ibeta(a + 1, b, lo)) / z;
    const double m2 =
        a * (a + 1) / ((a + b) * (a + b + 1)) * (ibeta(a + 2, b, hi) - ibeta(a + 2, b, lo)) / z;
    return std::pair{m1, m2 - m1 * m1};
  };
  {
    const Distribution d(Beta{2, 5}, 0.1, 0.6);
    const auto [mean, variance] = moments(2, 5, 0.1, 0.6);
    EXPECT_TRUE(near(d.mean(), mean, 1e-12));
    EXPECT_TRUE(near(d.variance(), variance, 1e-11));
  }
  {
    // PERT(0, 1, 10), lambda 4 = 10 Beta(1.4, 4.6), truncated to [2, 10] = 10 Y, Y in [0.2, 1].
    const Distribution d(Pert{0, 1, 10}, 2.0);
    const auto [mean, variance] = moments(1.4, 4.6, 0.2, 1.0);
    EXPECT_TRUE(near(d.mean(), 10 * mean, 1e-12));
    EXPECT_TRUE(near(d.variance(), 100 * variance, 1e-11));
  }
  {
    // A U-shaped beta whose quantile has infinite slope at both ends of the window.
    const Distribution d(Beta{0.5, 0.5}, 0.0, 0.9);
    const auto [mean, variance] = moments(0.5, 0.5, 0.0, 0.9);
    EXPECT_TRUE(near(d.mean(), mean, 1e-12));
    EXPECT_TRUE(near(d.variance(), variance, 1e-11));
  }
}

// ---------------------------------------------------------------------------------------------
// Batch evaluation

TEST(Quantiles, EqualsQuantileElementByElement) {
  const std::vector<Distribution> cases = {
      Distribution::constant(2),
      Distribution(Uniform{0, 1}),
      Distribution(Triangular{0, 1, 3}),
      Distribution(Pert{0, 1, 10}),
      Distribution(Beta{2, 5}),
      Distribution(Normal{0, 1}),
      Distribution(Normal{0, 1}, 3.0),
      Distribution(Lognormal{0, 1}, 0.5, 2.0),
      Distribution(Discrete{{1, 2}, {0.5, 0.5}}),
      Distribution(Bernoulli{0.4}),
  };
  std::vector<double> out(kGrid.size());
  for (const Distribution& d : cases) {
    d.quantiles(kGrid.data(), out.data(), kGrid.size());
    for (std::size_t i = 0; i < kGrid.size(); ++i) EXPECT_EQ(out[i], d.quantile(kGrid[i]));
    d.quantiles(kGrid.data(), out.data(), 0);  // n = 0 touches nothing
  }
}

// ---------------------------------------------------------------------------------------------
// Parameter errors

TEST(ParameterErrors, NameTheOffendingParameter) {
  struct Case {
    std::string expected;
    std::function<void()> make;
  };
  const auto make = [](DistributionKind kind, double min = -kInfinity, double max = kInfinity) {
    return [=] { Distribution d(kind, min, max); };
  };
  const std::vector<Case> cases = {
      {"value", make(Constant{kNaN})},
      {"value", make(Constant{kInfinity})},
      {"max", make(Uniform{3, 2})},
      {"max", make(Uniform{1, 1})},
      {"min", make(Uniform{kNaN, 1})},
      {"max", make(Uniform{0, kInfinity})},
      {"mode", make(Triangular{0, 5, 1})},
      {"mode", make(Triangular{0, -1, 1})},
      {"mode", make(Triangular{0, kNaN, 1})},
      {"max", make(Triangular{1, 0.5, 0})},
      {"lambda", make(Pert{0, 0.5, 1, 0})},
      {"lambda", make(Pert{0, 0.5, 1, -1})},
      {"lambda", make(Pert{0, 0.5, 1, kInfinity})},
      {"mode", make(Pert{0, 2, 1})},
      {"max", make(Pert{1, 1, 1})},
      {"alpha", make(Beta{0, 1})},
      {"alpha", make(Beta{kNaN, 1})},
      {"beta", make(Beta{1, -1})},
      {"max", make(Beta{1, 1, 2, 1})},
      {"sd", make(Normal{0, 0})},
      {"sd", make(Normal{0, -1})},
      {"sd", make(Normal{0, kInfinity})},
      {"mean", make(Normal{kNaN, 1})},
      {"sigma", make(Lognormal{0, 0})},
      {"mu", make(Lognormal{kInfinity, 1})},
      {"median", [] { lognormalFromMedian(0, 1); }},
      {"median", [] { lognormalFromMedian(-1, 1); }},
      {"sigma", [] { lognormalFromMedian(1, 0); }},
      {"mean", [] { lognormalFromMoments(0, 1); }},
      {"mean", [] { lognormalFromMoments(-1, 1); }},
      {"sd", [] { lognormalFromMoments(1, 0); }},
      {"sd", [] { lognormalFromMoments(1, -1); }},
      {"values", make(Discrete{{}, {}})},
      {"probs", make(Discrete{{1, 2}, {1.0}})},
      {"probs", make(Discrete{{1, 2}, {0.5, 0.4}})},
      {"probs", make(Discrete{{1, 2}, {1.2, -0.2}})},
      {"probs", make(Discrete{{1, 2}, {0.0, 1.0}})},
      {"probs", make(Discrete{{1, 2}, {kNaN, 1.0}})},
      {"values", make(Discrete{{1, 1}, {0.5, 0.5}})},
      {"values", make(Discrete{{1, kNaN}, {0.5, 0.5}})},
      {"p", make(Bernoulli{-0.1})},
      {"p", make(Bernoulli{1.5})},
      {"p", make(Bernoulli{kNaN})},
      // Truncation
      {"min", make(Constant{1}, 0.0)},
      {"max", make(Discrete{{1, 2}, {0.5, 0.5}}, -kInfinity, 5.0)},
      {"min", make(Bernoulli{0.5}, 0.0, 1.0)},
      {"max", make(Normal{0, 1}, 2.0, 1.0)},
      {"max", make(Normal{0, 1}, 1.0, 1.0)},
      {"min", make(Normal{0, 1}, kNaN)},
      {"max", make(Normal{0, 1}, -kInfinity, kNaN)},
      {"min", make(Uniform{0, 1}, 2.0)},
      {"min", make(Uniform{0, 1}, 1.0)},
      {"max", make(Uniform{0, 1}, -kInfinity, -1.0)},
      {"min", make(Normal{0, 1}, 40.0)},  // 1 - Phi(40) = 4e-350 underflows
      {"max", make(Lognormal{0, 1}, -kInfinity, -1.0)},
      {"max", make(Lognormal{0, 1}, -kInfinity, 0.0)},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(thrownParameter(cases[i].make), cases[i].expected) << "case " << i;
  }
}

TEST(ParameterErrors, SayWhatToFix) {
  EXPECT_EQ(thrownMessage([] { Distribution d(Normal{0.1, 0}); }), "sd must be > 0, got 0");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Uniform{3, 2});
            }),
            "min must be < max, got min 3, max 2");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Triangular{0, 5, 1});
            }),
            "mode 5 is outside [min 0, max 1]");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Discrete{{1, 2}, {0.5, 0.4}});
            }),
            "probs sum to 0.9, expected 1 (+-1e-9)");
  EXPECT_EQ(thrownMessage([] { Distribution d(Pert{0, 0.5, 1, 0}); }), "lambda must be > 0, got 0");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Normal{kNaN, 1});
            }),
            "mean must be a finite number, got nan");
  EXPECT_EQ(thrownMessage([] { Distribution d(Bernoulli{1.5}); }), "p must be in [0, 1], got 1.5");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Normal{0, 1}, 3.0, 2.0);
            }),
            "min must be < max, got min 3, max 2");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Uniform{0, 1}, 2.0);
            }),
            "truncation to [2, inf] leaves no probability: uniform(min 0, max 1) has support "
            "[0, 1]");
  EXPECT_EQ(thrownMessage([] { Distribution d(Constant{1}, 0.0); }),
            "constant is not continuous; min/max truncation applies to continuous distributions "
            "only");
  // A probability sum just inside the tolerance is accepted, one just outside is not.
  EXPECT_NO_THROW(Distribution(Discrete{{1, 2}, {0.5, 0.5 + 0.9e-9}}));
  EXPECT_EQ(thrownParameter([] {
              Distribution d(Discrete{{1, 2}, {0.5, 0.5 + 1.1e-9}});
            }),
            "probs");
}

// ---------------------------------------------------------------------------------------------
// Support, classification and descriptions

TEST(Support, LowerAndUpper) {
  struct Case {
    Distribution d;
    double lower, upper;
  };
  const std::vector<Case> cases = {
      {Distribution::constant(5), 5, 5},
      {Distribution(Uniform{-1, 2}), -1, 2},
      {Distribution(Triangular{0, 1, 3}), 0, 3},
      {Distribution(Pert{0.3, 0.4, 0.5}), 0.3, 0.5},
      {Distribution(Beta{2, 3}), 0, 1},
      {Distribution(Beta{2, 3, 1, 4}), 1, 4},
      {Distribution(Beta{2, 3, 1, 4}, 2.0, 3.0), 2, 3},
      {Distribution(Normal{0.1, 0.1}), -kInfinity, kInfinity},
      {Distribution(Normal{0.1, 0.1}, 0.0), 0, kInfinity},
      {Distribution(Normal{0.1, 0.1}, -kInfinity, 1.0), -kInfinity, 1},
      {Distribution(Normal{0.1, 0.1}, 0.0, 1.0), 0, 1},
      {Distribution(Lognormal{0, 1}), 0, kInfinity},
      {Distribution(Lognormal{0, 1}, -kInfinity, 5.0), 0, 5},
      {Distribution(Lognormal{0, 1}, 2.0), 2, kInfinity},
      {Distribution(Discrete{{3, 1, 2}, {0.5, 0.25, 0.25}}), 1, 3},
      {Distribution(Bernoulli{0.3}), 0, 1},
      {Distribution(Bernoulli{0.0}), 0, 0},
      {Distribution(Bernoulli{1.0}), 1, 1},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.d.lower(), c.lower) << c.d.describe();
    EXPECT_EQ(c.d.upper(), c.upper) << c.d.describe();
  }
}

TEST(Classification, ConstantAndDiscrete) {
  EXPECT_TRUE(Distribution::constant(1).isConstant());
  EXPECT_TRUE(Distribution(Discrete{{4}, {1.0}}).isConstant());
  EXPECT_FALSE(Distribution(Discrete{{4, 5}, {0.5, 0.5}}).isConstant());
  EXPECT_FALSE(Distribution(Bernoulli{0.5}).isConstant());
  EXPECT_FALSE(Distribution(Normal{0, 1}).isConstant());

  EXPECT_TRUE(Distribution::constant(1).isDiscrete());
  EXPECT_TRUE(Distribution(Discrete{{4, 5}, {0.5, 0.5}}).isDiscrete());
  EXPECT_TRUE(Distribution(Bernoulli{0.5}).isDiscrete());
  for (const Distribution& d :
       {Distribution(Uniform{0, 1}), Distribution(Triangular{0, 1, 2}), Distribution(Pert{0, 1, 2}),
        Distribution(Beta{1, 2}), Distribution(Normal{0, 1}), Distribution(Lognormal{0, 1})}) {
    EXPECT_FALSE(d.isDiscrete()) << d.describe();
  }
}

TEST(Describe, NamesAndParameters) {
  EXPECT_EQ(Distribution::constant(5).describe(), "constant(value 5)");
  EXPECT_EQ(Distribution(Uniform{0, 1}).describe(), "uniform(min 0, max 1)");
  EXPECT_EQ(Distribution(Triangular{1, 2, 5}).describe(), "triangular(min 1, mode 2, max 5)");
  EXPECT_EQ(Distribution(Pert{0.3, 0.4, 0.5}).describe(),
            "pert(min 0.3, mode 0.4, max 0.5, lambda 4)");
  EXPECT_EQ(Distribution(Beta{2, 5}).describe(), "beta(alpha 2, beta 5, min 0, max 1)");
  EXPECT_EQ(Distribution(Normal{0.1, 0.1}).describe(), "normal(mean 0.1, sd 0.1)");
  EXPECT_EQ(Distribution(lognormalFromMedian(2, 0.5)).describe(), "lognormal(median 2, sigma 0.5)");
  EXPECT_EQ(Distribution(Discrete{{3, 1, 2}, {0.5, 0.25, 0.25}}).describe(),
            "discrete(values [1, 2, 3], probs [0.25, 0.25, 0.5])");
  EXPECT_EQ(Distribution(Bernoulli{0.3}).describe(), "bernoulli(p 0.3)");
  // Seven significant digits, %g style.
  EXPECT_EQ(Distribution(Normal{1.0 / 3.0, 2.5e10}).describe(),
            "normal(mean 0.3333333, sd 2.5e+10)");
}

TEST(Describe, Truncation) {
  EXPECT_EQ(Distribution(Normal{0.1, 0.1}, 0.0).describe(), "normal(mean 0.1, sd 0.1, min 0)");
  EXPECT_EQ(Distribution(Normal{0.1, 0.1}, -kInfinity, 1.0).describe(),
            "normal(mean 0.1, sd 0.1, max 1)");
  EXPECT_EQ(Distribution(Normal{0.1, 0.1}, 0.0, 1.0).describe(),
            "normal(mean 0.1, sd 0.1, min 0, max 1)");
  EXPECT_EQ(Distribution(lognormalFromMedian(2, 0.5), -kInfinity, 10.0).describe(),
            "lognormal(median 2, sigma 0.5, max 10)");
  // Where the distribution's own parameters are min and max, a truncation is named as such.
  EXPECT_EQ(Distribution(Beta{2, 5}, 0.1, 0.6).describe(),
            "beta(alpha 2, beta 5, min 0, max 1, truncated to [0.1, 0.6])");
  EXPECT_EQ(Distribution(Pert{0, 1, 10}, 2.0).describe(),
            "pert(min 0, mode 1, max 10, lambda 4, truncated to [2, inf])");
}

TEST(Describe, Names) {
  EXPECT_EQ(Distribution::constant(1).name(), "constant");
  EXPECT_EQ(Distribution(Uniform{0, 1}).name(), "uniform");
  EXPECT_EQ(Distribution(Triangular{0, 1, 2}).name(), "triangular");
  EXPECT_EQ(Distribution(Pert{0, 1, 2}).name(), "pert");
  EXPECT_EQ(Distribution(Beta{1, 2}).name(), "beta");
  EXPECT_EQ(Distribution(Normal{0, 1}).name(), "normal");
  EXPECT_EQ(Distribution(Lognormal{0, 1}).name(), "lognormal");
  EXPECT_EQ(Distribution(Discrete{{1}, {1}}).name(), "discrete");
  EXPECT_EQ(Distribution(Bernoulli{0.5}).name(), "bernoulli");
}

}  // namespace
}  // namespace spinval
