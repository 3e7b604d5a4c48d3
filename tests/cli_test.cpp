// The writers of report.hpp on hand-made results, and the spinval program end to end: exit
// statuses, error lines, the JSON summary, output files and reproducibility across threads.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "spinval/report.hpp"
#include "spinval/statistics.hpp"
#include "test_support.hpp"

namespace spinval {
namespace {

namespace fs = std::filesystem;
using spinval::testing::dataPath;
using spinval::testing::readFile;
using spinval::testing::runSpinval;
using spinval::testing::sourcePath;
using spinval::testing::TempDir;
using spinval::testing::withoutTiming;
using spinval::testing::writeFile;
using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Helpers.

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A single line on stderr, in the documented form.
void expectOneErrorLine(const spinval::testing::CommandResult& result) {
  EXPECT_EQ(result.err.rfind("spinval: error: ", 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

// The valid scenario the end-to-end tests run: the small test scenario, independent of the
// base scenario's calibration, or the base scenario when the test scenario is absent.
std::string validScenario() {
  for (const std::string& candidate :
       {dataPath("valid/minimal.yaml"), sourcePath("scenarios/thead-base.yaml")})
    if (fs::exists(candidate)) return candidate;
  ADD_FAILURE() << "no valid scenario: neither tests/data/valid/minimal.yaml nor "
                   "scenarios/thead-base.yaml exists";
  return dataPath("valid/minimal.yaml");
}

const std::vector<std::string> kOutputs = {
    "ev_usd",          "ev_relative_usd", "ev_dcf_usd",       "equity_usd",
    "offer_value_usd", "mark_value_usd",  "parent_stake_usd", "parent_per_ads_usd",
    "listed",          "peer_multiple",   "company_multiple"};
const std::vector<std::string> kMetricKeys = {"mean", "std", "stderr", "min", "max",
                                              "p01",  "p05", "p10",    "p25", "p50",
                                              "p75",  "p90", "p95",    "p99", "ci95"};

std::vector<std::string> keysOf(const Json& object) {
  std::vector<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Writers on hand-made results.

// A small layout shaped like the T-Head model's, two years from 2026.
Layout reportLayout() {
  Layout layout;
  layout.years = 2;
  layout.firstYear = 2026;
  layout.outputs = {"ev_usd", "parent_per_ads_usd", "company_multiple", "listed"};
  layout.yearlyOutputs = {{"shipments", {}},
                          {"revenue_usd", {}},
                          {"gross_margin", {}},
                          {"fcf_usd", {}},
                          {"regime", {"open", "restricted", "banned"}}};
  return layout;
}

// Path i of n: ev_usd runs evenly over 10..50bn, the other outputs follow simple rules.
BlockOutput reportBlock(const Layout& layout, int n) {
  BlockOutput block;
  block.resize(layout, n);
  for (int i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / (n - 1);
    block.outputs(i, 0) = 10e9 + 40e9 * t;
    block.outputs(i, 1) = 2.5 + t;
    block.outputs(i, 2) = 20.0 + 10.0 * t;
    block.outputs(i, 3) = i % 4 == 0 ? 0.0 : 1.0;
    for (int y = 0; y < 2; ++y) {
      block.yearly(i, 0 * 2 + y) = 250e3 * (y + 1) + 1e3 * t;
      block.yearly(i, 1 * 2 + y) = 3e9 * (y + 1) + 1e8 * t;
      block.yearly(i, 2 * 2 + y) = 0.40 + 0.1 * t;
      block.yearly(i, 3 * 2 + y) = -0.5e9 + 1e9 * t;
      block.yearly(i, 4 * 2 + y) = i % 3;
    }
  }
  return block;
}

RunInfo reportInfo(std::uint64_t paths) {
  RunInfo info;
  info.scenario = "hand-made";
  info.scenarioSha256 = std::string(64, 'a');
  info.seed = 42;
  info.paths = paths;
  info.sampler = "mc";
  info.version = "0.1.0";
  info.description = "a hand-made result";
  info.seconds = 0.5;
  info.threads = 2;
  return info;
}

struct HandMadeRun {
  Layout layout = reportLayout();
  RunStatistics statistics;
  Summary summary;

  explicit HandMadeRun(int n) : statistics(layout, static_cast<std::uint64_t>(n)) {
    BlockOutput block = reportBlock(layout, n);
    statistics.store(0, block);
    statistics.merge(statistics.blockStatistics(0, block));
    summary = summarize(statistics);
  }
};

TEST(SummaryJson, KeysInDocumentedOrder) {
  Summary summary;
  summary.paths = 3;
  summary.firstYear = 2026;
  summary.outputNames = {"ev_usd", "listed"};
  summary.outputs.resize(2);
  summary.outputs[0].mean = 4.5e10;
  summary.outputs[0].stderror = 1.25e8;
  for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q)
    summary.outputs[0].quantiles[q] = 1e9 * static_cast<double>(q + 1);
  summary.yearly = {{"revenue_usd", {{1.0, 0.5, 1.0, 1.5}, {2.0, 1.0, 2.0, 3.0}}}};
  summary.shares = {{"regime", {"open", "banned"}, {{0.25, 0.75}, {0.5, 0.5}}}};

  Json j = summaryJson(reportInfo(3), summary);
  EXPECT_EQ(keysOf(j), (std::vector<std::string>{"scenario", "scenario_sha256", "seed", "paths",
                                                 "sampler", "version", "metrics", "yearly",
                                                 "regime_share", "estimation", "timing"}));
  EXPECT_EQ(keysOf(j["metrics"]), (std::vector<std::string>{"ev_usd", "listed"}));
  EXPECT_EQ(keysOf(j["metrics"]["ev_usd"]), kMetricKeys);
  EXPECT_EQ(j["metrics"]["ev_usd"]["stderr"].get<double>(), 1.25e8);
  EXPECT_EQ(j["metrics"]["ev_usd"]["p01"].get<double>(), 1e9);
  EXPECT_EQ(j["metrics"]["ev_usd"]["p99"].get<double>(), 9e9);
  EXPECT_EQ(keysOf(j["yearly"]["revenue_usd"]), (std::vector<std::string>{"2026", "2027"}));
  EXPECT_EQ(keysOf(j["yearly"]["revenue_usd"]["2027"]),
            (std::vector<std::string>{"mean", "p05", "p50", "p95"}));
  EXPECT_EQ(j["yearly"]["revenue_usd"]["2027"]["p95"].get<double>(), 3.0);
  EXPECT_EQ(keysOf(j["regime_share"]["2026"]), (std::vector<std::string>{"open", "banned"}));
  EXPECT_EQ(j["regime_share"]["2026"]["banned"].get<double>(), 0.75);
  EXPECT_EQ(j["seed"].get<std::uint64_t>(), 42u);
  EXPECT_EQ(j["paths"].get<std::uint64_t>(), 3u);
  EXPECT_EQ(keysOf(j["timing"]),
            (std::vector<std::string>{"seconds", "paths_per_second", "threads", "ranks"}));
  EXPECT_EQ(j["timing"]["paths_per_second"].get<double>(), 6.0);
  EXPECT_EQ(j["timing"]["threads"].get<unsigned>(), 2u);
}

TEST(SummaryJson, DoublesRoundTrip) {
  Summary summary;
  summary.outputNames = {"ev_usd"};
  summary.outputs.resize(1);
  summary.outputs[0].mean = 0.1 + 0.2;
  summary.outputs[0].std = 1.0 / 3.0;
  Json parsed = Json::parse(summaryJson(reportInfo(1), summary).dump(2));
  EXPECT_EQ(parsed["metrics"]["ev_usd"]["mean"].get<double>(), 0.1 + 0.2);
  EXPECT_EQ(parsed["metrics"]["ev_usd"]["std"].get<double>(), 1.0 / 3.0);
}

TEST(PrintReport, SectionsUnitsAndWidth) {
  HandMadeRun run(1001);
  std::ostringstream out;
  printReport(out, reportInfo(1001), run.summary, run.statistics);
  const std::string text = out.str();

  EXPECT_NE(text.find("Scenario  hand-made\n          a hand-made result\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("seed 42"), std::string::npos) << text;
  EXPECT_NE(text.find("1,001 paths"), std::string::npos) << text;
  EXPECT_NE(text.find("Yearly medians"), std::string::npos) << text;
  EXPECT_NE(text.find("regime share (%)"), std::string::npos) << text;
  EXPECT_NE(text.find("Histogram of ev_usd"), std::string::npos) << text;
  EXPECT_NE(text.find("2,002 paths per second"), std::string::npos) << text;

  // Every line fits a terminal; the metric rows show their units and median.
  std::string evRow, perAdsRow, multipleRow, listedRow, marginRow, shipmentsRow;
  for (const std::string& line : lines(text)) {
    EXPECT_LE(line.size(), 120u) << line;
    if (line.rfind("ev_usd ", 0) == 0) evRow = line;
    if (line.rfind("parent_per_ads_usd ", 0) == 0) perAdsRow = line;
    if (line.rfind("company_multiple ", 0) == 0) multipleRow = line;
    if (line.rfind("listed ", 0) == 0) listedRow = line;
    if (line.rfind("gross margin", 0) == 0) marginRow = line;
    if (line.rfind("shipments", 0) == 0) shipmentsRow = line;
  }
  // ev_usd is uniform on 10..50bn: mean and median 30bn, P5 12bn, P95 48bn.
  EXPECT_NE(evRow.find("USD bn"), std::string::npos) << evRow;
  EXPECT_NE(evRow.find(" 30.00 "), std::string::npos) << evRow;
  EXPECT_NE(evRow.find(" 12.00 "), std::string::npos) << evRow;
  EXPECT_NE(evRow.find(" 48.00"), std::string::npos) << evRow;
  EXPECT_NE(perAdsRow.find(" USD "), std::string::npos) << perAdsRow;
  EXPECT_EQ(perAdsRow.find("bn"), std::string::npos) << perAdsRow;
  EXPECT_NE(perAdsRow.find(" 3.000 "), std::string::npos) << perAdsRow;
  EXPECT_NE(multipleRow.find(" x "), std::string::npos) << multipleRow;
  EXPECT_NE(listedRow.find(" share "), std::string::npos) << listedRow;
  EXPECT_NE(marginRow.find("(%)"), std::string::npos) << marginRow;
  EXPECT_NE(marginRow.find(" 45.0"), std::string::npos) << marginRow;
  EXPECT_NE(shipmentsRow.find("(k units)"), std::string::npos) << shipmentsRow;
  EXPECT_NE(shipmentsRow.find(" 250.5"), std::string::npos) << shipmentsRow;

  // The histogram's counts add up to the paths between P1 and P99.
  auto number = [](std::string digits) {
    digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
    return std::stoull(digits);
  };
  // A bin reads "<lo> - <hi> <bar of #> <count>"; the last line "<a> paths below P1 and <b>
  // above P99 not shown".
  auto digitsOnly = [](const std::string& t) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) || c == ',';
    });
  };
  std::uint64_t counted = 0;
  int bins = 0;
  for (const std::string& line : lines(text)) {
    std::istringstream in(line);
    std::vector<std::string> t{std::istream_iterator<std::string>(in), {}};
    if (t.size() == 10 && t[1] == "paths" && t[2] == "below" && t[9] == "shown") {
      EXPECT_EQ(number(t[0]), 10u) << line;  // values 0..9 of 1001 evenly spaced lie below P1
      counted += number(t[0]) + number(t[5]);
    } else if ((t.size() == 4 || t.size() == 5) && t[1] == "-" && digitsOnly(t.back()) &&
               (t.size() == 4 || t[3].find_first_not_of('#') == std::string::npos)) {
      counted += number(t.back());
      ++bins;
    }
  }
  EXPECT_EQ(bins, 24) << text;
  EXPECT_EQ(counted, 1001u) << text;
}

TEST(PrintReport, LongHorizonWraps) {
  Layout layout;
  layout.years = 40;
  layout.firstYear = 2026;
  layout.outputs = {"ev_usd"};
  layout.yearlyOutputs = {{"revenue_usd", {}}, {"regime", {"open", "banned"}}};
  RunStatistics statistics(layout, 10);
  BlockOutput block;
  block.resize(layout, 10);
  for (int i = 0; i < 10; ++i) {
    block.outputs(i, 0) = 1e9 * (i + 1);
    for (int y = 0; y < 40; ++y) {
      block.yearly(i, y) = 1e9 * (y + 1);
      block.yearly(i, 40 + y) = i % 2;
    }
  }
  statistics.store(0, block);
  statistics.merge(statistics.blockStatistics(0, block));
  std::ostringstream out;
  printReport(out, reportInfo(10), summarize(statistics), statistics);
  for (const std::string& line : lines(out.str())) EXPECT_LE(line.size(), 120u) << line;
  EXPECT_NE(out.str().find("2065"), std::string::npos) << out.str();
}

TEST(WritePathsCsv, HeaderAndOneRowPerPath) {
  HandMadeRun run(5);
  std::ostringstream out;
  writePathsCsv(out, run.statistics);
  std::vector<std::string> rows = lines(out.str());
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0], "path,ev_usd,parent_per_ads_usd,company_multiple,listed");
  EXPECT_EQ(rows[1], "0,1e+10,2.5,20,0");
  EXPECT_EQ(rows[5].substr(0, 2), "4,");
  // Values read back exactly.
  std::string third = rows[3].substr(rows[3].find(',') + 1);
  EXPECT_EQ(std::stod(third.substr(0, third.find(','))), run.statistics.outputValues(0)[2]);
}

TEST(WriteFileAtomically, WritesAndReplaces) {
  TempDir dir;
  fs::path target = dir.path() / "summary.json";
  writeFileAtomically(target, "first\n");
  EXPECT_EQ(readFile(target), "first\n");
  writeFileAtomically(target, "second\n");
  EXPECT_EQ(readFile(target), "second\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(WriteFileAtomically, FailureKeepsTheOldFileAndLeavesNoTemporary) {
  TempDir dir;
  fs::path target = dir.path() / "paths.csv";
  writeFile(target, "old\n");
  EXPECT_THROW(writeFileAtomically(target,
                                   [](std::ostream& out) {
                                     out << "half";
                                     throw std::runtime_error("interrupted");
                                   }),
               std::runtime_error);
  EXPECT_EQ(readFile(target), "old\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);

  // A target that cannot be replaced (a directory) is an error, and nothing is left behind.
  fs::create_directory(dir.path() / "taken");
  EXPECT_THROW(writeFileAtomically(dir.path() / "taken", "x"), std::runtime_error);
  EXPECT_TRUE(fs::is_directory(dir.path() / "taken"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);

  EXPECT_THROW(writeFileAtomically(dir.path() / "missing" / "summary.json", "x"),
               std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// The program: version, help and command-line errors.

TEST(Cli, Version) {
  auto result = runSpinval("--version");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out.rfind("spinval 0.1.0 (git ", 0), 0u) << result.out;
}

TEST(Cli, HelpOnEachCommand) {
  for (std::string arguments : {"--help", "run --help", "validate --help"}) {
    SCOPED_TRACE(arguments);
    auto result = runSpinval(arguments);
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << result.out;
  }
  auto run = runSpinval("run --help");
  for (const char* flag :
       {"--paths", "--seed", "--threads", "--set", "--json", "--out", "--write-paths", "--quiet"})
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
}

TEST(Cli, NoCommandIsBadInput) {
  auto result = runSpinval("");
  EXPECT_EQ(result.status, 2);
  expectOneErrorLine(result);
}

TEST(Cli, UnknownFlagIsBadInput) {
  auto result = runSpinval("run " + quoted(validScenario()) + " --no-such-flag");
  EXPECT_EQ(result.status, 2);
  expectOneErrorLine(result);
  EXPECT_NE(result.err.find("--no-such-flag"), std::string::npos) << result.err;
}

TEST(Cli, ZeroPathsIsBadInput) {
  auto result = runSpinval("run " + quoted(validScenario()) + " --paths 0 --quiet");
  EXPECT_EQ(result.status, 2);
  expectOneErrorLine(result);
  EXPECT_NE(result.err.find("--paths"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

TEST(Cli, NonNumericSeedIsBadInput) {
  auto result = runSpinval("run " + quoted(validScenario()) + " --seed twelve --quiet");
  EXPECT_EQ(result.status, 2);
  expectOneErrorLine(result);
}

TEST(Cli, WritePathsNeedsOut) {
  auto result = runSpinval("run " + quoted(validScenario()) + " --write-paths --quiet");
  EXPECT_EQ(result.status, 2);
  expectOneErrorLine(result);
}

TEST(Cli, MissingScenarioIsBadInput) {
  for (std::string command : {"run", "validate"}) {
    SCOPED_TRACE(command);
    auto result = runSpinval(command + " " + quoted(dataPath("no-such-scenario.yaml")));
    EXPECT_EQ(result.status, 2);
    expectOneErrorLine(result);
    EXPECT_NE(result.err.find("no-such-scenario.yaml"), std::string::npos) << result.err;
  }
}

TEST(Cli, UnknownSetKeyIsBadInputNamingTheKey) {
  for (std::string command : {"run", "validate"}) {
    SCOPED_TRACE(command);
    auto result =
        runSpinval(command + " " + quoted(validScenario()) + " --set cost.no_such_leaf=1");
    EXPECT_EQ(result.status, 2) << result.err;
    expectOneErrorLine(result);
    EXPECT_NE(result.err.find("cost.no_such_leaf"), std::string::npos) << result.err;
  }
}

// ---------------------------------------------------------------------------------------------
// Every bad scenario in tests/data/bad names its file:line:column and key and exits 2.

struct Expectation {
  std::string key;
  std::string location;  // basename:line:column
};

// Reads "# expect: <dotted key> @ <basename>:<line>:<column>" from the file's first line.
std::optional<Expectation> readExpectation(const fs::path& file) {
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  const std::string prefix = "# expect: ";
  const auto at = first.find(" @ ");
  if (first.rfind(prefix, 0) != 0 || at == std::string::npos) return std::nullopt;
  Expectation expectation{first.substr(prefix.size(), at - prefix.size()), first.substr(at + 3)};
  while (!expectation.location.empty() &&
         std::isspace(static_cast<unsigned char>(expectation.location.back()))) {
    expectation.location.pop_back();
  }
  if (std::count(expectation.location.begin(), expectation.location.end(), ':') < 2) {
    return std::nullopt;
  }
  return expectation;
}

TEST(Cli, BadScenariosNameLocationAndKey) {
  const fs::path directory = dataPath("bad");
  ASSERT_TRUE(fs::is_directory(directory)) << directory;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << "no bad scenarios in " << directory;

  int checked = 0;
  for (const fs::path& file : files) {
    std::optional<Expectation> expected = readExpectation(file);
    if (!expected) continue;  // a file that another one extends
    ++checked;
    for (const std::string& command : {"run " + quoted(file.string()) + " --paths 100 --quiet",
                                       "validate " + quoted(file.string())}) {
      SCOPED_TRACE(file.filename().string() + ": " + command.substr(0, command.find(' ')));
      auto result = runSpinval(command);
      EXPECT_EQ(result.status, 2) << result.err;
      expectOneErrorLine(result);
      EXPECT_NE(result.err.find(expected->location), std::string::npos)
          << "expected " << expected->location << " in: " << result.err;
      if (!expected->key.empty()) {
        EXPECT_NE(result.err.find(expected->key), std::string::npos)
            << "expected key " << expected->key << " in: " << result.err;
      }
      EXPECT_TRUE(result.out.empty()) << result.out;
    }
  }
  EXPECT_GT(checked, 0) << "no file in " << directory << " has an '# expect:' line";
}

// ---------------------------------------------------------------------------------------------
// Runs of a valid scenario.

constexpr const char* kPaths = "5000";

std::string runArguments(const std::string& extra) {
  return "run " + quoted(validScenario()) + " --paths " + kPaths + " --seed 7 --quiet " + extra;
}

TEST(Cli, ValidateSaysOk) {
  auto result = runSpinval("validate " + quoted(validScenario()));
  ASSERT_EQ(result.status, 0) << result.err;
  std::vector<std::string> out = lines(result.out);
  ASSERT_EQ(out.size(), 1u) << result.out;
  EXPECT_EQ(out[0].rfind("OK ", 0), 0u) << out[0];
  EXPECT_NE(out[0].find("sha256 "), std::string::npos) << out[0];
  EXPECT_NE(out[0].find("stochastic inputs"), std::string::npos) << out[0];
  EXPECT_TRUE(result.err.empty()) << result.err;
}

// correlation-options.yaml asks for the t copula with Spearman coefficients and repair:
// nearest on three pairs that cannot hold together: each command says, on stderr, why and
// what it changed, one notice per coefficient; the run still reproduces on any thread count.
TEST(Cli, CorrelationRepairNoticesEveryChangedCoefficient) {
  const std::string scenario = quoted(dataPath("valid/correlation-options.yaml"));
  for (const std::string& command :
       {"validate " + scenario, "run " + scenario + " --paths 3000 --quiet --json --threads 1"}) {
    SCOPED_TRACE(command);
    auto result = runSpinval(command);
    ASSERT_EQ(result.status, 0) << result.err;
    const std::vector<std::string> err = lines(result.err);
    ASSERT_EQ(err.size(), 4u) << result.err;
    EXPECT_EQ(err[0].rfind("spinval: notice: correlations: the copula's Pearson matrix is not "
                           "positive definite (smallest eigenvalue -0.83",
                           0),
              0u)
        << err[0];
    for (const char* pair :
         {"peers.sentiment ~ market.growth_start (spearman) repaired 0.9 -> 0.",
          "peers.sentiment ~ cost.advantage (spearman) repaired -0.9 -> -0.",
          "market.growth_start ~ cost.advantage (spearman) repaired 0.9 -> 0."}) {
      EXPECT_NE(result.err.find(std::string("spinval: notice: correlation ") + pair),
                std::string::npos)
          << pair;
    }
  }
  const auto one = runSpinval("run " + scenario + " --paths 3000 --quiet --json --threads 1");
  const auto two = runSpinval("run " + scenario + " --paths 3000 --quiet --json --threads 2");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_EQ(withoutTiming(two.out), withoutTiming(one.out));
}

TEST(Cli, JsonSummaryHasTheDocumentedShape) {
  auto result = runSpinval(runArguments("--json"));
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(result.err.empty()) << result.err;
  Json j = Json::parse(result.out);

  EXPECT_EQ(keysOf(j), (std::vector<std::string>{"scenario", "scenario_sha256", "seed", "paths",
                                                 "sampler", "version", "metrics", "yearly",
                                                 "regime_share", "estimation", "timing"}));
  EXPECT_EQ(j["seed"].get<std::uint64_t>(), 7u);
  EXPECT_EQ(j["paths"].get<std::uint64_t>(), 5000u);
  EXPECT_EQ(j["sampler"].get<std::string>(), "mc");
  EXPECT_EQ(j["version"].get<std::string>(), "0.1.0");
  const std::string sha = j["scenario_sha256"].get<std::string>();
  EXPECT_EQ(sha.size(), 64u);
  EXPECT_EQ(sha.find_first_not_of("0123456789abcdef"), std::string::npos) << sha;

  EXPECT_EQ(keysOf(j["metrics"]), kOutputs);
  for (const std::string& name : kOutputs) {
    SCOPED_TRACE(name);
    const Json& m = j["metrics"][name];
    ASSERT_EQ(keysOf(m), kMetricKeys);
    for (const auto& [key, value] : m.items()) {
      if (key != "ci95") {
        EXPECT_TRUE(value.is_number()) << key;
      }
    }
    // Every interval brackets its estimate.
    for (const auto& [key, interval] : m["ci95"].items()) {
      ASSERT_TRUE(interval.is_array() && interval.size() == 2) << key;
      EXPECT_LE(interval[0].get<double>(), m[key].get<double>()) << key;
      EXPECT_GE(interval[1].get<double>(), m[key].get<double>()) << key;
    }
    double previous = m["min"].get<double>();
    for (const char* q : {"p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "max"}) {
      EXPECT_LE(previous, m[q].get<double>()) << q;
      previous = m[q].get<double>();
    }
    EXPECT_NEAR(m["stderr"].get<double>(), m["std"].get<double>() / std::sqrt(5000.0),
                1e-12 * std::abs(m["std"].get<double>()) + 1e-300);
  }

  for (const char* name : {"shipments", "asp_usd", "unit_cost_usd", "revenue_usd", "gross_margin",
                           "ebit_usd", "fcf_usd"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(j["yearly"].contains(name));
    const Json& byYear = j["yearly"][name];
    ASSERT_FALSE(byYear.empty());
    int year = std::stoi(byYear.begin().key());
    for (const auto& [key, value] : byYear.items()) {
      EXPECT_EQ(key, std::to_string(year++));
      EXPECT_EQ(keysOf(value), (std::vector<std::string>{"mean", "p05", "p50", "p95"}));
    }
  }
  EXPECT_FALSE(j["yearly"].contains("regime"));
  EXPECT_EQ(keysOf(j["regime_share"]), keysOf(j["yearly"]["revenue_usd"]));
  for (const auto& [year, shares] : j["regime_share"].items()) {
    double total = 0.0;
    for (const auto& [state, share] : shares.items()) total += share.get<double>();
    EXPECT_NEAR(total, 1.0, 1e-12) << year;
  }

  EXPECT_EQ(keysOf(j["timing"]),
            (std::vector<std::string>{"seconds", "paths_per_second", "threads", "ranks"}));
}

TEST(Cli, TableByDefault) {
  auto result = runSpinval(runArguments(""));
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_TRUE(result.err.empty()) << result.err;  // no progress bar when stderr is not a TTY
  for (const char* section : {"Per-path outputs", "ev_usd", "USD bn", "Yearly medians",
                              "regime share (%)", "Histogram of ev_usd", "paths per second"})
    EXPECT_NE(result.out.find(section), std::string::npos) << section << "\n" << result.out;
  for (const std::string& line : lines(result.out)) EXPECT_LE(line.size(), 120u) << line;
}

TEST(Cli, SameDigitsForAnyThreadCountAndRepeat) {
  auto reference = runSpinval(runArguments("--json --threads 1"));
  ASSERT_EQ(reference.status, 0) << reference.err;
  const std::string expected = withoutTiming(reference.out);
  for (std::string threads : {"2", "3", "1"}) {
    SCOPED_TRACE("--threads " + threads);
    auto result = runSpinval(runArguments("--json --threads " + threads));
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(withoutTiming(result.out), expected);
    EXPECT_EQ(Json::parse(result.out)["timing"]["threads"].get<unsigned>(),
              static_cast<unsigned>(std::stoi(threads)));
  }
}

// Every sampler, with a precision target, a threshold and the sketch: the same digits on 1, 2
// and 3 threads.
TEST(Cli, EverySamplerGivesTheSameDigitsOnAnyThreadCount) {
  for (std::string sampler : {"mc", "antithetic", "lhs", "sobol"}) {
    for (std::string extra : {"", " --precision 0.01 --prob 'ev_usd>1e9' --quantiles sketch"}) {
      SCOPED_TRACE(sampler + extra);
      const std::string arguments = "--json --sampler " + sampler + extra;
      auto reference = runSpinval(runArguments(arguments + " --threads 1"));
      ASSERT_EQ(reference.status, 0) << reference.err;
      const Json j = Json::parse(reference.out);
      EXPECT_EQ(j["sampler"].get<std::string>(), sampler);
      for (std::string threads : {"2", "3"}) {
        auto result = runSpinval(runArguments(arguments + " --threads " + threads));
        ASSERT_EQ(result.status, 0) << result.err;
        EXPECT_EQ(withoutTiming(result.out), withoutTiming(reference.out));
      }
    }
  }
}

TEST(Cli, SobolRoundsThePathCountUpWithANotice) {
  auto result =
      runSpinval("run " + quoted(validScenario()) + " --paths 1000 --sampler sobol --json --quiet");
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(Json::parse(result.out)["paths"].get<std::uint64_t>(), 1024u);
  EXPECT_NE(result.err.find("notice: sobol runs 1024 paths (1000 requested)"), std::string::npos)
      << result.err;
  EXPECT_EQ(Json::parse(result.out)["estimation"]["stderr"].get<std::string>(), "sobol-replicates");
}

TEST(Cli, PrecisionRunReportsItsConvergence) {
  auto result = runSpinval("run " + quoted(validScenario()) + " --precision 0.01 --json --quiet");
  ASSERT_EQ(result.status, 0) << result.err;
  const Json j = Json::parse(result.out);
  const Json& c = j["convergence"];
  EXPECT_EQ(c["metric"].get<std::string>(), "ev_usd");
  EXPECT_EQ(c["stat"].get<std::string>(), "mean");
  ASSERT_TRUE(c["reached"].get<bool>());
  const Json& last = c["checks"].back();
  EXPECT_LE(last["half_width"].get<double>(), 0.01 * std::abs(last["estimate"].get<double>()));
  EXPECT_EQ(last["paths"].get<std::uint64_t>(), j["paths"].get<std::uint64_t>());
  auto table = runSpinval("run " + quoted(validScenario()) + " --precision 0.01 --quiet");
  EXPECT_NE(table.out.find("Precision: mean of ev_usd"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("reached"), std::string::npos) << table.out;
  auto capped =
      runSpinval("run " + quoted(validScenario()) + " --precision 1e-6 --max-paths 3000 --quiet");
  ASSERT_EQ(capped.status, 0) << capped.err;
  EXPECT_NE(capped.out.find("NOT reached: stopped at --max-paths"), std::string::npos)
      << capped.out;
}

TEST(Cli, ThresholdProbabilityIsReportedWithItsStderr) {
  auto result = runSpinval(runArguments("--json --prob 'ev_usd>1e9' --prob 'listed<=0'"));
  ASSERT_EQ(result.status, 0) << result.err;
  const Json j = Json::parse(result.out);
  const Json& p = j["probabilities"];
  ASSERT_TRUE(p.contains("ev_usd>1e9")) << result.out;
  ASSERT_TRUE(p.contains("listed<=0")) << result.out;
  // P(listed <= 0) is the unlisted share: 1 minus the mean of `listed`; its stderr binomial.
  const double probability = p["listed<=0"]["probability"].get<double>();
  EXPECT_NEAR(probability, 1 - j["metrics"]["listed"]["mean"].get<double>(), 1e-12);
  const double n = std::stod(kPaths);
  EXPECT_NEAR(p["listed<=0"]["stderr"].get<double>(),
              std::sqrt(probability * (1 - probability) / (n - 1)), 1e-12);
}

TEST(Cli, StatisticsOptionsRejectBadValues) {
  for (std::string extra :
       {"--prob 'nope>1'", "--prob 'ev_usd>x'", "--sampler quasi",
        "--precision-stat p42 --precision 0.01", "--precision-metric nope --precision 0.01",
        "--quantiles maybe", "--memory-budget lots", "--precision 2"}) {
    SCOPED_TRACE(extra);
    auto result = runSpinval(runArguments(extra));
    EXPECT_EQ(result.status, 2) << result.err;
    expectOneErrorLine(result);
  }
  // Exact quantiles beyond the budget are refused up front; so is paths.csv without them.
  auto exact = runSpinval(runArguments("--quantiles exact --memory-budget 1000"));
  EXPECT_EQ(exact.status, 2) << exact.err;
  EXPECT_NE(exact.err.find("--quantiles sketch"), std::string::npos) << exact.err;
  auto csv = runSpinval(runArguments(
      "--quantiles sketch --out " +
      quoted((fs::temp_directory_path() / "spinval-no-csv").string()) + " --write-paths"));
  EXPECT_EQ(csv.status, 2) << csv.err;
}

// Above the budget, auto mode keeps a sketch and says so; its quantiles stay within 0.1% of
// the exact ones.
TEST(Cli, AutoQuantilesSwitchToTheSketchAboveTheBudget) {
  auto exact = runSpinval(runArguments("--json"));
  auto sketch = runSpinval(runArguments("--json --memory-budget 1000"));
  ASSERT_EQ(exact.status, 0) << exact.err;
  ASSERT_EQ(sketch.status, 0) << sketch.err;
  EXPECT_NE(sketch.err.find("using the DDSketch quantiles"), std::string::npos) << sketch.err;
  const Json a = Json::parse(exact.out)["metrics"]["ev_usd"];
  const Json b = Json::parse(sketch.out)["metrics"]["ev_usd"];
  EXPECT_EQ(Json::parse(sketch.out)["estimation"]["quantiles"].get<std::string>(), "ddsketch");
  EXPECT_EQ(a["mean"].get<double>(), b["mean"].get<double>());
  for (const char* q : {"p05", "p50", "p95"}) {
    EXPECT_NEAR(b[q].get<double>(), a[q].get<double>(),
                0.001 * std::abs(a[q].get<double>()) * 1.000001)
        << q;
  }
}

TEST(Cli, OutWritesSummaryAndPaths) {
  TempDir dir;
  fs::path out = dir.path() / "nested" / "result";
  auto json = runSpinval(runArguments("--json"));
  ASSERT_EQ(json.status, 0) << json.err;
  auto result = runSpinval(runArguments("--out " + quoted(out.string()) + " --write-paths"));
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("Per-path outputs"), std::string::npos);  // the table still prints

  std::string summary = readFile(out / "summary.json");
  EXPECT_EQ(withoutTiming(summary), withoutTiming(json.out));
  EXPECT_TRUE(Json::accept(summary));

  std::vector<std::string> rows = lines(readFile(out / "paths.csv"));
  ASSERT_EQ(rows.size(), 5001u);
  std::string header = "path";
  for (const std::string& name : kOutputs) header += "," + name;
  EXPECT_EQ(rows[0], header);
  EXPECT_EQ(rows[1].rfind("0,", 0), 0u);
  EXPECT_EQ(rows[5000].rfind("4999,", 0), 0u);
  EXPECT_EQ(std::count(rows[42].begin(), rows[42].end(), ','),
            static_cast<std::ptrdiff_t>(kOutputs.size()));

  // The mean of ev_usd read back from paths.csv is the summary's, to rounding.
  double sum = 0.0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::string rest = rows[i].substr(rows[i].find(',') + 1);
    sum += std::stod(rest.substr(0, rest.find(',')));
  }
  double mean = Json::parse(summary)["metrics"]["ev_usd"]["mean"].get<double>();
  EXPECT_NEAR(sum / 5000.0, mean, 1e-9 * std::abs(mean));

  // Only the three files (with manifest.json): no temporary files left behind.
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(out)) files.push_back(entry.path().filename());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"manifest.json", "paths.csv", "summary.json"}));
}

TEST(Cli, FailedValidationKeepsExistingOutput) {
  TempDir dir;
  writeFile(dir.path() / "summary.json", "{\"previous\": true}\n");
  auto result = runSpinval(runArguments("--out " + quoted(dir.path().string()) +
                                        " --write-paths --set cost.no_such_leaf=1"));
  EXPECT_EQ(result.status, 2);
  expectOneErrorLine(result);
  EXPECT_EQ(readFile(dir.path() / "summary.json"), "{\"previous\": true}\n");
  EXPECT_FALSE(fs::exists(dir.path() / "paths.csv"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Cli, NewOutDirectoryNotCreatedOnBadInput) {
  TempDir dir;
  fs::path out = dir.path() / "never";
  auto result = runSpinval(runArguments("--out " + quoted(out.string()) + " --set nope=1"));
  EXPECT_EQ(result.status, 2);
  EXPECT_FALSE(fs::exists(out));
}

TEST(Cli, UnwritableOutIsAFailure) {
  TempDir dir;
  writeFile(dir.path() / "file", "not a directory\n");
  auto result = runSpinval(runArguments("--out " + quoted((dir.path() / "file").string())));
  EXPECT_EQ(result.status, 1);
  expectOneErrorLine(result);
  EXPECT_EQ(readFile(dir.path() / "file"), "not a directory\n");
}

}  // namespace
}  // namespace spinval
