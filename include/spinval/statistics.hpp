// Mergeable statistics of a run. Per block, Moments of every output; blocks are merged in
// block order so the digits never depend on which thread finished first. Exact quantiles come
// from the stored values (written at each path's own index) and are type 7, as NumPy's default.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "spinval/model.hpp"

namespace spinval {

// Count, mean, sum of squared deviations, min and max.
// Merge (Chan et al.): n = na + nb, delta = mb - ma, mean = ma + delta nb / n,
// M2 = M2a + M2b + delta^2 na nb / n.
class Moments {
 public:
  void add(double x);
  void merge(const Moments& other);

  std::uint64_t count() const { return n_; }
  double mean() const { return mean_; }
  double variance() const;  // n - 1 denominator; 0 when n < 2
  double stddev() const;
  double stderror() const;  // stddev / sqrt(n)
  double min() const { return min_; }
  double max() const { return max_; }

 private:
  std::uint64_t n_ = 0;
  double mean_ = 0.0, m2_ = 0.0;
  double min_ = kInfinity, max_ = -kInfinity;
};

// Probabilities of the reported quantiles p01 .. p99, and their JSON names.
inline constexpr std::array<double, 9> kReportedProbabilities = {0.01, 0.05, 0.10, 0.25, 0.50,
                                                                 0.75, 0.90, 0.95, 0.99};
inline constexpr std::array<const char*, 9> kReportedQuantileNames = {
    "p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99"};

// Type-7 quantile of sorted values: h = (n - 1) p, x[floor h] + (h - floor h)(x[floor h + 1] -
// x[floor h]).
double quantileOfSorted(std::span<const double> sorted, double p);
// Type-7 quantiles of unsorted values at increasing probabilities; reorders `values`.
std::vector<double> quantilesOf(std::span<double> values, std::span<const double> probabilities);

// The statistics of one block, merged into the run's in block order.
struct BlockStatistics {
  std::vector<Moments> outputs;               // per output
  std::vector<Moments> yearly;                // per yearly output m and year y: m * years + y - 1
  std::vector<std::uint64_t> categoryCounts;  // per categorical output, year and category

  void merge(const BlockStatistics& other);
};

BlockStatistics blockStatistics(const Layout& layout, const BlockOutput& block);

class RunStatistics {
 public:
  // With storeValues, keeps every path's outputs for exact quantiles and paths.csv.
  RunStatistics(const Layout& layout, std::uint64_t paths, bool storeValues = true);

  // Copies the block's outputs to paths [firstPath, firstPath + rows). Blocks write disjoint
  // ranges, so threads may call this concurrently.
  void store(std::uint64_t firstPath, const BlockOutput& block);
  // Merges one block's statistics; call in block order.
  void merge(const BlockStatistics& block) { totals_.merge(block); }

  const Layout& layout() const { return *layout_; }
  std::uint64_t paths() const { return paths_; }
  bool storesValues() const { return storeValues_; }
  const BlockStatistics& totals() const { return totals_; }
  // Stored values of output k (or of yearly output m in year y), in path order.
  std::span<const double> outputValues(std::size_t k) const;
  std::span<const double> yearlyValues(std::size_t m, int year) const;

 private:
  const Layout* layout_;
  std::uint64_t paths_;
  bool storeValues_;
  BlockStatistics totals_;
  std::vector<std::vector<double>> outputValues_;  // [output][path]
  std::vector<std::vector<double>> yearlyValues_;  // [m * years + y - 1][path]
};

struct MetricSummary {
  double mean = 0, std = 0, stderror = 0, min = 0, max = 0;
  std::array<double, kReportedProbabilities.size()> quantiles{};
};

struct YearSummary {
  double mean = 0, p05 = 0, p50 = 0, p95 = 0;
};

struct YearlySummary {
  std::string name;
  std::vector<YearSummary> years;  // years[y - 1]
};

struct ShareSummary {
  std::string name;
  std::vector<std::string> categories;
  std::vector<std::vector<double>> years;  // years[y - 1][category]
};

// What section 4 of docs/model.md reports.
struct Summary {
  std::uint64_t paths = 0;
  int firstYear = 1;
  std::vector<std::string> outputNames;
  std::vector<MetricSummary> outputs;
  std::vector<YearlySummary> yearly;  // non-categorical yearly outputs
  std::vector<ShareSummary> shares;   // categorical yearly outputs
};

// Requires stored values (exact quantiles).
Summary summarize(const RunStatistics& statistics);

}  // namespace spinval
