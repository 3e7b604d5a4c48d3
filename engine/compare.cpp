// Paired comparison of runs from their stored per-path values.
#include "spinval/compare.hpp"

#include <array>
#include <cmath>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace spinval {

namespace {

// Mean and standard error of the values of f(i), i = 0 .. n - 1, under an error model.
template <class Value>
std::pair<double, double> meanAndStderror(ErrorModel model, std::uint64_t n, Value value) {
  Moments all;
  for (std::uint64_t i = 0; i < n; ++i) all.add(value(i));
  switch (model) {
    case ErrorModel::iid:
      break;
    case ErrorModel::pairs: {
      Moments pairs;
      for (std::uint64_t i = 0; i + 1 < n; i += 2) pairs.add(0.5 * (value(i) + value(i + 1)));
      return {all.mean(), pairs.stderror()};
    }
    case ErrorModel::replicates: {
      std::array<Moments, kSobolReplicates> replicates;
      for (std::uint64_t i = 0; i < n; ++i) replicates[i % kSobolReplicates].add(value(i));
      Moments means;
      for (const Moments& replicate : replicates) means.add(replicate.mean());
      return {all.mean(), means.stderror()};
    }
  }
  return {all.mean(), all.stderror()};
}

}  // namespace

double meanStderrorOf(ErrorModel model, std::span<const double> values) {
  return meanAndStderror(model, values.size(), [&](std::uint64_t i) { return values[i]; }).second;
}

Comparison compareRuns(std::span<const RunStatistics* const> runs) {
  if (runs.empty()) throw std::invalid_argument("a comparison needs at least one run");
  const RunStatistics& first = *runs[0];
  Comparison comparison;
  comparison.paths = first.merged();
  comparison.errorModel = first.options().errorModel;
  for (const RunStatistics* run : runs) {
    if (!run->storesValues())
      throw std::invalid_argument("a comparison needs every path's values (exact quantiles)");
    if (run->merged() != comparison.paths)
      throw std::invalid_argument("the runs of a comparison must have the same number of paths");
    if (run->options().errorModel != comparison.errorModel)
      throw std::invalid_argument("the runs of a comparison must use the same sampler");
  }
  if (comparison.paths == 0) throw std::invalid_argument("a comparison needs at least one path");

  const std::uint64_t n = comparison.paths;
  const std::array<double, 3> probabilities = {0.05, 0.50, 0.95};
  for (std::size_t k0 = 0; k0 < first.layout().outputs.size(); ++k0) {
    const std::string& name = first.layout().outputs[k0];
    std::vector<std::size_t> index;
    for (const RunStatistics* run : runs) {
      if (auto k = run->layout().outputIndex(name)) index.push_back(*k);
    }
    if (index.size() != runs.size()) continue;

    MetricComparison metric;
    metric.name = name;
    for (std::size_t j = 0; j < runs.size(); ++j) {
      const auto values = runs[j]->outputValues(index[j]);
      std::vector<double> scratch(values.begin(), values.end());
      const auto q = quantilesOf(scratch, probabilities);
      ScenarioMetric m;
      m.mean = runs[j]->totals().outputs.at(index[j]).mean();
      m.stderror = runs[j]->meanStderror(index[j]);
      m.p05 = q[0];
      m.p50 = q[1];
      m.p95 = q[2];
      metric.scenarios.push_back(m);
    }
    const auto a = runs[0]->outputValues(index[0]);
    for (std::size_t j = 1; j < runs.size(); ++j) {
      const auto b = runs[j]->outputValues(index[j]);
      PairedDifference d;
      std::tie(d.mean, d.stderror) =
          meanAndStderror(comparison.errorModel, n, [&](std::uint64_t i) { return b[i] - a[i]; });
      std::tie(d.probabilityGreater, d.probabilityStderror) = meanAndStderror(
          comparison.errorModel, n, [&](std::uint64_t i) { return b[i] > a[i] ? 1.0 : 0.0; });
      d.unpairedStderror = std::hypot(metric.scenarios[0].stderror, metric.scenarios[j].stderror);
      metric.differences.push_back(d);
    }
    comparison.metrics.push_back(std::move(metric));
  }
  return comparison;
}

}  // namespace spinval
