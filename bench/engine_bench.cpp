// The engine's parts on the base scenario, one benchmark each, and the floor the model is
// measured against: drawing and transforming the variates of a block of paths and nothing
// else. Fixed seeds; items processed are paths (values for the quantile benchmarks, files for
// loading). BM_ModelOverFloor times the floor and the model on the same blocks, interleaved,
// and reports their ratio as the counter `model_over_floor`, so one run gives it.
//
//   build/release/bench/spinval_bench --benchmark_out=bench.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "spinval/copula.hpp"
#include "spinval/distribution.hpp"
#include "spinval/rng.hpp"
#include "spinval/sampler.hpp"
#include "spinval/scenario_loader.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"
#include "spinval/thead_model.hpp"

namespace {

using namespace spinval;

constexpr std::uint64_t kSeed = 20260122;
constexpr auto kRows = static_cast<Eigen::Index>(kBlockSize);

std::string scenarioPath(const char* name) {
  return std::string(SPINVAL_SOURCE_DIR) + "/scenarios/" + name;
}

const TheadModel& model() {
  static const TheadModel m(loadScenario(scenarioPath("thead-base.yaml")));
  return m;
}

const Copula& copula() {
  static const Copula c = Copula::fromScenario(model().scenario().correlations, model().layout());
  return c;
}

const Layout& sampledLayout() {
  static const Layout l = copula().samplingLayout(model().layout());
  return l;
}

// The floor: for every variate of a block of paths, its uniform from the same stream the mc
// sampler uses (SplitMix64 keyed by seed, block and dimension name, toOpenUnit) and its inverse
// CDF, a column at a time through the same batch functions the model uses: the marginal's
// Distribution::quantiles for each static input, normalQuantiles for the copula's correlated
// inputs as well (the copula's normal transform) and for the normal yearly
// shocks and the discrete inverse CDF of a transition row for the regime's. No copula matrix,
// no model arithmetic, no statistics.
class Floor {
 public:
  Floor() : layout_(sampledLayout()) {
    const Scenario& s = model().scenario();
    for (std::size_t d = 0; d < layout_.dimensions(); ++d) {
      ids_.push_back(hashName(layout_.dimensionName(d)));
    }
    for (const auto& key : s.correlations.keys) {
      correlated_.push_back(*layout_.staticIndex(key));
    }
    std::vector<double> states(s.regime.states.size());
    for (std::size_t k = 0; k < states.size(); ++k) states[k] = static_cast<double>(k);
    regimeRow_ = Distribution(
        Discrete{states, s.regime.transition[static_cast<std::size_t>(s.regime.initial)]});
    u_.resize(kRows, static_cast<Eigen::Index>(layout_.dimensions()));
    x_.resize(kRows, static_cast<Eigen::Index>(layout_.dimensions()) +
                         static_cast<Eigen::Index>(correlated_.size()));
  }

  void run(std::uint64_t block) {
    const auto n = static_cast<std::size_t>(kRows);
    for (Eigen::Index d = 0; d < u_.cols(); ++d) {
      Engine engine = makeEngine(kSeed, block, ids_[static_cast<std::size_t>(d)]);
      double* column = u_.col(d).data();
      for (Eigen::Index i = 0; i < kRows; ++i) column[i] = toOpenUnit(engine());
    }
    const std::size_t statics = layout_.staticInputs.size();
    for (std::size_t d = 0; d < statics; ++d) {
      const auto c = static_cast<Eigen::Index>(d);
      layout_.staticInputs[d].distribution.quantiles(u_.col(c).data(), x_.col(c).data(), n);
    }
    for (std::size_t j = 0; j < correlated_.size(); ++j) {
      const double* u = u_.col(static_cast<Eigen::Index>(correlated_[j])).data();
      double* z = x_.col(u_.cols() + static_cast<Eigen::Index>(j)).data();
      normalQuantiles(u, z, n);
    }
    const std::size_t shocks = layout_.yearlyShocks.size();
    for (int y = 1; y <= layout_.years; ++y) {
      for (std::size_t k = 0; k < shocks; ++k) {
        const auto c = static_cast<Eigen::Index>(layout_.yearlyDimension(y, k));
        const double* u = u_.col(c).data();
        double* out = x_.col(c).data();
        if (k + 1 == shocks) {  // regime.transition
          regimeRow_.quantiles(u, out, n);
        } else {
          normalQuantiles(u, out, n);
        }
      }
    }
    benchmark::DoNotOptimize(x_.data());
    benchmark::ClobberMemory();
  }

  std::size_t variates() const { return layout_.dimensions() + correlated_.size(); }

 private:
  const Layout& layout_;
  std::vector<std::uint64_t> ids_;
  std::vector<std::size_t> correlated_;
  Distribution regimeRow_;
  Eigen::MatrixXd u_, x_;
};

// The model's work on a block, as BM_ModelBlock measures it: mc sampler, copula, model.
class ModelBlock {
 public:
  ModelBlock() : sampler_(SamplerKind::mc, kSeed, sampledLayout()) {
    u_.resize(kRows, static_cast<Eigen::Index>(sampledLayout().dimensions()));
    out_.resize(model().layout(), kRows);
  }

