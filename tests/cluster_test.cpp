// The spinval program split across processes: run --shard K/N and merge, every refusal of
// merge, the run manifest, and (in a build with -DSPINVAL_MPI=ON) mpirun with 2 and 3 ranks.
// Every split must give the single-process summary byte for byte, timing aside.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace spinval {
namespace {

namespace fs = std::filesystem;
using spinval::testing::readFile;
using spinval::testing::runCommand;
using spinval::testing::runSpinval;
using spinval::testing::sourcePath;
using spinval::testing::TempDir;
using spinval::testing::withoutTiming;
using spinval::testing::writeFile;
using Json = nlohmann::ordered_json;

// A path single-quoted for the shell.
std::string q(const fs::path& path) {
  std::string quoted = "'";
  quoted += path.string();
  quoted += '\'';
  return quoted;
}

const std::string kBase = q(sourcePath("scenarios/thead-base.yaml"));

// The single-process summary, printed with --json.
std::string wholeRun(const std::string& arguments) {
  const auto result = runSpinval("run " + kBase + " --quiet --json " + arguments);
  EXPECT_EQ(result.status, 0) << result.err;
  return result.out;
}

// Runs shards 1..count of a run into `dir`, each on its own thread count.
void runShards(const fs::path& dir, int count, const std::string& arguments) {
  for (int k = 1; k <= count; ++k) {
    const auto result = runSpinval(
        "run " + kBase + " --quiet --threads " + std::to_string(1 + k % 2) + " --shard " +
        std::to_string(k) + "/" + std::to_string(count) + " --out " + q(dir) + " " + arguments);
    ASSERT_EQ(result.status, 0) << result.err;
  }
}

TEST(ShardAndMerge, GiveTheUnshardedSummaryByteForByte) {
  const std::string arguments = "--paths 40000 --seed 11 --prob 'ev_usd>50e9'";
  const std::string expected = withoutTiming(wholeRun(arguments));
  for (int count : {1, 2, 5}) {
    TempDir dir;
    runShards(dir.path() / "shards", count, arguments);
    const auto merged = runSpinval("merge " + q(dir.path() / "shards") + " --json --out " +
                                   q(dir.path() / "result"));
    ASSERT_EQ(merged.status, 0) << merged.err;
    EXPECT_EQ(withoutTiming(merged.out), expected) << count << " shards";
    EXPECT_EQ(readFile(dir.path() / "result" / "summary.json"), merged.out);
    const Json timing = Json::parse(merged.out)["timing"];
    EXPECT_EQ(timing["ranks"].get<int>(), count);
  }
}

TEST(ShardAndMerge, EverySamplerAndTheSketchMode) {
  for (const std::string sampler : {"antithetic", "lhs", "sobol"}) {
    const std::string arguments = "--paths 20000 --sampler " + sampler;
    TempDir dir;
    runShards(dir.path(), 3, arguments);
    const auto merged = runSpinval("merge " + q(dir.path()) + " --json");
    ASSERT_EQ(merged.status, 0) << merged.err;
    EXPECT_EQ(withoutTiming(merged.out), withoutTiming(wholeRun(arguments))) << sampler;
  }
  const std::string sketch = "--paths 30000 --quantiles sketch";
  TempDir dir;
  runShards(dir.path(), 2, sketch);
  const auto merged = runSpinval("merge " + q(dir.path()) + " --json");
  ASSERT_EQ(merged.status, 0) << merged.err;
  EXPECT_EQ(withoutTiming(merged.out), withoutTiming(wholeRun(sketch)));
}

// Shards spread over several folders merge as well; paths.csv equals the unsharded one.
TEST(ShardAndMerge, ShardsInSeveralFoldersAndPathsCsv) {
  TempDir dir;
  const std::vector<fs::path> folders = {dir.path() / "a", dir.path() / "b", dir.path() / "c"};
  std::string command = "merge";
  for (int k = 1; k <= 3; ++k) {
    const fs::path& folder = folders[static_cast<std::size_t>(k - 1)];
    const auto result = runSpinval("run " + kBase + " --quiet --paths 20000 --shard " +
                                   std::to_string(k) + "/3 --out " + q(folder));
    ASSERT_EQ(result.status, 0) << result.err;
    command += ' ';
    command += q(folder);
  }
  const auto merged = runSpinval(command + " --write-paths --out " + q(dir.path() / "merged"));
  ASSERT_EQ(merged.status, 0) << merged.err;
  const auto whole = runSpinval("run " + kBase + " --quiet --paths 20000 --write-paths --out " +
                                q(dir.path() / "whole"));
  ASSERT_EQ(whole.status, 0) << whole.err;
  EXPECT_EQ(readFile(dir.path() / "merged" / "paths.csv"),
            readFile(dir.path() / "whole" / "paths.csv"));
}

// What merge refuses: each case exits 2 with one error line naming the file and the key.
class Refusals : public ::testing::Test {
 protected:
  void SetUp() override { runShards(dir_.path() / "base", 3, "--paths 20000"); }

