// Tests of the scenario loader: every bad file in tests/data/bad against the location and key
// its "# expect:" line names, the valid files' values, extends merging, --set overrides,
// defaults and the scenario hash.
#include "spinval/scenario_loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "spinval/copula.hpp"
#include "spinval/error.hpp"
#include "test_support.hpp"

namespace spinval {
namespace {

using spinval::testing::dataPath;

std::string valid(const std::string& name) {
  return dataPath("valid/" + name);
}

// The first line of a bad file: "# expect: <dotted key> @ <file basename>:<line>:<column>".
struct Expectation {
  std::string key;
  std::string file;
  int line = 0;
  int column = 0;
};

// Parsed by hand: std::regex trips GCC 12's -Wmaybe-uninitialized under the sanitizer build.
Expectation readExpectation(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  const std::string prefix = "# expect: ";
  const std::size_t at = first.find(" @ ");
  const std::size_t colon2 = first.rfind(':');
  const std::size_t colon1 = colon2 == std::string::npos ? colon2 : first.rfind(':', colon2 - 1);
  Expectation e;
  if (first.starts_with(prefix) && at != std::string::npos && colon1 != std::string::npos &&
      colon1 > at) {
    e.key = first.substr(prefix.size(), at - prefix.size());
    e.file = first.substr(at + 3, colon1 - at - 3);
    e.line = std::atoi(first.c_str() + colon1 + 1);
    e.column = std::atoi(first.c_str() + colon2 + 1);
  }
  if (e.key.empty() || e.key.find(' ') != std::string::npos || e.line <= 0 || e.column <= 0) {
    ADD_FAILURE() << file << ": first line is not '# expect: KEY @ FILE:LINE:COLUMN'";
  }
  return e;
}

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::filesystem::path> badFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dataPath("bad"))) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(BadScenarios, EveryFileFailsWhereItsExpectLineSays) {
  const auto files = badFiles();
  ASSERT_GE(files.size(), 20u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const Expectation expected = readExpectation(file);
    try {
      loadScenario(file.string());
      ADD_FAILURE() << "loaded without an error";
    } catch (const InputError& e) {
      EXPECT_TRUE(endsWith(e.where().file, "/" + expected.file) || e.where().file == expected.file)
          << e.what();
      EXPECT_EQ(e.where().line, expected.line) << e.what();
      EXPECT_EQ(e.where().column, expected.column) << e.what();
      EXPECT_EQ(e.key(), expected.key) << e.what();
      // The message reads "file:line:column: key: what was expected, what was found".
      const std::string where = expected.file + ":" + std::to_string(expected.line) + ":" +
                                std::to_string(expected.column) + ": " + expected.key + ": ";
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  }
}

// The rules of docs/model.md section 5 and the domain checks each have a file of their own.
TEST(BadScenarios, OneFilePerRule) {
  for (const char* rule :
       {"malformed-yaml", "unknown-key", "missing-key", "wrong-type", "out-of-domain", "min-ge-max",
        "mode-outside", "sd-nonpositive", "probs-sum", "support-outside-domain",
        "not-positive-definite", "correlated-constant", "unknown-correlation-key",
        "transition-row-sum", "ipo-year-outside", "wacc-terminal-gap", "extends-cycle-a",
        "extends-cycle-b", "extends-missing"}) {
    EXPECT_TRUE(std::filesystem::exists(dataPath(std::string("bad/") + rule + ".yaml"))) << rule;
  }
}

std::string messageOf(const std::string& file, const std::vector<std::string>& overrides = {}) {
  try {
    loadScenario(file, overrides);
  } catch (const InputError& e) {
    return e.detail();
  }
  return "";
}

TEST(BadScenarios, MessagesSayWhatWasExpectedAndFound) {
  EXPECT_EQ(messageOf(dataPath("bad/out-of-domain.yaml")), "expected a number in (0, 1], got 1.5");
  EXPECT_EQ(messageOf(dataPath("bad/support-outside-domain.yaml")),
            "normal(mean 0.1, sd 0.1) reaches below 0 and reaches above 1 (expected values in "
            "[0, 1)); add min: 0 and a max below 1");
  EXPECT_EQ(messageOf(dataPath("bad/transition-row-sum.yaml")),
            "expected transition probabilities that sum to 1 (+-1e-9), got a sum of 1.1");
  EXPECT_NE(messageOf(dataPath("bad/not-positive-definite.yaml"))
                .find("correlation matrix is not positive definite (smallest eigenvalue -0.8"),
            std::string::npos);
  EXPECT_NE(messageOf(dataPath("bad/unknown-key.yaml")).find("did you mean 'advantage'?"),
            std::string::npos);
  EXPECT_NE(messageOf(dataPath("bad/extends-cycle-a.yaml"))
                .find("extends-cycle-a.yaml -> " + dataPath("bad/extends-cycle-b.yaml") + " -> "),
            std::string::npos);
  EXPECT_NE(messageOf(dataPath("bad/wacc-terminal-gap.yaml")).find("wacc can be 0.09"),
            std::string::npos);
}

TEST(BadScenarios, MissingTopLevelFileNamesIt) {
  try {
    loadScenario(dataPath("valid/no-such-file.yaml"));
    FAIL() << "loaded a missing file";
  } catch (const InputError& e) {
    EXPECT_TRUE(endsWith(e.where().file, "no-such-file.yaml"));
    EXPECT_EQ(e.where().line, 0);
  }
}

// ---- the valid files

double constantOf(const Distribution& d) {
  EXPECT_TRUE(d.isConstant()) << d.describe();
  return d.lower();
}

TEST(ValidScenarios, EverySamplerIsAcceptedInTheScenario) {
  for (const char* sampler : {"mc", "antithetic", "lhs", "sobol"}) {
    const Scenario s = loadScenario(dataPath("valid/minimal.yaml"),
                                    {std::string("simulation.sampler=") + sampler});
    EXPECT_EQ(s.simulation.sampler, sampler);
  }
}

TEST(ValidScenarios, MinimalLoadsEveryValue) {
  const Scenario s = loadScenario(valid("minimal.yaml"));
  EXPECT_EQ(s.name, "minimal");
  EXPECT_EQ(s.description, "A small complete scenario for the loader tests");
  EXPECT_EQ(s.file, valid("minimal.yaml"));
  EXPECT_EQ(s.baseYear, 2025);
  EXPECT_EQ(s.horizonYears, 3);
  EXPECT_EQ(s.simulation.paths, 1000u);
  EXPECT_EQ(s.simulation.seed, 7u);
  EXPECT_EQ(s.simulation.sampler, "mc");

  EXPECT_EQ(constantOf(s.market.unitsBase), 4e6);
  const auto* growth = std::get_if<Normal>(&s.market.growthStart.kind());
  ASSERT_NE(growth, nullptr);
  EXPECT_EQ(growth->mean, 0.3);
  EXPECT_EQ(growth->sd, 0.05);
  EXPECT_EQ(constantOf(s.market.growthEnd), 0.1);
  EXPECT_EQ(s.market.growthSigma, 0.05);

  EXPECT_EQ(constantOf(s.company.shipmentsBase), 200000);
  EXPECT_EQ(constantOf(s.company.shareCeiling), 0.2);
  EXPECT_EQ(constantOf(s.company.adoptionSpeed), 0.5);
  EXPECT_EQ(s.company.executionSigma, 0.1);
  EXPECT_EQ(constantOf(s.company.capacityBase), 300000);
  EXPECT_EQ(constantOf(s.company.capacityGrowth), 0.4);
  EXPECT_EQ(constantOf(s.company.captiveShareStart), 0.6);
  EXPECT_EQ(constantOf(s.company.captiveShareEnd), 0.4);
  EXPECT_EQ(constantOf(s.company.captiveMarkup), 0.1);

  EXPECT_EQ(s.regime.states, (std::vector<std::string>{"open", "restricted", "banned"}));
  EXPECT_EQ(s.regime.initial, 1);
  ASSERT_EQ(s.regime.transition.size(), 3u);
  EXPECT_EQ(s.regime.transition[0], (std::vector<double>{0.7, 0.25, 0.05}));
  EXPECT_EQ(s.regime.transition[1], (std::vector<double>{0.15, 0.7, 0.15}));
  EXPECT_EQ(s.regime.transition[2], (std::vector<double>{0.05, 0.2, 0.75}));
  EXPECT_EQ(s.regime.shareMultiplier, (std::vector<double>{0.85, 1.0, 1.2}));
  EXPECT_EQ(s.regime.pricePremium, (std::vector<double>{-0.1, 0.0, 0.1}));

  EXPECT_EQ(constantOf(s.pricing.h20PriceBase), 12000);
  EXPECT_EQ(constantOf(s.pricing.h20PriceDecline), 0.1);
  EXPECT_EQ(constantOf(s.pricing.perfRatioBase), 1.0);
  EXPECT_EQ(constantOf(s.pricing.perfDrift), 0.0);
  EXPECT_EQ(s.pricing.perfSigma, 0.05);
  EXPECT_EQ(constantOf(s.pricing.entrantDiscount), 0.1);

  EXPECT_EQ(constantOf(s.cost.h20UnitCost), 3300);
  const auto* advantage = std::get_if<Pert>(&s.cost.advantage.kind());
  ASSERT_NE(advantage, nullptr);
  EXPECT_EQ(advantage->min, 0.3);
  EXPECT_EQ(advantage->mode, 0.4);
  EXPECT_EQ(advantage->max, 0.5);
  EXPECT_EQ(advantage->lambda, 4.0);  // the default
  EXPECT_EQ(constantOf(s.cost.learningRate), 0.1);

  EXPECT_EQ(constantOf(s.otherRevenue.base), 5e8);
  EXPECT_EQ(constantOf(s.otherRevenue.growth), 0.1);
  EXPECT_EQ(constantOf(s.otherRevenue.grossMargin), 0.3);
  EXPECT_EQ(constantOf(s.opex.ratioStart), 0.3);
  EXPECT_EQ(constantOf(s.opex.ratioEnd), 0.2);
  EXPECT_EQ(constantOf(s.opex.fixed), 1e8);
  EXPECT_EQ(constantOf(s.finance.taxRate), 0.15);
  EXPECT_EQ(constantOf(s.finance.reinvestmentRate), 0.2);
  EXPECT_EQ(constantOf(s.finance.netCash), 1e9);

  EXPECT_EQ(constantOf(s.peers.longRunEvSales), 10);
  EXPECT_EQ(constantOf(s.peers.halfLifeYears), 2);
  ASSERT_EQ(s.peers.list.size(), 2u);
  EXPECT_EQ(s.peers.list[0].name, "Cambricon");
  const auto* cambricon = std::get_if<Lognormal>(&s.peers.list[0].evSales.kind());
  ASSERT_NE(cambricon, nullptr);
  EXPECT_DOUBLE_EQ(cambricon->mu, std::log(30.0));
  EXPECT_EQ(cambricon->sigma, 0.3);
  EXPECT_EQ(s.peers.list[0].beta, 0.3);
  EXPECT_EQ(s.peers.list[0].sigma, 0.2);
  EXPECT_EQ(s.peers.list[0].weight, 2);
  EXPECT_EQ(s.peers.list[1].name, "Moore Threads");
  EXPECT_EQ(constantOf(s.peers.list[1].evSales), 60);
  EXPECT_EQ(s.peers.list[1].beta, 0.4);
  EXPECT_EQ(s.peers.list[1].sigma, 0.3);
  EXPECT_EQ(s.peers.list[1].weight, 1);

  EXPECT_EQ(constantOf(s.valuation.multipleHaircut), 0.2);
  EXPECT_EQ(s.valuation.relativeWeight, 0.5);
  const auto* wacc = std::get_if<Uniform>(&s.valuation.wacc.kind());
  ASSERT_NE(wacc, nullptr);
  EXPECT_EQ(wacc->min, 0.09);
  EXPECT_EQ(wacc->max, 0.115);
  EXPECT_EQ(constantOf(s.valuation.terminalGrowth), 0.03);

  const auto* year = std::get_if<Discrete>(&s.ipo.year.kind());
  ASSERT_NE(year, nullptr);
  EXPECT_EQ(year->values, (std::vector<double>{2026, 2027}));
  EXPECT_EQ(year->probs, (std::vector<double>{0.6, 0.4}));
  EXPECT_EQ(s.ipo.probability, 0.8);
  EXPECT_EQ(constantOf(s.ipo.offerDiscount), 0.15);
  EXPECT_EQ(constantOf(s.ipo.privateDiscount), 0.3);
  EXPECT_EQ(constantOf(s.ipo.primaryRaise), 2e9);
  EXPECT_EQ(constantOf(s.ipo.floatShare), 0.15);
  EXPECT_EQ(constantOf(s.ipo.employeePool), 0.1);
  EXPECT_EQ(s.parent.adsOutstanding, 2.4e9);

  // Keys in order of first appearance; unlisted pairs are 0.
  EXPECT_EQ(s.correlations.keys, (std::vector<std::string>{"peers.sentiment", "market.growth_start",
                                                           "peers.list.Cambricon.ev_sales"}));
  Eigen::MatrixXd expected(3, 3);
  expected << 1.0, 0.4, 0.5, 0.4, 1.0, 0.0, 0.5, 0.0, 1.0;
  EXPECT_EQ(s.correlations.matrix, expected);

  EXPECT_EQ(s.sha256.size(), 64u);
  EXPECT_EQ(s.sha256.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(ValidScenarios, ExtendsMergesMappingsAndReplacesDistributionsAndLists) {
  const Scenario s = loadScenario(valid("override.yaml"));
  EXPECT_EQ(s.name, "override");
  // Mapping merged key by key: growth_end overridden, the rest of market kept.
  EXPECT_EQ(constantOf(s.market.growthEnd), 0.12);
  EXPECT_EQ(constantOf(s.market.unitsBase), 4e6);
  EXPECT_EQ(s.market.growthSigma, 0.05);
  // A mapping without dist merges into the base's distribution mapping.
  const auto* growth = std::get_if<Normal>(&s.market.growthStart.kind());
  ASSERT_NE(growth, nullptr);
  EXPECT_EQ(growth->mean, 0.3);
  EXPECT_EQ(growth->sd, 0.08);
  // A distribution mapping replaces whole: the base's pert mode does not leak into the uniform.
  const auto* advantage = std::get_if<Uniform>(&s.cost.advantage.kind());
  ASSERT_NE(advantage, nullptr);
  EXPECT_EQ(advantage->min, 0.35);
  EXPECT_EQ(advantage->max, 0.45);
  // A list replaces whole.
  ASSERT_EQ(s.peers.list.size(), 1u);
  EXPECT_EQ(s.peers.list[0].name, "Biren");
  EXPECT_TRUE(std::holds_alternative<Triangular>(s.peers.list[0].evSales.kind()));
  EXPECT_EQ(s.correlations.keys,
            (std::vector<std::string>{"peers.list.Biren.ev_sales", "peers.sentiment"}));
  // Untouched sections come from the base.
  EXPECT_EQ(s.regime.initial, 1);
  EXPECT_EQ(s.parent.adsOutstanding, 2.4e9);
}

TEST(ValidScenarios, ExtendsChainsAcrossDirectories) {
  const Scenario s = loadScenario(valid("chain/chain.yaml"));
  EXPECT_EQ(s.name, "chain");
  EXPECT_EQ(s.description, "The second link of a chain");
  EXPECT_EQ(s.regime.transition[2], (std::vector<double>{0.1, 0.2, 0.7}));
  EXPECT_EQ(s.regime.transition[0], (std::vector<double>{0.7, 0.25, 0.05}));  // from minimal
  EXPECT_EQ(constantOf(s.ipo.year), 2027);
  EXPECT_EQ(constantOf(s.market.growthEnd), 0.12);  // from override
  EXPECT_EQ(s.peers.list.at(0).name, "Biren");      // from override
  EXPECT_EQ(s.simulation.seed, 7u);                 // from minimal
}

TEST(ValidScenarios, ErrorsAfterMergingNameTheFileTheValueCameFrom) {
  // terminal_growth comes from minimal.yaml, two links up the chain; a --set wacc makes the
  // spread too small, and the error points at the value where it was written.
  try {
    loadScenario(valid("chain/chain.yaml"),
                 {"valuation.wacc={dist: uniform, min: 0.02, max: 0.1}"});
    FAIL() << "loaded";
  } catch (const InputError& e) {
    EXPECT_EQ(e.key(), "valuation.terminal_growth");
    EXPECT_TRUE(endsWith(e.where().file, "valid/minimal.yaml")) << e.what();
    EXPECT_EQ(e.where().line, 86);
    EXPECT_EQ(e.where().column, 20);
  }
}

TEST(Defaults, SimulationDescriptionAndCorrelationsAreOptional) {
  const auto dir = std::filesystem::temp_directory_path() / "spinval-loader-test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "defaults.yaml";
  {
    // minimal.yaml without simulation, description and correlations.
    std::ifstream in(valid("minimal.yaml"));
    std::ofstream out(file);
    std::string line;
    bool skipping = false;
    while (std::getline(in, line)) {
      if (line.starts_with("simulation:") || line.starts_with("correlations:")) {
        skipping = true;
        continue;
      }
      if (skipping && line.starts_with("  ")) continue;
      skipping = false;
      if (line.starts_with("description:")) continue;
      out << line << "\n";
    }
  }
  const Scenario s = loadScenario(file.string());
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.simulation.paths, 100000u);
  EXPECT_EQ(s.simulation.seed, 1u);
  EXPECT_EQ(s.simulation.sampler, "mc");
  EXPECT_TRUE(s.correlations.empty());
  EXPECT_EQ(s.correlations.matrix.size(), 0);
  std::filesystem::remove_all(dir);
}

TEST(Defaults, BetaBoundsAndPertLambda) {
  const Scenario s = loadScenario(valid("minimal.yaml"),
                                  {"company.captive_share_start={dist: beta, alpha: 2, beta: 5}",
                                   "cost.advantage={dist: pert, min: 0.3, mode: 0.4, max: 0.5}"});
  const auto* beta = std::get_if<Beta>(&s.company.captiveShareStart.kind());
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->min, 0.0);
  EXPECT_EQ(beta->max, 1.0);
  EXPECT_EQ(std::get<Pert>(s.cost.advantage.kind()).lambda, 4.0);
}

// ---- --set

TEST(Overrides, NumberDistributionAndPeerByName) {
  const Scenario s = loadScenario(
      valid("minimal.yaml"),
      {"cost.learning_rate=0.2", "cost.advantage={dist: pert, min: 0.3, mode: 0.45, max: 0.5}",
       "peers.list.Moore Threads.ev_sales={dist: lognormal, mean: 60, sd: 20}",
       "peers.list.Cambricon.weight=3", "regime.transition.open=[0.6, 0.3, 0.1]",
       "simulation.paths=5e4", "name=tweaked", "ipo.year=2027"});
  EXPECT_EQ(constantOf(s.cost.learningRate), 0.2);
  EXPECT_EQ(std::get<Pert>(s.cost.advantage.kind()).mode, 0.45);
  EXPECT_TRUE(std::holds_alternative<Lognormal>(s.peers.list[1].evSales.kind()));
  EXPECT_EQ(s.peers.list[0].weight, 3);
  EXPECT_EQ(s.regime.transition[0], (std::vector<double>{0.6, 0.3, 0.1}));
  EXPECT_EQ(s.simulation.paths, 50000u);
  EXPECT_EQ(s.name, "tweaked");
  EXPECT_EQ(constantOf(s.ipo.year), 2027);
}

TEST(Overrides, ApplyInOrderAfterAllFilesAreMerged) {
  const Scenario s =
      loadScenario(valid("chain/chain.yaml"),
                   {"market.growth_end=0.2", "market.growth_end=0.25", "correlations=[]",
                    "peers.list=[{name: A, ev_sales: 5, "
                    "beta: 0, sigma: 0, weight: 1}]"});
  EXPECT_EQ(constantOf(s.market.growthEnd), 0.25);
  EXPECT_TRUE(s.correlations.empty());
  ASSERT_EQ(s.peers.list.size(), 1u);
  EXPECT_EQ(s.peers.list[0].name, "A");
}

struct BadOverride {
  std::string override;
  std::string key;
  int column;
};

// Unknown keys point at the first segment that does not resolve; bad values at the value's
// text, both as columns of KEY=VALUE in the pseudo-file "--set KEY=VALUE", line 1.
TEST(Overrides, BadOverridesNameTheKeyAndColumn) {
  const std::vector<BadOverride> cases = {
      {"costs.advantage=0.4", "costs.advantage", 1},
      {"cost.advantag=0.4", "cost.advantag", 6},
      {"cost.advantage.mode=0.45", "cost.advantage.mode", 16},
      {"market=3", "market", 1},
      {"extends=other.yaml", "extends", 1},
      {"name.first=x", "name.first", 6},
      {"peers.list.Biren.ev_sales=3", "peers.list.Biren.ev_sales", 12},
      {"peers.list.Cambricon.evsales=3", "peers.list.Cambricon.evsales", 22},
      {"regime.transition.closed=[1, 0, 0]", "regime.transition.closed", 19},
      {"cost.advantage", "cost.advantage", 1},
      {"=0.4", "", 1},
      {"cost.advantage=1.5", "cost.advantage", 16},
      {"cost.advantage=[0.3, 0.4]", "cost.advantage", 16},
      {"cost.advantage={dist: pert, min: 0.3, mode: 0.6, max: 0.5}", "cost.advantage.mode", 45},
      {"cost.advantage={dist: pert, min: 0.3", "cost.advantage", 16},
      {"market.growth_sigma={dist: normal, mean: 0.1, sd: 0.01}", "market.growth_sigma", 21},
      {"correlations=[[cost.learning_rate, peers.sentiment, 0.2]]", "correlations[0]", 15},
  };
  for (const BadOverride& c : cases) {
    SCOPED_TRACE(c.override);
    try {
      loadScenario(valid("minimal.yaml"), {c.override});
      ADD_FAILURE() << "loaded";
    } catch (const InputError& e) {
      EXPECT_EQ(e.where().file, "--set " + c.override) << e.what();
      EXPECT_EQ(e.where().line, 1) << e.what();
      EXPECT_EQ(e.where().column, c.column) << e.what();
      EXPECT_EQ(e.key(), c.key) << e.what();
    }
  }
}

// ---- the hash

TEST(Hash, ReformattedScenarioHashesTheSame) {
  const Scenario a = loadScenario(valid("minimal.yaml"));
  const Scenario b = loadScenario(valid("reformatted.yaml"));
  EXPECT_EQ(canonicalScenarioText(valid("minimal.yaml")),
            canonicalScenarioText(valid("reformatted.yaml")));
  EXPECT_EQ(a.sha256, b.sha256);
  // --set to the value already there changes nothing.
  EXPECT_EQ(loadScenario(valid("minimal.yaml"), {"cost.learning_rate=0.10"}).sha256, a.sha256);
  // Explicit defaults hash as omitted ones.
  EXPECT_EQ(loadScenario(valid("minimal.yaml"),
                         {"cost.advantage={dist: pert, min: 0.3, mode: 0.4, max: 0.5, lambda: 4}"})
                .sha256,
            a.sha256);
  EXPECT_EQ(
      loadScenario(valid("minimal.yaml"), {"correlation.method=gaussian",
                                           "correlation.kind=pearson", "correlation.repair=error"})
          .sha256,
      a.sha256);
}

TEST(Hash, AnyValueChangeChangesIt) {
  const std::string base = loadScenario(valid("minimal.yaml")).sha256;
  for (const char* change :
       {"cost.learning_rate=0.1000000001", "description=other", "simulation.seed=8",
        "peers.list.Cambricon.weight=2.5", "regime.price_premium.restricted=0.01",
        "cost.advantage={dist: pert, min: 0.3, mode: 0.4, max: 0.5, lambda: 5}",
        "correlations=[[peers.sentiment, market.growth_start, 0.4]]",
        "peers.list.Moore Threads.name=MooreThreads", "correlation.kind=spearman",
        "correlation.repair=nearest"}) {
    SCOPED_TRACE(change);
    EXPECT_NE(loadScenario(valid("minimal.yaml"), {change}).sha256, base);
  }
}

TEST(Hash, IsTheSha256OfTheCanonicalText) {
  const std::string text = canonicalScenarioText(valid("minimal.yaml"));
  EXPECT_EQ(text.front(), '{');
  EXPECT_NE(text.find("\"name\":\"minimal\""), std::string::npos);
  // Schema order, defaults filled in, numbers printed %.17g.
  EXPECT_NE(text.find("\"advantage\":{\"dist\":\"pert\",\"min\":0.29999999999999999,"
                      "\"mode\":0.40000000000000002,\"max\":0.5,\"lambda\":4}"),
            std::string::npos)
      << text;
  // An independent SHA-256 of the same bytes.
  const auto file = std::filesystem::temp_directory_path() / "spinval-loader-canonical.txt";
  std::ofstream(file, std::ios::binary) << text;
  const std::string command = "sha256sum '" + file.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char digest[65] = {};
  ASSERT_EQ(std::fread(digest, 1, 64, pipe), 64u);
  pclose(pipe);
  std::filesystem::remove(file);
  EXPECT_EQ(loadScenario(valid("minimal.yaml")).sha256, std::string(digest));
}

// ---- student_t, gamma, loguniform, empirical, mixture and truncation

TEST(BadScenarios, OneFilePerDistributionRule) {
  for (const char* rule :
       {"student-t-dof-nonpositive", "student-t-support-outside", "gamma-scale-and-rate",
        "gamma-shape-nonpositive", "loguniform-min-nonpositive", "truncate-min-ge-max",
        "truncate-outside", "empirical-too-few-values", "empirical-values-and-bins",
        "empirical-bins-not-increasing", "empirical-weights-count", "empirical-weights-negative",
        "mixture-weights-sum", "mixture-weights-count", "mixture-weight-nonpositive",
        "mixture-component-error", "mixture-component-not-distribution",
        "mixture-discrete-truncated"}) {
    EXPECT_TRUE(std::filesystem::exists(dataPath(std::string("bad/") + rule + ".yaml"))) << rule;
  }
}

TEST(BadScenarios, DistributionMessagesSayWhatWasExpectedAndFound) {
  EXPECT_EQ(messageOf(dataPath("bad/student-t-dof-nonpositive.yaml")), "expected dof > 0, got 0");
  EXPECT_EQ(messageOf(dataPath("bad/student-t-support-outside.yaml")),
            "student_t(location 0.5, scale 0.1, dof 4) reaches below 0 (expected values > 0); add "
            "a min above 0");
  EXPECT_EQ(messageOf(dataPath("bad/loguniform-min-nonpositive.yaml")), "expected min > 0, got 0");
  EXPECT_EQ(messageOf(dataPath("bad/gamma-scale-and-rate.yaml")),
            "expected scale or rate (1 / scale), not both");
  EXPECT_EQ(messageOf(dataPath("bad/truncate-min-ge-max.yaml")),
            "expected truncate_max > truncate_min (0.45), got 0.35");
  EXPECT_EQ(messageOf(dataPath("bad/truncate-outside.yaml")),
            "truncation to [0.6, inf] leaves no probability: uniform(min 0.3, max 0.5) has support "
            "[0.3, 0.5]");
  EXPECT_EQ(messageOf(dataPath("bad/empirical-too-few-values.yaml")),
            "expected at least 2 observations, got 1");
  EXPECT_EQ(messageOf(dataPath("bad/empirical-bins-not-increasing.yaml")),
            "expected strictly increasing bin edges, got 0.5 after 0.5");
  EXPECT_EQ(messageOf(dataPath("bad/empirical-weights-count.yaml")),
            "expected 2 weights, one per bin, got 3");
  EXPECT_EQ(messageOf(dataPath("bad/mixture-weights-sum.yaml")),
            "expected weights that sum to 1 (+-1e-9), got a sum of 0.9");
  EXPECT_EQ(messageOf(dataPath("bad/mixture-component-error.yaml")), "expected sd > 0, got -1");
  EXPECT_EQ(messageOf(dataPath("bad/mixture-discrete-truncated.yaml")),
            "a mixture with a discrete component cannot be truncated; give the components min and "
            "max instead");
}

TEST(ValidScenarios, NewDistributionsLoadWithTheirParameters) {
  const Scenario s = loadScenario(
      valid("minimal.yaml"),
      {"market.growth_start={dist: student_t, location: 0.3, scale: 0.05, dof: 4, max: 0.6}",
       "company.share_ceiling={dist: loguniform, min: 0.05, max: 0.5, truncate_max: 0.3}",
       "cost.h20_unit_cost={dist: gamma, shape: 9, rate: 0.0025}",
       "company.adoption_speed={dist: empirical, values: [0.7, 0.4, 0.5, 0.45]}",
       "other_revenue.base={dist: empirical, bins: [1e8, 5e8, 1e9], weights: [1, 3], min: 2e8}",
       "pricing.perf_drift={dist: mixture, weights: [0.4, 0.6], components: [{dist: normal, "
       "mean: 0, sd: 0.01}, 0.05]}",
       "cost.advantage={dist: pert, min: 0.3, mode: 0.4, max: 0.5, truncate_min: 0.35}"});
  const auto* t = std::get_if<StudentT>(&s.market.growthStart.kind());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->location, 0.3);
  EXPECT_EQ(t->scale, 0.05);
  EXPECT_EQ(t->dof, 4);
  EXPECT_EQ(s.market.growthStart.upper(), 0.6);
  const auto* l = std::get_if<Loguniform>(&s.company.shareCeiling.kind());
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->min, 0.05);
  EXPECT_EQ(l->max, 0.5);
  EXPECT_EQ(s.company.shareCeiling.upper(), 0.3);
  const auto* g = std::get_if<Gamma>(&s.cost.h20UnitCost.kind());
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->shape, 9);
  EXPECT_EQ(g->scale, 1 / 0.0025);
  const auto* values = std::get_if<Empirical>(&s.company.adoptionSpeed.kind());
  ASSERT_NE(values, nullptr);
  EXPECT_EQ(values->values, (std::vector<double>{0.4, 0.45, 0.5, 0.7}));
  const auto* bins = std::get_if<Empirical>(&s.otherRevenue.base.kind());
  ASSERT_NE(bins, nullptr);
  EXPECT_EQ(bins->bins, (std::vector<double>{1e8, 5e8, 1e9}));
  EXPECT_EQ(s.otherRevenue.base.lower(), 2e8);
  const auto* mixture = std::get_if<Mixture>(&s.pricing.perfDrift.kind());
  ASSERT_NE(mixture, nullptr);
  EXPECT_EQ(mixture->weights, (std::vector<double>{0.4, 0.6}));
  ASSERT_EQ(mixture->components.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Normal>(mixture->components[0].kind()));
  EXPECT_EQ(constantOf(mixture->components[1]), 0.05);
  EXPECT_TRUE(std::holds_alternative<Pert>(s.cost.advantage.kind()));
  EXPECT_EQ(s.cost.advantage.lower(), 0.35);
  EXPECT_EQ(s.cost.advantage.upper(), 0.5);
}

