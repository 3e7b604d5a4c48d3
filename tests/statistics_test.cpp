#include "spinval/statistics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace spinval {
namespace {

// For x = 1..n: mean (n + 1) / 2, sample variance n (n + 1) / 12.
TEST(Moments, MatchClosedFormsForOneToN) {
  const int n = 1001;
  Moments m;
  for (int i = 1; i <= n; ++i) m.add(i);
  EXPECT_EQ(m.count(), static_cast<std::uint64_t>(n));
  EXPECT_DOUBLE_EQ(m.mean(), (n + 1) / 2.0);
  EXPECT_NEAR(m.variance(), n * (n + 1) / 12.0, 1e-9);
  EXPECT_NEAR(m.stderror(), std::sqrt(n * (n + 1) / 12.0 / n), 1e-12);
  EXPECT_EQ(m.min(), 1.0);
  EXPECT_EQ(m.max(), n);
}

TEST(Moments, MergeOfPartsEqualsTheWhole) {
  const int n = 1001;
  for (int split : {0, 1, 17, 500, 1000, 1001}) {
    Moments a, b;
    for (int i = 1; i <= n; ++i) (i <= split ? a : b).add(i);
    a.merge(b);
    EXPECT_EQ(a.count(), static_cast<std::uint64_t>(n));
    EXPECT_NEAR(a.mean(), (n + 1) / 2.0, 1e-12);
    EXPECT_NEAR(a.variance(), n * (n + 1) / 12.0, 1e-8) << "split " << split;
    EXPECT_EQ(a.min(), 1.0);
    EXPECT_EQ(a.max(), n);
  }
}

// The two-pass moments of a block agree with Welford's one-by-one updates. For x = 1..n shifted
// by 1e6: mean 1e6 + (n + 1) / 2, sample variance n (n + 1) / 12, to rounding.
TEST(Moments, TwoPassAgreesWithWelford) {
  const int n = 1023;  // not a multiple of the four lanes
  std::vector<double> x;
  Moments welford;
  for (int i = 1; i <= n; ++i) {
    x.push_back(1e6 + i);
    welford.add(x.back());
  }
  const Moments twoPass = Moments::of(x);
  const double mean = 1e6 + (n + 1) / 2.0, variance = n * (n + 1) / 12.0;
  EXPECT_EQ(twoPass.count(), static_cast<std::uint64_t>(n));
  EXPECT_NEAR(twoPass.mean(), mean, 1e-15 * mean);
  EXPECT_NEAR(twoPass.variance(), variance, 1e-15 * variance);
  EXPECT_NEAR(twoPass.mean(), welford.mean(), 1e-15 * mean);
  EXPECT_NEAR(twoPass.variance(), welford.variance(), 1e-15 * variance);
  EXPECT_EQ(twoPass.min(), 1e6 + 1);
  EXPECT_EQ(twoPass.max(), 1e6 + n);

  // Skewed values over many orders of magnitude, as the model's outputs are.
  std::mt19937_64 engine(7);
  std::lognormal_distribution<double> lognormal(20.0, 1.5);
  std::vector<double> y(1021);
  Moments one;
  for (double& v : y) {
    v = lognormal(engine);
    one.add(v);
  }
  const Moments two = Moments::of(y);
  EXPECT_NEAR(two.mean(), one.mean(), 1e-14 * one.mean());
  EXPECT_NEAR(two.m2(), one.m2(), 1e-13 * one.m2());
  EXPECT_EQ(two.min(), one.min());
  EXPECT_EQ(two.max(), one.max());
  EXPECT_EQ(Moments::of(std::vector<double>{}).count(), 0u);
  EXPECT_EQ(Moments::of(std::vector<double>{2.5}).variance(), 0.0);
}

// Moments::of takes each sum in four fixed lanes (lane j: values j, j + 4, ...; the last n % 4
// in lane 0), added (0 + 1) + (2 + 3), whatever register width the processor gives the loop:
// the same digits as the four lanes written out one value at a time here.
TEST(Moments, FourFixedLanesWhateverTheRegisterWidth) {
  std::mt19937_64 engine(11);
  std::lognormal_distribution<double> lognormal(20.0, 1.5);
  for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{7},
                        std::size_t{1024}, std::size_t{1027}}) {
    std::vector<double> x(n);
    for (double& v : x) v = lognormal(engine);
    const std::size_t body = n / 4 * 4;
    auto lane = [&](std::size_t i) { return i < body ? i % 4 : 0; };
    double sum[4] = {};
    for (std::size_t i = 0; i < n; ++i) sum[lane(i)] += x[i];
    const double count = static_cast<double>(n);
    const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / count;
    double squares[4] = {}, deviations[4] = {};
    for (std::size_t i = 0; i < n; ++i) {
      const double d = x[i] - mean;
      squares[lane(i)] += d * d;
      deviations[lane(i)] += d;
    }
    const double s2 = (squares[0] + squares[1]) + (squares[2] + squares[3]);
    const double s1 = (deviations[0] + deviations[1]) + (deviations[2] + deviations[3]);
    const Moments m = Moments::of(x);
    EXPECT_EQ(m.mean(), mean) << n << " values";
    EXPECT_EQ(m.m2(), std::max(s2 - s1 * s1 / count, 0.0)) << n << " values";
    EXPECT_EQ(m.min(), *std::min_element(x.begin(), x.end()));
    EXPECT_EQ(m.max(), *std::max_element(x.begin(), x.end()));
  }
}

