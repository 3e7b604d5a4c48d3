#include "spinval/simulation.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bytes.hpp"
#include "spinval/error.hpp"
#include "spinval/parallel.hpp"
#include "spinval/partial.hpp"

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

// `stats` are the block's: a NaN or an infinity in a column makes the sum of its values, and so
// its mean, NaN or infinite, so where every mean is finite there is nothing to look for. (A column
// of finite values whose sum overflows is scanned and passes.)
std::optional<NonFinite> firstNonFinite(const Layout& layout, const BlockOutput& out,
                                        const BlockStatistics& stats) {
  auto finite = [](const std::vector<Moments>& columns) {
    return std::all_of(columns.begin(), columns.end(),
                       [](const Moments& m) { return std::isfinite(m.mean()); });
  };
  if (finite(stats.outputs) && finite(stats.yearly)) return std::nullopt;
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

// Merges block statistics strictly in block order, whatever order the blocks finish in, into
// chunks (see simulation.hpp), and hands each finished chunk to `sink` in chunk order.
class OrderedMerge {
 public:
  using Sink = std::function<void(BlockStatistics&&)>;
  using Progress = std::function<void(std::uint64_t)>;  // paths merged so far

  OrderedMerge(const Round& round, BlockRange range, Sink sink, Progress progress)
      : roundFirst_(round.firstPath / kBlockSize),
        roundEnd_(round.firstPath + round.paths),
        next_(range.first),
        sink_(std::move(sink)),
        progress_(std::move(progress)) {}

  void add(std::uint64_t block, BlockStatistics stats) {
    std::lock_guard lock(mutex_);
    pending_.emplace(block, std::move(stats));
    bool merged = false;
    for (auto it = pending_.begin(); it != pending_.end() && it->first == next_;
         it = pending_.erase(it)) {
      chunk_.merge(it->second);
      const std::uint64_t end = std::min((next_ + 1) * kBlockSize, roundEnd_);
      done_ += end - next_ * kBlockSize;
      ++next_;
      // The chunk ends every kChunkBlocks blocks from the round's first, and at the round's end.
      if ((next_ - roundFirst_) % kChunkBlocks == 0 || end == roundEnd_) {
        sink_(std::move(chunk_));
        chunk_ = BlockStatistics{};
      }
      merged = true;
    }
    if (merged && progress_) progress_(done_);
  }

 private:
  const std::uint64_t roundFirst_, roundEnd_;
  std::mutex mutex_;
  std::map<std::uint64_t, BlockStatistics> pending_;
  std::uint64_t next_;
  std::uint64_t done_ = 0;
  BlockStatistics chunk_;
  Sink sink_;
  Progress progress_;
};

// Runs blocks `range` of `round` on `threads` threads, storing values or sketches in `storage`
// and handing chunk statistics to `sink` in order.
void runBlocks(const Model& model, const Copula& copula, const Sampler& sampler,
               const RunSettings& settings, const Round& round, BlockRange range, unsigned threads,
               RunStatistics& storage, OrderedMerge& merge) {
  const Layout& layout = model.layout();
  const std::uint64_t end = round.firstPath + round.paths;
  const std::uint64_t lastBlock = range.last;

  // A block that fails stops the run at that block; blocks before it still run, so the error
  // reported is always that of the lowest failing path, whatever the thread count.
  std::atomic<std::uint64_t> nextBlock{range.first};
  std::atomic<std::uint64_t> failedBlock{lastBlock};
  std::mutex mutex;
  std::map<std::uint64_t, std::exception_ptr> errors;

  const unsigned used = static_cast<unsigned>(std::clamp<std::uint64_t>(range.size(), 1, threads));
  // Each worker's windows. Those of the workers on the other threads are made here, in the memory
  // that the pilot's values left to this thread, where their own threads would fault in fresh pages
  // (2,300 more faults at 1e6 paths on 2 threads, and that worker did 6% fewer blocks). The
  // calling thread's worker makes its own after its work arrays: made before them, they cost
  // the 1-thread run 2%.
  std::vector<std::shared_ptr<RunStatistics::Windows>> windows(used);
  if (storage.windowed()) {
    for (unsigned t = 1; t < used; ++t) windows[t] = storage.makeWindows(used, kBlockSize);
  }
  auto worker = [&](unsigned index) {
    // The model's dimensions, then the copula's own (its chi-square column for the t copula).
    Eigen::MatrixXd uniforms(
        static_cast<Eigen::Index>(kBlockSize),
        static_cast<Eigen::Index>(layout.dimensions() + copula.ownDimensions()));
    BlockOutput out;
    std::optional<RunStatistics::Sketches> sketches;
    if (!storage.storesValues()) sketches = storage.makeSketches();
    if (storage.windowed() && !windows[index]) {
      windows[index] = storage.makeWindows(used, kBlockSize);
    }
    RunStatistics::Windows* const own = windows[index].get();
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
        BlockStatistics stats = storage.blockStatistics(first, out);
        if (auto bad = firstNonFinite(layout, out, stats)) {
          throw SimulationError(first + static_cast<std::uint64_t>(bad->row), settings.seed,
                                bad->output, bad->value);
        }
        if (sketches) {
          storage.addToSketches(*sketches, out);
        } else {
          storage.store(first, out);
          if (own != nullptr) storage.addToWindows(*own, out);
        }
        merge.add(block, std::move(stats));
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
      storage.mergeSketches(*sketches);
    }
  };

  // Before the blocks, on the run's threads: the inputs' quantile tables (built once), then the
  // pages of the values the blocks store, one share per thread in address order. A table built
  // beside a share of pages took 8.4 ms instead of 0.9 (its allocations grow the heap, which
  // likely waits while the kernel populates pages), and threads populating pages near each other
  // contend in the kernel (a column each in turn, 2 threads took as long as 1).
  std::vector<const Distribution*> inputs;
  for (const StaticInput& input : layout.staticInputs) inputs.push_back(&input.distribution);
  const std::vector<std::function<void()>> tables = Distribution::preparations(inputs);
  parallelFor(tables.size(), threads, [&tables](std::size_t i) { tables[i](); });
  std::vector<std::span<double>> pages =
      storage.pagesToStore(range.first * kBlockSize, std::min(lastBlock * kBlockSize, end));
  std::sort(pages.begin(), pages.end(),
            [](std::span<double> a, std::span<double> b) { return a.data() < b.data(); });
  std::size_t total = 0;
  for (std::span<double> p : pages) total += p.size();
  std::vector<std::size_t> shareEnds;  // share k: pages[shareEnds[k - 1] or 0, shareEnds[k])
  for (std::size_t last = 0, taken = 0, share = 1; last < pages.size(); ++share) {
    while (last < pages.size() && taken < total * share / threads) taken += pages[last++].size();
    shareEnds.push_back(last);
  }
  parallelFor(shareEnds.size(), threads, [&pages, &shareEnds](std::size_t share) {
    for (std::size_t k = share == 0 ? 0 : shareEnds[share - 1]; k < shareEnds[share]; ++k) {
      populatePages(pages[k]);
    }
  });
  onThreads(used, worker);
  // Window merges add counts and join sets of values: exact in any order.
  for (auto& w : windows) {
    if (w) storage.mergeWindows(std::move(w));
  }
  if (!errors.empty()) std::rethrow_exception(errors.begin()->second);
}