TEST(ValidScenarios, MixturesNestAndSupportsMeetTheDomain) {
  // A mixture of a mixture; a gamma and a mixture of lognormals on a (0, inf) domain, whose 0 is
  // never drawn; a truncated t inside [0, 1).
  const Scenario s = loadScenario(
      valid("minimal.yaml"),
      {"pricing.perf_drift={dist: mixture, weights: [0.5, 0.5], components: [{dist: mixture, "
       "weights: [0.5, 0.5], components: [-0.01, 0.01]}, {dist: uniform, min: 0, max: 0.1}]}",
       "company.adoption_speed={dist: gamma, shape: 0.5, scale: 1}",
       "market.units_base={dist: mixture, weights: [0.5, 0.5], components: [{dist: lognormal, "
       "median: 4e6, sigma: 0.2}, {dist: lognormal, median: 5e6, sigma: 0.1}]}",
       "finance.tax_rate={dist: student_t, location: 0.15, scale: 0.02, dof: 3, min: 0, max: "
       "0.3}"});
  EXPECT_EQ(s.pricing.perfDrift.lower(), -0.01);
  EXPECT_EQ(s.pricing.perfDrift.upper(), 0.1);
  EXPECT_EQ(s.market.unitsBase.lower(), 0.0);
  EXPECT_EQ(s.finance.taxRate.lower(), 0.0);
  // A mixture with a constant part at the domain's open end is refused.
  EXPECT_NE(messageOf(valid("minimal.yaml"),
                      {"market.units_base={dist: mixture, weights: [0.5, 0.5], components: [0, "
                       "{dist: lognormal, median: 4e6, sigma: 0.2}]}"})
                .find("reaches 0"),
            std::string::npos);
}

