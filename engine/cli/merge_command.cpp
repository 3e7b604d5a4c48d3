// spinval merge: combine the shards of a run (spinval run --shard K/N) into the summary the
// unsharded run gives, byte for byte apart from timing.
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "manifest.hpp"
#include "spinval/error.hpp"
#include "spinval/partial.hpp"
#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"

namespace spinval::cli {

namespace {

struct MergeOptions {
  std::vector<std::string> dirs;
  std::string out;
  bool json = false;
  bool writePaths = false;
  unsigned threads = 0;  // for the summary; 0: every hardware thread
};

int merge(const MergeOptions& options) {
  PhaseClock phases;
  phases.start("read");
  std::vector<std::filesystem::path> dirs(options.dirs.begin(), options.dirs.end());
  MergedRun run = mergeShards(dirs);
  if (options.writePaths && !run.statistics->storesValues()) {
    throw InputError({"--write-paths", 0, 0}, "",
                     "the shards keep sketches, not every path's values; paths.csv needs a run "
                     "within the memory budget");
  }
  run.info.ranks = static_cast<unsigned>(run.shards.size());

  phases.start("summarize");
  const Summary summary = summarize(*run.statistics, resolveThreads(options.threads));
  const std::string json = summaryJson(run.info, summary).dump(2) + "\n";

  phases.start("print");
  if (options.json) {
    std::cout << json;
  } else {
    printReport(std::cout, run.info, summary, *run.statistics);
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");

  if (!options.out.empty()) {
    phases.start("write");
    const std::filesystem::path outDir = options.out;
    std::filesystem::create_directories(outDir);
    writeFileAtomically(outDir / "summary.json", json);
    if (options.writePaths) {
      writeFileAtomically(outDir / "paths.csv",
                          [&run](std::ostream& out) { writePathsCsv(out, *run.statistics); });
    }
    phases.stop();
    // The merge's own manifest, with the processes that computed the shards.
    const std::vector<ProcessInfo> processes = shardProcesses(run.shards);
    auto manifest = manifestJson("merge", run.info, processes, phases);
    manifest["shards"] = nlohmann::ordered_json::array();
    for (const auto& shard : run.shards) manifest["shards"].push_back(shard.at("manifest"));
    writeFileAtomically(outDir / "manifest.json", manifest.dump(2) + "\n");
  }
  return kExitSuccess;
}

}  // namespace

void addMergeCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<MergeOptions>();
  CLI::App* command =
      app.add_subcommand("merge", "Combine the shards of a run (run --shard K/N) into its summary");
  command->add_option("DIR", options->dirs, "Folders holding shard-K-of-N.json files")
      ->required()
      ->check(CLI::ExistingDirectory);
  CLI::Option* out = command
                         ->add_option("--out", options->out,
                                      "Write summary.json, manifest.json (and paths.csv) into DIR")
                         ->type_name("DIR");
  command->add_flag("--json", options->json, "Print the summary JSON instead of the table");
  command->add_flag("--write-paths", options->writePaths, "With --out, also write paths.csv")
      ->needs(out);
  addThreadsOption(*command, options->threads);
  command->final_callback([options, &action] { action = [options] { return merge(*options); }; });
}

}  // namespace spinval::cli
