#include "spinval/statistics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
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