TEST(Overrides, BadDistributionParametersNameTheKeyAndColumn) {
  const std::vector<BadOverride> cases = {
      {"market.growth_start={dist: student_t, location: 0, scale: 0.1}", "market.growth_start.dof",
       21},
      {"market.growth_start={dist: student_t, location: 0, scale: -1, dof: 3}",
       "market.growth_start.scale", 59},
      {"cost.h20_unit_cost={dist: gamma, shape: 2}", "cost.h20_unit_cost.scale", 20},
      {"cost.h20_unit_cost={dist: gamma, shape: 2, rate: 0}", "cost.h20_unit_cost.rate", 50},
      {"company.share_ceiling={dist: loguniform, min: 0.5, max: 0.2}", "company.share_ceiling.max",
       57},
      {"company.adoption_speed={dist: empirical}", "company.adoption_speed.values", 24},
      {"company.adoption_speed={dist: empirical, bins: [0, 1]}", "company.adoption_speed.weights",
       24},
      {"company.adoption_speed={dist: empirical, values: [1, 2], min: 3}",
       "company.adoption_speed.min", 63},
      {"pricing.perf_drift={dist: mixture, weights: [1]}", "pricing.perf_drift.components", 20},
      {"pricing.perf_drift={dist: mixture, weights: [1], components: [{dist: normal}]}",
       "pricing.perf_drift.components[0].mean", 63},
      {"pricing.perf_drift={dist: mixture, weights: [1], components: [{dist: mixture, weights: "
       "[1], components: [{dist: nrmal}]}]}",
       "pricing.perf_drift.components[0].components[0].dist", 113},
      {"cost.advantage={dist: beta, alpha: 2, beta: 3, truncate_max: 0}",
       "cost.advantage.truncate_max", 62},
  };
  for (const BadOverride& c : cases) {
    SCOPED_TRACE(c.override);
    try {
      loadScenario(valid("minimal.yaml"), {c.override});
      ADD_FAILURE() << "loaded";
    } catch (const InputError& e) {
      EXPECT_EQ(e.where().column, c.column) << e.what();
      EXPECT_EQ(e.key(), c.key) << e.what();
    }
  }
}

