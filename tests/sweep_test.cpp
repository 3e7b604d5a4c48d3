// Sweeps: reading and expanding sweep files (grid and zip order, errors with their location),
// and `spinval sweep` end to end: resuming after an interruption gives the same bytes, stored
// points are reported as skipped, and a changed base scenario invalidates them. On Slurm: the
// task numbering, the generated scripts, --task and --collect (tests/slurm_sweep_test.sh runs
// the scripts on a real cluster).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
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

// ---------------------------------------------------------------------------------------------
// Slurm: task numbering and the generated scripts.

TEST(SweepSlurm, TasksNumberPointsThenTheirShards) {
  for (std::size_t t = 1; t <= 6; ++t) {
    EXPECT_EQ(sweepTask(t, 1).point, t);
    EXPECT_EQ(sweepTask(t, 1).shard, 1u);
  }
  // Three shards per point: tasks 1-3 are point 1, tasks 4-6 point 2.
  const std::vector<std::pair<std::size_t, std::size_t>> expected = {{1, 1}, {1, 2}, {1, 3},
                                                                     {2, 1}, {2, 2}, {2, 3}};
  for (std::size_t t = 1; t <= expected.size(); ++t) {
    EXPECT_EQ(sweepTask(t, 3).point, expected[t - 1].first) << t;
    EXPECT_EQ(sweepTask(t, 3).shard, expected[t - 1].second) << t;
  }
  EXPECT_THROW(sweepTask(0, 1), std::invalid_argument);
  EXPECT_THROW(sweepTask(1, 0), std::invalid_argument);
  EXPECT_EQ(taskRanges({2, 3, 4, 7, 9, 10}), "2-4,7,9-10");
  EXPECT_EQ(taskRanges({5}), "5");
  EXPECT_EQ(taskRanges({}), "");
  EXPECT_EQ(shellQuote("/a b/it's"), "'/a b/it'\\''s'");
}

SlurmSettings exampleSlurmSettings() {
  SlurmSettings settings;
  settings.binary = "/opt/spinval/bin/spinval";
  settings.sweepFile = "/home/ana/sweeps/it's.yaml";
  settings.outDir = "/scratch/100%/out";
  settings.name = "cost vs multiple";
  settings.points = 6;
  settings.arrayLimit = 2;
  settings.partition = "short";
  settings.cpusPerTask = 4;
  settings.version = "9.9.9";
  return settings;
}

// The lines of a script up to its first command: #SBATCH lines are read only there.
std::string headerOf(const std::string& script) {
  std::string header;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line) && line.starts_with("#");) header += line + "\n";
  return header;
}

TEST(SweepSlurm, ArrayScriptHasOneTaskPerPointAndAbsolutePaths) {
  const SlurmScripts scripts = slurmScripts(exampleSlurmSettings());
  EXPECT_EQ(headerOf(scripts.array).substr(0, headerOf(scripts.array).find("#\n")),
            "#!/bin/sh\n"
            "#SBATCH --job-name=spinval-cost_vs_multiple\n"
            "#SBATCH --array=1-6%2\n"
            "#SBATCH --partition=short\n"
            "#SBATCH --requeue\n"
            "#SBATCH --ntasks=1\n"
            "#SBATCH --cpus-per-task=4\n"
            // "%" starts a file-name pattern in Slurm; "%%" is the character.
            "#SBATCH --output=/scratch/100%%/out/logs/task-%A_%a.out\n");
  EXPECT_NE(
      scripts.array.find("\nexec '/opt/spinval/bin/spinval' sweep "
                         "'/home/ana/sweeps/it'\\''s.yaml' --out '/scratch/100%/out' --task "
                         "\"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-4}\"\n"),
      std::string::npos)
      << scripts.array;
  EXPECT_NE(scripts.array.find("${SLURM_ARRAY_TASK_ID:?"), std::string::npos);
  EXPECT_EQ(scripts.array.find("--shards-per-point"), std::string::npos);
}

