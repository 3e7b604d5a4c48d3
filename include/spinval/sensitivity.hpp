// Which inputs move a model's output: tornado swings, Spearman rank correlations and Sobol
// indices of one per-path output, for any Model. The factors are the layout's non-constant
// static inputs, one each, and the yearly shocks as one group. Blocks of paths are drawn from
// (seed, block index) as in simulate(), every pinned or pick-freeze variant of a block reuses
// the block's uniforms (common random numbers), and per-path results are stored at their path
// index, so the numbers never depend on the thread count.
//
//   SensitivitySettings settings;
//   settings.paths = 4096;
//   SensitivityResult r = analyseSensitivity(model, copula, settings);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "spinval/copula.hpp"
#include "spinval/model.hpp"

namespace spinval {

// The name of the group of every yearly shock.
inline constexpr const char* kYearlyShocksGroup = "yearly shocks";

// One factor: a static input, or the group of all yearly shock dimensions.
struct SensitivityFactor {
  std::string name;
  std::vector<std::size_t> dimensions;  // block columns
  bool group = false;
};

// The factors of a layout: every static input whose distribution is not constant, in layout
// order, then "yearly shocks" if the layout has any.
std::vector<SensitivityFactor> sensitivityFactors(const Layout& layout);

struct SensitivitySettings {
  std::string metric = "ev_usd";  // a per-path output of the model
  bool tornado = true, rank = true, sobol = true;
  std::uint64_t paths = 4096;  // paths per run; for sobol, the rows N of each matrix
  std::uint64_t seed = 1;
  unsigned threads = 0;  // 0: every hardware thread
  int bootstrap = 200;   // resamples for the Sobol intervals
  // Called with (blocks done, blocks planned), one thread at a time.
  std::function<void(std::uint64_t, std::uint64_t)> progress = nullptr;
};

// Tornado: the metric with the factor's uniforms pinned at 0.1 and at 0.9 after the copula,
// every other uniform as in the base run.
struct TornadoRow {
  std::string input;
  bool group = false;
  double lowValue = 0, highValue = 0;  // the input's P10 and P90 (NaN for a group)
  double medianLow = 0, medianHigh = 0, meanLow = 0, meanHigh = 0;
  double swing = 0;  // |medianHigh - medianLow|
};

// Rank: Spearman's rho of the factor with the metric over the base run, and rho^2 / sum rho^2.
struct RankRow {
  std::string input;
  bool group = false;
  double spearman = 0, share = 0;
};

// Sobol: first-order (Saltelli 2010) and total (Jansen 1999) indices of the factor's
// independent copula factor, with bootstrap standard deviations and percentile intervals.
struct SobolRow {
  std::string input;
  bool group = false;
  double first = 0, firstSd = 0, firstLo = 0, firstHi = 0;
  double total = 0, totalSd = 0, totalLo = 0, totalHi = 0;
};

struct SensitivityResult {
  std::string metric;
  std::uint64_t paths = 0, seed = 1;
  bool correlated = false;  // the copula ties some factors together
  double baseMean = 0, baseMedian = 0;
  std::vector<TornadoRow> tornado;  // sorted by swing, largest first
  std::uint64_t tornadoEvaluations = 0;
  std::vector<RankRow> rank;           // sorted by |rho|, largest first
  std::vector<SobolRow> sobol;         // sorted by total index, largest first
  std::uint64_t sobolEvaluations = 0;  // N (k + 2)
  double sobolVariance = 0;            // of the metric over A and B
  int bootstrap = 0;
  std::uint64_t bootstrapSeed = 0;
  double seconds = 0;
  unsigned threads = 1;
};

// Throws std::invalid_argument for an unknown metric, no paths or no factors, and
// SimulationError for a non-finite metric (naming the path of the base run and the seed).
SensitivityResult analyseSensitivity(const Model& model, const Copula& copula,
                                     const SensitivitySettings& settings);

// Spearman's rank correlation of two equally long samples, ties given their average rank.
double spearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace spinval
