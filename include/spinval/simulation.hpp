// The simulation loop: blocks of paths handed to threads, each block's uniforms drawn from
// (seed, block index), passed through the copula and the model, checked for non-finite
// numbers, stored, and its statistics merged in block order. One thread or many, the result
// is the same to the last digit. With a precision target the loop runs in rounds and checks
// the target between rounds, at points that depend only on the merged results.
//
//   RunSettings settings;
//   settings.paths = 100000;
//   RunResult r = simulate(model, copula, settings);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "spinval/copula.hpp"
#include "spinval/model.hpp"
#include "spinval/sampler.hpp"
#include "spinval/statistics.hpp"

namespace spinval {

// Paths per block. Fixed, never derived from the thread count: the block is the unit of
// reproducibility.
inline constexpr std::uint64_t kBlockSize = 1024;

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
  // Called with (paths done, paths planned so far) after blocks are merged, from one thread
  // at a time.
  std::function<void(std::uint64_t, std::uint64_t)> progress = nullptr;
};

struct RunResult {
  RunStatistics statistics;
  std::optional<ConvergenceSummary> convergence;
  double seconds = 0.0;  // wall time of the simulation loop
  unsigned threads = 1;
};

unsigned resolveThreads(unsigned requested);

// Throws SimulationError naming the path and seed if any output is NaN or infinite, and
// std::invalid_argument for settings that cannot run (an unknown precision metric).
RunResult simulate(const Model& model, const Copula& copula, const RunSettings& settings);

}  // namespace spinval