TEST(Moments, EmptyAndSingleValue) {
  Moments m;
  EXPECT_EQ(m.variance(), 0.0);
  EXPECT_EQ(m.stderror(), 0.0);
  m.add(3.5);
  EXPECT_EQ(m.mean(), 3.5);
  EXPECT_EQ(m.variance(), 0.0);
}

// NumPy's default (type 7): for [1, 2, 3, 4, 5], p = 0.1 gives h = 0.4 and 1.4; p = 0.9 gives
// h = 3.6 and 4.6; p = 0 and 1 give the extremes.
TEST(Quantiles, TypeSevenOnSortedValues) {
  const std::vector<double> x = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(quantileOfSorted(x, 0.1), 1.4);
  EXPECT_DOUBLE_EQ(quantileOfSorted(x, 0.9), 4.6);
  EXPECT_DOUBLE_EQ(quantileOfSorted(x, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(quantileOfSorted(x, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantileOfSorted(x, 1.0), 5.0);
  const std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(quantileOfSorted(one, 0.3), 7.0);
}

// A shuffled 0..999 has type-7 quantile 999 p at every p.
TEST(Quantiles, SelectionMatchesSortedDefinition) {
  std::vector<double> values(1000);
  std::iota(values.begin(), values.end(), 0.0);
  std::mt19937 shuffle(42);
  std::shuffle(values.begin(), values.end(), shuffle);
  const std::vector<double> p(kReportedProbabilities.begin(), kReportedProbabilities.end());
  const auto q = quantilesOf(values, p);
  ASSERT_EQ(q.size(), p.size());
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(q[i], 999 * p[i], 1e-9);
}

TEST(Quantiles, SelectionHandlesTiesAndExtremes) {
  std::vector<double> values = {5, 1, 5, 5, 2, 2, 9};  // sorted 1 2 2 5 5 5 9
  const std::vector<double> p = {0.0, 0.25, 0.5, 0.9, 1.0};
  const auto q = quantilesOf(values, p);
  // h = 6p: 0 -> 1; 1.5 -> x[1] + 0.5 (x[2] - x[1]) = 2 + 0.5 * 0 = 2; 3 -> 5; 5.4 -> 5 + 0.4 * 4
  // = 6.6; 6 -> 9.
  EXPECT_DOUBLE_EQ(q[0], 1.0);
  EXPECT_DOUBLE_EQ(q[1], 2.0);
  EXPECT_DOUBLE_EQ(q[2], 5.0);
  EXPECT_DOUBLE_EQ(q[3], 6.6);
  EXPECT_DOUBLE_EQ(q[4], 9.0);
}

Layout twoYearLayout() {
  Layout layout;
  layout.years = 2;
  layout.firstYear = 2026;
  layout.outputs = {"a"};
  layout.yearlyOutputs = {{"level", {}}, {"state", {"off", "on"}}};
  return layout;
}

// Block statistics and stored values: three blocks of a hand-made run.
TEST(RunStatistics, StoresValuesAndCountsCategories) {
  const Layout layout = twoYearLayout();
  RunStatistics run(layout, 5);
  BlockOutput first, second;
  first.resize(layout, 3);
  second.resize(layout, 2);
  first.outputs.col(0) << 1, 2, 3;
  second.outputs.col(0) << 4, 5;
  // yearly columns: level[2026], level[2027], state[2026], state[2027]
  first.yearly << 10, 20, 0, 1,  //
      11, 21, 1, 1,              //
      12, 22, 0, 0;
  second.yearly << 13, 23, 1, 1,  //
      14, 24, 1, 0;
  run.store(0, first);
  run.store(3, second);
  run.merge(run.blockStatistics(0, first));
  run.merge(run.blockStatistics(3, second));

  const auto a = run.outputValues(0);
  EXPECT_EQ(std::vector<double>(a.begin(), a.end()), (std::vector<double>{1, 2, 3, 4, 5}));
  const auto level2027 = run.yearlyValues(0, 2);
  ASSERT_EQ(level2027.size(), 5u);
  EXPECT_EQ(level2027[4], 24.0);

  const Summary s = summarize(run);
  EXPECT_EQ(s.paths, 5u);
  EXPECT_DOUBLE_EQ(s.outputs[0].mean, 3.0);
  EXPECT_DOUBLE_EQ(s.outputs[0].std, std::sqrt(2.5));
  EXPECT_DOUBLE_EQ(s.outputs[0].quantiles[4], 3.0);   // p50
  EXPECT_DOUBLE_EQ(s.outputs[0].quantiles[0], 1.04);  // p01: h = 0.04
  ASSERT_EQ(s.yearly.size(), 1u);
  EXPECT_DOUBLE_EQ(s.yearly[0].years[0].mean, 12.0);
  EXPECT_DOUBLE_EQ(s.yearly[0].years[1].p50, 22.0);
  EXPECT_DOUBLE_EQ(s.yearly[0].years[1].p95, 23.8);  // h = 3.8
  ASSERT_EQ(s.shares.size(), 1u);
  EXPECT_EQ(s.shares[0].name, "state");
  // state[2026] = 0 1 0 1 1 -> on 3/5; state[2027] = 1 1 0 1 0 -> on 3/5.
  EXPECT_DOUBLE_EQ(s.shares[0].years[0][1], 0.6);
  EXPECT_DOUBLE_EQ(s.shares[0].years[0][0], 0.4);
  EXPECT_DOUBLE_EQ(s.shares[0].years[1][1], 0.6);
}

// A category value that is no index of the output's categories is a model error; a NaN or an
// infinity is left out of the counts, for the simulation to report from the column's mean.
TEST(RunStatistics, CategoryOutsideTheCategoriesIsAnError) {
  const Layout layout = twoYearLayout();
  RunStatistics run(layout, 6);
  BlockOutput block;
  block.resize(layout, 6);
  block.outputs.setZero();
  block.yearly.setZero();
  block.yearly.col(2) << 0, 1, 1, std::numeric_limits<double>::quiet_NaN(), 1, 0;
  const BlockStatistics stats = run.blockStatistics(0, block);
  EXPECT_EQ(stats.categoryCounts[0], 2u);  // state[2026] = 0
  EXPECT_EQ(stats.categoryCounts[1], 3u);  // state[2026] = 1
  EXPECT_TRUE(std::isnan(stats.yearly[2].mean()));
  for (double bad : {2.0, -1.0, 1e300}) {
    block.yearly(3, 2) = bad;
    EXPECT_THROW(run.blockStatistics(0, block), std::logic_error) << bad;
  }
}

// For n = 100 and p = 0.5: np = 50, 1.96 sqrt(25) = 9.8, ranks floor(40.2) = 40 and
// ceil(59.8) = 60; the extremes clamp to [0, n - 1].
TEST(Quantiles, IntervalRanksFromTheBinomial) {
  EXPECT_EQ(quantileIntervalRanks(100, 0.5), (std::pair<std::uint64_t, std::uint64_t>{40, 60}));
  EXPECT_EQ(quantileIntervalRanks(100, 0.0).first, 0u);
  EXPECT_EQ(quantileIntervalRanks(100, 1.0).second, 99u);
  EXPECT_EQ(quantileIntervalRanks(1, 0.5), (std::pair<std::uint64_t, std::uint64_t>{0, 0}));
}

TEST(Quantiles, OrderStatisticsOfUnsortedValues) {
  std::vector<double> values = {9, 3, 7, 1, 5};
  const std::vector<std::uint64_t> ranks = {0, 2, 2, 4};
  EXPECT_EQ(orderStatistics(values, ranks), (std::vector<double>{1, 5, 5, 9}));
}

// Many ranks at once, in any order, with repeats and ties, against a full sort.
TEST(Quantiles, MultiSelectionMatchesSort) {
  std::mt19937_64 engine(3);
  for (std::size_t n : {1u, 2u, 63u, 65u, 1000u, 100003u}) {
    std::vector<double> values(n);
    for (double& v : values) v = static_cast<double>(engine() % (n / 3 + 1));  // many ties
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::uint64_t> ranks = {
        n - 1, 0, n / 2, n / 2, n / 100, std::min(n / 100 + 1, n - 1), n - 1};
    for (int i = 0; i < 30; ++i) ranks.push_back(engine() % n);
    const auto x = orderStatistics(values, ranks);
    ASSERT_EQ(x.size(), ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      EXPECT_EQ(x[i], sorted[ranks[i]]) << "n " << n << " rank " << ranks[i];
    }
  }
  // Without reordering, through a sample: random, sorted, reversed and constant values.
  for (int kind = 0; kind < 4; ++kind) {
    const std::size_t n = 200001;
    std::vector<double> values(n);
    for (std::size_t i = 0; i < n; ++i) {
      values[i] = kind == 0   ? static_cast<double>(engine() % 50000)
                  : kind == 1 ? static_cast<double>(i)
                  : kind == 2 ? -static_cast<double>(i)
                              : 1.5;
    }
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::uint64_t> ranks = {n - 1, 0, 0, 1, n / 2, n / 2 + 1, 2000, 2001, 1800, 2200};
    for (int i = 0; i < 20; ++i) ranks.push_back(engine() % n);
    const std::vector<double> before = values;
    const auto x = orderStatisticsOf(values, ranks);
    EXPECT_EQ(values, before);
    ASSERT_EQ(x.size(), ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      EXPECT_EQ(x[i], sorted[ranks[i]]) << "kind " << kind << " rank " << ranks[i];
    }
  }
  std::vector<double> values = {1, 2};
  const std::vector<std::uint64_t> beyond = {2};
  EXPECT_THROW(orderStatisticsOf(values, beyond), std::out_of_range);
  EXPECT_THROW(orderStatistics(values, beyond), std::out_of_range);
}

// x_(r) for each of `ranks` by a full sort.
std::vector<double> bySort(std::vector<double> values, const std::vector<std::uint64_t>& ranks) {
  std::sort(values.begin(), values.end());
  std::vector<double> x;
  for (std::uint64_t r : ranks) x.push_back(values[r]);
  return x;
}

// What the summary asks of a column of n values: each reported quantile's two type-7 ranks and
// its interval, the yearly p05, p50 and p95, and the extremes.
std::vector<std::uint64_t> summaryRanks(std::uint64_t n) {
  std::vector<std::uint64_t> ranks = {0, n - 1};
  for (double p : kReportedProbabilities) {
    const auto lo = static_cast<std::uint64_t>(std::floor(static_cast<double>(n - 1) * p));
    const auto [a, b] = quantileIntervalRanks(n, p);
    for (std::uint64_t r : {lo, std::min(lo + 1, n - 1), a, b}) ranks.push_back(r);
  }
  for (double p : {0.05, 0.95}) {
    const auto lo = static_cast<std::uint64_t>(std::floor(static_cast<double>(n - 1) * p));
    for (std::uint64_t r : {lo, std::min(lo + 1, n - 1)}) ranks.push_back(r);
  }
  return ranks;
}

// Columns that stress the selection: keys shared by many values, values shared by many paths
// (an indicator's 0 and 1), signed zeros, a span of many orders of magnitude, and orders a
// sample reads badly.
std::vector<double> column(int kind, std::size_t n, std::mt19937_64& engine) {
  std::normal_distribution<double> normal;
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double z = normal(engine);
    switch (kind) {
      case 0:
        v[i] = z;
        break;  // normal
      case 1:
        v[i] = static_cast<double>(engine() % 7);
        break;  // heavy ties
      case 2:
        v[i] = static_cast<double>(i);
        break;  // sorted
      case 3:
        v[i] = -static_cast<double>(i) * 0.25;
        break;  // reversed
      case 4:
        v[i] = 2.5;
        break;  // constant
      case 5:
        v[i] = engine() % 100 < 15 ? 0.0 : 1.0;
        break;  // indicator
      case 6:
        v[i] = std::exp(8.0 * z);
        break;  // 1e-10 .. 1e10
      case 7:
        v[i] = 1e9 + 1e-4 * z;
        break;  // one key
      case 8:
        v[i] = engine() % 2 == 0 ? 0.0 : (engine() % 2 == 0 ? -0.0 : z);
        break;  // zeros
      case 9:
        v[i] = static_cast<double>((i * 7919) % 1000) - 500.0;
        break;  // sawtooth
      default:  // a shared value and a few neighbours with the same key
        v[i] = engine() % 10 != 0 ? 1.0 : 1.0 + 1e-12 * static_cast<double>(engine() % 5 + 1);
    }
  }
  return v;
}

// Exact order statistics without reordering, around the size where the sample starts (2^14)
// and well above it, for every kind of column, the summary's ranks and random ones.
TEST(Quantiles, OrderStatisticsOfMatchesSort) {
  std::mt19937_64 engine(17);
  for (std::size_t n : {16383u, 16384u, 16385u, 16391u, 40000u, 250007u}) {
    for (int kind = 0; kind < 11; ++kind) {
      const std::vector<double> values = column(kind, n, engine);
      std::vector<std::uint64_t> ranks = summaryRanks(n);
      for (int i = 0; i < 10; ++i) ranks.push_back(engine() % n);
      const auto x = orderStatisticsOf(values, ranks);
      const auto expected = bySort(values, ranks);
      ASSERT_EQ(x.size(), ranks.size());
      for (std::size_t i = 0; i < ranks.size(); ++i) {
        ASSERT_EQ(x[i], expected[i]) << "n " << n << " kind " << kind << " rank " << ranks[i];
      }
    }
  }
}

// A million values, the size of a full run's columns, with the summary's ranks.
TEST(Quantiles, OrderStatisticsOfAMillionValues) {
  std::mt19937_64 engine(5);
  const std::size_t n = 1000000;
  for (int kind : {0, 5, 6, 10}) {
    const std::vector<double> values = column(kind, n, engine);
    const std::vector<std::uint64_t> ranks = summaryRanks(n);
    EXPECT_EQ(orderStatisticsOf(values, ranks), bySort(values, ranks)) << "kind " << kind;
  }
}

// Values in an order that misleads the sample: the sampled runs (m / 8 runs of 8 values, run j
// from floor(j n / (m / 8)) rounded down to a multiple of 8, m = 4 n^(2/3)) hold the largest
// values, so every window misses its ranks and the values are selected in full; or they hold
// one value that the others are not.
TEST(Quantiles, OrderStatisticsOfWhenTheSampleMisleads) {
  const std::size_t n = 100003;
  const auto m =
      std::min(n / 8, static_cast<std::size_t>(
                          4.0 * std::cbrt(static_cast<double>(n) * static_cast<double>(n)))) /
      8 * 8;
  const std::size_t runs = m / 8;
  std::vector<bool> sampled(n, false);
  for (std::size_t j = 0; j < runs; ++j) {
    for (std::size_t i = 0; i < 8; ++i) sampled[j * n / runs / 8 * 8 + i] = true;
  }
  std::vector<double> values(n);
  double top = static_cast<double>(n), rest = 0.0;
  for (std::size_t i = 0; i < n; ++i) values[i] = sampled[i] ? --top : rest++;
  const std::vector<std::uint64_t> ranks = summaryRanks(n);
  EXPECT_EQ(orderStatisticsOf(values, ranks), bySort(values, ranks));
  // The same with ties among the values the sample misses.
  for (std::size_t i = 0; i < n; ++i) {
    if (!sampled[i]) values[i] = std::floor(values[i] / 100.0);
  }
  EXPECT_EQ(orderStatisticsOf(values, ranks), bySort(values, ranks));
  // A sample of one value, which the others are just above (but for 1 in 7) and share a key
  // with: the window of that value holds them too.
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = sampled[i] ? 1.0 : 1.0 + 1e-12 * static_cast<double>(i % 7);
  }
  const std::vector<std::uint64_t> inner = {n / 4, n / 2, n / 2 + 1, 3 * n / 4};
  EXPECT_EQ(orderStatisticsOf(values, inner), bySort(values, inner));
  EXPECT_EQ(orderStatisticsOf(values, ranks), bySort(values, ranks));
  // A sample spread evenly over [0, 1) while of the values it misses two in five go to within
  // 1e-4 of 1/4 and the rest above 1: the lower quartile's window expects a few thousand values
  // (what the sample holds there) and gets over 36,000, growing through several pieces, which it
  // then selects from as one window of over 2^14 values, itself sampled across the pieces.
  std::mt19937_64 engine(41);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t i = 0, missed = 0; i < n; ++i) {
    if (sampled[i]) {
      values[i] = unit(engine);
    } else {
      values[i] = missed++ % 5 < 2 ? 0.25 + 1e-4 * (unit(engine) - 0.5) : 1.0 + unit(engine);
    }
  }
  const std::vector<std::uint64_t> quartile = {n / 4 - 1, n / 4, n / 4 + 1};
  EXPECT_EQ(orderStatisticsOf(values, quartile), bySort(values, quartile));
  EXPECT_EQ(orderStatisticsOf(values, ranks), bySort(values, ranks));
}