TEST(Hash, NewDistributionsHashTheirCanonicalForm) {
  const std::string mixture =
      "pricing.perf_drift={dist: mixture, weights: [0.4, 0.6], components: [{dist: normal, mean: "
      "0, sd: 0.01}, {dist: uniform, min: 0, max: 0.1}], max: 0.2}";
  const std::string text = canonicalScenarioText(valid("minimal.yaml"), {mixture});
  EXPECT_NE(text.find("\"perf_drift\":{\"dist\":\"mixture\",\"weights\":[0.40000000000000002,"
                      "0.59999999999999998],\"components\":[{\"dist\":\"normal\",\"mean\":0,"
                      "\"sd\":0.01},{\"dist\":\"uniform\",\"min\":0,\"max\":0.10000000000000001}],"
                      "\"max\":0.20000000000000001}"),
            std::string::npos)
      << text;
  // The same mapping written differently hashes the same; a changed component does not.
  const std::string a = loadScenario(valid("minimal.yaml"), {mixture}).sha256;
  EXPECT_EQ(loadScenario(
                valid("minimal.yaml"),
                {"pricing.perf_drift={max: 2e-1, components: [{sd: 1e-2, mean: 0.0, "
                 "dist: normal}, {max: 1e-1, min: 0.0, dist: uniform}], weights: [0.4, 0.6], dist: "
                 "mixture}"})
                .sha256,
            a);
  EXPECT_NE(
      loadScenario(valid("minimal.yaml"),
                   {"pricing.perf_drift={dist: mixture, weights: [0.4, 0.6], components: "
                    "[{dist: normal, mean: 0, sd: 0.02}, {dist: uniform, min: 0, max: 0.1}], max: "
                    "0.2}"})
          .sha256,
      a);
  const std::string empirical = canonicalScenarioText(
      valid("minimal.yaml"),
      {"other_revenue.base={dist: empirical, bins: [1e8, 5e8, 1e9], weights: [1, 3]}",
       "cost.advantage={dist: uniform, min: 0.3, max: 0.5, truncate_min: 0.35}"});
  EXPECT_NE(empirical.find("\"base\":{\"dist\":\"empirical\",\"bins\":[100000000,500000000,"
                           "1000000000],\"weights\":[1,3]}"),
            std::string::npos)
      << empirical;
  EXPECT_NE(empirical.find("\"advantage\":{\"dist\":\"uniform\",\"min\":0.29999999999999999,"
                           "\"max\":0.5,\"truncate_min\":0.34999999999999998}"),
            std::string::npos)
      << empirical;
}