  void run(std::uint64_t block) {
    sampler_.fill(block, block * kBlockSize, u_, {});
    copula().apply(u_);
    model().evaluate(u_.leftCols(static_cast<Eigen::Index>(model().layout().dimensions())), out_);
    benchmark::DoNotOptimize(out_.outputs.data());
    benchmark::ClobberMemory();
  }

  const BlockOutput& output() const { return out_; }

 private:
  Sampler sampler_;
  Eigen::MatrixXd u_;
  BlockOutput out_;
};

void setPaths(benchmark::State& state, std::int64_t perIteration) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * perIteration);
}

void BM_Floor(benchmark::State& state) {
  Floor floor;
  std::uint64_t block = 0;
  for (auto _ : state) floor.run(block++);
  setPaths(state, kRows);
  state.counters["variates_per_path"] = static_cast<double>(floor.variates());
}
BENCHMARK(BM_Floor);

// The model and the floor on the same blocks, alternating, so that whatever else the machine
// does slows both alike. Time per iteration is one block of each; the counters are the ratio
// and each side's nanoseconds per path.
void BM_ModelOverFloor(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  Floor floor;
  ModelBlock modelBlock;
  Clock::duration floorTime{}, modelTime{};
  std::uint64_t block = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    floor.run(block);
    const auto t1 = Clock::now();
    modelBlock.run(block);
    const auto t2 = Clock::now();
    floorTime += t1 - t0;
    modelTime += t2 - t1;
    ++block;
  }
  setPaths(state, kRows);
  const double paths = static_cast<double>(state.iterations()) * static_cast<double>(kRows);
  const double floorNs = std::chrono::duration<double, std::nano>(floorTime).count();
  const double modelNs = std::chrono::duration<double, std::nano>(modelTime).count();
  state.counters["model_over_floor"] = modelNs / floorNs;
  state.counters["floor_ns_per_path"] = floorNs / paths;
  state.counters["model_ns_per_path"] = modelNs / paths;
}
BENCHMARK(BM_ModelOverFloor);

// The model's arithmetic alone, on uniforms drawn once.
void BM_ModelEvaluate(benchmark::State& state) {
  const Sampler sampler(SamplerKind::mc, kSeed, sampledLayout());
  Eigen::MatrixXd u(kRows, static_cast<Eigen::Index>(sampledLayout().dimensions()));
  sampler.fill(0, 0, u, {});
  copula().apply(u);
  BlockOutput out;
  out.resize(model().layout(), kRows);
  const auto columns = static_cast<Eigen::Index>(model().layout().dimensions());
  for (auto _ : state) {
    model().evaluate(u.leftCols(columns), out);
    benchmark::DoNotOptimize(out.outputs.data());
    benchmark::ClobberMemory();
  }
  setPaths(state, kRows);
}
BENCHMARK(BM_ModelEvaluate);

void BM_Copula(benchmark::State& state) {
  const Sampler sampler(SamplerKind::mc, kSeed, sampledLayout());
  Eigen::MatrixXd drawn(kRows, static_cast<Eigen::Index>(sampledLayout().dimensions()));
  sampler.fill(0, 0, drawn, {});
  Eigen::MatrixXd u = drawn;
  for (auto _ : state) {
    state.PauseTiming();
    u = drawn;
    state.ResumeTiming();
    copula().apply(u);
    benchmark::DoNotOptimize(u.data());
  }
  setPaths(state, kRows);
}
BENCHMARK(BM_Copula);

// One block's uniforms from each sampler (argument: SamplerKind, in the order mc, antithetic,
// lhs, sobol); lhs within a round of 2^20 paths.
void BM_SamplerFill(benchmark::State& state) {
  const auto kind = static_cast<SamplerKind>(state.range(0));
  state.SetLabel(samplerName(kind));
  const Sampler sampler(kind, kSeed, sampledLayout());
  const Round round{0, 0, std::uint64_t{1} << 20};
  const std::uint64_t blocks = round.paths / kBlockSize;
  Eigen::MatrixXd u(kRows, static_cast<Eigen::Index>(sampledLayout().dimensions()));
  std::uint64_t block = 0;
  for (auto _ : state) {
    sampler.fill(block, block * kBlockSize, u, round);
    benchmark::DoNotOptimize(u.data());
    benchmark::ClobberMemory();
    block = (block + 1) % blocks;
  }
  setPaths(state, kRows);
}
BENCHMARK(BM_SamplerFill)->DenseRange(0, 3)->ArgName("sampler");

// A block's statistics (moments of every output and yearly output, regime counts).
void BM_BlockStatistics(benchmark::State& state) {
  ModelBlock block;
  block.run(0);
  const RunStatistics statistics(model().layout(), kBlockSize);
  for (auto _ : state) {
    BlockStatistics stats = statistics.blockStatistics(0, block.output());
    benchmark::DoNotOptimize(stats.outputs.data());
  }
  setPaths(state, kRows);
}
BENCHMARK(BM_BlockStatistics);

