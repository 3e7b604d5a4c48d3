// Sweeps: reading and expanding sweep files (grid and zip order, errors with their location),
// and `spinval sweep` end to end: resuming after an interruption gives the same bytes, stored
// points are reported as skipped, and a changed base scenario invalidates them.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "spinval/scenario_loader.hpp"
#include "spinval/sweep.hpp"
#include "test_support.hpp"

extern char** environ;

namespace spinval {
namespace {

namespace fs = std::filesystem;
using spinval::testing::dataPath;
using spinval::testing::runSpinval;

std::string readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const fs::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary);
  out << content;
}

std::size_t countLines(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) count += line.find(part) != std::string::npos;
  return count;
}

std::string rowsOf(const std::string& csv, const std::string& part) {
  std::string out;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    if (line.find(part) != std::string::npos) out += line + "\n";
  }
  return out;
}

std::size_t filesIn(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    count += entry.path().extension() == ".json";
  }
  return count;
}

// A fresh directory, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("spinval-sweep-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string sweepCommand(const fs::path& sweep, const fs::path& out) {
  return "sweep '" + sweep.string() + "' --out '" + out.string() + "' --threads 2";
}

// A sweep over the minimal scenario, copied beside it so the test can change the base.
fs::path writeLocalSweep(const fs::path& dir, int paths, int points) {
  fs::copy_file(dataPath("valid/minimal.yaml"), dir / "base.yaml");
  std::string values;
  for (int i = 0; i < points; ++i) {
    if (i > 0) values += ", ";
    values += std::to_string(6 + i);
  }
  std::string text = "base: base.yaml\npaths: ";
  text += std::to_string(paths);
  text += "\nseed: 5\naxes:\n  peers.long_run_ev_sales: [";
  text += values;
  text += "]\nmetrics: [ev_usd, equity_usd]\n";
  writeFile(dir / "sweep.yaml", text);
  return dir / "sweep.yaml";
}

// ---------------------------------------------------------------------------------------------
// Reading and expanding.

TEST(SweepSpec, GridIsTheCartesianProductFirstAxisSlowest) {
  const SweepSpec spec = loadSweep(dataPath("sweeps/grid.yaml"));
  EXPECT_EQ(spec.mode, SweepSpec::Mode::grid);
  EXPECT_EQ(spec.name, "grid");
  EXPECT_EQ(spec.paths, 2048u);
  EXPECT_EQ(spec.seed, 11u);
  ASSERT_EQ(spec.axes.size(), 2u);
  EXPECT_EQ(spec.axes[0].key, "cost.advantage");
  EXPECT_EQ(spec.axes[0].values[2], R"({"dist":uniform,"min":0.35,"max":0.45})");
  const std::vector<SweepPoint> points = expandSweep(spec);
  ASSERT_EQ(points.size(), 6u);
  const std::vector<std::vector<std::string>> expected = {{"0.3", "8"},
                                                          {"0.3", "12"},
                                                          {"0.4", "8"},
                                                          {"0.4", "12"},
                                                          {spec.axes[0].values[2], "8"},
                                                          {spec.axes[0].values[2], "12"}};
  for (std::size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].index, i + 1);
    EXPECT_EQ(points[i].values, expected[i]);
    EXPECT_EQ(points[i].overrides,
              (std::vector<std::string>{"cost.advantage=" + expected[i][0],
                                        "peers.long_run_ev_sales=" + expected[i][1]}));
  }
  EXPECT_EQ(pointLabel(spec, points[1]), "cost.advantage=0.3 peers.long_run_ev_sales=12");
}

TEST(SweepSpec, ZipAlignsTheListsAndAppliesSetFirst) {
  const SweepSpec spec = loadSweep(dataPath("sweeps/zip.yaml"));
  EXPECT_EQ(spec.mode, SweepSpec::Mode::zip);
  EXPECT_FALSE(spec.seed.has_value());
  const std::vector<SweepPoint> points = expandSweep(spec);
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[2].values, (std::vector<std::string>{"0.5", "12"}));
  EXPECT_EQ(points[2].overrides,
            (std::vector<std::string>{"valuation.terminal_growth=0.025", "cost.advantage=0.5",
                                      "peers.long_run_ev_sales=12"}));
  // The default statistics.
  std::vector<std::string> stats;
  for (const SweepItem& stat : spec.stats) stats.push_back(stat.text);
  EXPECT_EQ(stats, (std::vector<std::string>{"mean", "stderr", "p05", "p50", "p95"}));
}

TEST(SweepSpec, ExampleSweepLoadsAtEveryPoint) {
  const SweepSpec spec =
      loadSweep(spinval::testing::sourcePath("scenarios/sweeps/cost-vs-multiple.yaml"));
  const std::vector<SweepPoint> points = expandSweep(spec);
  ASSERT_EQ(points.size(), 9u);
  std::vector<std::string> hashes;
  for (const SweepPoint& point : points) {
    hashes.push_back(loadScenario(spec.base, point.overrides).sha256);
  }
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::unique(hashes.begin(), hashes.end()), hashes.end());
}

