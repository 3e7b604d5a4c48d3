// Tests of the distributions behind the scenario's [D] inputs. Every expected number comes from
// Boost.Math (in double, or in 50 significant digits where the double evaluation of a reference
// would itself lose digits), from a closed form derived in a comment, or from a hand count.
#include "spinval/distribution.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/lognormal.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/distributions/triangular.hpp>
#include <boost/math/distributions/uniform.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/multiprecision/cpp_bin_float.hpp>
#include <boost/random/mersenne_twister.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "spinval/parallel.hpp"
#include "spinval/rng.hpp"

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

bool sameBits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// The doubles from `steps` below x to `steps` above it.
void addNeighbours(std::vector<double>& us, double x, int steps) {
  double below = x, above = x;
  us.push_back(x);
  for (int k = 0; k < steps; ++k) {
    below = std::nextafter(below, -kInfinity);
    above = std::nextafter(above, kInfinity);
    us.push_back(below);
    us.push_back(above);
  }
}

// 10^6 uniforms on the samplers' grid of 2^-53 from a fixed seed, then the edges of the batch
// paths, each with its neighbours and its complement: 0 and 1, subnormals, 2^-53, the split at
// 1/2, AS241's region boundaries (|u - 1/2| = 0.425 and r = 5 at u = exp(-25)), every power
// 2^-k (the beta tables' octave boundaries) and the interval boundaries of the octaves 0 to 7
// (those of them tabulated in p, and the two below).
std::vector<double> batchUniforms() {
  boost::random::mt19937_64 engine(20260101);
  std::vector<double> us(1000000);
  for (double& u : us) u = static_cast<double>(engine() >> 11) * 0x1p-53;
  std::vector<double> edges;
  for (double x :
       {0.0, std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(), 1e-300,
        0x1p-53, 0.5, 0.075, std::exp(-25.0), 0.4, 0.9}) {
    addNeighbours(edges, x, 3);
  }
  for (int k = 1; k <= 70; ++k) addNeighbours(edges, std::ldexp(1.0, -k), 1);
  for (int k = 0; k < 8; ++k) {
    for (int j = 1; j < 64; ++j) addNeighbours(edges, std::ldexp(1.0 + j / 64.0, -(k + 2)), 1);
  }
  for (double x : edges) {
    if (x < 0.0) continue;
    us.push_back(x);
    us.push_back(1.0 - x);
  }
  return us;
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
  // Densely where most scores fall, through both of erfc's rationals and past them.
  for (int k = -300; k <= 300; ++k) {
    const double z = 0.01 * k + 1e-3;
    SCOPED_TRACE(z);
    EXPECT_TRUE(near(normalCdf(z), boost::math::cdf(standard, z), 1e-15, 1e-300));
  }
  // The upper tail through Phi(-z) keeps relative precision where 1 - Phi(z) would not.
  EXPECT_TRUE(
      near(normalCdf(-30.0), boost::math::cdf(boost::math::complement(standard, 30.0)), 1e-12));
}

// A PERT's table is built once, by prepare() or by the first draw, whichever thread gets there
// first; copies share it, and the draws are the same whoever built it.
TEST(Prepare, DrawsAreTheSameWhoeverBuildsTheTable) {
  const Distribution reference(Pert{1.0, 2.5, 7.0});
  std::vector<double> us = batchUniforms();
  std::vector<double> expected(us.size());
  reference.quantiles(us.data(), expected.data(), us.size());
  const Distribution prepared(Pert{1.0, 2.5, 7.0});
  prepared.prepare();
  const Distribution copy = prepared;
  std::vector<double> out(us.size());
  copy.quantiles(us.data(), out.data(), us.size());
  for (std::size_t i = 0; i < us.size(); ++i) ASSERT_TRUE(sameBits(out[i], expected[i]));
  // Four threads drawing from copies of one distribution nobody prepared.
  const Distribution shared(Pert{1.0, 2.5, 7.0});
  std::vector<std::vector<double>> drawn(4, std::vector<double>(us.size()));
  std::vector<std::thread> threads;
  for (auto& d : drawn) {
    threads.emplace_back([&shared, &us, &d] {
      const Distribution mine = shared;
      mine.quantiles(us.data(), d.data(), us.size());
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& d : drawn) {
    for (std::size_t i = 0; i < us.size(); ++i) ASSERT_TRUE(sameBits(d[i], expected[i]));
  }
}

// preparations() gives one item per table: PERT(1, 2.5, 7) and PERT(0, 2.5, 10) are both
// Beta(2, 4) (alpha = 1 + 4 (mode - min) / (max - min)) and share one, as copies do, a beta of
// another shape has its own, and a normal has none. Run on two threads, the items build the
// tables that the draws then use.
TEST(Prepare, OneItemPerTable) {
  const Distribution a(Pert{1.0, 2.5, 7.0}), b(Pert{0.0, 2.5, 10.0}), c(Beta{2.0, 5.0}),
      n(Normal{0.0, 1.0}), copy = a;
  std::vector<const Distribution*> all = {&a, &n, &b, &copy, &c};
  EXPECT_EQ(Distribution::preparations(all).size(), 2u);
  const Distribution other(Pert{0.0, 1.0, 10.0});  // Beta(1.4, 4.6)
  all.push_back(&other);
  const auto items = Distribution::preparations(all);
  ASSERT_EQ(items.size(), 3u);
  parallelFor(items.size(), 2, [&](std::size_t i) { items[i](); });
  const boost::math::beta_distribution<double> shape(2.0, 4.0);
  for (double u : {1e-6, 0.01, 0.3, 0.5, 0.77, 0.999}) {
    EXPECT_NEAR(b.quantile(u), 10.0 * boost::math::quantile(shape, u), 1e-12) << u;
  }
}

TEST(NormalCdfs, EqualNormalCdfBitForBit) {
  std::vector<double> zs;
  for (double u : batchUniforms()) zs.push_back(normalQuantile(u));
  for (double z : {kNaN, 0.0, -0.0, 40.0, -40.0, -kInfinity, kInfinity}) zs.push_back(z);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, zs.size()}) {
    std::vector<double> out(n, -1.0);
    normalCdfs(zs.data() + zs.size() - n, out.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const double z = zs[zs.size() - n + i];
      ASSERT_TRUE(sameBits(out[i], normalCdf(z))) << "z " << std::setprecision(17) << z;
    }
  }
}

TEST(NormalQuantiles, EqualNormalQuantileBitForBit) {
  // The batch against the scalar function, edges and inputs outside (0, 1) included, over
  // lengths that end inside a block of 256, at a block's end and just past it.
  std::vector<double> us = batchUniforms();
  for (double u : {kNaN, -0.0, -0.1, 1.1, -kInfinity, kInfinity}) us.push_back(u);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{255}, std::size_t{256},
                        std::size_t{257}, us.size()}) {
    SCOPED_TRACE(n);
    std::vector<double> out(n, -1.0);
    normalQuantiles(us.data() + us.size() - n, out.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const double u = us[us.size() - n + i];
      ASSERT_TRUE(sameBits(out[i], normalQuantile(u)))
          << "u " << std::setprecision(17) << u << ": batch " << out[i] << ", scalar "
          << normalQuantile(u);
    }
  }
  // In place.
  std::vector<double> inPlace = us;
  normalQuantiles(inPlace.data(), inPlace.data(), inPlace.size());
  for (std::size_t i = 0; i < us.size(); ++i) {
    ASSERT_TRUE(sameBits(inPlace[i], normalQuantile(us[i]))) << "u " << us[i];
  }
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
  // The reference is Boost's quantile evaluated in long double, the implementation reads a
  // BetaQuantileTable, within 3e-14 of Boost in double (itself within 3e-15 of long double) at
  // every interval's midpoint and measured within 4.2e-14 for alpha, beta up to 50; 1e-13 leaves
  // room for the two.
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