// CPU seconds of the whole process (every thread) since it started.
double processCpuSeconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
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

BlockRange shardBlocks(std::uint64_t firstPath, std::uint64_t paths, Shard shard) {
  if (shard.count == 0 || shard.index == 0 || shard.index > shard.count) {
    throw std::invalid_argument("shard " + std::to_string(shard.index) + " of " +
                                std::to_string(shard.count));
  }
  if (firstPath % kBlockSize != 0) throw std::invalid_argument("round not on a block boundary");
  const std::uint64_t first = firstPath / kBlockSize;
  const std::uint64_t last = (firstPath + paths + kBlockSize - 1) / kBlockSize;
  const std::uint64_t chunks = (last - first + kChunkBlocks - 1) / kChunkBlocks;
  if (shard.count > std::uint64_t{1} << 31) throw std::invalid_argument("too many shards");
  // floor(i C / n) = i floor(C / n) + floor(i (C mod n) / n), without overflow.
  auto boundary = [&](std::uint64_t i) {
    const std::uint64_t c = i * (chunks / shard.count) + i * (chunks % shard.count) / shard.count;
    return std::min(last, first + c * kChunkBlocks);
  };
  return {boundary(shard.index - 1), boundary(shard.index)};
}

StatisticsOptions statisticsOptions(const RunSettings& settings) {
  StatisticsOptions options;
  options.errorModel = errorModelOf(settings.sampler);
  options.sketch = settings.sketch;
  options.thresholds = settings.thresholds;
  return options;
}