// The selection that reorders: orders that defeat simple pivots, ties, and the values are still
// the same values afterwards.
TEST(Quantiles, OrderStatisticsReorderOnly) {
  std::mt19937_64 engine(23);
  for (std::size_t n : {1u, 2u, 33u, 100u, 1000u, 50001u}) {
    for (int kind = 0; kind < 11; ++kind) {
      std::vector<double> values = column(kind, n, engine);
      if (kind == 9) {  // organ pipe
        for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<double>(std::min(i, n - i));
      }
      const std::vector<double> before = values;
      std::vector<std::uint64_t> ranks = summaryRanks(n);
      for (int i = 0; i < 10; ++i) ranks.push_back(engine() % n);
      EXPECT_EQ(orderStatistics(values, ranks), bySort(before, ranks))
          << "n " << n << " kind " << kind;
      std::vector<double> a = values, b = before;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      EXPECT_EQ(a, b) << "n " << n << " kind " << kind;
    }
  }
}

// The moments of a block's columns (taken two at a time) and of a span (one) have the digits of
// the documented four-lane two-pass sums, whatever the number of values.
TEST(Moments, TwoPassDigitsFollowTheLanes) {
  auto reference = [](const std::vector<double>& x) {
    const std::size_t n = x.size();
    double sum[4] = {}, lo[4], hi[4], squares[4] = {}, deviations[4] = {};
    for (std::size_t j = 0; j < 4; ++j) lo[j] = hi[j] = x[0];
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t j = i < n / 4 * 4 ? i % 4 : 0;
      sum[j] += x[i];
      lo[j] = std::min(lo[j], x[i]);
      hi[j] = std::max(hi[j], x[i]);
    }
    const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t j = i < n / 4 * 4 ? i % 4 : 0;
      const double d = x[i] - mean;
      squares[j] += d * d;
      deviations[j] += d;
    }
    const double s2 = (squares[0] + squares[1]) + (squares[2] + squares[3]);
    const double s1 = (deviations[0] + deviations[1]) + (deviations[2] + deviations[3]);
    return Moments::fromState(n, mean, std::max(s2 - s1 * s1 / static_cast<double>(n), 0.0),
                              *std::min_element(x.begin(), x.end()),
                              *std::max_element(x.begin(), x.end()));
  };
  Layout layout;
  layout.years = 1;
  layout.outputs = {"a", "b", "c"};
  std::mt19937_64 engine(29);
  std::lognormal_distribution<double> lognormal(20.0, 1.5);
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 1023u, 1024u, 1027u}) {
    RunStatistics run(layout, n);
    BlockOutput block;
    block.resize(layout, static_cast<Eigen::Index>(n));
    for (Eigen::Index k = 0; k < 3; ++k) {
      for (Eigen::Index i = 0; i < block.outputs.rows(); ++i)
        block.outputs(i, k) = lognormal(engine);
    }
    const BlockStatistics stats = run.blockStatistics(0, block);
    for (Eigen::Index k = 0; k < 3; ++k) {
      const std::vector<double> x(block.outputs.col(k).data(), block.outputs.col(k).data() + n);
      const Moments expected = reference(x);
      for (const Moments& got : {stats.outputs[static_cast<std::size_t>(k)], Moments::of(x)}) {
        EXPECT_EQ(got.count(), expected.count());
        EXPECT_EQ(got.mean(), expected.mean()) << "n " << n << " column " << k;
        EXPECT_EQ(got.m2(), expected.m2()) << "n " << n << " column " << k;
        EXPECT_EQ(got.min(), expected.min());
        EXPECT_EQ(got.max(), expected.max());
      }
    }
  }
}