TEST(Quantiles, BatchEqualsQuantileBitForBit) {
  // The batch paths of untruncated beta, PERT, normal and lognormal draws, and of discrete ones,
  // against quantile(u), the element-by-element reference, in the bits. Beta(0.1, 0.1) has no
  // octave tabulated in p.
  const std::vector<Distribution> cases = {
      Distribution(Pert{0.18, 0.31, 0.45}),
      Distribution(Pert{0, 1, 10}),
      Distribution(Pert{0, 0, 1}),
      Distribution(Pert{0, 1, 1}),
      Distribution(Pert{-5, 2, 40, 6}),
      Distribution(Beta{2, 5}),
      Distribution(Beta{0.5, 0.5, -1, 3}),
      Distribution(Beta{0.1, 0.1}),
      Distribution(Beta{50, 50, 1e9, 2e9}),
      Distribution(Normal{0.1, 0.05}),
      Distribution(Normal{0, 1}),
      Distribution(Normal{-3, 1e-3}),
      Distribution(lognormalFromMedian(25e9, 0.4)),
      Distribution(Lognormal{0, 1}),
      Distribution(Lognormal{-2, 3}),
      Distribution(Discrete{{0.10, 0.15, 0.25}, {0.4, 0.5, 0.1}}),
      Distribution(Discrete{{2026, 2027}, {0.5, 0.5}}),
      Distribution(Discrete{{7}, {1}}),
  };
  const std::vector<double> us = batchUniforms();
  std::vector<double> out(us.size());
  for (const Distribution& d : cases) {
    SCOPED_TRACE(d.describe());
    d.quantiles(us.data(), out.data(), us.size());
    for (std::size_t i = 0; i < us.size(); ++i) {
      const double x = d.quantile(us[i]);
      ASSERT_TRUE(sameBits(out[i], x))
          << "u " << std::setprecision(17) << us[i] << ": batch " << out[i] << ", quantile " << x;
    }
    // In place, and a length that ends inside a block of normalQuantiles.
    std::vector<double> inPlace(us.begin(), us.begin() + 1000);
    d.quantiles(inPlace.data(), inPlace.data(), inPlace.size());
    for (std::size_t i = 0; i < inPlace.size(); ++i) {
      ASSERT_TRUE(sameBits(inPlace[i], out[i])) << "u " << us[i];
    }
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

// ---------------------------------------------------------------------------------------------
// Student t, gamma, log-uniform, empirical and mixture: quantiles against Boost.Math, closed
// forms evaluated in 50 digits, or the definitions coded independently here.

TEST(Quantile, StudentTMatchesBoost) {
  // location + scale Q_T(u) against Boost's quantile in long double (the implementation inverts
  // in double, measured within 5e-15), with an absolute floor of 1e-15 scale where the draw
  // passes through location = 0.
  const std::vector<StudentT> cases = {{0, 1, 3},  {2, 0.5, 1}, {-1, 2, 0.7},
                                       {0, 1, 30}, {5, 3, 2.5}, {0, 1, 1e6}};
  for (const StudentT& t : cases) {
    const Distribution d(t);
    const boost::math::students_t_distribution<double> ref(t.dof);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const double expected = t.location + t.scale * boost::math::quantile(ref, u);
      EXPECT_TRUE(near(d.quantile(u), expected, 1e-13, 1e-15 * t.scale));
    }
  }
}

TEST(Quantile, GammaMatchesBoost) {
  // Boost's gamma quantile in long double against gamma_p_inv / gamma_q_inv in double (measured
  // within 2e-14, the worst at shape 0.05, whose quantile is P^-1 raised to the power 1 / 0.05).
  const std::vector<Gamma> cases = {{2, 1.5}, {0.5, 1}, {10, 0.1}, {0.05, 2}, {300, 1}};
  for (const Gamma& g : cases) {
    const Distribution d(g);
    const boost::math::gamma_distribution<double> ref(g.shape, g.scale);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      EXPECT_TRUE(near(d.quantile(u), boost::math::quantile(ref, u), 1e-13));
    }
  }
}

TEST(Quantile, LoguniformMatchesClosedForm) {
  // Q(u) = a (b / a)^u in 50 digits; the double evaluation a exp(u ln(b / a)) carries the
  // rounding of u ln(b / a) (up to 9.3 here) into a relative error of a few 1e-15.
  const std::vector<Loguniform> cases = {{1, 10}, {0.01, 100}, {1e9, 4e9}, {2, 2.5}};
  for (const Loguniform& l : cases) {
    const Distribution d(l);
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const Real50 a(l.min), b(l.max);
      const double expected = static_cast<double>(a * pow(b / a, Real50(u)));
      EXPECT_TRUE(near(d.quantile(u), expected, 1e-14));
    }
  }
}

// Type 7 (NumPy's default "linear" method), coded from its definition: on the sorted sample,
// h = (n - 1) u, Q = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
double type7(std::vector<double> x, double u) {
  std::sort(x.begin(), x.end());
  const Real50 h = Real50(x.size() - 1) * Real50(u);
  const std::size_t i = std::min(static_cast<std::size_t>(floor(h)), x.size() - 2);
  return static_cast<double>(Real50(x[i]) + (h - i) * (Real50(x[i + 1]) - Real50(x[i])));
}

TEST(Quantile, EmpiricalValuesAreType7) {
  // numpy.quantile([3, 1, 10, 2], [0.1, 0.5, 0.9]) = [1.3, 2.5, 7.9]: h = 0.3, 1.5, 2.7.
  const Distribution d(Empirical{{3, 1, 10, 2}});
  EXPECT_TRUE(near(d.quantile(0.1), 1.3, 1e-15));
  EXPECT_TRUE(near(d.quantile(0.5), 2.5, 1e-15));
  EXPECT_TRUE(near(d.quantile(0.9), 7.9, 1e-15));
  // The knots are the order statistics: u = i / (n - 1) gives x_(i) exactly.
  EXPECT_EQ(d.quantile(1.0 / 3.0), 2.0);
  EXPECT_EQ(d.quantile(2.0 / 3.0), 3.0);
  const std::vector<std::vector<double>> samples = {
      {3, 1, 10, 2}, {0.5, -2, 7.25, 7.25, 1, 3, 3, 3, 100}, {1e9, 2e9}, {-1, 0, 1}};
  for (const std::vector<double>& x : samples) {
    const Distribution e(Empirical{x});
    for (double u : kGrid) {
      SCOPED_TRACE(e.describe() + " u " + std::to_string(u));
      // h - floor h is exact up to the rounding of (n - 1) u: a few ulps of the range.
      EXPECT_TRUE(near(
          e.quantile(u), type7(x, u), 1e-15,
          4e-16 * (*std::max_element(x.begin(), x.end()) - *std::min_element(x.begin(), x.end()))));
    }
  }
}

// The histogram's quantile from its definition: walk the bins to the one whose cumulative
// probability first reaches u and interpolate linearly inside it.
double histogramQuantile(const std::vector<double>& edges, const std::vector<double>& weights,
                         double u) {
  Real50 total = 0, below = 0;
  for (double w : weights) total += w;
  for (std::size_t j = 0; j < weights.size(); ++j) {
    const Real50 p = Real50(weights[j]) / total;
    if (p > 0 && (below + p >= u || j + 1 == weights.size())) {
      return static_cast<double>(edges[j] + (Real50(u) - below) / p * (edges[j + 1] - edges[j]));
    }
    below += p;
  }
  return edges.back();
}