// ---- the correlation options

TEST(BadScenarios, OneFilePerCorrelationOptionRule) {
  for (const char* rule :
       {"correlation-not-mapping", "correlation-unknown-key", "correlation-method-unknown",
        "correlation-dof-missing", "correlation-dof-nonpositive",
        "correlation-dof-without-student-t", "correlation-kind-unknown",
        "correlation-repair-unknown", "not-positive-definite-spearman"}) {
    EXPECT_TRUE(std::filesystem::exists(dataPath(std::string("bad/") + rule + ".yaml"))) << rule;
  }
}

TEST(CorrelationOptions, DefaultToGaussianPearsonAndError) {
  const Scenario s = loadScenario(valid("minimal.yaml"));
  EXPECT_EQ(s.correlations.method, CopulaFamily::gaussian);
  EXPECT_EQ(s.correlations.kind, CorrelationKind::pearson);
  EXPECT_EQ(s.correlations.repair, CorrelationRepair::error);
  EXPECT_EQ(s.correlations.dof, 0.0);
  EXPECT_TRUE(s.correlations.repaired.empty());
  // The canonical text states them (and dof only for student_t).
  EXPECT_NE(canonicalScenarioText(valid("minimal.yaml"))
                .find("\"correlation\":{\"method\":\"gaussian\",\"kind\":\"pearson\","
                      "\"repair\":\"error\"},\"correlations\":"),
            std::string::npos);
  EXPECT_NE(canonicalScenarioText(valid("minimal.yaml"),
                                  {"correlation.method=student_t", "correlation.dof=4.5"})
                .find("\"correlation\":{\"method\":\"student_t\",\"dof\":4.5,"),
            std::string::npos);
}

