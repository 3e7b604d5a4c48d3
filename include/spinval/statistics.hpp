// Mergeable statistics of a run. Per block, Moments of every output; blocks are merged in
// block order so the digits never depend on which thread finished first. Exact quantiles come
// from the stored values (written at each path's own index) and are type 7, as NumPy's default;
// above a memory budget, from DDSketches, whose merge is exact in any order.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "spinval/model.hpp"
#include "spinval/quantile_sketch.hpp"
#include "spinval/sampler.hpp"

namespace spinval {

// Count, mean, sum of squared deviations, min and max.
// Merge (Chan et al.): n = na + nb, delta = mb - ma, mean = ma + delta nb / n,
// M2 = M2a + M2b + delta^2 na nb / n.
class Moments {
 public:
  void add(double x);
  void merge(const Moments& other);
  // The state as stored in partial results: count, mean, M2, min, max.
  static Moments fromState(std::uint64_t n, double mean, double m2, double min, double max);
  // The moments of a set of values in two passes (mean, then squared deviations); the same as
  // adding them one by one to within rounding, several times faster.
  static Moments of(std::span<const double> values);
  double m2() const { return m2_; }

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
// The order statistics x_(r) (0-based ranks, in any order, repeats allowed) of unsorted values,
// in the order of `ranks`; reorders `values`.
std::vector<double> orderStatistics(std::span<double> values, std::span<const std::uint64_t> ranks);
// The same without reordering (or copying) the values, which must not be NaN: one pass
// counts the values below a window of each group of nearby ranks, located from a sample of
// 4 n^(2/3) values (Floyd and Rivest), and copies the few inside; the sample's and the windows'
// order statistics are selected the same way in turn. Falls back to selecting from a copy when
// the sample misleads, so the result is exact.
std::vector<double> orderStatisticsOf(std::span<const double> values,
                                      std::span<const std::uint64_t> ranks);
// Type-7 quantiles of unsorted values at increasing probabilities; reorders `values`.
std::vector<double> quantilesOf(std::span<double> values, std::span<const double> probabilities);

// Distribution-free 95% interval for the p-quantile of n i.i.d. values: the 0-based ranks
// floor(np - 1.96 sqrt(np(1-p))) and ceil(np + 1.96 sqrt(np(1-p))), clamped to [0, n - 1]
// (normal approximation to the binomial count of values below the quantile).
std::pair<std::uint64_t, std::uint64_t> quantileIntervalRanks(std::uint64_t n, double p);

// How the error of a mean is estimated. iid: sd / sqrt(n) (mc, and lhs, whose variance never
// exceeds n / (n - 1) times that of mc (Stein 1987), so the estimate is conservative); pairs:
// from the means of antithetic pairs; replicates: from the means of kSobolReplicates
// interleaved replicates, path p in replicate p mod R, with a Student-t interval on R - 1
// degrees of freedom.
enum class ErrorModel { iid, pairs, replicates };
ErrorModel errorModelOf(SamplerKind sampler);
std::string errorModelName(ErrorModel model);  // "iid", "antithetic-pairs", "sobol-replicates"

// A threshold probability such as "ev_usd>50e9": the share of paths where an output compares
// true. Parsed against a layout's outputs; throws std::invalid_argument naming what is wrong.
struct Threshold {
  enum class Op { greater, greaterEqual, less, lessEqual };
  std::string expression;
  std::size_t output = 0;
  Op op = Op::greater;
  double value = 0.0;

  bool holds(double x) const;
};
Threshold parseThreshold(const std::string& expression, const Layout& layout);

// A mean with its error units (pair means or replicate values) for the stderr.
struct MeanAccumulator {
  Moments all;
  std::vector<Moments> units;  // pairs: one (of pair means); replicates: one per replicate

  void merge(const MeanAccumulator& other);
};

// The statistics of one block, merged into the run's in block order.
struct BlockStatistics {
  std::vector<Moments> outputs;               // per output
  std::vector<Moments> yearly;                // per yearly output m and year y: m * years + y - 1
  std::vector<std::uint64_t> categoryCounts;  // per categorical output, year and category
  std::vector<std::vector<Moments>> outputUnits;  // [output][unit], see ErrorModel
  std::vector<MeanAccumulator> thresholds;        // indicator means, per threshold

