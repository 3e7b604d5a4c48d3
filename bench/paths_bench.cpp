// Paths per second of the base scenario: the model kernel on one block, and whole runs on one
// and on every thread. Fixed seeds; items processed are paths.
//
//   build/release/bench/spinval_bench --benchmark_out=bench.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <string>

#include "spinval/copula.hpp"
#include "spinval/sampler.hpp"
#include "spinval/scenario_loader.hpp"
#include "spinval/simulation.hpp"
#include "spinval/thead_model.hpp"

namespace {

using namespace spinval;

const TheadModel& baseModel() {
  static const TheadModel model(
      loadScenario(std::string(SPINVAL_SOURCE_DIR) + "/scenarios/thead-base.yaml"));
  return model;
}

// One block: sampler, copula and model, without statistics.
void BM_ModelBlock(benchmark::State& state) {
  const TheadModel& model = baseModel();
  const Copula copula = Copula::fromScenario(model.scenario().correlations, model.layout());
  const Layout sampled = copula.samplingLayout(model.layout());
  const Sampler sampler(SamplerKind::mc, 1, sampled);
  const auto rows = static_cast<Eigen::Index>(kBlockSize);
  const auto modelColumns = static_cast<Eigen::Index>(model.layout().dimensions());
  Eigen::MatrixXd u(rows, static_cast<Eigen::Index>(sampled.dimensions()));
  BlockOutput out;
  out.resize(model.layout(), rows);
  std::uint64_t block = 0;
  for (auto _ : state) {
    sampler.fill(block, block * kBlockSize, u, {});
    copula.apply(u);
    model.evaluate(u.leftCols(modelColumns), out);
    benchmark::DoNotOptimize(out.outputs.data());
    ++block;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * rows);
}
BENCHMARK(BM_ModelBlock);

// A whole run of 100,000 paths, statistics and stored values included.
void BM_Run(benchmark::State& state) {
  const TheadModel& model = baseModel();
  const Copula copula = Copula::fromScenario(model.scenario().correlations, model.layout());
  RunSettings settings{.paths = 100000, .seed = 1};
  settings.threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    RunResult result = simulate(model, copula, settings);
    benchmark::DoNotOptimize(result.statistics.totals().outputs.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * settings.paths));
}
BENCHMARK(BM_Run)->Arg(1)->Arg(0)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