  // Merges `dirs` and expects a refusal whose message contains every fragment.
  void expectRefusal(const std::string& dirs, const std::vector<std::string>& fragments) {
    const auto result = runSpinval("merge " + dirs + " --out " + q(dir_.path() / "out"));
    EXPECT_EQ(result.status, 2) << result.err;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(result.err.find(fragment), std::string::npos) << result.err;
    }
    EXPECT_FALSE(fs::exists(dir_.path() / "out" / "summary.json"));
  }

  // Shard 3 of 3 computed with other arguments, in its own folder, beside shards 1 and 2.
  std::string withOtherThird(const std::string& name, const std::string& arguments) {
    const fs::path other = dir_.path() / name;
    const auto result =
        runSpinval("run " + kBase + " --quiet --shard 3/3 --out " + q(other) + " " + arguments);
    EXPECT_EQ(result.status, 0) << result.err;
    fs::create_directories(dir_.path() / (name + "-set"));
    for (const char* stem : {"shard-0001-of-0003", "shard-0002-of-0003"}) {
      for (const char* ext : {".json", ".bin"}) {
        fs::copy_file(dir_.path() / "base" / (std::string(stem) + ext),
                      dir_.path() / (name + "-set") / (std::string(stem) + ext));
      }
    }
    return q(dir_.path() / (name + "-set")) + " " + q(other);
  }

  TempDir dir_;
};

TEST_F(Refusals, ShardsOfAnotherScenario) {
  expectRefusal(withOtherThird("scenario", "--paths 20000 --set ipo.probability=0.8"),
                {"scenario_sha256", "different scenarios", "shard-0003-of-0003.json"});
}

TEST_F(Refusals, ShardsOfAnotherSeed) {
  expectRefusal(withOtherThird("seed", "--paths 20000 --seed 2"), {"seed", "different seeds"});
}

TEST_F(Refusals, ShardsOfAnotherSampler) {
  expectRefusal(withOtherThird("sampler", "--paths 20000 --sampler lhs"),
                {"sampler", "different samplers"});
}

TEST_F(Refusals, ShardsOfAnotherPathCount) {
  expectRefusal(withOtherThird("paths", "--paths 30000"), {"paths", "different path counts"});
}

TEST_F(Refusals, ShardsOfAnotherVersion) {
  // A shard file as another release of spinval would write it.
  const fs::path file = dir_.path() / "base" / "shard-0002-of-0003.json";
  Json j = Json::parse(readFile(file));
  j["version"] = "0.0.9";
  writeFile(file, j.dump(2));
  expectRefusal(q(dir_.path() / "base"), {"version", "different spinval versions", "0.0.9"});
}

TEST_F(Refusals, AMissingShard) {
  fs::remove(dir_.path() / "base" / "shard-0002-of-0003.json");
  expectRefusal(q(dir_.path() / "base"), {"shard.index", "missing shard 2 of 3"});
}

TEST_F(Refusals, ADuplicateShard) {
  const fs::path copy = dir_.path() / "copy";
  fs::create_directories(copy);
  for (const char* ext : {".json", ".bin"}) {
    fs::copy_file(dir_.path() / "base" / (std::string("shard-0001-of-0003") + ext),
                  copy / (std::string("shard-0001-of-0003") + ext));
  }
  expectRefusal(q(dir_.path() / "base") + " " + q(copy),
                {"shard.index", "shard 1 of 3 given twice"});
}