TEST(Quantile, EmpiricalBinsAreTheHistogram) {
  // bins [0, 1, 3, 4], weights [2, 1, 1]: F = 0, 1/2, 3/4, 1 at the edges, so Q(0.1) = 0.2,
  // Q(0.5) = 1, Q(0.6) = 1 + (0.1 / 0.25) 2 = 1.8, Q(0.9) = 3 + 0.15 / 0.25 = 3.6.
  const Distribution d(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}});
  EXPECT_TRUE(near(d.quantile(0.1), 0.2, 1e-15));
  EXPECT_TRUE(near(d.quantile(0.5), 1.0, 1e-15));
  EXPECT_TRUE(near(d.quantile(0.6), 1.8, 1e-15));
  EXPECT_TRUE(near(d.quantile(0.9), 3.6, 1e-15));
  struct Case {
    std::vector<double> edges, weights;
  };
  const std::vector<Case> cases = {{{0, 1, 3, 4}, {2, 1, 1}},
                                   {{-5, 0, 2, 3, 10}, {0.1, 0, 0.6, 0.3}},
                                   {{0, 1, 2, 3}, {0, 5, 0}},
                                   {{1e3, 2e3}, {7}}};
  for (const Case& c : cases) {
    const Distribution e(Empirical{{}, c.edges, c.weights});
    for (double u : kGrid) {
      SCOPED_TRACE(e.describe() + " u " + std::to_string(u));
      EXPECT_TRUE(near(e.quantile(u), histogramQuantile(c.edges, c.weights, u), 1e-14,
                       1e-15 * (c.edges.back() - c.edges.front())));
    }
  }
}

// A mixture's quantile by bisection on its CDF (or, above the median, its survival function)
// in 50 digits: 300 halvings of the bracket leave it far below a double's resolution.
struct Component {
  double weight;
  std::function<Real50(Real50)> cdf, sf;
};

double mixtureQuantile(const std::vector<Component>& parts, double u, double lo, double hi) {
  const bool upper = u > 0.5;
  const Real50 target = upper ? Real50(1) - Real50(u) : Real50(u);
  Real50 a = lo, b = hi;
  for (int i = 0; i < 300; ++i) {
    const Real50 m = (a + b) / 2;
    Real50 sum = 0;
    for (const Component& c : parts) sum += c.weight * (upper ? c.sf(m) : c.cdf(m));
    if (upper ? sum <= target : sum >= target) {
      b = m;
    } else {
      a = m;
    }
  }
  return static_cast<double>(b);
}

TEST(Quantile, MixtureInvertsTheMixtureCdf) {
  // The root search stops a few ulps wide (measured within 1e-14 relative here); 1e-13 leaves
  // room for the components' own rounding.
  using boost::math::complement;
  const boost::math::normal_distribution<Real50> n01(0, 1), n3(3, 0.5);
  const boost::math::lognormal_distribution<Real50> ln(0, 0.5);
  const boost::math::gamma_distribution<Real50> gamma(3, 2);
  const std::vector<Component> twoNormals = {{0.3, [&](Real50 x) { return cdf(n01, x); },
                                              [&](Real50 x) { return cdf(complement(n01, x)); }},
                                             {0.7, [&](Real50 x) { return cdf(n3, x); },
                                              [&](Real50 x) { return cdf(complement(n3, x)); }}};
  const auto positive = [](Real50 x, const auto& f) { return x > 0 ? f(x) : Real50(0); };
  const std::vector<Component> lognormalGamma = {
      {0.25, [&](Real50 x) { return positive(x, [&](Real50 y) { return cdf(ln, y); }); },
       [&](Real50 x) { return x > 0 ? cdf(complement(ln, x)) : Real50(1); }},
      {0.75, [&](Real50 x) { return positive(x, [&](Real50 y) { return cdf(gamma, y); }); },
       [&](Real50 x) { return x > 0 ? cdf(complement(gamma, x)) : Real50(1); }}};
  // A normal truncated to [0, inf): (Phi(x) - Phi(0)) / (1 - Phi(0)) = 2 Phi(x) - 1 for x >= 0,
  // with a uniform on [-1, 2] and a third weight on N(3, 0.5).
  const std::vector<Component> three = {
      {0.2, [&](Real50 x) { return x > 0 ? 2 * cdf(n01, x) - 1 : Real50(0); },
       [&](Real50 x) { return x > 0 ? 2 * cdf(complement(n01, x)) : Real50(1); }},
      {0.5, [](Real50 x) { return x < -1 ? Real50(0) : (x > 2 ? Real50(1) : (x + 1) / 3); },
       [](Real50 x) { return x < -1 ? Real50(1) : (x > 2 ? Real50(0) : (2 - x) / 3); }},
      {0.3, [&](Real50 x) { return cdf(n3, x); },
       [&](Real50 x) { return cdf(complement(n3, x)); }}};
  struct Case {
    Distribution d;
    const std::vector<Component>* parts;
    double lo, hi;
  };
  const std::vector<Case> cases = {
      {Distribution(
           Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}}),
       &twoNormals, -20, 20},
      {Distribution(
           Mixture{{0.25, 0.75}, {Distribution(Lognormal{0, 0.5}), Distribution(Gamma{3, 2})}}),
       &lognormalGamma, 0, 200},
      {Distribution(Mixture{{0.2, 0.5, 0.3},
                            {Distribution(Normal{0, 1}, 0.0), Distribution(Uniform{-1, 2}),
                             Distribution(Normal{3, 0.5})}}),
       &three, -2, 20},
  };
  for (const Case& c : cases) {
    for (double u : kGrid) {
      SCOPED_TRACE(c.d.describe() + " u " + std::to_string(u));
      EXPECT_TRUE(near(c.d.quantile(u), mixtureQuantile(*c.parts, u, c.lo, c.hi), 1e-13, 1e-15));
    }
  }
}

TEST(Quantile, MixtureWithAtomsReturnsThemExactly) {
  // 0.3 at 0 and 0.7 N(1, 1): F(0-) = 0.7 Phi(-1) = 0.1110581..., F(0) = 0.4110581..., so every
  // u in (F(0-), F(0)] draws exactly 0, and u outside it a point of the normal part.
  const Distribution d(
      Mixture{{0.3, 0.7}, {Distribution::constant(0), Distribution(Normal{1, 1})}});
  const double below = 0.7 * boost::math::cdf(boost::math::normal_distribution<double>(1, 1), 0.0);
  for (double u : {below + 1e-9, 0.2, 0.3, 0.4, below + 0.3 - 1e-9}) EXPECT_EQ(d.quantile(u), 0.0);
  EXPECT_LT(d.quantile(below - 1e-9), 0.0);
  EXPECT_GT(d.quantile(below + 0.3 + 1e-9), 0.0);
  // 0.3 N(1, 1) at x < 0: 0.7 Phi(x - 1) = u; at u = 0.05, x = 1 + Phi^-1(0.05 / 0.7).
  const boost::math::normal_distribution<double> n01;
  EXPECT_TRUE(near(d.quantile(0.05), 1 + boost::math::quantile(n01, 0.05 / 0.7), 1e-12));
  // A mixture of discrete parts is discrete and draws its atoms: {2026, 2027} at 1/2 each with
  // weight 1/2, 2028 with weight 1/2: F = 1/4, 1/2, 1.
  const Distribution years(
      Mixture{{0.5, 0.5},
              {Distribution(Discrete{{2026, 2027}, {0.5, 0.5}}), Distribution::constant(2028)}});
  EXPECT_TRUE(years.isDiscrete());
  EXPECT_EQ(years.quantile(0.1), 2026.0);
  EXPECT_EQ(years.quantile(0.25), 2026.0);
  EXPECT_EQ(years.quantile(std::nextafter(0.25, 1.0)), 2027.0);
  EXPECT_EQ(years.quantile(0.5), 2027.0);
  EXPECT_EQ(years.quantile(std::nextafter(0.5, 1.0)), 2028.0);
  EXPECT_EQ(years.quantile(1 - 1e-12), 2028.0);
}

// ---------------------------------------------------------------------------------------------
// Complement quantile and survival function