  void merge(const BlockStatistics& other);
};

// How a run keeps its statistics.
struct StatisticsOptions {
  ErrorModel errorModel = ErrorModel::iid;
  bool sketch = false;  // quantiles from DDSketch instead of stored values
  double sketchAlpha = QuantileSketch::kDefaultAlpha;
  std::vector<Threshold> thresholds;
};

// Bytes of stored values per path in exact mode for a layout (outputs and non-categorical
// yearly outputs, 8 bytes each), plus one column of scratch for selection.
std::uint64_t exactBytesPerPath(const Layout& layout);

// Faults in a range of whole pages in one system call (MADV_POPULATE_WRITE), where writing them
// would take a page fault per 4 KiB. A hint only: where the system cannot, pages fault in as
// written.
void populatePages(std::span<double> pages);

class RunStatistics {
 public:
  // Statistics of paths [0, paths). A piece of a run computed by one shard or rank stores the
  // values of its own paths only: [firstStored, paths).
  RunStatistics(const Layout& layout, std::uint64_t paths, StatisticsOptions options = {},
                std::uint64_t firstStored = 0);

  // Makes room for paths up to `paths` (precision runs grow in rounds).
  void extend(std::uint64_t paths);
  // The whole pages of the stored values of paths [first, end), one range per column, for the
  // workers to fault in before they write them (populatePages); none where the system cannot.
  std::vector<std::span<double>> pagesToStore(std::uint64_t first, std::uint64_t end);
  // Moves the stored values of the merged paths into sketches and keeps sketches from then on:
  // the same sketches as a run that used them from the start, since their merge is exact.
  void switchToSketch();

  // Statistics of one block starting at global path firstPath (error units need the index).
  BlockStatistics blockStatistics(std::uint64_t firstPath, const BlockOutput& block) const;
  // Copies the block's outputs to paths [firstPath, firstPath + rows) in exact mode. Blocks
  // write disjoint ranges, so threads may call this concurrently.
  void store(std::uint64_t firstPath, const BlockOutput& block);
  // Merges the statistics of the next chunk of blocks; call in order (see simulation.hpp).
  void merge(const BlockStatistics& chunk) { totals_.merge(chunk); }
  // Takes a piece's stored values (at their own path indices) or merges its sketches. The
  // piece's chunk statistics are merged separately, in order, with merge().
  void absorb(const RunStatistics& piece);
  // Sketch mode: sketches filled by one worker; merging them is exact in any order.
  struct Sketches {
    std::vector<QuantileSketch> outputs, yearly;
  };
  Sketches makeSketches() const;
  void addToSketches(Sketches& sketches, const BlockOutput& block) const;
  void mergeSketches(const Sketches& sketches);

  // Exact quantiles without every value, for a run of a fixed path count in one piece.
  // keepPilot(m, keptOutputs) keeps the values of paths [0, m) only in every yearly column and
  // every output but `keptOutputs`, those the caller reads whole after the run (outputValues).
  // Once the pilot's are stored, openWindows places windows of values around the ranks each
  // such column's summary reads, over all paths(), from the pilot's values as a sample (`sigmas`
  // standard deviations of the sample's error either side), and classifies the pilot's values
  // into them. Each worker does the same with its blocks (makeWindows, addToWindows) and hands
  // them over (mergeWindows); makeWindows(workers, rows) reserves room for one of `workers`
  // equal shares of the values and a block of `rows`. closeWindows joins them (counts add, values
  // join: exact in any order, and without copying), selects the summary's order statistics and says
  // whether each lay in its window; a window misses only when the pilot is far from typical (with
  // sigmas = 6, about twice in 10^9 windows), and the run is then repeated storing every value.
  // Both take the columns on `threads` threads.
  struct Windows;
  void keepPilot(std::uint64_t pilotPaths, std::span<const std::size_t> keptOutputs);
  void openWindows(double sigmas, unsigned threads);
  bool windowed() const { return plan_ != nullptr; }
  std::shared_ptr<Windows> makeWindows(unsigned workers, std::size_t rows) const;
  void addToWindows(Windows& windows, const BlockOutput& block) const;
  void mergeWindows(std::shared_ptr<Windows> windows);
  bool closeWindows(unsigned threads);

  const Layout& layout() const { return *layout_; }
  std::uint64_t paths() const { return paths_; }
  std::uint64_t firstStored() const { return firstStored_; }
  const StatisticsOptions& options() const { return options_; }
  bool storesValues() const { return !options_.sketch; }
  // Whether outputValues(k) holds every path's value: exact mode and not kept in windows.
  bool storesOutputValues(std::size_t k) const {
    return storesValues() && !(pilot_ != 0 && windowedColumns_.at(k));
  }
  const BlockStatistics& totals() const { return totals_; }
  std::uint64_t merged() const { return totals_.outputs.empty() ? 0 : totals_.outputs[0].count(); }
  // Stored values of output k (or of yearly output m in year y), in path order, exact mode.
  // Throws std::logic_error for a column kept in windows (see keepPilot).
  std::span<const double> outputValues(std::size_t k) const;
  std::span<const double> yearlyValues(std::size_t m, int year) const;
  const QuantileSketch& outputSketch(std::size_t k) const { return sketches_.outputs.at(k); }