// minimal.yaml's pairs: (peers.sentiment, market.growth_start) 0.4 and
// (peers.list.Cambricon.ev_sales, peers.sentiment) 0.5; keys in order of first appearance.
TEST(CorrelationOptions, SpearmanCoefficientsConvertToTheCopulaParameter) {
  const Scenario gaussian = loadScenario(valid("minimal.yaml"), {"correlation.kind=spearman"});
  const CorrelationInputs& g = gaussian.correlations;
  ASSERT_EQ(g.keys, (std::vector<std::string>{"peers.sentiment", "market.growth_start",
                                              "peers.list.Cambricon.ev_sales"}));
  EXPECT_DOUBLE_EQ(g.matrix(0, 1), 2 * std::sin(std::numbers::pi * 0.4 / 6));
  EXPECT_DOUBLE_EQ(g.matrix(2, 0), 2 * std::sin(std::numbers::pi * 0.5 / 6));
  EXPECT_EQ(g.matrix(1, 2), 0.0);
  EXPECT_EQ(g.matrix(1, 1), 1.0);

  const Scenario t = loadScenario(
      valid("minimal.yaml"),
      {"correlation.kind=spearman", "correlation.method=student_t", "correlation.dof=3"});
  const CorrelationInputs& c = t.correlations;
  EXPECT_EQ(c.method, CopulaFamily::studentT);
  EXPECT_EQ(c.dof, 3.0);
  const StudentTSpearman conversion(3.0);
  EXPECT_DOUBLE_EQ(c.matrix(0, 1), conversion.pearson(0.4));
  EXPECT_NEAR(conversion.spearman(c.matrix(1, 0)), 0.4, 1e-12);
  EXPECT_GT(c.matrix(0, 1), g.matrix(0, 1));  // heavier tails need a larger rho for rho_S

  // Pearson coefficients are the copula's parameter as written.
  const Scenario pearson = loadScenario(valid("minimal.yaml"));
  EXPECT_EQ(pearson.correlations.matrix(0, 1), 0.4);
}

