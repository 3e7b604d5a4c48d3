// Scenario against scenario, path by path. The runs of a comparison share the seed, path count
// and sampler, so inputs they share draw the same uniforms on every path (common random
// numbers; see sampler.hpp). compareRuns takes each run's stored per-path values (exact
// quantile mode) and reports every common output's summary per scenario and, for each scenario
// after the first, the paired difference of means to the first with its standard error.
//
//   std::vector<const RunStatistics*> runs = {&base.statistics, &bear.statistics};
//   Comparison c = compareRuns(runs);
//   c.metrics[0].differences[0].stderror  // paired, ev_usd, bear - base
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "spinval/statistics.hpp"

namespace spinval {

// One output of one scenario.
struct ScenarioMetric {
  double mean = 0, stderror = 0, p05 = 0, p50 = 0, p95 = 0;
};

// Scenario B against the first scenario A on one output, with d_i = x_B,i - x_A,i:
//   mean              mean of d_i (equal to mean_B - mean_A up to rounding)
//   stderror          standard error of that mean from the d_i, under the run's error model
//   unpairedStderror  sqrt(se_A^2 + se_B^2): the error if the runs were independent
//   probabilityGreater  share of paths with x_B,i > x_A,i, and its standard error (the error
//                       model applied to the indicator)
struct PairedDifference {
  double mean = 0, stderror = 0, unpairedStderror = 0;
  double probabilityGreater = 0, probabilityStderror = 0;
};

struct MetricComparison {
  std::string name;
  std::vector<ScenarioMetric> scenarios;      // one per run
  std::vector<PairedDifference> differences;  // differences[j - 1]: run j against run 0
};

struct Comparison {
  std::uint64_t paths = 0;
  ErrorModel errorModel = ErrorModel::iid;
  std::vector<MetricComparison> metrics;  // the first run's outputs that every run has
};

// Standard error of the mean of per-path values under an error model: sd / sqrt(n) (iid), from
// the means of pairs (2k, 2k + 1) (pairs), or from the means of the kSobolReplicates
// replicates p mod R (replicates), as RunStatistics::meanStderror estimates it.
double meanStderrorOf(ErrorModel model, std::span<const double> values);

// Compares at least one run; every run must store its values, and all must have merged the
// same number of paths under the same error model. Throws std::invalid_argument otherwise.
Comparison compareRuns(std::span<const RunStatistics* const> runs);

}  // namespace spinval
