// The simulation loop: blocks of paths handed to threads, each block's uniforms drawn from
// (seed, block index), passed through the copula and the model, checked for non-finite
// numbers, stored, and its statistics merged in block order. One thread or many, the result
// is the same to the last digit.
//
//   RunResult r = simulate(model, copula, {.paths = 100000, .seed = 7});
#pragma once

#include <cstdint>
#include <functional>

#include "spinval/copula.hpp"
#include "spinval/model.hpp"
#include "spinval/sampler.hpp"
#include "spinval/statistics.hpp"

namespace spinval {

// Paths per block. Fixed, never derived from the thread count: the block is the unit of
// reproducibility.
inline constexpr std::uint64_t kBlockSize = 1024;

struct RunSettings {
  std::uint64_t paths = 100000;
  std::uint64_t seed = 1;
  SamplerKind sampler = SamplerKind::mc;
  unsigned threads = 0;  // 0: every hardware thread
  // Called with (paths done, paths total) after blocks are merged, from one thread at a time.
  std::function<void(std::uint64_t, std::uint64_t)> progress = nullptr;
};

struct RunResult {
  RunStatistics statistics;
  double seconds = 0.0;  // wall time of the simulation loop
  unsigned threads = 1;
};

unsigned resolveThreads(unsigned requested);

// Throws SimulationError naming the path and seed if any output is NaN or infinite.
RunResult simulate(const Model& model, const GaussianCopula& copula, const RunSettings& settings);

}  // namespace spinval
