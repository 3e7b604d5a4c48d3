// The simulation loop: blocks of paths handed to threads, each block's uniforms drawn from
// (seed, block index), passed through the copula and the model, checked for non-finite
// numbers, stored, and its statistics merged in block order. One thread or many, one process
// or many, the result is the same to the last digit. With a precision target the loop runs in
// rounds and checks the target between rounds, at points that depend only on the merged
// results.
//
// The merge order is fixed by the blocks alone. The blocks of a round are grouped into chunks
// of kChunkBlocks blocks, counted from the round's first block (the last chunk may be short).
// A chunk's statistics are the block statistics merged in block order, starting from the first
// block's; the run's are the chunk statistics merged in chunk order. Shards and MPI ranks each
// compute whole chunks, so putting their chunk statistics back in order gives the digits of
// one process.
//
//   RunSettings settings;
//   settings.paths = 100000;
//   RunResult r = simulate(model, copula, settings);
//   RunPiece shard2 = simulatePiece(model, copula, settings, {2, 5});  // shard 2 of 5
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "spinval/cluster.hpp"
#include "spinval/copula.hpp"
#include "spinval/model.hpp"
#include "spinval/sampler.hpp"
#include "spinval/statistics.hpp"

namespace spinval {

// Paths per block. Fixed, never derived from the thread count: the block is the unit of
// reproducibility.
inline constexpr std::uint64_t kBlockSize = 1024;
// Blocks per chunk, the unit of the merge order and of the split into shards and ranks.
inline constexpr std::uint64_t kChunkBlocks = 16;
// Runs of a fixed path count in one process from this many paths on keep their yearly values, and
// the outputs the caller does not read whole (RunSettings::keptOutputs), only in windows around
// their quantiles (RunSettings::windowSigmas), placed from a pilot of the first sixteenth of the
// paths, at most kMaxPilotBlocks blocks.
inline constexpr std::uint64_t kWindowsFrom = std::uint64_t{1} << 18;
inline constexpr std::uint64_t kMaxPilotBlocks = 64;

// Blocks [first, last).
struct BlockRange {
  std::uint64_t first = 0, last = 0;
  std::uint64_t size() const { return last - first; }
};

// Shard `index` of `count` (1-based): of a round's C chunks, chunks [floor((index - 1) C /
// count), floor(index C / count)). Contiguous, in order, sizes differing by at most one chunk;
// with more shards than chunks some shards are empty.
struct Shard {
  std::uint64_t index = 1, count = 1;
};
// The blocks of shard `shard` of the round of paths [firstPath, firstPath + paths), firstPath
// on a block boundary.
BlockRange shardBlocks(std::uint64_t firstPath, std::uint64_t paths, Shard shard);

// Run until the 95% half-width of a statistic of one output is at most `relative` times the
// statistic's absolute value, or until maxPaths.
struct PrecisionTarget {
  enum class Stat { mean, p50, p05, p95 };
  double relative = 0.005;
  std::string metric = "ev_usd";
  Stat stat = Stat::mean;
  std::uint64_t maxPaths = 100'000'000;
};
PrecisionTarget::Stat parsePrecisionStat(const std::string& name);  // throws invalid_argument
std::string precisionStatName(PrecisionTarget::Stat stat);

struct RunSettings {
  std::uint64_t paths = 100000;  // with a precision target: the first round
  std::uint64_t seed = 1;
  SamplerKind sampler = SamplerKind::mc;
  unsigned threads = 0;  // 0: every hardware thread
  bool sketch = false;   // quantiles from DDSketch instead of stored values
  // A precision run whose stored values would outgrow this many bytes switches to sketches.
  std::uint64_t memoryBudget = std::uint64_t{1} << 30;
  std::vector<Threshold> thresholds = {};
  std::optional<PrecisionTarget> precision = std::nullopt;
  // The width of the windows (see kWindowsFrom and RunStatistics::keepPilot) in standard
  // deviations of the pilot's error; 0: every value is kept.
  double windowSigmas = 6.0;
  // Outputs whose every value the caller reads after the run (RunStatistics::outputValues: a
  // histogram, paths.csv, paired comparisons); nullopt: all of them.
  std::optional<std::vector<std::size_t>> keptOutputs = std::nullopt;
  // Called with (paths done, paths planned so far) after blocks are merged, from one thread
  // at a time.
  std::function<void(std::uint64_t, std::uint64_t)> progress = nullptr;
};

// What one process did, for run manifests.
struct ProcessInfo {
  int rank = 0;
  std::string host;
  unsigned threads = 1;
  std::uint64_t paths = 0;  // paths it computed
  double seconds = 0.0;     // wall time of its simulation loop
  double cpuSeconds = 0.0;  // CPU time of all its threads in that loop
};

struct RunResult {
  RunStatistics statistics;  // complete on rank 0 only
  std::optional<ConvergenceSummary> convergence;
  double seconds = 0.0;  // wall time of the simulation loop
  double cpuSeconds = 0.0;
  unsigned threads = 1;
  std::vector<ProcessInfo> processes;  // every rank, in rank order (on rank 0)
};

// A piece of a run: the blocks of one round computed by one shard or rank, with the statistics
// of its chunks in order and its paths' stored values (or sketches) in `statistics`, whose
// stored range is the piece's paths.
struct RunPiece {
  BlockRange blocks;
  std::uint64_t runPaths = 0;  // paths of the whole run
  std::vector<BlockStatistics> chunks;
  RunStatistics statistics;
  double seconds = 0.0, cpuSeconds = 0.0;
  unsigned threads = 1;

  std::uint64_t firstPath() const { return statistics.firstStored(); }
  std::uint64_t paths() const { return statistics.paths() - statistics.firstStored(); }
};

unsigned resolveThreads(unsigned requested);

// Throws SimulationError naming the path and seed if any output is NaN or infinite, and
// std::invalid_argument for settings that cannot run (an unknown precision metric). With a
// world of several ranks every rank must call it with the same arguments; rank 0 gets the
// result, the others a result with empty statistics, and a failure on any rank is thrown on
// rank 0 naming that rank (StoppedByRoot on the others).
RunResult simulate(const Model& model, const Copula& copula, const RunSettings& settings,
                   const Communicator& world = Communicator::single());

// One shard of a run with a fixed path count (no precision target): its piece, whose chunks
// and values merge into the statistics of the whole run (mergePieces).
RunPiece simulatePiece(const Model& model, const Copula& copula, const RunSettings& settings,
                       Shard shard);

// The statistics of a whole run from all its pieces, given in shard order. Throws
// std::invalid_argument unless the pieces cover the run's blocks exactly, in order.
RunStatistics mergePieces(const Layout& layout, const StatisticsOptions& options,
                          std::uint64_t paths, const std::vector<const RunPiece*>& pieces);

// The statistics options a run with these settings uses.
StatisticsOptions statisticsOptions(const RunSettings& settings);

}  // namespace spinval