TEST(SweepSpec, DefaultOutputFolderIsBesideTheSweepFile) {
  EXPECT_EQ(defaultSweepOutDir("scenarios/sweeps/cost-vs-multiple.yaml"),
            fs::path("scenarios/sweeps/out-cost-vs-multiple"));
}

TEST(SweepSpec, ErrorsNameFileLineColumnAndKey) {
  const auto message = [](const std::string& file) -> std::string {
    try {
      loadSweep(dataPath("sweeps/" + file));
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message("unknown-key.yaml").find("unknown-key.yaml:3:1: axis: unknown key"),
            std::string::npos);
  EXPECT_NE(message("zip-length.yaml")
                .find("zip-length.yaml:5:3: axes.peers.long_run_ev_sales: zip axes must have "
                      "equal lengths"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The command.

TEST(SweepCommand, BadInputExitsTwoWithTheLocationBeforeAnyPointRuns) {
  TempDir dir;
  struct Case {
    std::string file, expected;
  };
  const std::vector<Case> cases = {
      {"unknown-key.yaml", "unknown-key.yaml:3:1: axis: unknown key in a sweep file"},
      {"zip-length.yaml", "zip-length.yaml:5:3: axes.peers.long_run_ev_sales: zip axes"},
      {"bad-axis-key.yaml",
       "bad-axis-key.yaml:4:3: axes.cost.advantages: unknown --set key: no key 'advantages'"},
      {"bad-axis-value.yaml",
       "bad-axis-value.yaml:4:32: axes.peers.long_run_ev_sales[1]: peers.long_run_ev_sales.max: "
       "expected max > min"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const auto r = runSpinval(sweepCommand(dataPath("sweeps/" + c.file), dir.path() / "out"));
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(countLines(r.err, "spinval: error:"), 1u) << r.err;
    EXPECT_EQ(r.err.find("point 1/"), std::string::npos) << r.err;
    // The bad axis value is in the last point: nothing ran and nothing was written.
    EXPECT_FALSE(fs::exists(dir.path() / "out")) << r.err;
  }
}

TEST(SweepCommand, WritesPointsAndTidyAggregates) {
  TempDir dir;
  const auto r = runSpinval(sweepCommand(dataPath("sweeps/grid.yaml"), dir.path()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(countLines(r.err, "point "), 6u) << r.err;
  EXPECT_NE(r.err.find("point 2/6 cost.advantage=0.3 peers.long_run_ev_sales=12: ev_usd mean "),
            std::string::npos)
      << r.err;
  for (int i = 1; i <= 6; ++i)
    EXPECT_TRUE(fs::exists(dir.path() / "points" / (std::to_string(i) + ".json")));
  const std::string csv = readFile(dir.path() / "sweep.csv");
  // Header, then 6 points x 2 metrics x 4 statistics.
  EXPECT_EQ(countLines(csv, ","), 1u + 6 * 2 * 4);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "point,cost.advantage,peers.long_run_ev_sales,metric,stat,value");
  EXPECT_NE(
      csv.find("\n5,\"{\"\"dist\"\":uniform,\"\"min\"\":0.35,\"\"max\"\":0.45}\",8,ev_usd,mean,"),
      std::string::npos)
      << csv;
  const auto json = nlohmann::ordered_json::parse(readFile(dir.path() / "sweep.json"));
  EXPECT_EQ(json["sweep"], "grid");
  EXPECT_EQ(json["seed"], 11);
  ASSERT_EQ(json["points"].size(), 6u);
  EXPECT_EQ(json["points"][3]["axes"]["peers.long_run_ev_sales"], 12);
  EXPECT_FALSE(json.contains("timing"));
  const auto printed =
      runSpinval(sweepCommand(dataPath("sweeps/grid.yaml"), dir.path()) + " --json");
  ASSERT_EQ(printed.status, 0) << printed.err;
  EXPECT_EQ(printed.out, readFile(dir.path() / "sweep.json"));
  // A point's file holds its axis values, hash and run settings, and the summary.
  const auto point = nlohmann::ordered_json::parse(readFile(dir.path() / "points" / "4.json"));
  EXPECT_EQ(point["point"], 4);
  EXPECT_EQ(point["axes"]["cost.advantage"], 0.4);
  EXPECT_EQ(point["paths"], 2048);
  EXPECT_EQ(point["scenario_sha256"], point["summary"]["scenario_sha256"]);
  EXPECT_EQ(json["points"][3]["metrics"]["ev_usd"]["p50"],
            point["summary"]["metrics"]["ev_usd"]["p50"]);
  // A different multiple gives different numbers.
  EXPECT_NE(json["points"][0]["metrics"]["ev_usd"]["mean"],
            json["points"][1]["metrics"]["ev_usd"]["mean"]);
}

TEST(SweepCommand, ResumedSweepGivesTheSameBytesAndReportsSkippedPoints) {
  TempDir dir;
  const fs::path out = dir.path() / "out";
  ASSERT_EQ(runSpinval(sweepCommand(dataPath("sweeps/grid.yaml"), out)).status, 0);
  const std::string csv = readFile(out / "sweep.csv");
  const std::string json = readFile(out / "sweep.json");

  // An interruption after some points: their files exist, the others and the aggregates not.
  fs::remove(out / "points" / "2.json");
  fs::remove(out / "points" / "5.json");
  fs::remove(out / "points" / "6.json");
  fs::remove(out / "sweep.csv");
  fs::remove(out / "sweep.json");
  const auto r = runSpinval(sweepCommand(dataPath("sweeps/grid.yaml"), out));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(countLines(r.err, "skipped (done)"), 3u) << r.err;
  EXPECT_NE(r.err.find("point 1/6 cost.advantage=0.3 peers.long_run_ev_sales=8: skipped (done)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("point 2/6 cost.advantage=0.3 peers.long_run_ev_sales=12: ev_usd mean"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(readFile(out / "sweep.csv"), csv);
  EXPECT_EQ(readFile(out / "sweep.json"), json);

  // Everything stored: every point skipped, the same bytes again.
  const auto again = runSpinval(sweepCommand(dataPath("sweeps/grid.yaml"), out));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(countLines(again.err, "skipped (done)"), 6u) << again.err;
  EXPECT_EQ(readFile(out / "sweep.csv"), csv);
  const auto quiet = runSpinval(sweepCommand(dataPath("sweeps/grid.yaml"), out) + " --quiet");
  EXPECT_EQ(quiet.err, "");
}

TEST(SweepCommand, KilledSweepResumesToTheSameCsv) {
  TempDir dir;
  // Points slow enough (a few tenths of a second each on one thread) to kill the run midway.
  const fs::path sweep = writeLocalSweep(dir.path(), 100000, 6);
  const fs::path reference = dir.path() / "reference";
  const fs::path killed = dir.path() / "killed";
  ASSERT_EQ(runSpinval(sweepCommand(sweep, reference)).status, 0);

  const std::string binary = SPINVAL_BINARY;
  const std::string sweepArg = sweep.string(), outArg = killed.string();
  std::vector<std::string> args = {binary, "sweep",     sweepArg, "--out",
                                   outArg, "--threads", "1",      "--quiet"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool finished = false;
  int status = 0;
  while (filesIn(killed / "points") < 3 && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      finished = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!finished) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status));
  }
  const std::size_t stored = filesIn(killed / "points");
  EXPECT_GE(stored, 3u);
  EXPECT_LT(stored, 6u) << "the sweep finished before it could be killed";
  EXPECT_FALSE(fs::exists(killed / "sweep.csv"));

  const auto r = runSpinval(sweepCommand(sweep, killed));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(countLines(r.err, "skipped (done)"), stored) << r.err;
  EXPECT_EQ(readFile(killed / "sweep.csv"), readFile(reference / "sweep.csv"));
  EXPECT_EQ(readFile(killed / "sweep.json"), readFile(reference / "sweep.json"));
}

TEST(SweepCommand, ChangedBaseScenarioInvalidatesStoredPoints) {
  TempDir dir;
  const fs::path sweep = writeLocalSweep(dir.path(), 2048, 3);
  const fs::path out = dir.path() / "out";
  ASSERT_EQ(runSpinval(sweepCommand(sweep, out)).status, 0);
  const std::string csv = readFile(out / "sweep.csv");

  std::string base = readFile(dir.path() / "base.yaml");
  const std::string from = "  net_cash: 1000000000\n";
  ASSERT_NE(base.find(from), std::string::npos);
  base.replace(base.find(from), from.size(), "  net_cash: 3000000000\n");
  writeFile(dir.path() / "base.yaml", base);

  const auto r = runSpinval(sweepCommand(sweep, out));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(countLines(r.err, "skipped"), 0u) << r.err;
  EXPECT_EQ(countLines(r.err, "recomputed: scenario changed"), 3u) << r.err;
  const std::string changed = readFile(out / "sweep.csv");
  EXPECT_NE(changed, csv);
  // Net cash moves equity, not enterprise value: only the equity rows change.
  EXPECT_EQ(rowsOf(changed, ",ev_usd,"), rowsOf(csv, ",ev_usd,"));
  EXPECT_NE(rowsOf(changed, ",equity_usd,"), rowsOf(csv, ",equity_usd,"));
}

}  // namespace
}  // namespace spinval