// Columns of several MiB are mappings of their own: they keep their values as they are written
// block by block, as the run grows, and as they are selected from.
TEST(RunStatistics, LargeColumnsKeepTheirValues) {
  Layout layout;
  layout.years = 1;
  layout.outputs = {"a"};
  const std::uint64_t first = 600000, grown = 1000000;  // 4.8 MB, then 8 MB
  RunStatistics run(layout, first);
  BlockOutput block;
  auto value = [](std::uint64_t p) { return static_cast<double>((p * 7919) % 1000003); };
  auto fill = [&](std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t start = from; start < to; start += 1024) {
      const std::uint64_t rows = std::min<std::uint64_t>(1024, to - start);
      block.resize(layout, static_cast<Eigen::Index>(rows));
      for (std::uint64_t i = 0; i < rows; ++i) {
        block.outputs(static_cast<Eigen::Index>(i), 0) = value(start + i);
      }
      run.store(start, block);
      run.merge(run.blockStatistics(start, block));
    }
  };
  fill(0, first);
  run.extend(grown);
  fill(first, grown);
  const auto stored = run.outputValues(0);
  ASSERT_EQ(stored.size(), grown);
  for (std::uint64_t p = 0; p < grown; ++p) ASSERT_EQ(stored[p], value(p)) << "path " << p;
  const std::vector<double> values(stored.begin(), stored.end());
  const std::vector<std::uint64_t> ranks = summaryRanks(grown);
  EXPECT_EQ(orderStatisticsOf(stored, ranks), bySort(values, ranks));
}