namespace {

// The paths and limits of a run's first round.
struct Plan {
  std::uint64_t firstRound = 0, maxPaths = 0;
  std::optional<std::size_t> precisionOutput;
};

Plan plan(const Layout& layout, const RunSettings& settings) {
  Plan p;
  p.firstRound = admissiblePaths(settings.sampler, settings.paths);
  p.maxPaths = p.firstRound;
  if (settings.precision) {
    p.precisionOutput = layout.outputIndex(settings.precision->metric);
    if (!p.precisionOutput) {
      throw std::invalid_argument("unknown precision metric '" + settings.precision->metric + "'");
    }
    // Rounds end on block boundaries (and on powers of two for sobol).
    p.firstRound = admissiblePaths(settings.sampler,
                                   (p.firstRound + kBlockSize - 1) / kBlockSize * kBlockSize);
    p.maxPaths = std::max(p.firstRound, settings.precision->maxPaths);
    if (settings.sampler == SamplerKind::sobol) p.maxPaths = std::bit_floor(p.maxPaths);
  }
  if (p.firstRound == 0) throw std::invalid_argument("a run needs at least one path");
  return p;
}

// What rank 0 tells every rank after a round.
struct Decision {
  enum class Kind : std::uint8_t { stop, next, failed };
  Kind kind = Kind::stop;
  std::uint64_t total = 0;  // next: the paths of the run after the next round
  bool sketch = false;      // next: whether the next round keeps sketches
};

std::string encodeDecision(const Decision& d) {
  ByteWriter out;
  out.u8(static_cast<std::uint8_t>(d.kind));
  out.u64(d.total);
  out.u8(d.sketch ? 1 : 0);
  return out.take();
}

Decision decodeDecision(const std::string& bytes) {
  ByteReader in(bytes);
  Decision d;
  d.kind = static_cast<Decision::Kind>(in.u8());
  d.total = in.u64();
  d.sketch = in.u8() != 0;
  return d;
}

// A rank's report after a round: its piece, or the message of what failed.
std::string encodeReport(const RunPiece* piece, const std::string& failure) {
  ByteWriter out;
  out.u8(piece != nullptr ? 1 : 0);
  if (piece != nullptr) {
    out.bytes(encodePiece(*piece));
  } else {
    out.bytes(failure);
  }
  return out.take();
}

std::string encodeProcess(const ProcessInfo& p) {
  ByteWriter out;
  out.bytes(p.host);
  out.u64(p.threads);
  out.u64(p.paths);
  out.f64(p.seconds);
  out.f64(p.cpuSeconds);
  return out.take();
}

ProcessInfo decodeProcess(int rank, const std::string& bytes) {
  ByteReader in(bytes);
  ProcessInfo p;
  p.rank = rank;
  p.host = in.bytes();
  p.threads = static_cast<unsigned>(in.u64());
  p.paths = in.u64();
  p.seconds = in.f64();
  p.cpuSeconds = in.f64();
  return p;
}

// Whether the precision target is met after a round, and the next round if not.
Decision decide(RunResult& result, const RunSettings& settings, const Plan& p,
                std::uint64_t memoryLimitPaths) {
  if (!settings.precision) return {};
  const ConvergenceCheck c = check(result.statistics, *p.precisionOutput, settings.precision->stat);
  result.convergence->checks.push_back(c);
  const double target = settings.precision->relative * std::fabs(c.estimate);
  if (c.halfWidth <= target) {
    result.convergence->reached = true;
    return {};
  }
  if (c.paths >= p.maxPaths) return {};
  Decision d{Decision::Kind::next, nextTotal(c, target, p.maxPaths, settings.sampler),
             !result.statistics.storesValues()};
  if (!d.sketch && d.total > memoryLimitPaths) d.sketch = true;
  return d;
}

}  // namespace