// I + 0.9 A with A = [[0, 1, -1], [1, 0, 1], [-1, 1, 0]] (smallest eigenvalue -0.8) has the
// nearest correlation matrix I + 0.5 A (copula_test.cpp derives it); every coefficient moves.
const char* kInvalidCorrelations =
    "correlations=[[peers.sentiment, market.growth_start, 0.9], "
    "[market.growth_start, cost.advantage, 0.9], [peers.sentiment, cost.advantage, -0.9]]";

TEST(CorrelationOptions, RepairNearestReportsEveryChange) {
  EXPECT_NE(messageOf(valid("minimal.yaml"), {kInvalidCorrelations})
                .find("not positive definite (smallest eigenvalue -0.8); lower some |rho| so the "
                      "pairs can hold together, or set correlation.repair: nearest"),
            std::string::npos);

  const Scenario s =
      loadScenario(valid("minimal.yaml"), {kInvalidCorrelations, "correlation.repair=nearest"});
  const CorrelationInputs& c = s.correlations;
  EXPECT_NEAR(c.unrepairedEigenvalue, -0.8, 1e-12);
  EXPECT_GT(c.repairIterations, 0);
  EXPECT_GT(smallestEigenvalue(c.matrix), 0.0);
  ASSERT_EQ(c.repaired.size(), 3u);
  const std::vector<std::tuple<std::string, std::string, double, double>> expected = {
      {"peers.sentiment", "market.growth_start", 0.9, 0.5},
      {"peers.sentiment", "cost.advantage", -0.9, -0.5},
      {"market.growth_start", "cost.advantage", 0.9, 0.5}};
  for (std::size_t k = 0; k < expected.size(); ++k) {
    SCOPED_TRACE(k);
    EXPECT_EQ(c.repaired[k].first, std::get<0>(expected[k]));
    EXPECT_EQ(c.repaired[k].second, std::get<1>(expected[k]));
    EXPECT_EQ(c.repaired[k].given, std::get<2>(expected[k]));
    EXPECT_NEAR(c.repaired[k].repaired, std::get<3>(expected[k]), 1e-7);
  }
  // A valid matrix is left as it is, with nothing to report.
  const Scenario untouched = loadScenario(valid("minimal.yaml"), {"correlation.repair=nearest"});
  EXPECT_TRUE(untouched.correlations.repaired.empty());
  EXPECT_EQ(untouched.correlations.matrix(0, 1), 0.4);
}