TEST(SweepSlurm, CollectScriptAndSubmitScript) {
  const SlurmScripts scripts = slurmScripts(exampleSlurmSettings());
  const std::string collectHeader = headerOf(scripts.collect);
  EXPECT_NE(collectHeader.find("#SBATCH --job-name=spinval-cost_vs_multiple-collect\n"),
            std::string::npos);
  EXPECT_NE(collectHeader.find("#SBATCH --partition=short\n"), std::string::npos);
  EXPECT_NE(collectHeader.find("#SBATCH --output=/scratch/100%%/out/logs/collect-%j.out\n"),
            std::string::npos);
  EXPECT_EQ(collectHeader.find("--array"), std::string::npos);
  EXPECT_NE(scripts.collect.find("\nexec '/opt/spinval/bin/spinval' sweep "
                                 "'/home/ana/sweeps/it'\\''s.yaml' --out '/scratch/100%/out' "
                                 "--collect\n"),
            std::string::npos)
      << scripts.collect;

  // The array first, then the collect job once every task has succeeded; TASKS resubmits some
  // tasks under the same limit.
  const std::string& submit = scripts.submit;
  const std::size_t array =
      submit.find("array=$(sbatch --parsable '/scratch/100%/out/slurm/array.sh')\n");
  const std::size_t collect = submit.find(
      "collect=$(sbatch --parsable --dependency=\"afterok:$array$after\" "
      "'/scratch/100%/out/slurm/collect.sh')\n");
  ASSERT_NE(array, std::string::npos) << submit;
  ASSERT_NE(collect, std::string::npos) << submit;
  EXPECT_LT(array, collect);
  EXPECT_NE(submit.find("array=$(sbatch --parsable --array=\"$1%2\" "
                        "'/scratch/100%/out/slurm/array.sh')\n"),
            std::string::npos)
      << submit;
  EXPECT_NE(submit.find(">>'/scratch/100%/out/slurm/jobs'"), std::string::npos);
}

TEST(SweepSlurm, ShardedArraysAndNoLimitOrPartition) {
  SlurmSettings settings = exampleSlurmSettings();
  settings.arrayLimit = 0;
  settings.partition.clear();
  settings.shardsPerPoint = 3;
  const SlurmScripts scripts = slurmScripts(settings);
  EXPECT_NE(scripts.array.find("\n#SBATCH --array=1-18\n"), std::string::npos);
  EXPECT_EQ(scripts.array.find("--partition"), std::string::npos);
  EXPECT_EQ(scripts.collect.find("--partition"), std::string::npos);
  EXPECT_NE(scripts.array.find("--task \"$SLURM_ARRAY_TASK_ID\" --shards-per-point 3 "),
            std::string::npos);
  EXPECT_NE(scripts.collect.find("--collect --shards-per-point 3\n"), std::string::npos);
  EXPECT_NE(scripts.submit.find("--array=\"$1\" "), std::string::npos);
}

