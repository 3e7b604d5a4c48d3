#include "spinval/quantile_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "spinval/vector_math.hpp"

namespace spinval {
namespace {

namespace policies = boost::math::policies;
constexpr policies::policy<policies::promote_double<false>> kDouble;

// The reference is Boost's ibeta_inv in double, the function the table replaces; it agrees with
// Boost in long double within 3e-15 relative for most shapes and within 3e-14 at alpha = beta = 50.
// The table is built to 3e-14 of the root of Boost's ibeta in double at its midpoints (closer to
// long double than ibeta_inv is), so 1e-13 bounds the two errors together.
constexpr double kRelative = 1e-13;

struct Shape {
  double alpha, beta;
};

std::string label(const Shape& s) {
  std::ostringstream out;
  out << "alpha " << s.alpha << ", beta " << s.beta;
  return out.str();
}

// PERT shapes for lambda 4 with the mode at min, max, the middle and in between; lambda 6 and 2.
std::vector<Shape> pertShapes() {
  std::vector<Shape> shapes;
  for (double m : {0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0}) {
    shapes.push_back({1.0 + 4.0 * m, 1.0 + 4.0 * (1.0 - m)});
  }
  shapes.push_back({1.0 + 6.0 * 0.3, 1.0 + 6.0 * 0.7});
  shapes.push_back({1.0 + 2.0 * 0.8, 1.0 + 2.0 * 0.2});
  return shapes;
}

const std::vector<Shape> kWideShapes = {{1, 1},   {2, 5},  {20, 3}, {3, 20}, {10, 30},
                                        {50, 50}, {50, 1}, {1, 50}, {50, 2}, {13.7, 41.2}};
const std::vector<Shape> kSmallShapes = {{0.5, 0.5}, {0.8, 6}, {6, 0.8},  {0.1, 5}, {0.3, 2},
                                         {0.1, 0.1}, {5, 0.2}, {50, 0.5}, {0.5, 50}};
const std::vector<Shape> kLargeShapes = {{100, 100}, {200, 3}, {1000, 1000}, {1e4, 2}};

// Probabilities in (0, 1/2]: 4000 evenly spaced, 2000 log-spaced down to 1e-19, the smallest
// uniforms the samplers produce (2^-53) and the edges of the tabulated range (2^-65 and below).
std::vector<double> lowerHalfGrid() {
  std::vector<double> us;
  for (int j = 0; j < 4000; ++j) us.push_back((j + 0.5) / 8000.0);
  for (int j = 0; j <= 2000; ++j) us.push_back(0.5 * std::pow(10.0, -19.0 * j / 2000.0));
  for (double u : {0x1p-53, 1e-12, 1e-16, 0x1p-65, std::nextafter(0x1p-65, 0.0), 1e-25, 0.5}) {
    us.push_back(u);
  }
  return us;
}

// Largest relative error over the grid of quantile(u) against x and complementQuantile(u)
// against 1 - x' where x' is the quantile at 1 - u, both for u <= 1/2: the small side in each
// tail, which is what the table keeps to relative precision.
double worstRelativeError(const Shape& s, const std::vector<double>& us) {
  const BetaQuantileTable table(s.alpha, s.beta);
  double worst = 0.0;
  for (double u : us) {
    const double x = boost::math::ibeta_inv(s.alpha, s.beta, u, kDouble);
    const double z = boost::math::ibeta_inv(s.beta, s.alpha, u, kDouble);
    const double ex = std::fabs(table.quantile(u) - x);
    const double ez = std::fabs(table.complementQuantile(u) - z);
    // Quantiles below the smallest normal double carry no relative precision.
    if (x >= std::numeric_limits<double>::min()) worst = std::max(worst, ex / x);
    if (z >= std::numeric_limits<double>::min()) worst = std::max(worst, ez / z);
    if (!(ex <= kRelative * x + std::numeric_limits<double>::denorm_min()) ||
        !(ez <= kRelative * z + std::numeric_limits<double>::denorm_min())) {
      ADD_FAILURE() << label(s) << " u " << std::setprecision(17) << u << ": quantile "
                    << table.quantile(u) << " vs " << x << ", complement "
                    << table.complementQuantile(u) << " vs " << z;
      return worst;
    }
  }
  return worst;
}

TEST(BetaQuantileTable, PertShapesMatchBoostToRelative1e13) {
  const std::vector<double> us = lowerHalfGrid();
  for (const Shape& s : pertShapes()) {
    SCOPED_TRACE(label(s));
    EXPECT_LE(worstRelativeError(s, us), kRelative);
    const BetaQuantileTable table(s.alpha, s.beta);
    EXPECT_EQ(table.exactOctaves(), 0);
  }
}

TEST(BetaQuantileTable, ShapesFrom1To50MatchBoostToRelative1e13) {
  const std::vector<double> us = lowerHalfGrid();
  for (const Shape& s : kWideShapes) {
    SCOPED_TRACE(label(s));
    EXPECT_LE(worstRelativeError(s, us), kRelative);
    // Only the pieces below p = 2^-65 (never drawn from a uniform) may be left to ibeta_inv.
    EXPECT_LE(BetaQuantileTable(s.alpha, s.beta).exactOctaves(), 2);
  }
}

TEST(BetaQuantileTable, ShapesBelow1MatchBoostToRelative1e13) {
  // An end where the density is infinite: x(w) stays smooth in w = p^(1/alpha).
  const std::vector<double> us = lowerHalfGrid();
  for (const Shape& s : kSmallShapes) {
    SCOPED_TRACE(label(s));
    EXPECT_LE(worstRelativeError(s, us), kRelative);
  }
}

TEST(BetaQuantileTable, LargeShapesMatchBoost) {
  // Boost's double inverse itself is within 6e-14 of long double at alpha = beta = 100.
  const std::vector<double> us = lowerHalfGrid();
  for (const Shape& s : kLargeShapes) {
    SCOPED_TRACE(label(s));
    EXPECT_LE(worstRelativeError(s, us), 2 * kRelative);
    EXPECT_LE(BetaQuantileTable(s.alpha, s.beta).exactOctaves(), 2);
  }
}

TEST(BetaQuantileTable, OctaveEndsMatchLongDoubleToRelative3e15) {
  // At p = 2^-k the table returns its node, the root of Boost's ibeta in double solved to its
  // rounding: within 1.5e-15 of the long double inverse for these shapes, where ibeta_inv in
  // double, which stops its iteration sooner, is off by up to 2.5e-14 (alpha = beta = 50).
  std::vector<Shape> shapes = pertShapes();
  shapes.insert(shapes.end(), kWideShapes.begin(), kWideShapes.end());
  for (const Shape& s : shapes) {
    SCOPED_TRACE(label(s));
    const BetaQuantileTable table(s.alpha, s.beta);
    for (int k = 2; k <= 65; ++k) {
      const long double p = std::ldexp(1.0L, -k);
      const long double x = boost::math::ibeta_inv<long double>(s.alpha, s.beta, p);
      const long double z = boost::math::ibeta_inv<long double>(s.beta, s.alpha, p);
      EXPECT_LE(std::fabs(table.quantile(std::ldexp(1.0, -k)) - x), 3e-15L * x) << "k " << k;
      EXPECT_LE(std::fabs(table.complementQuantile(std::ldexp(1.0, -k)) - z), 3e-15L * z)
          << "k " << k;
    }
  }
}

TEST(BetaQuantileTable, UpperTailThroughQuantile) {
  // quantile(u) for u > 1/2 is 1 - complementQuantile(1 - u): 1 - x to relative 1e-13, plus the
  // rounding of the subtraction.
  for (const Shape& s : pertShapes()) {
    const BetaQuantileTable table(s.alpha, s.beta);
    for (double q : {0x1p-53, 1e-12, 1e-6, 0.01, 0.3, 0.5}) {
      SCOPED_TRACE(label(s) + " q " + std::to_string(q));
      double z = 0.0;
      const double x = boost::math::ibeta_inv(s.alpha, s.beta, 1.0 - q, &z, kDouble);
      const double ulp = std::numeric_limits<double>::epsilon();
      EXPECT_NEAR(table.quantile(1.0 - q), x, kRelative * z + ulp);
    }
    EXPECT_EQ(table.quantile(std::nextafter(1.0, 0.0)), 1.0 - table.complementQuantile(0x1p-53));
  }
}

TEST(BetaQuantileTable, EndpointsAndRange) {
  for (const Shape& s : pertShapes()) {
    const BetaQuantileTable table(s.alpha, s.beta);
    EXPECT_EQ(table.quantile(0.0), 0.0);
    EXPECT_EQ(table.quantile(1.0), 1.0);
    EXPECT_EQ(table.complementQuantile(0.0), 0.0);
    EXPECT_EQ(table.complementQuantile(1.0), 1.0);
    for (double u :
         {std::numeric_limits<double>::denorm_min(), 1e-300, 0x1p-53, std::nextafter(1.0, 0.0)}) {
      EXPECT_GE(table.quantile(u), 0.0);
      EXPECT_LE(table.quantile(u), 1.0);
    }
  }
}

// quantile() is non-decreasing on a fine grid over (0, 1), across the split at 1/2 and across
// every octave boundary 2^-k (the doubles either side of it included).
TEST(BetaQuantileTable, NonDecreasing) {
  std::vector<double> us;
  for (int j = 1; j < 200000; ++j) us.push_back(j / 200000.0);
  for (int k = 1; k <= 70; ++k) {
    const double p = std::ldexp(1.0, -k);
    for (double u : {std::nextafter(p, 0.0), p, std::nextafter(p, 1.0), 1.5 * p}) {
      us.push_back(u);
      us.push_back(1.0 - u);
    }
  }
  for (int j = 0; j <= 4000; ++j) {
    const double u = std::pow(10.0, -17.0 * j / 4000.0);
    us.push_back(u);
    us.push_back(1.0 - u);
  }
  std::sort(us.begin(), us.end());
  std::vector<Shape> shapes = pertShapes();
  shapes.insert(shapes.end(), kWideShapes.begin(), kWideShapes.end());
  shapes.insert(shapes.end(), kSmallShapes.begin(), kSmallShapes.end());
  for (const Shape& s : shapes) {
    SCOPED_TRACE(label(s));
    const BetaQuantileTable table(s.alpha, s.beta);
    double previous = 0.0;
    for (double u : us) {
      const double x = table.quantile(u);
      ASSERT_GE(x, previous) << "u " << std::setprecision(17) << u;
      ASSERT_LE(x, 1.0) << "u " << u;
      previous = x;
    }
  }
}

TEST(BetaQuantileTable, TableStaysSmall) {
  // A PERT table holds under 1,200 quintic pieces (48 bytes each) in its two halves: 64 in each
  // of the kOctavesInP = 8 octaves tabulated in p (1,024 in all), and one to a few in most of the
  // 57 octaves below.
  for (const Shape& s : pertShapes()) {
    SCOPED_TRACE(label(s));
    EXPECT_LE(BetaQuantileTable(s.alpha, s.beta).intervals(), 1200u);
  }
}

TEST(BetaQuantileTable, PertShapesAreTabulatedInP) {
  // Octaves 0 to kOctavesInP - 1 of both halves, where 255 draws in 256 fall, take no pow.
  for (const Shape& s : pertShapes()) {
    SCOPED_TRACE(label(s));
    EXPECT_EQ(BetaQuantileTable(s.alpha, s.beta).octavesInP(), 2 * BetaQuantileTable::kOctavesInP);
  }
  // Where x ~ p^(1/alpha) bends too much for 64 intervals an octave, w takes over (and the
  // batch draws go the scalar way).
  EXPECT_EQ(BetaQuantileTable(0.1, 0.1).octavesInP(), 0);
}

bool sameBits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Probabilities in [0, 1] at the edges of what the table does: 0, subnormals, 2^-65 (the deepest
// octave), every octave boundary 2^-k, every interval boundary of octaves 0 to 7 (those tabulated
// in p and the two below), 1/2, 1 - 2^-53, each with the doubles either side, and 1 minus each.
std::vector<double> edgeProbabilities() {
  std::vector<double> ps = {0.0, std::numeric_limits<double>::denorm_min(), 1e-300, 0x1p-53, 0.5};
  for (int k = 1; k <= 70; ++k) ps.push_back(std::ldexp(1.0, -k));
  for (int k = 0; k < 8; ++k) {
    for (int j = 1; j < 64; ++j) ps.push_back(std::ldexp(1.0 + j / 64.0, -(k + 2)));
  }
  std::vector<double> all;
  for (double p : ps) {
    for (double q : {std::nextafter(p, 0.0), p, std::nextafter(p, 1.0)}) {
      all.push_back(q);
      all.push_back(1.0 - q);
    }
  }
  all.push_back(1.0);
  return all;
}

// 10^5 probabilities on the grid of 2^-53 the samplers use, and 10^5 log-uniform down to 2^-70.
std::vector<double> randomProbabilities() {
  std::mt19937_64 engine(20260101);
  std::vector<double> ps;
  for (int j = 0; j < 100000; ++j) ps.push_back(static_cast<double>(engine() >> 11) * 0x1p-53);
  for (int j = 0; j < 100000; ++j) {
    const double p = std::ldexp(1.0 + static_cast<double>(engine() >> 11) * 0x1p-53,
                                -1 - static_cast<int>(engine() % 70));
    ps.push_back(engine() % 2 == 0 ? p : 1.0 - p);
  }
  return ps;
}

TEST(BetaQuantileTable, ScaledQuantilesEqualScaledQuantileBitForBit) {
  std::vector<double> ps = edgeProbabilities();
  const std::vector<double> random = randomProbabilities();
  ps.insert(ps.end(), random.begin(), random.end());
  std::vector<Shape> shapes = pertShapes();
  shapes.insert(shapes.end(), kWideShapes.begin(), kWideShapes.end());
  shapes.insert(shapes.end(), kSmallShapes.begin(), kSmallShapes.end());
  shapes.push_back({100, 100});
  std::vector<double> out(ps.size());
  for (const Shape& s : shapes) {
    SCOPED_TRACE(label(s));
    const BetaQuantileTable table(s.alpha, s.beta);
    for (const auto& [min, max] :
         {std::pair{0.0, 1.0}, std::pair{0.18, 0.45}, std::pair{-3.0, 1e9}}) {
      std::vector<double> scalar(ps.size());
      for (std::size_t i = 0; i < ps.size(); ++i) {
        scalar[i] = table.scaledQuantile(ps[i], min, max);
        ASSERT_GE(scalar[i], min);
        ASSERT_LE(scalar[i], max);
      }
      // One lane and four (where the processor has AVX2), the four-lane loop leaving n mod 4
      // draws to the one-lane one: none of `whole`, 3 of whole - 1.
      const std::size_t whole = ps.size() / 4 * 4;
      for (int lanes : {1, vectorLanes()}) {
        for (std::size_t n : {whole, whole - 1}) {
          SCOPED_TRACE(testing::Message() << lanes << " lanes, " << n << " draws");
          table.scaledQuantiles(ps.data(), out.data(), n, min, max, lanes);
          for (std::size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(sameBits(out[i], scalar[i]))
                << "p " << std::setprecision(17) << ps[i] << ": batch " << out[i] << ", scalar "
                << scalar[i];
          }
        }
      }
    }
    // In place, as Distribution::quantiles may be called.
    std::vector<double> inPlace = ps;
    table.scaledQuantiles(inPlace.data(), inPlace.data(), inPlace.size(), 0.0, 1.0);
    for (std::size_t i = 0; i < ps.size(); ++i) {
      ASSERT_TRUE(sameBits(inPlace[i], table.scaledQuantile(ps[i], 0.0, 1.0))) << ps[i];
    }
  }
}

TEST(BetaQuantileTable, ScaledQuantileMatchesBoost) {
  // min + (max - min) x below 1/2 and max - (max - min)(1 - x) above, each to 1e-13 of the
  // width (plus rounding of the sum).
  for (const Shape& s : pertShapes()) {
    SCOPED_TRACE(label(s));
    const BetaQuantileTable table(s.alpha, s.beta);
    const double min = 0.18, max = 0.45, width = max - min;
    for (double p : edgeProbabilities()) {
      if (!(p >= 0x1p-60 && p < 1.0)) continue;  // where Boost's double inverse converges
      double y = 0.0;
      const double x = boost::math::ibeta_inv(s.alpha, s.beta, p, &y, kDouble);
      const double expected = p <= 0.5 ? min + width * x : max - width * y;
      const double tolerance = kRelative * width * (p <= 0.5 ? x : y) + 4e-16 * max;
      ASSERT_NEAR(table.scaledQuantile(p, min, max), expected, tolerance) << "p " << p;
    }
  }
}

TEST(BetaQuantileTable, NanAndOutOfRangeInBatchAsInScalar) {
  // NaN gives NaN (ibeta_inv lets it through); p outside [0, 1] throws.
  const BetaQuantileTable table(1.93, 3.07);
  const std::vector<double> nan = {0.3, std::numeric_limits<double>::quiet_NaN(), 0.7};
  std::vector<double> out(nan.size());
  table.scaledQuantiles(nan.data(), out.data(), nan.size(), 0.0, 1.0);
  EXPECT_TRUE(std::isnan(out[1]));
  EXPECT_TRUE(sameBits(out[1], table.scaledQuantile(nan[1], 0.0, 1.0)));
  EXPECT_TRUE(sameBits(out[2], table.scaledQuantile(0.7, 0.0, 1.0)));
  for (double p : {-0.1, 1.1}) {
    SCOPED_TRACE(p);
    const std::vector<double> ps = {0.3, p, 0.7};
    EXPECT_THROW(table.scaledQuantile(p, 0.0, 1.0), std::domain_error);
    EXPECT_THROW(table.scaledQuantiles(ps.data(), out.data(), ps.size(), 0.0, 1.0),
                 std::domain_error);
  }
}

TEST(BetaQuantileTable, RejectsInvalidShapes) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const Shape& s : std::vector<Shape>{{0, 1}, {1, 0}, {-1, 2}, {nan, 1}, {1, inf}}) {
    EXPECT_THROW(BetaQuantileTable(s.alpha, s.beta), std::invalid_argument) << label(s);
  }
}

}  // namespace
}  // namespace spinval