// With kind spearman the repair acts on the copula's Pearson matrix (2 sin(pi 0.9 / 6) = 0.908
// off the diagonal, whose nearest correlation matrix is again I + 0.5 A) and reports the
// repaired coefficients as Spearman's rho: (6 / pi) asin(0.25).
TEST(CorrelationOptions, RepairReportsSpearmanCoefficientsForKindSpearman) {
  const Scenario s = loadScenario(
      valid("minimal.yaml"),
      {kInvalidCorrelations, "correlation.repair=nearest", "correlation.kind=spearman"});
  const CorrelationInputs& c = s.correlations;
  ASSERT_EQ(c.repaired.size(), 3u);
  EXPECT_EQ(c.repaired[0].given, 0.9);
  EXPECT_NEAR(c.repaired[0].repaired, 6 / std::numbers::pi * std::asin(0.25), 1e-7);
  EXPECT_NEAR(c.repaired[1].repaired, -6 / std::numbers::pi * std::asin(0.25), 1e-7);
  EXPECT_NEAR(c.matrix(0, 1), 0.5, 1e-7);
}

TEST(CorrelationOptions, BadOptionsThroughSetNameTheKey) {
  struct Case {
    std::vector<std::string> overrides;
    std::string key, message;
  };
  const std::vector<Case> cases = {
      {{"correlation.method=clayton"},
       "correlation.method",
       "expected one of: gaussian, student_t, got 'clayton'"},
      {{"correlation.method=student_t"},
       "correlation.dof",
       "missing required key 'dof' (the student_t method needs its degrees of freedom)"},
      {{"correlation.method=student_t", "correlation.dof=-2"},
       "correlation.dof",
       "expected a number > 0, got -2"},
      {{"correlation.dof=4"},
       "correlation.dof",
       "only method student_t takes dof (method is gaussian)"},
      {{"correlation.kind=kendall"},
       "correlation.kind",
       "expected one of: pearson, spearman, got 'kendall'"},
      {{"correlation.repair=clip"},
       "correlation.repair",
       "expected one of: error, nearest, got 'clip'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.overrides.back());
    try {
      loadScenario(valid("minimal.yaml"), c.overrides);
      ADD_FAILURE() << "loaded without an error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.key(), c.key) << e.what();
      EXPECT_EQ(e.detail(), c.message) << e.what();
    }
  }
  try {
    loadScenario(valid("minimal.yaml"), {"correlation.metod=gaussian"});
    ADD_FAILURE() << "loaded without an error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.key(), "correlation.metod") << e.what();
    EXPECT_NE(e.detail().find("did you mean 'method'?"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace spinval