TEST(SweepSlurm, RefusesWhatAnSbatchLineCannotHold) {
  SlurmSettings settings = exampleSlurmSettings();
  settings.outDir = "/scratch/my sweep";
  EXPECT_THROW(slurmScripts(settings), std::invalid_argument);
  settings = exampleSlurmSettings();
  settings.partition = "short;rm";
  EXPECT_THROW(slurmScripts(settings), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Slurm: the command's --slurm, --task and --collect.

std::string gridFile() {
  return dataPath("sweeps/grid.yaml");
}

std::string taskCommand(const fs::path& out, int task) {
  return "sweep '" + gridFile() + "' --out '" + out.string() + "' --threads 1 --task " +
         std::to_string(task);
}

std::string collectCommand(const fs::path& out) {
  return "sweep '" + gridFile() + "' --out '" + out.string() + "' --collect";
}

TEST(SweepSlurmCommand, WritesExecutableScriptsWithAbsolutePathsAndRunsNothing) {
  TempDir dir;
  // Relative paths on the command line; the scripts must hold absolute ones.
  const fs::path cwd = fs::current_path();
  const fs::path sweep = fs::relative(gridFile(), cwd);
  const fs::path out = fs::relative(dir.path() / "out", cwd);
  ASSERT_TRUE(sweep.is_relative());
  const auto r =
      runSpinval("sweep '" + sweep.string() +
                 "' --slurm --partition debug --array-limit 2 --out '" + out.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path outDir = fs::weakly_canonical(dir.path() / "out");
  const fs::path slurm = outDir / "slurm";
  for (const char* name : {"array.sh", "collect.sh", "submit.sh"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::is_regular_file(slurm / name));
    EXPECT_NE(fs::status(slurm / name).permissions() & fs::perms::owner_exec, fs::perms::none);
    EXPECT_EQ(std::system(("sh -n '" + (slurm / name).string() + "'").c_str()), 0);
    EXPECT_NE(r.out.find("wrote " + (slurm / name).string()), std::string::npos) << r.out;
  }
  EXPECT_TRUE(fs::is_directory(outDir / "logs"));
  EXPECT_EQ(filesIn(outDir / "points"), 0u);
  EXPECT_FALSE(fs::exists(outDir / "sweep.csv"));

  const std::string array = readFile(slurm / "array.sh");
  for (const std::string& line :
       {std::string("#SBATCH --array=1-6%2\n"), std::string("#SBATCH --partition=debug\n"),
        std::string("#SBATCH --requeue\n"),
        "#SBATCH --output=" + (outDir / "logs").string() + "/task-%A_%a.out\n",
        "exec '" + fs::canonical(SPINVAL_BINARY).string() + "' sweep '" +
            fs::weakly_canonical(gridFile()).string() + "' --out '" + outDir.string() +
            "' --task \"$SLURM_ARRAY_TASK_ID\""}) {
    EXPECT_NE(array.find(line), std::string::npos) << line << "\n" << array;
  }
  EXPECT_NE(readFile(slurm / "collect.sh").find("' --out '" + outDir.string() + "' --collect\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("submit with:\n  '" + (slurm / "submit.sh").string() + "'\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--dependency=afterok:"), std::string::npos) << r.out;
}

TEST(SweepSlurmCommand, BadOptionsExitTwoAndWriteNothing) {
  TempDir dir;
  const fs::path out = dir.path() / "out";
  struct Case {
    std::string arguments, expected;
  };
  const std::string sweep = "sweep '" + gridFile() + "' --out '" + out.string() + "' ";
  const std::vector<Case> cases = {
      {sweep + "--task 13 --shards-per-point 2",
       "--task: expected an array task of this sweep, 1 to 12 (6 points x 2 shards)"},
      {sweep + "--task 7", "--task: expected an array task of this sweep, 1 to 6"},
      {sweep + "--partition debug", "--partition requires --slurm"},
      {sweep + "--slurm --collect", "excludes"},
      {sweep + "--shards-per-point 2", "--shards-per-point: needs --slurm, --task or --collect"},
      {"sweep '" + gridFile() + "' --slurm --out '" + (dir.path() / "my out").string() + "'",
       "#SBATCH"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arguments);
    const auto r = runSpinval(c.arguments);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
    EXPECT_EQ(countLines(r.err, "spinval: error:"), 1u) << r.err;
    EXPECT_FALSE(fs::exists(out)) << r.err;
  }
}

TEST(SweepSlurmCommand, TasksThenCollectGiveTheBytesOfALocalSweep) {
  TempDir dir;
  const fs::path local = dir.path() / "local";
  const fs::path tasks = dir.path() / "tasks";
  ASSERT_EQ(runSpinval(sweepCommand(gridFile(), local)).status, 0);
  // In reverse order, as a job array may run them.
  for (int task = 6; task >= 1; --task) {
    const auto r = runSpinval(taskCommand(tasks, task));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "task " + std::to_string(task) + ": point " + std::to_string(task) +
                         " written to " +
                         (tasks / "points" / (std::to_string(task) + ".json")).string() + "\n");
    EXPECT_EQ(countLines(r.err, "point " + std::to_string(task) + "/6 "), 1u) << r.err;
  }
  EXPECT_FALSE(fs::exists(tasks / "sweep.csv"));

  // A task run again (requeued) finds its point stored and leaves the file as it is.
  const std::string stored = readFile(tasks / "points" / "3.json");
  const auto again = runSpinval(taskCommand(tasks, 3));
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(
      again.err.find("point 3/6 cost.advantage=0.4 peers.long_run_ev_sales=8: skipped (done)"),
      std::string::npos)
      << again.err;
  EXPECT_NE(again.out.find("stored already"), std::string::npos) << again.out;
  EXPECT_EQ(readFile(tasks / "points" / "3.json"), stored);

  const auto collected = runSpinval(collectCommand(tasks));
  ASSERT_EQ(collected.status, 0) << collected.err;
  EXPECT_EQ(readFile(tasks / "sweep.csv"), readFile(local / "sweep.csv"));
  EXPECT_EQ(readFile(tasks / "sweep.json"), readFile(local / "sweep.json"));
  const auto json = runSpinval(collectCommand(tasks) + " --json");
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_EQ(json.out, readFile(local / "sweep.json"));
}

TEST(SweepSlurmCommand, CollectRefusesIncompleteResultsAndWritesNothing) {
  TempDir dir;
  const fs::path out = dir.path() / "out";
  for (int task : {1, 3, 4}) ASSERT_EQ(runSpinval(taskCommand(out, task)).status, 0);
  // Point 4 stored by another spinval version: stale.
  auto point = nlohmann::ordered_json::parse(readFile(out / "points" / "4.json"));
  point["version"] = "0.0.0-other";
  writeFile(out / "points" / "4.json", point.dump(2) + "\n");
  // Aggregates from an earlier collect stay as they are.
  writeFile(out / "sweep.csv", "earlier\n");

  const auto r = runSpinval(collectCommand(out));
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("point 2/6 cost.advantage=0.3 peers.long_run_ev_sales=12: missing\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("point 4/6 cost.advantage=0.4 peers.long_run_ev_sales=12: spinval version "
                       "changed\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(countLines(r.err, ": missing"), 3u) << r.err;  // 2, 5 and 6
  EXPECT_NE(r.err.find("spinval: error: 4 of 6 points not done (2,4-6), so nothing was written"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(countLines(r.err, "spinval: error:"), 1u) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(readFile(out / "sweep.csv"), "earlier\n");
  EXPECT_FALSE(fs::exists(out / "sweep.json"));

  // With the Slurm scripts in the folder it says how to resubmit the tasks.
  ASSERT_EQ(runSpinval("sweep '" + gridFile() + "' --slurm --out '" + out.string() + "'").status,
            0);
  const auto slurm = runSpinval(collectCommand(out));
  EXPECT_EQ(slurm.status, 3) << slurm.err;
  EXPECT_NE(
      slurm.err.find("resubmit them with '" + (out / "slurm" / "submit.sh").string() + "' 2,4-6\n"),
      std::string::npos)
      << slurm.err;
}

// Three shards per point: 18 tasks in a shuffled order, each a shard of a point, the last of a
// point's shards merging them; the collected aggregates are those of a local sweep. A task run
// again skips its shard, and a point whose shards are stored but not merged is merged by
// --collect.
TEST(SweepSlurmCommand, ShardedTasksThenCollectGiveTheBytesOfALocalSweep) {
  TempDir dir;
  const fs::path local = dir.path() / "local";
  const fs::path tasks = dir.path() / "tasks";
  ASSERT_EQ(runSpinval(sweepCommand(gridFile(), local)).status, 0);
  const std::string sharded = " --shards-per-point 3";
  for (int task : {7, 2, 18, 1, 9, 4, 3, 12, 10, 5, 6, 8, 11, 13, 17, 15, 14, 16}) {
    const auto r = runSpinval(taskCommand(tasks, task) + sharded);
    ASSERT_EQ(r.status, 0) << r.err;
    const int point = (task - 1) / 3 + 1;
    EXPECT_NE(r.out.find("task: point " + std::to_string(point) + " shard " +
                         std::to_string((task - 1) % 3 + 1) + " of 3"),
              std::string::npos)
        << r.out;
  }
  // Every point was merged by its last shard; a repeated task changes nothing.
  const std::string stored = readFile(tasks / "points" / "2.json");
  const auto again = runSpinval(taskCommand(tasks, 5) + sharded);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.err.find("skipped (point done)"), std::string::npos) << again.err;
  EXPECT_EQ(readFile(tasks / "points" / "2.json"), stored);

  // A point whose last task stopped between storing its shard and merging.
  fs::remove(tasks / "points" / "4.json");
  const auto collected = runSpinval(collectCommand(tasks) + sharded);
  ASSERT_EQ(collected.status, 0) << collected.err;
  EXPECT_EQ(readFile(tasks / "sweep.csv"), readFile(local / "sweep.csv"));
  EXPECT_EQ(readFile(tasks / "sweep.json"), readFile(local / "sweep.json"));

  // A stale shard (another version) is recomputed by its task, not merged.
  fs::remove(tasks / "points" / "6.json");
  const fs::path shard = tasks / "shards" / "point-6" / "split-3" / "shard-0002-of-0003.json";
  auto j = nlohmann::ordered_json::parse(readFile(shard));
  j["version"] = "0.0.0-other";
  writeFile(shard, j.dump(2));
  const auto incomplete = runSpinval(collectCommand(tasks) + sharded);
  EXPECT_EQ(incomplete.status, 3) << incomplete.err;
  const auto redo = runSpinval(taskCommand(tasks, 17) + sharded);
  ASSERT_EQ(redo.status, 0) << redo.err;
  EXPECT_NE(redo.out.find("all shards done"), std::string::npos) << redo.out;
  EXPECT_EQ(readFile(tasks / "points" / "6.json").find("0.0.0-other"), std::string::npos);
  ASSERT_EQ(runSpinval(collectCommand(tasks) + sharded).status, 0);
  EXPECT_EQ(readFile(tasks / "sweep.csv"), readFile(local / "sweep.csv"));

  // Both folders say what made them: every point with the processes that computed it (three
  // shards each here), the binary and the phases.
  for (const auto& [folder, command, processes] :
       {std::tuple{local, "sweep", 1u}, std::tuple{tasks, "sweep --collect", 3u}}) {
    const auto m = nlohmann::ordered_json::parse(readFile(folder / "manifest.json"));
    EXPECT_EQ(m["command"], command);
    EXPECT_EQ(m["seed"], 11);
    EXPECT_FALSE(m["spinval"]["git_revision"].get<std::string>().empty());
    EXPECT_EQ(m["hosts"].size(), 1u);
    ASSERT_EQ(m["points"].size(), 6u);
    for (const auto& point : m["points"]) {
      EXPECT_EQ(point["computed"]["processes"].size(), processes) << point.dump();
    }
    EXPECT_FALSE(m["phases"].empty());
  }
}

}  // namespace
}  // namespace spinval
