#include "spinval/simulation.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "spinval/error.hpp"

namespace spinval {

unsigned resolveThreads(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

PrecisionTarget::Stat parsePrecisionStat(const std::string& name) {
  if (name == "mean") return PrecisionTarget::Stat::mean;
  if (name == "p50") return PrecisionTarget::Stat::p50;
  if (name == "p05") return PrecisionTarget::Stat::p05;
  if (name == "p95") return PrecisionTarget::Stat::p95;
  throw std::invalid_argument("unknown statistic '" + name + "' (expected mean, p50, p05 or p95)");
}

std::string precisionStatName(PrecisionTarget::Stat stat) {
  switch (stat) {
    case PrecisionTarget::Stat::mean:
      return "mean";
    case PrecisionTarget::Stat::p50:
      return "p50";
    case PrecisionTarget::Stat::p05:
      return "p05";
    case PrecisionTarget::Stat::p95:
      return "p95";
  }
  return "mean";
}

namespace {

// The first non-finite output of a block in path order, if any: (row, output name, value).
struct NonFinite {
  Eigen::Index row;
  std::string output;
  double value;
};

std::optional<NonFinite> firstNonFinite(const Layout& layout, const BlockOutput& out) {
  if (out.outputs.allFinite() && out.yearly.allFinite()) return std::nullopt;
  std::optional<NonFinite> first;
  auto scan = [&](const Eigen::MatrixXd& matrix, auto nameOf) {
    for (Eigen::Index c = 0; c < matrix.cols(); ++c) {
      for (Eigen::Index i = 0; i < matrix.rows(); ++i) {
        if (std::isfinite(matrix(i, c))) continue;
        if (!first || i < first->row) first = NonFinite{i, nameOf(c), matrix(i, c)};
        break;
      }
    }
  };
  scan(out.outputs, [&](Eigen::Index c) { return layout.outputs[static_cast<std::size_t>(c)]; });
  scan(out.yearly, [&](Eigen::Index c) {
    const auto years = static_cast<Eigen::Index>(layout.years);
    return layout.yearlyOutputs[static_cast<std::size_t>(c / years)].name + "[" +
           std::to_string(layout.firstYear + c % years) + "]";
  });
  return first;
}

// Merges block statistics strictly in block order, whatever order the blocks finish in.
class OrderedMerge {
 public:
  OrderedMerge(RunStatistics& statistics, const RunSettings& settings)
      : statistics_(statistics), settings_(settings) {}

  void add(std::uint64_t block, BlockStatistics stats) {
    std::lock_guard lock(mutex_);
    pending_.emplace(block, std::move(stats));
    bool merged = false;
    for (auto it = pending_.begin(); it != pending_.end() && it->first == next_;
         it = pending_.erase(it)) {
      statistics_.merge(it->second);
      ++next_;
      merged = true;
    }
    if (merged && settings_.progress) {
      settings_.progress(statistics_.merged(), statistics_.paths());
    }
  }

 private:
  RunStatistics& statistics_;
  const RunSettings& settings_;
  std::mutex mutex_;
  std::map<std::uint64_t, BlockStatistics> pending_;
  std::uint64_t next_ = 0;
};

// Runs the blocks of one round on `threads` threads.
void runRound(const Model& model, const Copula& copula, const Sampler& sampler,
              const RunSettings& settings, const Round& round, unsigned threads,
              RunStatistics& statistics, OrderedMerge& merge) {
  const Layout& layout = model.layout();
  const std::uint64_t end = round.firstPath + round.paths;
  const std::uint64_t firstBlock = round.firstPath / kBlockSize;
  const std::uint64_t lastBlock = (end + kBlockSize - 1) / kBlockSize;

  // A block that fails stops the run at that block; blocks before it still run, so the error
  // reported is always that of the lowest failing path, whatever the thread count.
  std::atomic<std::uint64_t> nextBlock{firstBlock};
  std::atomic<std::uint64_t> failedBlock{lastBlock};
  std::mutex mutex;
  std::map<std::uint64_t, std::exception_ptr> errors;

  auto worker = [&] {
    // The model's dimensions, then the copula's own (its chi-square column for the t copula).
    Eigen::MatrixXd uniforms(
        static_cast<Eigen::Index>(kBlockSize),
        static_cast<Eigen::Index>(layout.dimensions() + copula.ownDimensions()));
    BlockOutput out;
    std::optional<RunStatistics::Sketches> sketches;
    if (!statistics.storesValues()) sketches = statistics.makeSketches();
    for (;;) {
      const std::uint64_t block = nextBlock.fetch_add(1);
      if (block >= lastBlock || block > failedBlock.load()) break;
      const std::uint64_t first = block * kBlockSize;
      const auto rows = static_cast<Eigen::Index>(std::min(kBlockSize, end - first));
      try {
        auto u = uniforms.topRows(rows);
        sampler.fill(block, first, u, round);
        copula.apply(u);
        out.resize(layout, rows);
        model.evaluate(u.leftCols(static_cast<Eigen::Index>(layout.dimensions())), out);
        if (auto bad = firstNonFinite(layout, out)) {
          throw SimulationError(first + static_cast<std::uint64_t>(bad->row), settings.seed,
                                bad->output, bad->value);
        }
        if (sketches) {
          statistics.addToSketches(*sketches, out);
        } else {
          statistics.store(first, out);
        }
        merge.add(block, statistics.blockStatistics(first, out));
      } catch (...) {
        std::lock_guard lock(mutex);
        errors.emplace(block, std::current_exception());
        std::uint64_t seen = failedBlock.load();
        while (block < seen && !failedBlock.compare_exchange_weak(seen, block)) {
        }
      }
    }
    // Sketch merges add counts: exact in any order.
    if (sketches) {
      std::lock_guard lock(mutex);
      statistics.mergeSketches(*sketches);
    }
  };

  const auto blocks = lastBlock - firstBlock;
  const unsigned used = static_cast<unsigned>(std::clamp<std::uint64_t>(blocks, 1, threads));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < used; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  if (!errors.empty()) std::rethrow_exception(errors.begin()->second);
}

double targetProbability(PrecisionTarget::Stat stat) {
  switch (stat) {
    case PrecisionTarget::Stat::p50:
      return 0.50;
    case PrecisionTarget::Stat::p05:
      return 0.05;
    case PrecisionTarget::Stat::p95:
      return 0.95;
    case PrecisionTarget::Stat::mean:
      break;
  }
  return 0.0;
}

ConvergenceCheck check(const RunStatistics& statistics, std::size_t output,
                       PrecisionTarget::Stat stat) {
  ConvergenceCheck c;
  c.paths = statistics.merged();
  if (stat == PrecisionTarget::Stat::mean) {
    c.estimate = statistics.totals().outputs[output].mean();
    c.halfWidth = statistics.intervalFactor() * statistics.meanStderror(output);
  } else {
    const double p = targetProbability(stat);
    c.estimate = statistics.outputQuantile(output, p);
    const auto [lo, hi] = statistics.outputQuantileInterval(output, p);
    c.halfWidth = std::max(c.estimate - lo, hi - c.estimate);
  }
  return c;
}

// The next total path count: the current one scaled by (half-width / target)^2 with a 20%
// margin, growing by at least one block and at most 4 times, in whole blocks (powers of two
// for sobol), never beyond maxPaths.
std::uint64_t nextTotal(const ConvergenceCheck& c, double target, std::uint64_t maxPaths,
                        SamplerKind sampler) {
  const double ratio = target > 0 ? c.halfWidth / target : 4.0;
  const double wanted = static_cast<double>(c.paths) * std::clamp(1.2 * ratio * ratio, 1.0, 4.0);
  auto total = static_cast<std::uint64_t>(std::ceil(wanted / kBlockSize)) * kBlockSize;
  total = std::max(total, c.paths + kBlockSize);
  if (sampler == SamplerKind::sobol) total = std::bit_ceil(total);
  return std::min(total, maxPaths);
}

}  // namespace

RunResult simulate(const Model& model, const Copula& copula, const RunSettings& settings) {
  const Layout& layout = model.layout();
  std::optional<std::size_t> precisionOutput;
  std::uint64_t firstRound = admissiblePaths(settings.sampler, settings.paths);
  std::uint64_t maxPaths = firstRound;
  if (settings.precision) {
    precisionOutput = layout.outputIndex(settings.precision->metric);
    if (!precisionOutput) {
      throw std::invalid_argument("unknown precision metric '" + settings.precision->metric + "'");
    }
    // Rounds end on block boundaries (and on powers of two for sobol).
    firstRound =
        admissiblePaths(settings.sampler, (firstRound + kBlockSize - 1) / kBlockSize * kBlockSize);
    maxPaths = std::max(firstRound, settings.precision->maxPaths);
    if (settings.sampler == SamplerKind::sobol) maxPaths = std::bit_floor(maxPaths);
  }
  if (firstRound == 0) throw std::invalid_argument("a run needs at least one path");

  StatisticsOptions options;
  options.errorModel = errorModelOf(settings.sampler);
  options.sketch = settings.sketch;
  options.thresholds = settings.thresholds;
  RunResult result{RunStatistics(layout, firstRound, std::move(options)), std::nullopt, 0.0,
                   resolveThreads(settings.threads)};
  const Sampler sampler(settings.sampler, settings.seed, copula.samplingLayout(layout));
  OrderedMerge merge(result.statistics, settings);
  if (settings.precision) {
    result.convergence = ConvergenceSummary{settings.precision->metric,
                                            precisionStatName(settings.precision->stat),
                                            settings.precision->relative,
                                            false,
                                            {}};
  }

  const auto start = std::chrono::steady_clock::now();
  Round round{0, 0, firstRound};
  for (;;) {
    runRound(model, copula, sampler, settings, round, result.threads, result.statistics, merge);
    if (!settings.precision) break;
    const ConvergenceCheck c = check(result.statistics, *precisionOutput, settings.precision->stat);
    result.convergence->checks.push_back(c);
    const double target = settings.precision->relative * std::fabs(c.estimate);
    if (c.halfWidth <= target) {
      result.convergence->reached = true;
      break;
    }
    if (c.paths >= maxPaths) break;
    const std::uint64_t total = nextTotal(c, target, maxPaths, settings.sampler);
    round = Round{round.index + 1, c.paths, total - c.paths};
    if (result.statistics.storesValues() &&
        static_cast<double>(total) * static_cast<double>(exactBytesPerPath(layout)) >
            static_cast<double>(settings.memoryBudget)) {
      result.statistics.switchToSketch();
    }
    result.statistics.extend(total);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace spinval
