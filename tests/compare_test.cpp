// compare.hpp on T-Head runs (a scenario against itself, base against bear) and the spinval
// compare command end to end: exit statuses, the table, the JSON keys and thread independence.
#include "spinval/compare.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "spinval/copula.hpp"
#include "spinval/scenario_loader.hpp"
#include "spinval/simulation.hpp"
#include "spinval/thead_model.hpp"
#include "test_support.hpp"

namespace spinval {
namespace {

using spinval::testing::dataPath;
using spinval::testing::runSpinval;
using spinval::testing::sourcePath;
using Json = nlohmann::ordered_json;

// A scenario's model and copula, and a run of it.
struct ScenarioRun {
  TheadModel model;
  Copula copula;
  RunResult result;

  ScenarioRun(const std::string& file, std::uint64_t paths, SamplerKind sampler = SamplerKind::mc)
      : model(loadScenario(sourcePath(file))),
        copula(Copula::fromScenario(model.scenario().correlations, model.layout())),
        result(simulate(model, copula, settings(paths, sampler))) {}

  static RunSettings settings(std::uint64_t paths, SamplerKind sampler) {
    RunSettings s;
    s.paths = paths;
    s.seed = 7;
    s.sampler = sampler;
    return s;
  }
};

std::size_t metricIndex(const Comparison& c, const std::string& name) {
  for (std::size_t k = 0; k < c.metrics.size(); ++k)
    if (c.metrics[k].name == name) return k;
  ADD_FAILURE() << "no metric " << name;
  return 0;
}

TEST(CompareRuns, ScenarioAgainstItselfDiffersByExactlyZero) {
  ScenarioRun a("scenarios/thead-base.yaml", 4096);
  ScenarioRun b("scenarios/thead-base.yaml", 4096);
  const std::vector<const RunStatistics*> runs = {&a.result.statistics, &b.result.statistics};
  const Comparison c = compareRuns(runs);
  ASSERT_EQ(c.metrics.size(), a.model.layout().outputs.size());
  for (const MetricComparison& m : c.metrics) {
    ASSERT_EQ(m.differences.size(), 1u);
    const PairedDifference& d = m.differences[0];
    EXPECT_EQ(d.mean, 0.0) << m.name;
    EXPECT_EQ(d.stderror, 0.0) << m.name;
    EXPECT_EQ(d.probabilityGreater, 0.0) << m.name;
    EXPECT_EQ(d.probabilityStderror, 0.0) << m.name;
    EXPECT_EQ(m.scenarios[0].mean, m.scenarios[1].mean) << m.name;
  }
}

TEST(CompareRuns, PairedErrorsAreSmallerThanUnpairedOnBaseAgainstBear) {
  ScenarioRun base("scenarios/thead-base.yaml", 20000);
  ScenarioRun bear("scenarios/thead-bear.yaml", 20000);
  const std::vector<const RunStatistics*> runs = {&base.result.statistics, &bear.result.statistics};
  const Comparison c = compareRuns(runs);
  for (const std::string name : {"ev_usd", "equity_usd", "parent_per_ads_usd", "mark_value_usd"}) {
    const PairedDifference& d = c.metrics[metricIndex(c, name)].differences[0];
    EXPECT_GT(d.stderror, 0.0) << name;
    EXPECT_LT(d.stderror, d.unpairedStderror) << name;
  }
}

TEST(CompareRuns, PairedDifferenceMatchesAnIndependentComputation) {
  for (SamplerKind sampler : {SamplerKind::mc, SamplerKind::antithetic, SamplerKind::sobol}) {
    ScenarioRun base("scenarios/thead-base.yaml", 8192, sampler);
    ScenarioRun bear("scenarios/thead-bear.yaml", 8192, sampler);
    const std::vector<const RunStatistics*> runs = {&base.result.statistics,
                                                    &bear.result.statistics};
    const Comparison c = compareRuns(runs);
    const std::size_t k = *base.model.layout().outputIndex("ev_usd");
    const auto a = base.result.statistics.outputValues(k);
    const auto b = bear.result.statistics.outputValues(k);
    const std::size_t n = a.size();
    ASSERT_EQ(n, 8192u);

    // Two-pass mean and variance of the error units of d: paths, pair means or replicate means.
    std::vector<double> units;
    if (sampler == SamplerKind::mc) {
      for (std::size_t i = 0; i < n; ++i) units.push_back(b[i] - a[i]);
    } else if (sampler == SamplerKind::antithetic) {
      for (std::size_t i = 0; i < n; i += 2)
        units.push_back(0.5 * ((b[i] - a[i]) + (b[i + 1] - a[i + 1])));
    } else {
      std::vector<double> sums(kSobolReplicates, 0.0);
      for (std::size_t i = 0; i < n; ++i) sums[i % kSobolReplicates] += b[i] - a[i];
      for (double sum : sums) units.push_back(sum / static_cast<double>(n / kSobolReplicates));
    }
    double mean = 0;
    for (double u : units) mean += u;
    mean /= static_cast<double>(units.size());
    double ss = 0;
    for (double u : units) ss += (u - mean) * (u - mean);
    const double m = static_cast<double>(units.size());
    const double stderror = std::sqrt(ss / (m - 1) / m);

    const MetricComparison& metric = c.metrics[metricIndex(c, "ev_usd")];
    const PairedDifference& d = metric.differences[0];
    const double scale = std::abs(metric.scenarios[0].mean);
    EXPECT_NEAR(d.mean, metric.scenarios[1].mean - metric.scenarios[0].mean, 1e-12 * scale);
    EXPECT_NEAR(d.mean, mean, 1e-12 * scale);
    EXPECT_NEAR(d.stderror, stderror, 1e-9 * stderror) << samplerName(sampler);
    EXPECT_NEAR(
        d.unpairedStderror,
        std::hypot(base.result.statistics.meanStderror(k), bear.result.statistics.meanStderror(k)),
        1e-12 * d.unpairedStderror);

    std::size_t greater = 0;
    for (std::size_t i = 0; i < n; ++i) greater += b[i] > a[i] ? 1 : 0;
    EXPECT_DOUBLE_EQ(d.probabilityGreater, static_cast<double>(greater) / static_cast<double>(n));
  }
}

TEST(CompareRuns, RefusesRunsWithoutStoredValuesOrOfDifferentSizes) {
  ScenarioRun a("scenarios/thead-base.yaml", 2048);
  ScenarioRun b("scenarios/thead-base.yaml", 1024);
  const std::vector<const RunStatistics*> runs = {&a.result.statistics, &b.result.statistics};
  EXPECT_THROW(compareRuns(runs), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// The command.

const std::string kBase = "'" + sourcePath("scenarios/thead-base.yaml") + "'";
const std::string kBear = "'" + sourcePath("scenarios/thead-bear.yaml") + "'";
const std::string kBan = "'" + sourcePath("scenarios/thead-export-ban.yaml") + "'";

TEST(CompareCommand, ThreeScenariosPrintTheTable) {
  const auto r =
      runSpinval("compare " + kBase + " " + kBear + " " + kBan + " --paths 20000 --quiet");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const std::string text : {"thead-base", "thead-bear", "thead-export-ban", "ev_usd (USD bn)",
                                 "paired se", "unpaired se", "P(X > A)", "parent_per_ads_usd"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
}

TEST(CompareCommand, JsonHasTheDocumentedKeysAndIgnoresTheThreadCount) {
  const std::string args = "compare " + kBase + " " + kBear + " --paths 4096 --json --quiet";
  const auto one = runSpinval(args + " --threads 1");
  const auto two = runSpinval(args + " --threads 2");
  ASSERT_EQ(one.status, 0) << one.err;
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_EQ(one.out, two.out);

  const Json j = Json::parse(one.out);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"scenarios", "seed", "paths", "sampler", "version",
                                            "estimation", "metrics"}));
  ASSERT_EQ(j["scenarios"].size(), 2u);
  EXPECT_EQ(j["scenarios"][1]["name"], "thead-bear");
  EXPECT_EQ(j["scenarios"][0]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["paths"], 4096);
  const Json& ev = j["metrics"]["ev_usd"];
  ASSERT_EQ(ev["scenarios"].size(), 2u);
  for (const char* key : {"mean", "stderr", "p05", "p50", "p95"})
    EXPECT_TRUE(ev["scenarios"][0].contains(key)) << key;
  ASSERT_EQ(ev["differences"].size(), 1u);
  const Json& d = ev["differences"][0];
  for (const char* key : {"scenario", "against", "mean_difference", "stderr", "unpaired_stderr",
                          "p_greater", "p_greater_stderr"})
    EXPECT_TRUE(d.contains(key)) << key;
  EXPECT_LT(d["stderr"].get<double>(), d["unpaired_stderr"].get<double>());
}

TEST(CompareCommand, BadInputExitsTwo) {
  const auto bad = runSpinval("compare " + kBase + " '" + dataPath("bad/duplicate-key.yaml") +
                              "' --paths 1024 --quiet");
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_NE(bad.err.find("duplicate-key.yaml:"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());

  const auto one = runSpinval("compare " + kBase + " --paths 1024 --quiet");
  EXPECT_EQ(one.status, 2) << one.err;

  const auto budget =
      runSpinval("compare " + kBase + " " + kBear + " --paths 100000 --memory-budget 1M --quiet");
  EXPECT_EQ(budget.status, 2) << budget.err;
  EXPECT_NE(budget.err.find("memory budget"), std::string::npos) << budget.err;
}

}  // namespace
}  // namespace spinval