TEST(UpperTail, ComplementQuantileAndSurvivalMatchBoost) {
  // cquantile(q) = Q(1 - q) and sf(x) = 1 - F(x), computed without forming 1 - q or 1 - F:
  // compared with Boost's complement functions at q and S(x) far below 1e-16.
  using boost::math::complement;
  const boost::math::normal_distribution<double> n(2.5, 0.3);
  const boost::math::students_t_distribution<double> t3(3);
  const boost::math::gamma_distribution<double> g(2, 1.5);
  for (double q : {1e-300, 1e-100, 1e-20, 1e-12, 0.01, 0.3}) {
    SCOPED_TRACE(q);
    EXPECT_TRUE(
        near(Distribution(Normal{2.5, 0.3}).cquantile(q), quantile(complement(n, q)), 1e-14));
    EXPECT_TRUE(
        near(Distribution(StudentT{0, 1, 3}).cquantile(q), quantile(complement(t3, q)), 1e-13));
    EXPECT_TRUE(near(Distribution(Gamma{2, 1.5}).cquantile(q), quantile(complement(g, q)), 1e-13));
  }
  for (double x : {3.0, 5.0, 10.0, 30.0}) {
    SCOPED_TRACE(x);
    EXPECT_TRUE(near(Distribution(StudentT{0, 1, 3}).sf(x), cdf(complement(t3, x)), 1e-13));
    EXPECT_TRUE(near(Distribution(Gamma{2, 1.5}).sf(x), cdf(complement(g, x)), 1e-13));
  }
  // Exact where 1 - q is exact.
  const std::vector<Distribution> cases = {
      Distribution(Loguniform{1, 100}),
      Distribution(Empirical{{3, 1, 10, 2}}),
      Distribution(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}}),
      Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}}),
      Distribution(Normal{0, 1}, -1.0, 2.0),
      Distribution(Gamma{2, 1.5}, 1.0, 4.0)};
  for (const Distribution& d : cases) {
    for (int k = 1; k <= 40; k += 3) {
      const double q = std::ldexp(1.0, -k);
      SCOPED_TRACE(d.describe() + " q " + std::to_string(q));
      EXPECT_TRUE(near(d.cquantile(q), d.quantile(1.0 - q), 1e-12, 1e-15));
      const double x = d.quantile(0.3 + 0.01 * k);
      EXPECT_TRUE(near(d.sf(x), 1.0 - d.cdf(x), 1e-12, 1e-15));
    }
  }
  // A discrete distribution: S(x) = 1 - F(x).
  const Distribution discrete(Discrete{{1, 2, 3}, {0.25, 0.25, 0.5}});
  EXPECT_EQ(discrete.sf(2.0), 0.5);
  EXPECT_EQ(discrete.cquantile(0.5), 2.0);
  EXPECT_EQ(discrete.cquantile(0.25), 3.0);
}

TEST(Cdf, InvertsTheQuantileOfTheNewDistributions) {
  // As Cdf.InvertsTheQuantile: |cdf(quantile(u)) - u| within 1e-12 u plus the CDF's change
  // across the neighbouring doubles.
  const std::vector<Distribution> cases = {
      Distribution(StudentT{0, 1, 3}),
      Distribution(StudentT{2, 0.5, 0.7}),
      Distribution(StudentT{0, 1, 5}, 0.5),
      Distribution(Gamma{2, 1.5}),
      Distribution(Gamma{0.5, 1}),
      Distribution(Gamma{2, 1.5}, 1.0, 4.0),
      Distribution(Loguniform{0.01, 100}),
      Distribution(Loguniform{1, 100}, 2.0, 50.0),
      Distribution(Empirical{{3, 1, 10, 2}}),
      Distribution(Empirical{{}, {-5, 0, 2, 3, 10}, {0.1, 0, 0.6, 0.3}}),
      Distribution(Empirical{{3, 1, 10, 2}}, 1.5, 5.0),
      Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}}),
      Distribution(
          Mixture{{0.25, 0.75}, {Distribution(Lognormal{0, 0.5}), Distribution(Gamma{3, 2})}}),
      Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}},
                   -1.0, 2.0),
      Distribution(Uniform{0, 10}, 2.0),
      Distribution(Triangular{0, 2, 10}, 1.0, 9.5),
  };
  for (const Distribution& d : cases) {
    for (double u : kGrid) {
      SCOPED_TRACE(d.describe() + " u " + std::to_string(u));
      const double x = d.quantile(u);
      const double spread =
          d.cdf(std::nextafter(x, kInfinity)) - d.cdf(std::nextafter(x, -kInfinity));
      EXPECT_TRUE(near(d.cdf(x), u, 1e-12, 1e-15 + spread));
    }
    if (std::isfinite(d.lower())) {
      EXPECT_EQ(d.cdf(d.lower() - 1.0), 0.0);
    }
    if (std::isfinite(d.upper())) {
      EXPECT_EQ(d.cdf(d.upper()), 1.0);
    }
  }
}