// Merging one block's statistics into a run's totals, as the simulation does in block order.
void BM_StatisticsMerge(benchmark::State& state) {
  ModelBlock block;
  block.run(0);
  RunStatistics statistics(model().layout(), kBlockSize);
  const BlockStatistics stats = statistics.blockStatistics(0, block.output());
  for (auto _ : state) {
    statistics.merge(stats);
    benchmark::DoNotOptimize(&statistics.totals());
  }
  setPaths(state, kRows);
}
BENCHMARK(BM_StatisticsMerge);

// Copying a block's outputs into the run's stored values (exact quantile mode).
void BM_StatisticsStore(benchmark::State& state) {
  ModelBlock block;
  block.run(0);
  constexpr std::uint64_t kBlocks = 64;
  RunStatistics statistics(model().layout(), kBlocks * kBlockSize);
  std::uint64_t b = 0;
  for (auto _ : state) {
    statistics.store(b * kBlockSize, block.output());
    b = (b + 1) % kBlocks;
  }
  setPaths(state, kRows);
}
BENCHMARK(BM_StatisticsStore);

// The nine reported type-7 quantiles of N values (argument N): the per-column work of a
// summary in exact mode. Items are values.
void BM_Quantiles(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<double> values(n);
  Engine engine = makeEngine(kSeed, 0, hashName("bench.quantiles"));
  for (double& v : values) v = normalQuantile(toOpenUnit(engine()));
  std::vector<double> scratch(n);
  for (auto _ : state) {
    state.PauseTiming();
    scratch = values;
    state.ResumeTiming();
    auto q = quantilesOf(scratch, kReportedProbabilities);
    benchmark::DoNotOptimize(q.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n));
}
BENCHMARK(BM_Quantiles)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// The summary's per-column work without reordering the values: the 36 ranks of a reported
// output (nine quantiles' two ranks and their intervals) of N values (argument), through a
// sample and one pass. Items are values.
// orderStatisticsOf(values, ranks) on N normal values (argument), with the ranks that
// ranksOf(N) gives. Items are values.
template <class Ranks>
void timeOrderStatisticsOf(benchmark::State& state, Ranks ranksOf) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  std::vector<double> values(n);
  Engine engine = makeEngine(kSeed, 0, hashName("bench.quantiles"));
  for (double& v : values) v = normalQuantile(toOpenUnit(engine()));
  const std::vector<std::uint64_t> ranks = ranksOf(n);
  for (auto _ : state) {
    auto x = orderStatisticsOf(values, ranks);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n));
}

void BM_OrderStatisticsOf(benchmark::State& state) {
  timeOrderStatisticsOf(state, [](std::uint64_t n) {
    std::vector<std::uint64_t> ranks;
    for (double p : kReportedProbabilities) {
      const auto lo = static_cast<std::uint64_t>(static_cast<double>(n - 1) * p);
      const auto [a, b] = quantileIntervalRanks(n, p);
      ranks.insert(ranks.end(), {lo, lo + 1, a, b});
    }
    return ranks;
  });
}
BENCHMARK(BM_OrderStatisticsOf)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// The same for a yearly column, the summary's most common: the 6 ranks of p05, p50 and p95.
void BM_OrderStatisticsOfYearly(benchmark::State& state) {
  timeOrderStatisticsOf(state, [](std::uint64_t n) {
    std::vector<std::uint64_t> ranks;
    for (double p : {0.05, 0.50, 0.95}) {
      const auto lo = static_cast<std::uint64_t>(static_cast<double>(n - 1) * p);
      ranks.insert(ranks.end(), {lo, lo + 1});
    }
    return ranks;
  });
}
BENCHMARK(BM_OrderStatisticsOfYearly)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// The whole summary (moments, quantiles and intervals of every output, yearly quantiles,
// regime shares) of a run of N paths (first argument), run once outside the timing, with the
// columns on T threads (second argument).
void BM_Summarize(benchmark::State& state) {
  RunSettings settings{.paths = static_cast<std::uint64_t>(state.range(0)), .seed = kSeed};
  settings.threads = 1;
  const RunResult result = simulate(model(), copula(), settings);
  const auto threads = static_cast<unsigned>(state.range(1));
  for (auto _ : state) {
    Summary summary = summarize(result.statistics, threads);
    benchmark::DoNotOptimize(summary.outputs.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Summarize)
    ->Args({1 << 17, 1})
    ->Args({1 << 17, 2})
    ->ArgNames({"paths", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Loading and validating a scenario as `spinval validate` does: YAML, extends, every check,
// the model's layout (its beta tables) and the copula. Items are files.
void BM_LoadScenario(benchmark::State& state, const char* file) {
  const std::string path = scenarioPath(file);
  for (auto _ : state) {
    const TheadModel loaded(loadScenario(path));
    const Copula c = Copula::fromScenario(loaded.scenario().correlations, loaded.layout());
    benchmark::DoNotOptimize(&c);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_LoadScenario, base, "thead-base.yaml")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadScenario, bear, "thead-bear.yaml")->Unit(benchmark::kMillisecond);

}  // namespace