RunResult simulate(const Model& model, const Copula& copula, const RunSettings& settings,
                   const Communicator& world) {
  const Layout& layout = model.layout();
  const Plan p = plan(layout, settings);
  const int ranks = world.size();
  const bool root = world.root();
  StatisticsOptions options = statisticsOptions(settings);
  RunResult result{RunStatistics(layout, root ? p.firstRound : 0, options),
                   std::nullopt,
                   0.0,
                   0.0,
                   resolveThreads(settings.threads),
                   {}};
  const Sampler sampler(settings.sampler, settings.seed, copula.samplingLayout(layout));
  if (settings.precision) {
    result.convergence = ConvergenceSummary{settings.precision->metric,
                                            precisionStatName(settings.precision->stat),
                                            settings.precision->relative,
                                            false,
                                            {}};
  }
  // Above this many paths a precision run's stored values would outgrow the memory budget.
  const double bytesPerPath = static_cast<double>(exactBytesPerPath(layout));
  const auto memoryLimitPaths = static_cast<std::uint64_t>(
      std::min(static_cast<double>(settings.memoryBudget) / bytesPerPath, 1e19));

  const bool windowed = ranks == 1 && !settings.precision && !options.sketch &&
                        settings.windowSigmas > 0.0 && p.firstRound >= kWindowsFrom;
  const std::uint64_t pilotPaths =
      std::min(p.firstRound / 16 / kBlockSize, kMaxPilotBlocks) * kBlockSize;
  if (windowed) {
    std::vector<std::size_t> every(layout.outputs.size());
    std::iota(every.begin(), every.end(), std::size_t{0});
    result.statistics.keepPilot(pilotPaths, settings.keptOutputs.value_or(every));
  }

  const auto start = std::chrono::steady_clock::now();
  const double cpuStart = processCpuSeconds();
  std::uint64_t computed = 0;
  Round round{0, 0, p.firstRound};
  for (;;) {
    const std::uint64_t before = result.statistics.merged();
    const std::uint64_t roundEnd = round.firstPath + round.paths;
    const BlockRange range = shardBlocks(
        round.firstPath, round.paths,
        {static_cast<std::uint64_t>(world.rank()) + 1, static_cast<std::uint64_t>(ranks)});
    // This process's paths of the round.
    const std::uint64_t firstPath = std::min(range.first * kBlockSize, roundEnd);
    const std::uint64_t endPath = std::min(range.last * kBlockSize, roundEnd);
    OrderedMerge::Progress progress;
    if (settings.progress && root) {
      // Rank 0 shows its own share of the round on the scale of the whole round.
      const double scale = static_cast<double>(round.paths) /
                           static_cast<double>(std::max<std::uint64_t>(1, endPath - firstPath));
      const std::uint64_t planned = result.statistics.paths();
      progress = [&settings, before, scale, planned](std::uint64_t done) {
        settings.progress(before + static_cast<std::uint64_t>(static_cast<double>(done) * scale),
                          planned);
      };
    }
    if (ranks == 1) {
      OrderedMerge merge(
          round, range, [&](BlockStatistics&& chunk) { result.statistics.merge(chunk); }, progress);
      if (windowed) {
        // The pilot's blocks, then the windows, then the rest.
        const BlockRange pilot{range.first, range.first + pilotPaths / kBlockSize};
        runBlocks(model, copula, sampler, settings, round, pilot, result.threads, result.statistics,
                  merge);
        result.statistics.openWindows(settings.windowSigmas, result.threads);
        runBlocks(model, copula, sampler, settings, round, {pilot.last, range.last}, result.threads,
                  result.statistics, merge);
      } else {
        runBlocks(model, copula, sampler, settings, round, range, result.threads, result.statistics,
                  merge);
      }
      computed += round.paths;
      const Decision d = decide(result, settings, p, memoryLimitPaths);
      if (d.kind == Decision::Kind::stop) break;
      if (d.sketch) result.statistics.switchToSketch();
      result.statistics.extend(d.total);
      round =
          Round{round.index + 1, result.statistics.merged(), d.total - result.statistics.merged()};
      continue;
    }

    // Several ranks: each computes its chunks of the round as a piece; rank 0 merges the pieces
    // in rank order, which is block order, and decides what comes next.
    RunPiece piece{
        range, roundEnd,      {}, RunStatistics(layout, endPath, options, firstPath), 0.0,
        0.0,   result.threads};
    std::string failure;
    try {
      OrderedMerge merge(
          round, range, [&](BlockStatistics&& chunk) { piece.chunks.push_back(std::move(chunk)); },
          progress);
      runBlocks(model, copula, sampler, settings, round, range, result.threads, piece.statistics,
                merge);
      computed += endPath - firstPath;
    } catch (const std::exception& e) {
      failure = e.what();
    }
    const auto reports = world.gather(encodeReport(failure.empty() ? &piece : nullptr, failure));
    Decision d;
    std::string rootFailure;
    if (root) {
      for (int r = 0; r < ranks && rootFailure.empty(); ++r) {
        try {
          ByteReader in(reports[static_cast<std::size_t>(r)]);
          if (in.u8() == 0) {
            rootFailure = "rank " + std::to_string(r) + ": " + in.bytes();
            break;
          }
          if (r == 0) {
            for (const BlockStatistics& chunk : piece.chunks) result.statistics.merge(chunk);
            result.statistics.absorb(piece.statistics);
            continue;
          }
          const RunPiece other = decodePiece(in.view(), layout, options);
          for (const BlockStatistics& chunk : other.chunks) result.statistics.merge(chunk);
          result.statistics.absorb(other.statistics);
        } catch (const std::exception& e) {
          rootFailure = "rank " + std::to_string(r) + ": unusable results: " + e.what();
        }
      }
      if (rootFailure.empty()) {
        try {
          d = decide(result, settings, p, memoryLimitPaths);
        } catch (const std::exception& e) {
          rootFailure = std::string("rank 0: ") + e.what();
        }
      }
      if (!rootFailure.empty()) d.kind = Decision::Kind::failed;
    }
    d = decodeDecision(world.broadcast(encodeDecision(d)));
    if (d.kind == Decision::Kind::failed) {
      if (root) throw RankFailure(rootFailure);
      throw StoppedByRoot();
    }
    if (d.kind == Decision::Kind::stop) break;
    if (root) {
      if (d.sketch) result.statistics.switchToSketch();
      result.statistics.extend(d.total);
    }
    options.sketch = d.sketch;
    round = Round{round.index + 1, roundEnd, d.total - roundEnd};
  }
  if (windowed && !result.statistics.closeWindows(result.threads)) {
    // An order statistic outside its window: the same run again, keeping every value.
    RunSettings everyValue = settings;
    everyValue.windowSigmas = 0.0;
    return simulate(model, copula, everyValue, world);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpuSeconds = processCpuSeconds() - cpuStart;

  const ProcessInfo self{world.rank(), hostName(),     result.threads,
                         computed,     result.seconds, result.cpuSeconds};
  const auto processes = world.gather(encodeProcess(self));
  for (std::size_t r = 0; r < processes.size(); ++r) {
    result.processes.push_back(decodeProcess(static_cast<int>(r), processes[r]));
  }
  return result;
}

RunPiece simulatePiece(const Model& model, const Copula& copula, const RunSettings& settings,
                       Shard shard) {
  if (settings.precision) {
    throw std::invalid_argument("a shard needs a fixed path count, not a precision target");
  }
  const Layout& layout = model.layout();
  const Plan p = plan(layout, settings);
  const Round round{0, 0, p.firstRound};
  const BlockRange range = shardBlocks(0, p.firstRound, shard);
  const std::uint64_t firstPath = std::min(range.first * kBlockSize, p.firstRound);
  const std::uint64_t endPath = std::min(range.last * kBlockSize, p.firstRound);
  RunPiece piece{range,
                 p.firstRound,
                 {},
                 RunStatistics(layout, endPath, statisticsOptions(settings), firstPath),
                 0.0,
                 0.0,
                 resolveThreads(settings.threads)};
  const Sampler sampler(settings.sampler, settings.seed, copula.samplingLayout(layout));
  OrderedMerge::Progress progress;
  if (settings.progress) {
    progress = [&](std::uint64_t done) { settings.progress(done, endPath - firstPath); };
  }
  OrderedMerge merge(
      round, range, [&](BlockStatistics&& chunk) { piece.chunks.push_back(std::move(chunk)); },
      progress);
  const auto start = std::chrono::steady_clock::now();
  const double cpuStart = processCpuSeconds();
  if (range.size() > 0) {
    runBlocks(model, copula, sampler, settings, round, range, piece.threads, piece.statistics,
              merge);
  }
  piece.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  piece.cpuSeconds = processCpuSeconds() - cpuStart;
  return piece;
}

RunStatistics mergePieces(const Layout& layout, const StatisticsOptions& options,
                          std::uint64_t paths, const std::vector<const RunPiece*>& pieces) {
  RunStatistics statistics(layout, paths, options);
  std::uint64_t nextBlock = 0;
  for (const RunPiece* piece : pieces) {
    if (piece->blocks.first != nextBlock || piece->runPaths != paths) {
      throw std::invalid_argument("pieces that do not cover the run's blocks in order");
    }
    nextBlock = piece->blocks.last;
    for (const BlockStatistics& chunk : piece->chunks) statistics.merge(chunk);
    statistics.absorb(piece->statistics);
  }
  if (nextBlock * kBlockSize < paths || statistics.merged() != paths) {
    throw std::invalid_argument("pieces that do not cover the run's blocks");
  }
  return statistics;
}

}  // namespace spinval