// The summary's digits do not depend on how many threads select its quantiles.
TEST(RunStatistics, SummaryIndependentOfThreads) {
  const Layout layout = twoYearLayout();
  const std::uint64_t n = 5000;
  RunStatistics run(layout, n);
  BlockOutput block;
  block.resize(layout, static_cast<Eigen::Index>(n));
  std::mt19937_64 engine(11);
  std::normal_distribution<double> normal;
  for (Eigen::Index i = 0; i < block.outputs.rows(); ++i) {
    block.outputs(i, 0) = std::exp(normal(engine));
    block.yearly(i, 0) = normal(engine);
    block.yearly(i, 1) = normal(engine);
    block.yearly(i, 2) = static_cast<double>(engine() % 2);
    block.yearly(i, 3) = static_cast<double>(engine() % 2);
  }
  run.store(0, block);
  run.merge(run.blockStatistics(0, block));
  const Summary one = summarize(run);
  for (unsigned threads : {2u, 3u, 8u}) {
    const Summary many = summarize(run, threads);
    EXPECT_EQ(many.outputs[0].quantiles, one.outputs[0].quantiles);
    for (std::size_t q = 0; q < one.outputs[0].quantileIntervals.size(); ++q) {
      EXPECT_EQ(many.outputs[0].quantileIntervals[q].lo, one.outputs[0].quantileIntervals[q].lo);
      EXPECT_EQ(many.outputs[0].quantileIntervals[q].hi, one.outputs[0].quantileIntervals[q].hi);
    }
    for (std::size_t y = 0; y < 2; ++y) {
      EXPECT_EQ(many.yearly[0].years[y].p05, one.yearly[0].years[y].p05);
      EXPECT_EQ(many.yearly[0].years[y].p50, one.yearly[0].years[y].p50);
      EXPECT_EQ(many.yearly[0].years[y].p95, one.yearly[0].years[y].p95);
    }
    EXPECT_EQ(many.shares[0].years, one.shares[0].years);
  }
  // And the selected quantiles are those of the sorted values.
  auto values = run.outputValues(0);
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q) {
    EXPECT_EQ(one.outputs[0].quantiles[q], quantileOfSorted(sorted, kReportedProbabilities[q]));
  }
}

