// Nanoseconds per draw of the inverse CDFs the scenarios use, side by side: normal (batch and per
// element), lognormal, PERT through its table (batch and per element), a U-shaped beta, the same
// PERT inverting the incomplete beta each time (Boost's ibeta_inv, as the table's reference), and
// the cost of building a table. Fixed seeds; items processed are draws (tables for the build).
//
//   build/release/bench/spinval_distribution_bench --benchmark_out=dist.json
//       --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <boost/math/special_functions/beta.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "spinval/distribution.hpp"
#include "spinval/quantile_table.hpp"
#include "spinval/rng.hpp"

namespace {

using namespace spinval;

constexpr std::size_t kDraws = 4096;

// kDraws uniforms in (0, 1) from a fixed stream.
const std::vector<double>& uniforms() {
  static const std::vector<double> u = [] {
    Engine engine = makeEngine(20260101, 0, hashName("distribution_bench"));
    std::vector<double> values(kDraws);
    for (double& v : values) v = toOpenUnit(engine());
    return values;
  }();
  return u;
}

// Times fill(u, out, n) over the kDraws uniforms; items are draws.
template <class Fill>
void timeDraws(benchmark::State& state, Fill fill) {
  const std::vector<double>& u = uniforms();
  std::vector<double> out(u.size());
  for (auto _ : state) {
    fill(u.data(), out.data(), u.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(u.size()));
}

void drawBatches(benchmark::State& state, const Distribution& d) {
  timeDraws(state, [&d](const double* u, double* out, std::size_t n) { d.quantiles(u, out, n); });
}

// The same one quantile(u) call at a time.
template <class Quantile>
void drawEach(benchmark::State& state, Quantile quantile) {
  timeDraws(state, [&quantile](const double* u, double* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = quantile(u[i]);
  });
}

void BM_Normal(benchmark::State& state) {
  drawBatches(state, Distribution(Normal{0.1, 0.05}));
}
BENCHMARK(BM_Normal);

// The standard normal quantile alone: normalQuantiles over the batch, and normalQuantile called
// per element (as the copula scores its uniforms).
void BM_StandardNormal(benchmark::State& state) {
  timeDraws(state, normalQuantiles);
}
BENCHMARK(BM_StandardNormal);

void BM_StandardNormalPerElement(benchmark::State& state) {
  drawEach(state, normalQuantile);
}
BENCHMARK(BM_StandardNormalPerElement);

void BM_Lognormal(benchmark::State& state) {
  drawBatches(state, Distribution(lognormalFromMedian(25e9, 0.4)));
}
BENCHMARK(BM_Lognormal);

// PERT(0.18, 0.31, 0.45): Beta(1.93, 3.07) on [0.18, 0.45], as market.growth_start.
void BM_PertTable(benchmark::State& state) {
  drawBatches(state, Distribution(Pert{0.18, 0.31, 0.45}));
}
BENCHMARK(BM_PertTable);

// The same PERT drawn one quantile() at a time.
void BM_PertTablePerElement(benchmark::State& state) {
  const Distribution d(Pert{0.18, 0.31, 0.45});
  drawEach(state, [&d](double u) { return d.quantile(u); });
}
BENCHMARK(BM_PertTablePerElement);

// A beta whose density is infinite at both ends, tabulated in p as the PERTs are.
void BM_BetaTable(benchmark::State& state) {
  drawBatches(state, Distribution(Beta{0.5, 0.5}));
}
BENCHMARK(BM_BetaTable);

void BM_PertTruncatedTable(benchmark::State& state) {
  drawBatches(state, Distribution(Pert{0.18, 0.31, 0.45}, 0.2, 0.4));
}
BENCHMARK(BM_PertTruncatedTable);

// The same PERT by inverting the incomplete beta per draw, in double as the distributions did
// before the table: x from the lower tail for u <= 1/2, 1 - x from the upper one above.
void BM_PertExact(benchmark::State& state) {
  namespace policies = boost::math::policies;
  constexpr policies::policy<policies::promote_double<false>> kDouble;
  const double min = 0.18, mode = 0.31, max = 0.45, w = max - min;
  const double alpha = 1.0 + 4.0 * (mode - min) / w, beta = 1.0 + 4.0 * (max - mode) / w;
  const std::vector<double>& u = uniforms();
  std::vector<double> out(u.size());
  for (auto _ : state) {
    for (std::size_t i = 0; i < u.size(); ++i) {
      out[i] = u[i] <= 0.5 ? min + w * boost::math::ibeta_inv(alpha, beta, u[i], kDouble)
                           : max - w * boost::math::ibeta_inv(beta, alpha, 1.0 - u[i], kDouble);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(u.size()));
}
BENCHMARK(BM_PertExact);

// One draw from each of 40 PERTs with different modes per path, as the base scenario draws:
// forty tables in cache at once.
void BM_PertTable40(benchmark::State& state) {
  std::vector<Distribution> perts;
  for (int k = 0; k < 40; ++k) perts.emplace_back(Pert{0.0, (k + 0.5) / 40.0, 1.0});
  const std::vector<double>& u = uniforms();
  const std::size_t paths = u.size() / perts.size();
  std::vector<double> out(u.size());
  for (auto _ : state) {
    for (std::size_t path = 0; path < paths; ++path) {
      for (std::size_t k = 0; k < perts.size(); ++k) {
        const std::size_t i = path * perts.size() + k;
        out[i] = perts[k].quantile(u[i]);
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * paths * perts.size()));
}
BENCHMARK(BM_PertTable40);

// Building the table of one PERT shape (both halves, every octave checked against Boost's ibeta).
void BM_BetaTableBuild(benchmark::State& state) {
  for (auto _ : state) {
    const BetaQuantileTable table(1.93, 3.07);
    benchmark::DoNotOptimize(table.intervals());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_BetaTableBuild)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