TEST(Cdf, NewDistributionsMatchBoostAndClosedForms) {
  const boost::math::students_t_distribution<double> t(3);
  const boost::math::gamma_distribution<double> g(2, 1.5);
  for (double x : {-30.0, -2.0, -0.1, 0.0, 0.7, 2.5, 8.0, 40.0}) {
    SCOPED_TRACE(x);
    // (x - location) / scale through the t CDF.
    EXPECT_TRUE(near(Distribution(StudentT{1, 2, 3}).cdf(x), cdf(t, (x - 1) / 2), 1e-13, 1e-300));
    EXPECT_TRUE(near(Distribution(Gamma{2, 1.5}).cdf(x), x > 0 ? cdf(g, x) : 0.0, 1e-13, 1e-300));
    // ln(x / 0.5) / ln(20 / 0.5) on [0.5, 20].
    const double l = x <= 0.5 ? 0.0 : (x >= 20 ? 1.0 : std::log(x / 0.5) / std::log(40.0));
    EXPECT_TRUE(near(Distribution(Loguniform{0.5, 20}).cdf(x), l, 1e-15, 1e-300));
  }
  // Observations 1, 2, 3, 10 have F = 0, 1/3, 2/3, 1 and are linear between; the histogram
  // [0, 1, 3, 4] with weights 2, 1, 1 has F = 0, 1/2, 3/4, 1.
  const Distribution values(Empirical{{3, 1, 10, 2}});
  EXPECT_DOUBLE_EQ(values.cdf(1.5), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(values.cdf(6.5), 2.0 / 3.0 + 0.5 / 3.0);
  EXPECT_EQ(values.cdf(0.99), 0.0);
  EXPECT_EQ(values.cdf(10.0), 1.0);
  const Distribution bins(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}});
  EXPECT_DOUBLE_EQ(bins.cdf(0.5), 0.25);
  EXPECT_DOUBLE_EQ(bins.cdf(2.0), 0.625);
  EXPECT_DOUBLE_EQ(bins.cdf(3.5), 0.875);
  // Repeated observations are atoms: 1, 2, 2, 3 puts 1/3 at 2, F(2-) = 1/3, F(2) = 2/3.
  const Distribution ties(Empirical{{2, 1, 3, 2}});
  EXPECT_DOUBLE_EQ(ties.cdf(1.5), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(ties.cdf(2.0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ties.cdf(2.5), 5.0 / 6.0);
  for (double u : {0.34, 0.5, 0.66}) EXPECT_EQ(ties.quantile(u), 2.0);
}

// ---------------------------------------------------------------------------------------------
// Moments of the new distributions

TEST(Moments, StudentTGammaLoguniformClosedForms) {
  const auto check = [](const Distribution& d, double mean, double variance) {
    SCOPED_TRACE(d.describe());
    EXPECT_TRUE(near(d.mean(), mean, 1e-14, 1e-300));
    EXPECT_TRUE(near(d.variance(), variance, 1e-13));
  };
  // location + scale T: mean location, variance scale^2 dof / (dof - 2).
  for (double dof : {2.5, 3.0, 30.0}) {
    const boost::math::students_t_distribution<double> t(dof);
    check(Distribution(StudentT{1.5, 2, dof}), 1.5 + 2 * boost::math::mean(t),
          4 * boost::math::variance(t));
  }
  const boost::math::gamma_distribution<double> g(2.5, 1.5);
  check(Distribution(Gamma{2.5, 1.5}), boost::math::mean(g), boost::math::variance(g));
  // Log-uniform on [1, e]: L = 1, E X = e - 1, E X^2 = (e^2 - 1) / 2, in 50 digits.
  const Real50 e = exp(Real50(1));
  check(Distribution(Loguniform{1, std::exp(1.0)}), static_cast<double>(e - 1),
        static_cast<double>((e * e - 1) / 2 - (e - 1) * (e - 1)));
  // On [2, 50]: L = ln 25, E X = 48 / L, E X^2 = (2500 - 4) / (2 L).
  const Real50 l = log(Real50(25));
  check(Distribution(Loguniform{2, 50}), static_cast<double>(48 / l),
        static_cast<double>(Real50(2496) / (2 * l) - (48 / l) * (48 / l)));
}

TEST(Moments, StudentTWithoutMomentsIsNanOrInfinite) {
  // dof <= 1: no mean and no variance; 1 < dof <= 2: mean location, infinite variance.
  for (double dof : {0.5, 1.0}) {
    const Distribution d(StudentT{0, 1, dof});
    EXPECT_TRUE(std::isnan(d.mean())) << dof;
    EXPECT_TRUE(std::isnan(d.variance())) << dof;
  }
  const Distribution t15(StudentT{3, 1, 1.5});
  EXPECT_EQ(t15.mean(), 3.0);
  EXPECT_EQ(t15.variance(), kInfinity);
  const Distribution t2(StudentT{3, 1, 2});
  EXPECT_EQ(t2.variance(), kInfinity);
  // Truncated on one side, the other tail decides: E X = +inf (or -inf) for dof <= 1, and the
  // variance is infinite for dof <= 2. Truncated on both sides every moment is finite.
  EXPECT_EQ(Distribution(StudentT{0, 1, 0.8}, 0.0).mean(), kInfinity);
  EXPECT_EQ(Distribution(StudentT{0, 1, 0.8}, -kInfinity, 0.0).mean(), -kInfinity);
  EXPECT_EQ(Distribution(StudentT{0, 1, 0.8}, 0.0).variance(), kInfinity);
  EXPECT_EQ(Distribution(StudentT{0, 1, 1.5}, 0.0).variance(), kInfinity);
  EXPECT_TRUE(std::isfinite(Distribution(StudentT{0, 1, 0.8}, -3.0, 5.0).variance()));
  // For dof 1.5 on [0, inf) the mean is E|T| = 2 sqrt(dof) Gamma((dof + 1) / 2) /
  // (sqrt(pi) (dof - 1) Gamma(dof / 2)).
  const double dof = 1.5;
  const double expected = 2 * std::sqrt(dof) * std::tgamma((dof + 1) / 2) /
                          (std::sqrt(std::numbers::pi) * (dof - 1) * std::tgamma(dof / 2));
  EXPECT_TRUE(near(Distribution(StudentT{0, 1, dof}, 0.0).mean(), expected, 1e-14));
}

TEST(Moments, EmpiricalByHand) {
  // Observations 1, 2, 3, 10: three pieces of probability 1/3, uniform on [1, 2], [2, 3],
  // [3, 10]. E X = (1.5 + 2.5 + 6.5) / 3 = 3.5; E X^2 = (7/3 + 19/3 + 139/3) / 3 = 165 / 9;
  // Var = 165 / 9 - 12.25 = 73 / 12.
  const Distribution values(Empirical{{3, 1, 10, 2}});
  EXPECT_TRUE(near(values.mean(), 3.5, 1e-15));
  EXPECT_TRUE(near(values.variance(), 73.0 / 12.0, 1e-15));
  // Histogram [0, 1, 3, 4], weights 1/2, 1/4, 1/4: E X = 1/4 + 1/2 + 7/8 = 13/8;
  // E X^2 = (1/2)(1/3) + (1/4)(13/3) + (1/4)(37/3) = 13/3; Var = 13/3 - 169/64 = 325/192.
  const Distribution bins(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}});
  EXPECT_TRUE(near(bins.mean(), 13.0 / 8.0, 1e-15));
  EXPECT_TRUE(near(bins.variance(), 325.0 / 192.0, 1e-15));
  // Ties: 1, 2, 2, 3 is 1/3 uniform on [1, 2], 1/3 at 2, 1/3 uniform on [2, 3]: E X = 2,
  // Var = (1/3)(1/3) + 0 + (1/3)(1/3) = 2/9 (the uniform pieces each have E (X - 2)^2 = 1/3).
  const Distribution ties(Empirical{{2, 1, 3, 2}});
  EXPECT_TRUE(near(ties.mean(), 2.0, 1e-15));
  EXPECT_TRUE(near(ties.variance(), 2.0 / 9.0, 1e-15));
}

TEST(Moments, MixtureFromItsComponents) {
  // E X = sum w_k m_k; Var X = sum w_k (v_k + m_k^2) - (E X)^2.
  // 0.3 N(0, 1) + 0.7 N(3, 0.5): E X = 2.1, E X^2 = 0.3 (1) + 0.7 (0.25 + 9) = 6.775,
  // Var = 6.775 - 4.41 = 2.365.
  const Distribution d(
      Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}});
  EXPECT_TRUE(near(d.mean(), 2.1, 1e-15));
  EXPECT_TRUE(near(d.variance(), 2.365, 1e-14));
  // With a point mass and a gamma: 0.4 at 0, 0.6 Gamma(2, 1.5) (mean 3, variance 4.5):
  // E X = 1.8, E X^2 = 0.6 (4.5 + 9) = 8.1, Var = 8.1 - 3.24 = 4.86.
  const Distribution zeroOr(
      Mixture{{0.4, 0.6}, {Distribution::constant(0), Distribution(Gamma{2, 1.5})}});
  EXPECT_TRUE(near(zeroOr.mean(), 1.8, 1e-15));
  EXPECT_TRUE(near(zeroOr.variance(), 4.86, 1e-14));
  // A component without a mean makes the mixture's NaN.
  EXPECT_TRUE(std::isnan(
      Distribution(
          Mixture{{0.5, 0.5}, {Distribution(StudentT{0, 1, 1}), Distribution(Normal{0, 1})}})
          .mean()));
}

