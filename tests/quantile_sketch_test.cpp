#include "spinval/quantile_sketch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <boost/math/special_functions/erf.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "spinval/rng.hpp"

namespace spinval {
namespace {

constexpr std::size_t kValues = 10'000'000;
constexpr std::size_t kBlock = 1024;
// The documented slack for rounding in the logarithm and the power.
constexpr double kRounding = 1e-12;

const boost::math::policies::policy<boost::math::policies::promote_double<false>> kPolicy;

// Standard normal by inversion: z = -sqrt(2) erfc^-1(2u).
double normal(Engine& engine) {
  return -std::sqrt(2.0) * boost::math::erfc_inv(2 * toOpenUnit(engine()), kPolicy);
}

// Lognormal money amounts: exp(ln 1e9 + Z), sigma 1.
const std::vector<double>& lognormalSample() {
  static const std::vector<double> values = [] {
    Engine engine(20240601);
    std::vector<double> v(kValues);
    for (double& x : v) x = std::exp(std::log(1e9) + normal(engine));
    return v;
  }();
  return values;
}

// A quarter exact zeros, 30% losses -exp(ln 1e6 + 2 Z), 45% gains exp(ln 1e9 + 1.5 Z).
std::vector<double> mixedValues(std::size_t n) {
  Engine engine(77);
  std::vector<double> v(n);
  for (double& x : v) {
    const double u = toOpenUnit(engine());
    if (u < 0.25) {
      x = 0.0;
    } else if (u < 0.55) {
      x = -std::exp(std::log(1e6) + 2 * normal(engine));
    } else {
      x = std::exp(std::log(1e9) + 1.5 * normal(engine));
    }
  }
  return v;
}

const std::vector<double>& mixedSample() {
  static const std::vector<double> values = mixedValues(kValues);
  return values;
}

// Uniform on (-1e6, 1e6): crosses zero with no exact zeros.
const std::vector<double>& uniformSample() {
  static const std::vector<double> values = [] {
    Engine engine(5);
    std::vector<double> v(kValues);
    for (double& x : v) x = -1e6 + 2e6 * toOpenUnit(engine());
    return v;
  }();
  return values;
}

const std::vector<double> kGrid = {
    0,    0.001, 0.01, 0.05, 0.1,  0.2,   0.25, 0.3,      0.4,       0.5,       0.6,     0.7,
    0.75, 0.8,   0.9,  0.95, 0.99, 0.999, 1.0,  0.123456, 0.2500001, 0.5500001, 0.54999, 0.3333333};

// p = 0, 0.001, ..., 1.
std::vector<double> fineGrid() {
  std::vector<double> grid;
  for (int i = 0; i <= 1000; ++i) grid.push_back(i / 1000.0);
  return grid;
}

std::vector<double> sorted(const std::vector<double>& values) {
  std::vector<double> s = values;
  std::sort(s.begin(), s.end());
  return s;
}

QuantileSketch sketchOf(const std::vector<double>& values, double alpha = 0.001,
                        std::size_t maxBuckets = QuantileSketch::kDefaultMaxBuckets) {
  QuantileSketch s(alpha, maxBuckets);
  s.add(values.data(), values.size());
  return s;
}

// The documented bound: with k = floor(h), f = h - k and eps = alpha + 1e-12,
// |q_hat - q| <= eps ((1 - f) |x_(k)| + f |x_(k+1)|), against the type-7 quantile of the sorted
// values.
void expectWithinBound(const QuantileSketch& sketch, const std::vector<double>& sortedValues,
                       const std::vector<double>& grid) {
  const std::size_t n = sortedValues.size();
  ASSERT_EQ(sketch.count(), n);
  EXPECT_EQ(sketch.min(), sortedValues.front());
  EXPECT_EQ(sketch.max(), sortedValues.back());
  const double eps = sketch.alpha() + kRounding;
  for (double p : grid) {
    const double h = static_cast<double>(n - 1) * p;
    const auto k = static_cast<std::size_t>(std::floor(h));
    const double f = h - std::floor(h);
    const double lo = sortedValues[k], hi = sortedValues[std::min(k + 1, n - 1)];
    const double exact = lo + f * (hi - lo);
    const double estimate = sketch.quantile(p);
    const double bound = eps * ((1 - f) * std::abs(lo) + f * std::abs(hi));
    EXPECT_LE(std::abs(estimate - exact), bound)
        << "p " << p << ": estimate " << estimate << ", exact " << exact << " from " << lo
        << " and " << hi;
    if ((lo > 0 && hi > 0) || (lo < 0 && hi < 0)) {
      EXPECT_LE(std::abs(estimate - exact), eps * std::abs(exact)) << "p " << p;
    }
    EXPECT_GE(estimate, sketch.min());
    EXPECT_LE(estimate, sketch.max());
  }
  EXPECT_EQ(sketch.quantile(0), sortedValues.front());
  EXPECT_EQ(sketch.quantile(1), sortedValues.back());
}

// N(x) <= rank(x) <= N(x + (gamma - 1) |x|), N the exact count of values <= x.
void expectRankWithinBound(const QuantileSketch& sketch, const std::vector<double>& sortedValues,
                           const std::vector<double>& points) {
  const double alpha = sketch.alpha();
  const double gammaMinusOne = 2 * alpha / (1 - alpha) * (1 + 1e-9) + kRounding;
  const auto countAtMost = [&](double x) {
    return static_cast<std::uint64_t>(
        std::upper_bound(sortedValues.begin(), sortedValues.end(), x) - sortedValues.begin());
  };
  for (double x : points) {
    const std::uint64_t r = sketch.rank(x);
    EXPECT_GE(r, countAtMost(x)) << "x " << x;
    EXPECT_LE(r, countAtMost(x + gammaMinusOne * std::abs(x))) << "x " << x;
    EXPECT_DOUBLE_EQ(sketch.cdf(x),
                     static_cast<double>(r) / static_cast<double>(sortedValues.size()));
  }
}

std::vector<double> pointsAt(const std::vector<double>& sortedValues) {
  std::vector<double> points = {sortedValues.front() - 1, sortedValues.back(),
                                sortedValues.back() + 1};
  for (double p : {0.0, 0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999}) {
    const double x = sortedValues[static_cast<std::size_t>(p * (sortedValues.size() - 1))];
    points.insert(points.end(), {x, x * (1 + 1e-4), x * (1 - 1e-4), x * 1.0005});
  }
  return points;
}

TEST(QuantileSketchAccuracy, LognormalWithinRelativeBound) {
  const auto& values = lognormalSample();
  const QuantileSketch sketch = sketchOf(values);
  const auto s = sorted(values);
  expectWithinBound(sketch, s, kGrid);
  expectWithinBound(sketch, s, fineGrid());
  expectRankWithinBound(sketch, s, pointsAt(s));
  EXPECT_FALSE(sketch.collapsed());
  EXPECT_EQ(sketch.zeroCount(), 0u);
  // A memory budget far below the 80 MB the values take.
  EXPECT_LT(sketch.memoryBytes(), std::size_t{1} << 20);
}

TEST(QuantileSketchAccuracy, NegativesZerosAndPositivesWithinBound) {
  const auto& values = mixedSample();
  const QuantileSketch sketch = sketchOf(values);
  const auto s = sorted(values);
  expectWithinBound(sketch, s, kGrid);
  expectWithinBound(sketch, s, fineGrid());
  expectRankWithinBound(sketch, s, pointsAt(s));
  EXPECT_EQ(sketch.zeroCount(),
            static_cast<std::uint64_t>(std::count(values.begin(), values.end(), 0.0)));
  EXPECT_EQ(sketch.rank(0.0),
            static_cast<std::uint64_t>(std::upper_bound(s.begin(), s.end(), 0.0) - s.begin()));
}

TEST(QuantileSketchAccuracy, UniformAcrossZeroWithinBound) {
  const auto& values = uniformSample();
  const auto s = sorted(values);
  for (double alpha : {0.001, 0.01}) {
    const QuantileSketch sketch = sketchOf(values, alpha);
    expectWithinBound(sketch, s, kGrid);
    expectWithinBound(sketch, s, fineGrid());
    expectRankWithinBound(sketch, s, pointsAt(s));
  }
}

// Amounts from 1e3 to 1e13 at alpha 0.001 span ln(1e10) / ln(1.001 / 0.999) = 11,513 buckets.
TEST(QuantileSketchAccuracy, MoneyRangeFitsFarUnderTheCap) {
  Engine engine(11);
  QuantileSketch sketch;
  std::vector<double> values(100'000);
  for (double& x : values) x = std::pow(10.0, 3 + 10 * toOpenUnit(engine()));
  values.front() = 1e3;
  values.back() = 1e13;
  sketch.add(values.data(), values.size());
  EXPECT_GE(sketch.bucketCount(), 11'512u);
  EXPECT_LE(sketch.bucketCount(), 11'515u);
  EXPECT_FALSE(sketch.collapsed());
  EXPECT_LT(sketch.memoryBytes(), std::size_t{256} << 10);
  expectWithinBound(sketch, sorted(values), kGrid);
}

// Values at bucket boundaries gamma^i and one ulp either side, from 1e-300 to 1e300: the
// estimate of the middle order statistic of {x / 2, x, 2 x} stays within alpha + 1e-12.
TEST(QuantileSketchAccuracy, BucketBoundariesKeepTheBound) {
  for (double alpha : {0.001, 0.05}) {
    const double gamma = (1 + alpha) / (1 - alpha);
    const int top = static_cast<int>(std::log(1e300) / std::log(gamma));
    const int step = std::max(1, top / 5000);
    for (int i = -top; i <= top; i += step) {
      const double boundary = std::pow(gamma, i);
      for (double x : {std::nextafter(boundary, 0.0), boundary, std::nextafter(boundary, 1e308)}) {
        for (double sign : {1.0, -1.0}) {
          QuantileSketch s(alpha);
          for (double v : {x / 2, x, 2 * x}) s.add(sign * v);
          EXPECT_LE(std::abs(s.quantile(0.5) - sign * x), (alpha + kRounding) * x)
              << "alpha " << alpha << ", x " << sign * x;
        }
      }
    }
  }
}

// ---- Merge ----

QuantileSketch blockSketch(const std::vector<double>& values, std::size_t block, double alpha,
                           std::size_t maxBuckets) {
  QuantileSketch s(alpha, maxBuckets);
  const std::size_t begin = block * kBlock;
  const std::size_t end = std::min(values.size(), begin + kBlock);
  s.add(values.data() + begin, end - begin);
  return s;
}

// Blocks [lo, hi) merged as a balanced binary tree.
QuantileSketch treeOf(const std::vector<double>& values, std::size_t lo, std::size_t hi,
                      double alpha, std::size_t maxBuckets) {
  if (hi - lo == 1) return blockSketch(values, lo, alpha, maxBuckets);
  const std::size_t mid = lo + (hi - lo) / 2;
  QuantileSketch left = treeOf(values, lo, mid, alpha, maxBuckets);
  left.merge(treeOf(values, mid, hi, alpha, maxBuckets));
  return left;
}

std::vector<std::uint64_t> bitsOfQuantiles(const QuantileSketch& sketch) {
  std::vector<std::uint64_t> bits;
  for (double p : kGrid) bits.push_back(std::bit_cast<std::uint64_t>(sketch.quantile(p)));
  return bits;
}

// Every grouping of the blocks, and one sketch of all values, give the same JSON and the same
// quantile bits.
void expectMergeIsExact(const std::vector<double>& values, double alpha, std::size_t maxBuckets) {
  const std::size_t blocks = (values.size() + kBlock - 1) / kBlock;
  std::vector<QuantileSketch> groupings;

  groupings.push_back(sketchOf(values, alpha, maxBuckets));

  QuantileSketch oneByOne(alpha, maxBuckets);
  for (double x : values) oneByOne.add(x);
  groupings.push_back(oneByOne);

  QuantileSketch sequential(alpha, maxBuckets);
  for (std::size_t b = 0; b < blocks; ++b) {
    sequential.merge(blockSketch(values, b, alpha, maxBuckets));
  }
  groupings.push_back(sequential);

  groupings.push_back(treeOf(values, 0, blocks, alpha, maxBuckets));

  // Three shards taking every third block, merged in the order 2, 0, 1.
  std::vector<QuantileSketch> shards(3, QuantileSketch(alpha, maxBuckets));
  for (std::size_t b = 0; b < blocks; ++b) {
    shards[b % 3].merge(blockSketch(values, b, alpha, maxBuckets));
  }
  QuantileSketch sharded = shards[2];
  sharded.merge(shards[0]);
  sharded.merge(shards[1]);
  groupings.push_back(sharded);

  QuantileSketch reversed(alpha, maxBuckets);
  for (std::size_t b = blocks; b-- > 0;) reversed.merge(blockSketch(values, b, alpha, maxBuckets));
  groupings.push_back(reversed);

  const std::string json = groupings.front().toJson().dump();
  const auto bits = bitsOfQuantiles(groupings.front());
  const char* names[] = {"one sketch", "value by value", "sequential",
                         "pairs",      "3 shards",       "reversed"};
  for (std::size_t g = 1; g < groupings.size(); ++g) {
    EXPECT_EQ(groupings[g].toJson().dump(), json) << names[g];
    EXPECT_EQ(bitsOfQuantiles(groupings[g]), bits) << names[g];
    EXPECT_EQ(groupings[g].min(), groupings.front().min()) << names[g];
    EXPECT_EQ(groupings[g].max(), groupings.front().max()) << names[g];
  }
}

TEST(QuantileSketchMerge, AnyGroupingOfBlocksIsIdenticalForLognormal) {
  expectMergeIsExact(lognormalSample(), 0.001, QuantileSketch::kDefaultMaxBuckets);
}

TEST(QuantileSketchMerge, AnyGroupingOfBlocksIsIdenticalForMixedSigns) {
  expectMergeIsExact(mixedSample(), 0.001, QuantileSketch::kDefaultMaxBuckets);
}

TEST(QuantileSketchMerge, EmptyAndSelfMerges) {
  QuantileSketch a, empty;
  a.add(3.0);
  a.add(-4.0);
  a.add(0.0);
  const std::string before = a.toJson().dump();
  a.merge(empty);
  EXPECT_EQ(a.toJson().dump(), before);
  QuantileSketch b;
  b.merge(a);
  EXPECT_EQ(b.toJson().dump(), before);
  QuantileSketch twice = a;
  twice.merge(a);
  QuantileSketch doubled;
  for (double x : {3.0, -4.0, 0.0, 3.0, -4.0, 0.0}) doubled.add(x);
  a.merge(a);
  EXPECT_EQ(a.toJson().dump(), doubled.toJson().dump());
  EXPECT_EQ(twice.toJson().dump(), doubled.toJson().dump());
}

TEST(QuantileSketchMerge, DifferentAccuracyOrCapThrows) {
  QuantileSketch a(0.001), b(0.01), c(0.001, 1024);
  EXPECT_THROW(a.merge(b), std::invalid_argument);
  EXPECT_THROW(a.merge(c), std::invalid_argument);
  EXPECT_NO_THROW(a.merge(QuantileSketch(0.001)));
}

// ---- Collapse at the bucket cap ----

// Values in the middle of bucket i: gamma^(i - 1/2).
double middleOf(int i, double alpha) {
  const double gamma = (1 + alpha) / (1 - alpha);
  return std::pow(gamma, i - 0.5);
}

TEST(QuantileSketchCollapse, LowestBucketFoldsIntoTheFloor) {
  const double alpha = 0.01;
  QuantileSketch s(alpha, 64);
  for (int i = 0; i < 64; ++i) s.add(middleOf(i, alpha));
  EXPECT_FALSE(s.collapsed());
  EXPECT_EQ(s.bucketCount(), 64u);
  auto json = s.toJson();
  EXPECT_EQ(json["positive"]["offset"], 0);
  EXPECT_EQ(json["positive"]["counts"].size(), 64u);

  // Bucket 64 makes the floor 1: bucket 0's count moves into bucket 1.
  s.add(middleOf(64, alpha));
  EXPECT_TRUE(s.collapsed());
  EXPECT_EQ(s.bucketCount(), 64u);
  json = s.toJson();
  EXPECT_EQ(json["positive"]["offset"], 1);
  EXPECT_EQ(json["positive"]["counts"][0], 2u);
  EXPECT_EQ(json["positive"]["counts"][1], 1u);
  EXPECT_EQ(json["positive"]["collapsed"], true);
  EXPECT_EQ(json["negative"]["collapsed"], false);
  EXPECT_EQ(s.count(), 65u);

  // Far below the floor: counted in bucket 1 too; min stays exact.
  s.add(middleOf(-1000, alpha));
  EXPECT_EQ(s.toJson()["positive"]["counts"][0], 3u);
  EXPECT_EQ(s.min(), middleOf(-1000, alpha));
  EXPECT_EQ(s.quantile(0), s.min());

  // The same values in the opposite order give the same sketch.
  QuantileSketch r(alpha, 64);
  r.add(middleOf(-1000, alpha));
  for (int i = 64; i >= 0; --i) r.add(middleOf(i, alpha));
  EXPECT_EQ(r.toJson().dump(), s.toJson().dump());

  // A cap of one bucket keeps only the top bucket.
  QuantileSketch one(alpha, 1);
  for (int i = 0; i < 10; ++i) one.add(middleOf(i, alpha));
  EXPECT_EQ(one.bucketCount(), 1u);
  EXPECT_EQ(one.toJson()["positive"]["offset"], 9);
  EXPECT_EQ(one.toJson()["positive"]["counts"][0], 10u);
}

// Log-uniform magnitudes over [1, 1e6] in 256 buckets of alpha 0.01 (the data span about 690).
// Above the collapsed range the bound holds; inside it the estimate's magnitude lies between
// the exact magnitude and bucket L's representative.
TEST(QuantileSketchCollapse, GuaranteeHoldsAboveTheCollapsedRange) {
  const double alpha = 0.01;
  const std::size_t cap = 256;
  const double gamma = (1 + alpha) / (1 - alpha);
  Engine engine(3);
  std::vector<double> magnitudes(200'000);
  for (double& x : magnitudes) x = std::pow(10.0, 6 * toOpenUnit(engine()));

  for (double sign : {1.0, -1.0}) {
    std::vector<double> values = magnitudes;
    for (double& x : values) x *= sign;
    const QuantileSketch sketch = sketchOf(values, alpha, cap);
    EXPECT_TRUE(sketch.collapsed());
    EXPECT_LE(sketch.bucketCount(), cap);
    const auto s = sorted(values);
    const double largest = std::max(std::abs(s.front()), std::abs(s.back()));
    const double top = std::ceil(std::log(largest) / std::log(gamma));
    const double floor = top - static_cast<double>(cap) + 1;
    const double boundary = std::pow(gamma, floor - 1);  // magnitudes <= this are collapsed
    const double floorRepresentative = 2 * std::pow(gamma, floor) / (gamma + 1);

    std::vector<double> accurate, collapsed;
    for (int i = 0; i <= 1000; ++i) {
      const double p = i / 1000.0;
      const double h = static_cast<double>(s.size() - 1) * p;
      const auto k = static_cast<std::size_t>(h);
      const double a = std::abs(s[k]), b = std::abs(s[std::min(k + 1, s.size() - 1)]);
      if (std::min(a, b) > boundary * (1 + 1e-9)) accurate.push_back(p);
      if (std::max(a, b) < boundary * (1 - 1e-9) && p > 0 && p < 1) collapsed.push_back(p);
    }
    ASSERT_GT(accurate.size(), 300u);
    ASSERT_GT(collapsed.size(), 500u);
    expectWithinBound(sketch, s, accurate);
    for (double p : collapsed) {
      const double h = static_cast<double>(s.size() - 1) * p;
      const auto k = static_cast<std::size_t>(h);
      const double exact = s[k] + (h - std::floor(h)) * (s[k + 1] - s[k]);
      const double estimate = sketch.quantile(p);
      EXPECT_GE(std::abs(estimate), std::abs(exact) * (1 - kRounding)) << "p " << p;
      EXPECT_LE(std::abs(estimate), floorRepresentative * (1 + kRounding)) << "p " << p;
    }
    expectMergeIsExact(values, alpha, cap);
  }
}

// ---- Small exact cases ----

TEST(QuantileSketchBasics, SingleValueIsExact) {
  for (double x : {1234.5678, -0.001, 0.0, 1e300, -1e-300}) {
    QuantileSketch s;
    s.add(x);
    for (double p : {0.0, 0.3, 1.0}) EXPECT_EQ(s.quantile(p), x);
  }
}

TEST(QuantileSketchBasics, InteriorRanksUseBucketRepresentatives) {
  const double alpha = 0.001;
  QuantileSketch s(alpha);
  for (double x : {1000.0, 2000.0, 3000.0}) s.add(x);
  const double median = s.quantile(0.5);
  EXPECT_NE(median, 2000.0);  // a representative, not the value
  EXPECT_LE(std::abs(median - 2000.0), alpha * 2000.0);
  // h = 0.5: halfway between min (exact) and the representative of 2000.
  EXPECT_DOUBLE_EQ(s.quantile(0.25), 1000.0 + 0.5 * (median - 1000.0));
}

TEST(QuantileSketchBasics, ZerosAndSubnormalsCountAsZero) {
  QuantileSketch a, b;
  for (double x : {0.0, -0.0, 1e-310, -1e-310, 5.0}) a.add(x);
  for (double x : {5.0, -1e-310, 1e-310, -0.0, 0.0}) b.add(x);
  EXPECT_EQ(a.zeroCount(), 4u);
  EXPECT_EQ(a.min(), -1e-310);
  EXPECT_EQ(a.quantile(0.5), 0.0);  // h = 2: the zero bucket
  EXPECT_EQ(a.toJson().dump(), b.toJson().dump());

  QuantileSketch z1, z2;
  z1.add(-0.0);
  z1.add(0.0);
  z2.add(0.0);
  z2.add(-0.0);
  EXPECT_FALSE(std::signbit(z1.min()));
  EXPECT_EQ(z1.toJson().dump(), z2.toJson().dump());
}

// From the smallest normal double to the largest: 14,200 buckets at alpha 0.05, under the cap.
TEST(QuantileSketchBasics, ExtremeMagnitudes) {
  QuantileSketch s(0.05);
  const double big = std::numeric_limits<double>::max();
  const double tiny = std::numeric_limits<double>::min();
  for (double x : {-big, -tiny, tiny, big, 1.0}) s.add(x);
  EXPECT_EQ(s.quantile(0), -big);
  EXPECT_EQ(s.quantile(1), big);
  // Sorted: -big, -tiny, tiny, 1, big; h = 4p.
  EXPECT_LE(std::abs(s.quantile(0.25) + tiny), 0.050001 * tiny);
  EXPECT_LE(std::abs(s.quantile(0.5) - tiny), 0.050001 * tiny);
  EXPECT_LE(std::abs(s.quantile(0.75) - 1.0), 0.050001);
  EXPECT_FALSE(s.collapsed());
  for (double p : {0.1, 0.9, 0.99}) EXPECT_TRUE(std::isfinite(s.quantile(p)));
  const QuantileSketch back = QuantileSketch::fromJson(nlohmann::json::parse(s.toJson().dump()));
  EXPECT_EQ(back.toJson().dump(), s.toJson().dump());

  // At alpha 0.001 the same range needs 709,800 buckets: the small magnitudes collapse and are
  // overestimated in magnitude, while the extremes stay exact.
  QuantileSketch fine;
  for (double x : {-big, -tiny, tiny, big, 1.0}) fine.add(x);
  EXPECT_TRUE(fine.collapsed());
  EXPECT_LE(fine.bucketCount(), 2 * QuantileSketch::kDefaultMaxBuckets);
  EXPECT_EQ(fine.quantile(0), -big);
  EXPECT_EQ(fine.quantile(1), big);
  EXPECT_GT(fine.quantile(0.75), 1.0);
  EXPECT_LT(fine.quantile(0.25), -tiny);
}

TEST(QuantileSketchBasics, PreconditionsThrow) {
  EXPECT_THROW(QuantileSketch(0.0), std::invalid_argument);
  EXPECT_THROW(QuantileSketch(1e-7), std::invalid_argument);
  EXPECT_THROW(QuantileSketch(0.6), std::invalid_argument);
  EXPECT_THROW(QuantileSketch(std::nan("")), std::invalid_argument);
  EXPECT_THROW(QuantileSketch(0.001, 0), std::invalid_argument);

  QuantileSketch s;
  EXPECT_THROW(s.quantile(0.5), std::invalid_argument);
  EXPECT_EQ(s.rank(1.0), 0u);
  EXPECT_EQ(s.cdf(1.0), 0.0);
  EXPECT_THROW(s.add(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_THROW(s.add(std::numeric_limits<double>::infinity()), std::invalid_argument);
  EXPECT_THROW(s.add(-std::numeric_limits<double>::infinity()), std::invalid_argument);
  const double batch[] = {1.0, 2.0, std::nan(""), 3.0};
  EXPECT_THROW(s.add(batch, 4), std::invalid_argument);
  EXPECT_EQ(s.count(), 0u);  // nothing of a rejected batch is added
  s.add(batch, 2);
  EXPECT_THROW(s.quantile(-0.1), std::invalid_argument);
  EXPECT_THROW(s.quantile(1.1), std::invalid_argument);
  EXPECT_THROW(s.quantile(std::nan("")), std::invalid_argument);
  EXPECT_THROW(s.rank(std::nan("")), std::invalid_argument);
}

// ---- JSON ----

TEST(QuantileSketchJson, RoundTripIsExact) {
  std::vector<double> values = mixedValues(100'000);
  values.push_back(1e-310);
  for (const QuantileSketch& sketch :
       {sketchOf(values), sketchOf(values, 0.01, 128), QuantileSketch(0.02)}) {
    const std::string text = sketch.toJson().dump();
    const QuantileSketch back = QuantileSketch::fromJson(nlohmann::json::parse(text));
    EXPECT_EQ(back.toJson().dump(), text);
    EXPECT_EQ(back.count(), sketch.count());
    EXPECT_EQ(back.collapsed(), sketch.collapsed());
    if (sketch.count() == 0) continue;
    EXPECT_EQ(bitsOfQuantiles(back), bitsOfQuantiles(sketch));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(back.min()), std::bit_cast<std::uint64_t>(sketch.min()));
    for (double x : {-1e6, 0.0, 1e9}) EXPECT_EQ(back.rank(x), sketch.rank(x));
    // A restored sketch keeps accumulating like the original.
    QuantileSketch more = sketch, moreBack = back;
    more.add(values.data(), 1000);
    moreBack.add(values.data(), 1000);
    EXPECT_EQ(moreBack.toJson().dump(), more.toJson().dump());
  }
}

TEST(QuantileSketchJson, RejectsInconsistentInput) {
  QuantileSketch s;
  for (double x : {-2.0, 0.0, 1.0, 5.0}) s.add(x);
  const nlohmann::json good = s.toJson();
  EXPECT_NO_THROW(QuantileSketch::fromJson(good));
  const auto rejects = [&](auto edit) {
    nlohmann::json bad = good;
    edit(bad);
    EXPECT_THROW(QuantileSketch::fromJson(bad), std::invalid_argument) << bad.dump();
  };
  rejects([](nlohmann::json& j) { j["count"] = 5; });
  rejects([](nlohmann::json& j) { j["count"] = -4; });
  rejects([](nlohmann::json& j) { j["count"] = 4.0; });
  rejects([](nlohmann::json& j) { j["alpha"] = 0.9; });
  rejects([](nlohmann::json& j) { j["extra"] = 1; });
  rejects([](nlohmann::json& j) { j.erase("min"); });
  rejects([](nlohmann::json& j) { j["min"] = 6.0; });
  rejects([](nlohmann::json& j) { j["positive"]["counts"].push_back(0); });
  rejects([](nlohmann::json& j) { j["positive"]["counts"][0] = 1.5; });
  rejects([](nlohmann::json& j) { j["positive"]["offset"] = std::int64_t{1'000'000'000}; });
  rejects([](nlohmann::json& j) { j["negative"].erase("collapsed"); });
  rejects([](nlohmann::json& j) { j["max_buckets"] = 2; });  // the store spans more
}

}  // namespace
}  // namespace spinval