// Error units of a block that starts mid-replicate, against Welford's updates path by path.
TEST(RunStatistics, BlockUnitsMatchOneByOne) {
  Layout layout;
  layout.years = 1;
  layout.outputs = {"a"};
  StatisticsOptions replicates;
  replicates.errorModel = ErrorModel::replicates;
  const std::uint64_t first = 1024 + 5, rows = 1000;
  RunStatistics run(layout, first + rows, replicates);
  BlockOutput block;
  block.resize(layout, static_cast<Eigen::Index>(rows));
  std::vector<Moments> expected(kSobolReplicates);
  for (std::uint64_t i = 0; i < rows; ++i) {
    const double v = std::sin(static_cast<double>(i)) * 100.0 + static_cast<double>(i);
    block.outputs(static_cast<Eigen::Index>(i), 0) = v;
    expected[(first + i) % kSobolReplicates].add(v);
  }
  const BlockStatistics stats = run.blockStatistics(first, block);
  ASSERT_EQ(stats.outputUnits[0].size(), kSobolReplicates);
  for (std::size_t r = 0; r < kSobolReplicates; ++r) {
    const Moments& got = stats.outputUnits[0][r];
    EXPECT_EQ(got.count(), expected[r].count()) << "replicate " << r;
    EXPECT_NEAR(got.mean(), expected[r].mean(), 1e-12 * std::fabs(expected[r].mean()));
    EXPECT_NEAR(got.m2(), expected[r].m2(), 1e-12 * expected[r].m2());
    EXPECT_EQ(got.min(), expected[r].min());
    EXPECT_EQ(got.max(), expected[r].max());
  }
}