TEST(Moments, TruncatedNewDistributionsMatchIntegralsOfTheDensity) {
  // Gauss-Kronrod on the densities (Boost's, or the piecewise-constant densities of the empirical
  // forms), independent of the quantile quadrature and of the piecewise formulas.
  const boost::math::students_t_distribution<double> t3(3), t5(5);
  expectMoments(
      Distribution(StudentT{0, 1, 3}, -1.0, 3.0), [&](double x) { return pdf(t3, x); },
      {-1.0, 0.0, 3.0}, 1e-11);
  expectMoments(
      Distribution(StudentT{1, 2, 5}, 2.0), [&](double x) { return pdf(t5, (x - 1) / 2) / 2; },
      {2.0, 10.0, kInfinity}, 1e-12);
  const boost::math::gamma_distribution<double> g(2, 1.5);
  expectMoments(
      Distribution(Gamma{2, 1.5}, 1.0, 4.0), [&](double x) { return pdf(g, x); }, {1.0, 1.5, 4.0},
      1e-11);
  expectMoments(
      Distribution(Gamma{2, 1.5}, -kInfinity, 2.0),
      [&](double x) { return x > 0 ? pdf(g, x) : 0.0; }, {0.0, 1.5, 2.0}, 1e-11);
  const double l = std::log(100.0);
  expectMoments(
      Distribution(Loguniform{1, 100}, 2.0, 50.0), [&](double x) { return 1 / (x * l); },
      {2.0, 10.0, 50.0}, 1e-12);
  // Observations 1, 2, 3, 10: density (1/3) / width on each piece.
  expectMoments(
      Distribution(Empirical{{3, 1, 10, 2}}, 1.5, 5.0),
      [](double x) { return x < 2 ? 1.0 / 3.0 : (x < 3 ? 1.0 / 3.0 : 1.0 / 21.0); },
      {1.5, 2.0, 3.0, 5.0}, 1e-13);
  expectMoments(
      Distribution(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}}, -kInfinity, 3.5),
      [](double x) { return x < 1 ? 0.5 : (x < 3 ? 0.125 : 0.25); }, {0.0, 1.0, 3.0, 3.5}, 1e-13);
  const boost::math::normal_distribution<double> n0(0, 1), n3(3, 0.5);
  expectMoments(
      Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}},
                   -1.0, 2.0),
      [&](double x) { return 0.3 * pdf(n0, x) + 0.7 * pdf(n3, x); }, {-1.0, 0.0, 2.0}, 1e-10);
}

// ---------------------------------------------------------------------------------------------
// Goodness of fit of the draws
//
// n = 20000 uniforms from a fixed-seed mt19937_64, mapped to (0, 1) as the samplers map them,
// go through quantile(); the draws are compared with the exact CDF. For a continuous law the
// Kolmogorov-Smirnov distance D of a correct quantile satisfies P(D > e) <= 2 exp(-2 n e^2)
// (Dvoretzky-Kiefer-Wolfowitz with Massart's constant, valid for every n), so the threshold
// e = sqrt(ln(2 / alpha) / (2 n)) = 0.0190 fails a correct build with probability at most
// alpha = 1e-6 over the choice of seed. Discrete laws use Pearson's chi-square against the
// chi-square quantile at 1 - 1e-6 (k - 1 degrees of freedom; every expected count is >= 1000,
// far into the asymptotic regime), again a false-failure rate of 1e-6.

constexpr std::size_t kDraws = 20000;
constexpr double kAlpha = 1e-6;

std::vector<double> drawSample(const Distribution& d, std::uint64_t seed) {
  boost::random::mt19937_64 engine(seed);
  std::vector<double> u(kDraws), x(kDraws);
  for (double& v : u) v = toOpenUnit(engine());
  d.quantiles(u.data(), x.data(), kDraws);
  return x;
}

double ksDistance(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return d;
}

TEST(GoodnessOfFit, ContinuousDrawsPassKolmogorovSmirnov) {
  using boost::math::cdf;
  const double critical = std::sqrt(std::log(2.0 / kAlpha) / (2.0 * kDraws));
  const boost::math::uniform_distribution<double> uniform(-2, 3);
  const boost::math::triangular_distribution<double> tri(0, 2, 10);
  const boost::math::beta_distribution<double> beta(2, 5), pert(1.4, 4.6);
  const boost::math::normal_distribution<double> normal(0.1, 0.05), n01, n3(3, 0.5);
  const boost::math::lognormal_distribution<double> lognormal(0.2, 0.6);
  const boost::math::students_t_distribution<double> t3(3), t07(0.7);
  const boost::math::gamma_distribution<double> gamma(2, 1.5), gamma05(0.5, 1);
  const auto truncated = [](auto f, double a, double b) {
    return [=](double x) {
      if (x <= a) return 0.0;
      if (x >= b) return 1.0;
      const double fb = std::isinf(b) ? 1.0 : f(b);
      return (f(x) - f(a)) / (fb - f(a));
    };
  };
  // Observations 1, 2, 3, 10 and the histogram [0, 1, 3, 4] (2, 1, 1), coded independently.
  const auto values = [](double x) {
    const std::vector<double> k = {1, 2, 3, 10};
    if (x <= 1) return 0.0;
    if (x >= 10) return 1.0;
    std::size_t i = 0;
    while (x >= k[i + 1]) ++i;
    return (static_cast<double>(i) + (x - k[i]) / (k[i + 1] - k[i])) / 3.0;
  };
  const auto bins = [](double x) {
    if (x <= 0) return 0.0;
    if (x <= 1) return 0.5 * x;
    if (x <= 3) return 0.5 + 0.125 * (x - 1);
    return x >= 4 ? 1.0 : 0.75 + 0.25 * (x - 3);
  };
  const auto twoNormals = [&](double x) { return 0.3 * cdf(n01, x) + 0.7 * cdf(n3, x); };
  struct Case {
    Distribution d;
    std::function<double(double)> cdf;
  };
  const std::vector<Case> cases = {
      {Distribution(Uniform{-2, 3}), [&](double x) { return cdf(uniform, x); }},
      {Distribution(Triangular{0, 2, 10}), [&](double x) { return cdf(tri, x); }},
      {Distribution(Pert{0, 1, 10}),
       [&](double x) { return cdf(pert, std::clamp(x / 10, 0.0, 1.0)); }},
      {Distribution(Beta{2, 5}), [&](double x) { return cdf(beta, std::clamp(x, 0.0, 1.0)); }},
      {Distribution(Normal{0.1, 0.05}), [&](double x) { return cdf(normal, x); }},
      {Distribution(Lognormal{0.2, 0.6}),
       [&](double x) { return x > 0 ? cdf(lognormal, x) : 0.0; }},
      {Distribution(StudentT{1, 2, 3}), [&](double x) { return cdf(t3, (x - 1) / 2); }},
      {Distribution(StudentT{0, 1, 0.7}), [&](double x) { return cdf(t07, x); }},
      {Distribution(Gamma{2, 1.5}), [&](double x) { return x > 0 ? cdf(gamma, x) : 0.0; }},
      {Distribution(Gamma{0.5, 1}), [&](double x) { return x > 0 ? cdf(gamma05, x) : 0.0; }},
      {Distribution(Loguniform{0.5, 20}),
       [](double x) {
         return x <= 0.5 ? 0.0 : (x >= 20 ? 1.0 : std::log(x / 0.5) / std::log(40.0));
       }},
      {Distribution(Empirical{{3, 1, 10, 2}}), values},
      {Distribution(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}}), bins},
      {Distribution(
           Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}}),
       twoNormals},
      // Truncated, old and new.
      {Distribution(Normal{0.1, 0.05}, 0.0, 0.12),
       truncated([&](double x) { return cdf(normal, x); }, 0.0, 0.12)},
      {Distribution(Triangular{0, 2, 10}, 1.0, 9.5),
       truncated([&](double x) { return cdf(tri, x); }, 1.0, 9.5)},
      {Distribution(Beta{2, 5}, 0.1, 0.6),
       truncated([&](double x) { return cdf(beta, std::clamp(x, 0.0, 1.0)); }, 0.1, 0.6)},
      {Distribution(StudentT{1, 2, 3}, 0.0, 5.0),
       truncated([&](double x) { return cdf(t3, (x - 1) / 2); }, 0.0, 5.0)},
      {Distribution(Gamma{2, 1.5}, 1.0),
       truncated([&](double x) { return x > 0 ? cdf(gamma, x) : 0.0; }, 1.0, kInfinity)},
      {Distribution(Loguniform{0.5, 20}, -kInfinity, 4.0),
       [](double x) {
         return x <= 0.5 ? 0.0 : (x >= 4 ? 1.0 : std::log(x / 0.5) / std::log(8.0));
       }},
      {Distribution(Empirical{{3, 1, 10, 2}}, 1.5, 5.0), truncated(values, 1.5, 5.0)},
      {Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}},
                    -1.0, 2.0),
       truncated(twoNormals, -1.0, 2.0)},
  };
  std::uint64_t seed = 20260122;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.d.describe());
    const double d = ksDistance(drawSample(c.d, ++seed), c.cdf);
    EXPECT_LT(d, critical);
  }
}