TEST_F(Refusals, ShardsOfAnotherSplit) {
  const auto result = runSpinval("run " + kBase + " --quiet --paths 20000 --shard 1/2 --out " +
                                 q(dir_.path() / "halves"));
  ASSERT_EQ(result.status, 0) << result.err;
  expectRefusal(q(dir_.path() / "base") + " " + q(dir_.path() / "halves"), {"shard.count"});
}

TEST_F(Refusals, ATruncatedDataFile) {
  const fs::path bin = dir_.path() / "base" / "shard-0003-of-0003.bin";
  fs::resize_file(bin, fs::file_size(bin) - 8);
  expectRefusal(q(dir_.path() / "base"), {"data", "unusable shard"});
}

TEST_F(Refusals, AFolderWithoutShards) {
  fs::create_directories(dir_.path() / "empty");
  expectRefusal(q(dir_.path() / "empty"), {"no shard files"});
}

TEST(ShardOptions, BadValuesAndConflicts) {
  TempDir dir;
  for (const std::string shard : {"0/3", "4/3", "2", "a/b", "1/0", "1/2/3", "-1/2"}) {
    const auto result =
        runSpinval("run " + kBase + " --shard '" + shard + "' --out " + q(dir.path()));
    EXPECT_EQ(result.status, 2) << shard;
    EXPECT_NE(result.err.find("--shard"), std::string::npos) << result.err;
  }
  for (const std::string conflict : {"--precision 0.01", "--json", "--write-paths"}) {
    const auto result =
        runSpinval("run " + kBase + " --shard 1/2 --out " + q(dir.path()) + " " + conflict);
    EXPECT_EQ(result.status, 2) << conflict;
    EXPECT_NE(result.err.find("cannot be combined with --shard"), std::string::npos) << result.err;
  }
  const auto noOut = runSpinval("run " + kBase + " --shard 1/2");
  EXPECT_EQ(noOut.status, 2);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// Every result folder says what made it.
TEST(Manifest, RecordsInputsBuildProcessesAndPhases) {
  TempDir dir;
  const auto result = runSpinval("run " + kBase + " --quiet --paths 5000 --seed 9 --threads 2 " +
                                 "--out " + q(dir.path()));
  ASSERT_EQ(result.status, 0) << result.err;
  const Json summary = Json::parse(readFile(dir.path() / "summary.json"));
  const Json m = Json::parse(readFile(dir.path() / "manifest.json"));
  EXPECT_EQ(m["command"], "run");
  EXPECT_EQ(m["scenario_sha256"], summary["scenario_sha256"]);
  EXPECT_EQ(m["seed"], 9);
  EXPECT_EQ(m["sampler"], "mc");
  EXPECT_EQ(m["paths"], 5000);
  EXPECT_EQ(m["spinval"]["version"], summary["version"]);
  EXPECT_FALSE(m["spinval"]["git_revision"].get<std::string>().empty());
  EXPECT_NE(m["spinval"]["flags"].get<std::string>().find("-std=c++20"), std::string::npos);
  EXPECT_EQ(m["ranks"], 1);
  EXPECT_EQ(m["threads"], 2);
  ASSERT_EQ(m["hosts"].size(), 1u);
  ASSERT_EQ(m["processes"].size(), 1u);
  EXPECT_EQ(m["processes"][0]["paths"], 5000);
  std::vector<std::string> phases;
  for (const auto& phase : m["phases"]) {
    phases.push_back(phase["name"]);
    EXPECT_GE(phase["seconds"].get<double>(), 0.0);
    EXPECT_GE(phase["cpu_seconds"].get<double>(), 0.0);
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"load", "simulate", "summarize", "print", "write"}));

  // A merge's manifest lists the shards' own manifests.
  runShards(dir.path() / "shards", 2, "--paths 5000");
  ASSERT_EQ(
      runSpinval("merge " + q(dir.path() / "shards") + " --out " + q(dir.path() / "m")).status, 0);
  const Json merged = Json::parse(readFile(dir.path() / "m" / "manifest.json"));
  EXPECT_EQ(merged["command"], "merge");
  EXPECT_EQ(merged["ranks"], 2);
  ASSERT_EQ(merged["shards"].size(), 2u);
  EXPECT_EQ(merged["shards"][1]["command_line"][4], "--threads");
}

#ifdef SPINVAL_MPIEXEC