  // Standard error of the mean of output k, and the 95% half-width factor (1.96, or the
  // Student-t quantile for replicates).
  double meanStderror(std::size_t k) const;
  double intervalFactor() const;
  // The p-quantile of output k over the merged paths, and its 95% interval.
  double outputQuantile(std::size_t k, double p) const;
  std::pair<double, double> outputQuantileInterval(std::size_t k, double p) const;

 private:
  double unitStderror(const Moments& all, const std::vector<Moments>& units) const;

  const Layout* layout_;
  std::uint64_t paths_;
  std::uint64_t firstStored_;
  StatisticsOptions options_;
  BlockStatistics totals_;
  // Stored values are left uninitialised when a column grows: every path's value is written by
  // the thread that computes it, which also touches its pages, instead of one thread zeroing
  // hundreds of megabytes first.
  template <class T>
  struct Uninitialised : std::allocator<T> {
    template <class U>
    struct rebind {
      using other = Uninitialised<U>;
    };
    template <class U>
    void construct(U* p) noexcept {
      ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
  };
  using Column = std::vector<double, Uninitialised<double>>;
  std::vector<Column> outputValues_;  // [output][path]
  std::vector<Column> yearlyValues_;  // [m * years + y - 1][path]; categorical empty
  Sketches sketches_;
  // Windows, see keepPilot. Columns are numbered outputs first, then yearly slots. The pilot's
  // paths (0: every value is kept), which columns keep the pilot's values only, each column's
  // windows and what they hold, and once closed the order statistics at the summary's ranks of
  // each windowed column.
  struct WindowPlan;
  std::uint64_t pilot_ = 0;
  std::vector<char> windowedColumns_;  // 1 for a column that keeps the pilot's values only
  std::shared_ptr<const WindowPlan> plan_;
  std::vector<std::shared_ptr<Windows>> windows_;  // the pilot's, then each worker's
  std::vector<std::vector<double>> selected_;
  std::size_t columnCount() const { return outputValues_.size() + yearlyValues_.size(); }
  Column& column(std::size_t c);
  const Column& column(std::size_t c) const;
  const double* blockColumn(const BlockOutput& block, std::size_t c) const;
  // The order statistics x_(r) of column c for `ranks` (any order, repeats allowed): from the
  // windows' selection in a windowed column, else from its stored values.
  std::vector<double> columnOrderStatistics(std::size_t c,
                                            std::span<const std::uint64_t> ranks) const;
  friend struct Summary summarize(const RunStatistics& statistics, unsigned threads);
  friend struct PieceCodec;  // partial.cpp: writes and reads stored values and sketches
};

struct Interval {
  double lo = 0, hi = 0;
};

struct MetricSummary {
  double mean = 0, std = 0, stderror = 0, min = 0, max = 0;
  std::array<double, kReportedProbabilities.size()> quantiles{};
  Interval meanInterval;
  std::array<Interval, kReportedProbabilities.size()> quantileIntervals{};
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

struct ProbabilitySummary {
  std::string expression;
  double probability = 0, stderror = 0;
};

// One check of a precision target: paths so far, the statistic and its 95% half-width.
struct ConvergenceCheck {
  std::uint64_t paths = 0;
  double estimate = 0, halfWidth = 0;
};

struct ConvergenceSummary {
  std::string metric, stat;
  double relativeTarget = 0;
  bool reached = false;
  std::vector<ConvergenceCheck> checks;
};

// What section 4 of docs/model.md reports, and the extensions of docs/statistics.md.
struct Summary {
  std::uint64_t paths = 0;
  int firstYear = 1;
  bool sketch = false;
  double sketchAlpha = 0;
  std::vector<std::string> outputNames;
  std::vector<MetricSummary> outputs;
  std::vector<YearlySummary> yearly;  // non-categorical yearly outputs
  std::vector<ShareSummary> shares;   // categorical yearly outputs
  std::vector<ProbabilitySummary> probabilities;
  std::optional<ConvergenceSummary> convergence;
};

// The summary of a run's merged statistics. The columns' quantiles are selected on up to
// `threads` threads; the result does not depend on how many.
Summary summarize(const RunStatistics& statistics, unsigned threads = 1);

}  // namespace spinval