TEST(GoodnessOfFit, DiscreteDrawsPassChiSquare) {
  struct Case {
    Distribution d;
    std::vector<double> values, probs;
  };
  const std::vector<Case> cases = {
      {Distribution(Discrete{{3, 1, 2}, {0.5, 0.25, 0.25}}), {1, 2, 3}, {0.25, 0.25, 0.5}},
      {Distribution(Bernoulli{0.3}), {0, 1}, {0.7, 0.3}},
      {Distribution(Mixture{
           {0.5, 0.5},
           {Distribution(Discrete{{2026, 2027}, {0.5, 0.5}}), Distribution::constant(2028)}}),
       {2026, 2027, 2028},
       {0.25, 0.25, 0.5}},
  };
  std::uint64_t seed = 7;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.d.describe());
    std::vector<double> counts(c.values.size(), 0.0);
    for (double x : drawSample(c.d, ++seed)) {
      const auto at = std::find(c.values.begin(), c.values.end(), x);
      ASSERT_NE(at, c.values.end()) << "drew " << x;
      counts[static_cast<std::size_t>(at - c.values.begin())] += 1;
    }
    double chi2 = 0.0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const double expected = c.probs[i] * kDraws;
      chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
    const boost::math::chi_squared_distribution<double> ref(static_cast<double>(counts.size() - 1));
    EXPECT_LT(chi2, boost::math::quantile(ref, 1.0 - kAlpha));
  }
  // A constant draws its value every time.
  for (double x : drawSample(Distribution::constant(4.5), 1)) ASSERT_EQ(x, 4.5);
}

// ---------------------------------------------------------------------------------------------
// Batch evaluation, windows and monotonicity of the new distributions

TEST(Quantiles, NewDistributionsEqualQuantileElementByElement) {
  const std::vector<Distribution> cases = {
      Distribution(StudentT{0, 1, 3}),
      Distribution(StudentT{0, 1, 3}, 0.0, 2.0),
      Distribution(Gamma{2, 1.5}),
      Distribution(Loguniform{1, 100}),
      Distribution(Empirical{{3, 1, 10, 2}}),
      Distribution(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}}),
      Distribution(Mixture{{0.4, 0.6}, {Distribution::constant(0), Distribution(Gamma{2, 1.5})}}),
      Distribution(Uniform{0, 1}, 0.2, 0.7),
  };
  std::vector<double> out(kGrid.size());
  for (const Distribution& d : cases) {
    d.quantiles(kGrid.data(), out.data(), kGrid.size());
    for (std::size_t i = 0; i < kGrid.size(); ++i) EXPECT_EQ(out[i], d.quantile(kGrid[i]));
  }
}

TEST(TruncatedQuantile, NewDistributionsStayInsideTheWindowAndNonDecreasing) {
  std::vector<double> us = {std::numeric_limits<double>::denorm_min(), 1e-300, 1e-100};
  for (int i = 1; i < 200; ++i) us.push_back(i / 200.0);
  us.push_back(1 - 1e-16);
  us.push_back(std::nextafter(1.0, 0.0));
  std::sort(us.begin(), us.end());
  const std::vector<Distribution> cases = {
      Distribution(StudentT{0, 1, 3}),
      Distribution(StudentT{0, 1, 0.5}),
      Distribution(StudentT{0, 1, 3}, 1e3, 1e3 + 1),
      Distribution(StudentT{0, 1, 3}, -kInfinity, -1e4),
      Distribution(Gamma{0.05, 2}),
      Distribution(Gamma{2, 1.5}, 60.0),
      Distribution(Loguniform{1e-6, 1e6}, 0.5, 0.5 + 1e-9),
      Distribution(Empirical{{0.5, -2, 7.25, 7.25, 1, 3, 3, 3, 100}}),
      Distribution(Empirical{{}, {-5, 0, 2, 3, 10}, {0.1, 0, 0.6, 0.3}}, 0.5, 2.5),
      Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution(Normal{3, 0.5})}},
                   6.0),
      Distribution(Mixture{{0.4, 0.6}, {Distribution::constant(0), Distribution(Gamma{2, 1.5})}}),
      Distribution(
          Mixture{{0.5, 0.5},
                  {Distribution(Mixture{
                       {0.5, 0.5}, {Distribution(Normal{-5, 1}), Distribution(Uniform{0, 1})}}),
                   Distribution(Lognormal{0, 1})}}),
      Distribution(Pert{0, 0, 1}, -kInfinity, 0.01),
      Distribution(Uniform{0, 1}, 0.999),
  };
  for (const Distribution& d : cases) {
    SCOPED_TRACE(d.describe());
    double previous = -kInfinity;
    for (double u : us) {
      const double x = d.quantile(u);
      ASSERT_FALSE(std::isnan(x)) << "u " << u;
      ASSERT_GE(x, d.lower()) << "u " << u;
      ASSERT_LE(x, d.upper()) << "u " << u;
      ASSERT_GE(x, previous) << "u " << u;
      previous = x;
    }
  }
}

TEST(TruncatedQuantile, OwnBoundedDistributionsTruncateInsideTheirRange) {
  // A truncated uniform, loguniform or PERT draws F^-1(F(a) + u (F(b) - F(a))): for the
  // log-uniform that is the log-uniform on the window, a (b / a)^u in 50 digits.
  const Distribution l(Loguniform{1, 100}, 2.0, 50.0);
  for (double u : kGrid) {
    SCOPED_TRACE(u);
    EXPECT_TRUE(near(l.quantile(u), static_cast<double>(2 * pow(Real50(25), Real50(u))), 1e-14));
  }
  EXPECT_EQ(l.lower(), 2.0);
  EXPECT_EQ(l.upper(), 50.0);
}

// ---------------------------------------------------------------------------------------------
// Parameter errors, support, classification and descriptions of the new distributions