std::string mpirun(int ranks, const std::string& arguments) {
  return std::string("'") + SPINVAL_MPIEXEC + "' --allow-run-as-root --oversubscribe -np " +
         std::to_string(ranks) + " " + testing::spinvalCommand() + " " + arguments;
}

TEST(Mpi, RanksGiveTheSingleProcessSummaryByteForByte) {
  for (const std::string sampler : {"mc", "antithetic", "lhs", "sobol"}) {
    const std::string arguments = "--paths 30000 --sampler " + sampler;
    const std::string expected = withoutTiming(wholeRun(arguments));
    for (int ranks : {2, 3}) {
      for (int threads : {1, 2}) {
        TempDir dir;
        const auto result = runCommand(mpirun(ranks, "run " + kBase + " --quiet --json --threads " +
                                                         std::to_string(threads) + " " + arguments +
                                                         " --out " + q(dir.path())));
        ASSERT_EQ(result.status, 0) << result.err;
        SCOPED_TRACE(sampler + ", " + std::to_string(ranks) + " ranks, " + std::to_string(threads) +
                     " threads");
        EXPECT_EQ(withoutTiming(result.out), expected);  // printed once, by rank 0
        EXPECT_EQ(readFile(dir.path() / "summary.json"), result.out);
        const Json m = Json::parse(readFile(dir.path() / "manifest.json"));
        EXPECT_EQ(m["ranks"], ranks);
        EXPECT_EQ(m["processes"].size(), static_cast<std::size_t>(ranks));
        EXPECT_TRUE(m["spinval"]["mpi"].is_string());
      }
    }
  }
}

TEST(Mpi, PrecisionRunsAndSketchesAcrossRanks) {
  for (const char* options :
       {"--precision 0.01 --paths 4096", "--paths 30000 --quantiles sketch"}) {
    const std::string arguments = options;
    const std::string expected = withoutTiming(wholeRun(arguments));
    const auto result = runCommand(mpirun(3, "run " + kBase + " --quiet --json " + arguments));
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(withoutTiming(result.out), expected) << arguments;
  }
}

// A lognormal multiple with sigma 160 overflows on rare paths; with seed 6 the first one of
// 60,000 paths lies in the last of the run's 4 chunks. Rank 0 reports the single-process
// error, prefixed with the rank whose chunks hold that path, and every rank stops.
TEST(Mpi, AFailingRankIsNamed) {
  const std::string arguments =
      "run " + kBase +
      " --quiet --json --paths 60000 --seed 6 --set 'peers.long_run_ev_sales={dist: "
      "lognormal, median: 10, sigma: 160}'";
  const auto single = runSpinval(arguments);
  ASSERT_EQ(single.status, 1);
  const std::string prefix = "spinval: error: path ";
  ASSERT_EQ(single.err.rfind(prefix, 0), 0u) << single.err;
  const std::uint64_t path = std::stoull(single.err.substr(prefix.size()));
  const std::uint64_t chunk = path / (1024 * 16);  // of 4 chunks (59 blocks)
  ASSERT_EQ(chunk, 3u) << "the test needs a failure in another rank's chunks";
  for (int ranks : {2, 3}) {
    const auto result = runCommand(mpirun(ranks, arguments));
    EXPECT_NE(result.status, 0);
    // Rank r of R holds chunks [floor(4 r / R), floor(4 (r + 1) / R)).
    int rank = 0;
    while (4 * static_cast<std::uint64_t>(rank + 1) / static_cast<std::uint64_t>(ranks) <= chunk) {
      ++rank;
    }
    const std::string expected = "spinval: error: rank " + std::to_string(rank) + ": " +
                                 single.err.substr(std::string("spinval: error: ").size());
    EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
}

TEST(Mpi, BadInputIsReportedOnceWithStatus2) {
  const auto result =
      runCommand(mpirun(2, "run " + kBase + " --quiet --set valuation.wacc=-1 --paths 1000"));
  EXPECT_NE(result.status, 0);
  std::size_t reports = 0;
  for (std::size_t at = result.err.find("spinval: error:"); at != std::string::npos;
       at = result.err.find("spinval: error:", at + 1)) {
    ++reports;
  }
  EXPECT_EQ(reports, 1u) << result.err;
  EXPECT_NE(result.err.find("valuation.wacc"), std::string::npos) << result.err;
}

#endif

}  // namespace
}  // namespace spinval