// Antithetic pairs: the stderr comes from the pair means; sobol: from the replicate means.
TEST(RunStatistics, ErrorUnitsFollowTheSampler) {
  Layout layout;
  layout.years = 1;
  layout.outputs = {"a"};
  StatisticsOptions pairs;
  pairs.errorModel = ErrorModel::pairs;
  RunStatistics run(layout, 4, pairs);
  BlockOutput block;
  block.resize(layout, 4);
  block.outputs.col(0) << 1, 3, 10, 14;  // pair means 2 and 12: sd sqrt(50), stderr 5
  run.store(0, block);
  run.merge(run.blockStatistics(0, block));
  EXPECT_DOUBLE_EQ(run.meanStderror(0), 5.0);
  EXPECT_DOUBLE_EQ(run.intervalFactor(), 1.959963984540054);

  StatisticsOptions replicates;
  replicates.errorModel = ErrorModel::replicates;
  const std::uint64_t n = 2 * kSobolReplicates;
  RunStatistics sobol(layout, n, replicates);
  BlockOutput values;
  values.resize(layout, static_cast<Eigen::Index>(n));
  // Path p has value p mod R: replicate r has mean r, the R means 0..15 have sd
  // sqrt(R (R + 1) / 12) = sqrt(22.667), stderr sqrt(22.667 / 16).
  for (std::uint64_t p = 0; p < n; ++p)
    values.outputs(static_cast<Eigen::Index>(p), 0) = static_cast<double>(p % kSobolReplicates);
  sobol.store(0, values);
  sobol.merge(sobol.blockStatistics(0, values));
  const double R = kSobolReplicates;
  EXPECT_NEAR(sobol.meanStderror(0), std::sqrt(R * (R + 1) / 12 / R), 1e-12);
  // t quantile 0.975 on 15 degrees of freedom is 2.131450 (tables).
  EXPECT_NEAR(sobol.intervalFactor(), 2.131450, 1e-6);
}

}  // namespace
}  // namespace spinval