TEST(ParameterErrors, NewDistributionsNameTheOffendingParameter) {
  struct Case {
    std::string expected;
    std::function<void()> make;
  };
  const auto make = [](DistributionKind kind, double min = -kInfinity, double max = kInfinity) {
    return [=] { Distribution d(kind, min, max); };
  };
  const Distribution n01(Normal{0, 1});
  const std::vector<Case> cases = {
      {"location", make(StudentT{kNaN, 1, 3})},
      {"scale", make(StudentT{0, 0, 3})},
      {"scale", make(StudentT{0, -1, 3})},
      {"dof", make(StudentT{0, 1, 0})},
      {"dof", make(StudentT{0, 1, -2})},
      {"dof", make(StudentT{0, 1, kInfinity})},
      {"shape", make(Gamma{0, 1})},
      {"shape", make(Gamma{kNaN, 1})},
      {"scale", make(Gamma{2, 0})},
      {"scale", make(Gamma{2, kInfinity})},
      {"min", make(Loguniform{0, 1})},
      {"min", make(Loguniform{-1, 1})},
      {"max", make(Loguniform{2, 1})},
      {"max", make(Loguniform{1, kInfinity})},
      {"values", make(Empirical{{1}})},
      {"values", make(Empirical{{2, 2, 2}})},
      {"values", make(Empirical{{1, kNaN}})},
      {"bins", make(Empirical{{1, 2}, {0, 1}, {1}})},
      {"bins", make(Empirical{})},
      {"bins", make(Empirical{{}, {0}, {}})},
      {"bins", make(Empirical{{}, {0, 1, 1}, {1, 1}})},
      {"bins", make(Empirical{{}, {0, 2, 1}, {1, 1}})},
      {"bins", make(Empirical{{}, {0, kInfinity}, {1}})},
      {"weights", make(Empirical{{}, {0, 1, 2}, {1}})},
      {"weights", make(Empirical{{}, {0, 1, 2}, {1, -1}})},
      {"weights", make(Empirical{{}, {0, 1, 2}, {0, 0}})},
      {"weights", make(Empirical{{}, {0, 1, 2}, {1, kNaN}})},
      {"components", make(Mixture{})},
      {"weights", make(Mixture{{1.0}, {n01, n01}})},
      {"weights", make(Mixture{{0.0, 1.0}, {n01, n01}})},
      {"weights", make(Mixture{{-0.5, 1.5}, {n01, n01}})},
      {"weights", make(Mixture{{0.5, 0.4}, {n01, n01}})},
      // Truncation
      {"max", make(StudentT{0, 1, 3}, 2.0, 1.0)},
      {"min", make(Gamma{2, 1}, 1e10)},  // Q(2, 1e10) underflows
      {"max", make(Gamma{2, 1}, -kInfinity, 0.0)},
      {"min", make(Loguniform{1, 10}, 20.0)},
      {"max", make(Empirical{{1, 2, 3}}, -kInfinity, 1.0)},
      {"min", make(Empirical{{}, {0, 1, 2, 3}, {1, 1, 0}}, 2.0)},
      {"min", make(Mixture{{0.5, 0.5}, {Distribution::constant(0), n01}}, -1.0)},
      {"max", make(Mixture{{0.5, 0.5}, {Distribution::constant(0), n01}}, -kInfinity, 1.0)},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(thrownParameter(cases[i].make), cases[i].expected) << "case " << i;
  }
  // Weights within 1e-9 of summing to 1 are rescaled; a sum off by more is refused.
  EXPECT_NO_THROW(Distribution(Mixture{{0.5, 0.5 + 0.9e-9}, {n01, n01}}));
  const Distribution rescaled(Mixture{{0.5, 0.5 + 0.9e-9}, {n01, n01}});
  const auto& weights = std::get<Mixture>(rescaled.kind()).weights;
  EXPECT_NEAR(weights[0] + weights[1], 1.0, 2e-16);
}

TEST(ParameterErrors, NewDistributionsSayWhatToFix) {
  EXPECT_EQ(thrownMessage([] { Distribution d(StudentT{0, 1, 0}); }), "dof must be > 0, got 0");
  EXPECT_EQ(thrownMessage([] { Distribution d(Loguniform{0, 1}); }), "min must be > 0, got 0");
  EXPECT_EQ(thrownMessage([] { Distribution d(Empirical{{1}}); }),
            "values must list at least 2 observations, got 1");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Empirical{{}, {0, 2, 1}, {1, 1}});
            }),
            "bins must be strictly increasing, got bins[2] = 1 after 2");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(Empirical{{}, {0, 1, 2}, {1}});
            }),
            "weights has 1 entries but bins has 2 bins; give one weight per bin");
  EXPECT_EQ(
      thrownMessage([] {
        Distribution d(Mixture{{0.5, 0.4}, {Distribution::constant(0), Distribution::constant(1)}});
      }),
      "weights sum to 0.9, expected 1 (+-1e-9)");
  EXPECT_EQ(thrownMessage([] {
              Distribution d(
                  Mixture{{0.5, 0.5}, {Distribution::constant(0), Distribution(Normal{0, 1})}},
                  -1.0);
            }),
            "a mixture with a discrete component cannot be truncated; give the components min and "
            "max instead");
}

TEST(Support, NewDistributions) {
  struct Case {
    Distribution d;
    double lower, upper;
  };
  const std::vector<Case> cases = {
      {Distribution(StudentT{0, 1, 3}), -kInfinity, kInfinity},
      {Distribution(StudentT{0, 1, 3}, 0.0), 0, kInfinity},
      {Distribution(Gamma{2, 1.5}), 0, kInfinity},
      {Distribution(Gamma{2, 1.5}, -3.0, 5.0), 0, 5},
      {Distribution(Loguniform{1, 100}), 1, 100},
      {Distribution(Loguniform{1, 100}, 0.0, 50.0), 1, 50},
      {Distribution(Empirical{{3, 1, 10, 2}}), 1, 10},
      // Empty bins at the ends are outside the support.
      {Distribution(Empirical{{}, {0, 1, 2, 3, 4}, {0, 1, 1, 0}}), 1, 3},
      {Distribution(
           Mixture{{0.5, 0.5}, {Distribution(Uniform{0, 1}), Distribution(Uniform{3, 5})}}),
       0, 5},
      {Distribution(Mixture{{0.5, 0.5}, {Distribution::constant(-1), Distribution(Gamma{2, 1})}}),
       -1, kInfinity},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.d.lower(), c.lower) << c.d.describe();
    EXPECT_EQ(c.d.upper(), c.upper) << c.d.describe();
  }
}

TEST(Classification, NewDistributions) {
  for (const Distribution& d :
       {Distribution(StudentT{0, 1, 3}), Distribution(Gamma{2, 1}), Distribution(Loguniform{1, 2}),
        Distribution(Empirical{{1, 2}}), Distribution(Empirical{{}, {0, 1}, {1}}),
        Distribution(
            Mixture{{0.5, 0.5}, {Distribution::constant(0), Distribution(Normal{0, 1})}})}) {
    EXPECT_FALSE(d.isDiscrete()) << d.describe();
    EXPECT_FALSE(d.isConstant()) << d.describe();
  }
  EXPECT_TRUE(
      Distribution(Mixture{{0.5, 0.5}, {Distribution::constant(0), Distribution(Bernoulli{0.5})}})
          .isDiscrete());
}

TEST(Describe, NewDistributions) {
  EXPECT_EQ(Distribution(StudentT{0.1, 0.2, 3}).describe(),
            "student_t(location 0.1, scale 0.2, dof 3)");
  EXPECT_EQ(Distribution(StudentT{0.1, 0.2, 3}, 0.0).describe(),
            "student_t(location 0.1, scale 0.2, dof 3, min 0)");
  EXPECT_EQ(Distribution(Gamma{2, 1.5}).describe(), "gamma(shape 2, scale 1.5)");
  EXPECT_EQ(Distribution(Gamma{2, 1.5}, -kInfinity, 10.0).describe(),
            "gamma(shape 2, scale 1.5, max 10)");
  EXPECT_EQ(Distribution(Loguniform{1, 100}).describe(), "loguniform(min 1, max 100)");
  EXPECT_EQ(Distribution(Loguniform{1, 100}, 2.0, 50.0).describe(),
            "loguniform(min 1, max 100, truncated to [2, 50])");
  EXPECT_EQ(Distribution(Uniform{0, 1}, 0.2).describe(),
            "uniform(min 0, max 1, truncated to [0.2, inf])");
  EXPECT_EQ(Distribution(Empirical{{3, 1, 10, 2}}).describe(), "empirical(4 values in [1, 10])");
  EXPECT_EQ(Distribution(Empirical{{}, {0, 1, 3, 4}, {2, 1, 1}}, 0.5).describe(),
            "empirical(3 bins in [0, 4], min 0.5)");
  EXPECT_EQ(
      Distribution(Mixture{{0.3, 0.7}, {Distribution(Normal{0, 1}), Distribution::constant(0)}})
          .describe(),
      "mixture(weights [0.3, 0.7], components [normal(mean 0, sd 1), constant(value 0)])");
  EXPECT_EQ(Distribution(StudentT{0, 1, 3}).name(), "student_t");
  EXPECT_EQ(Distribution(Gamma{2, 1}).name(), "gamma");
  EXPECT_EQ(Distribution(Loguniform{1, 2}).name(), "loguniform");
  EXPECT_EQ(Distribution(Empirical{{1, 2}}).name(), "empirical");
  EXPECT_EQ(Distribution(Mixture{{1.0}, {Distribution(Normal{0, 1})}}).name(), "mixture");
}

}  // namespace
}  // namespace spinval
