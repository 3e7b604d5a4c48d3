// spinval run: simulate a scenario and print the summary as a table or JSON, optionally
// writing summary.json and paths.csv into an output directory.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "progress.hpp"
#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"
#include "spinval/version.hpp"

namespace spinval::cli {

namespace {

struct RunOptions {
  ScenarioOptions scenario;
  std::uint64_t paths = 0;  // 0: the scenario's simulation.paths
  std::uint64_t seed = 0;
  bool seedGiven = false;
  unsigned threads = 0;  // 0: every hardware thread
  bool json = false;
  std::string out;
  bool writePaths = false;
  bool quiet = false;
};

int run(const RunOptions& options) {
  // Everything about the input is checked here, before anything is written.
  PreparedScenario prepared = prepareScenario(options.scenario);
  const Scenario& scenario = prepared.scenario();

  RunSettings settings;
  settings.paths = options.paths != 0 ? options.paths : scenario.simulation.paths;
  settings.seed = options.seedGiven ? options.seed : scenario.simulation.seed;
  settings.sampler = prepared.sampler;
  settings.threads = resolveThreads(options.threads);

  const std::filesystem::path outDir = options.out;
  if (!outDir.empty()) std::filesystem::create_directories(outDir);

  ProgressBar bar(ProgressBar::wanted(options.quiet));
  settings.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  RunResult result = simulate(*prepared.model, prepared.copula, settings);
  bar.finish();

  const Summary summary = summarize(result.statistics);
  RunInfo info;
  info.scenario = scenario.name;
  info.scenarioSha256 = scenario.sha256;
  info.seed = settings.seed;
  info.paths = result.statistics.paths();
  info.sampler = samplerName(settings.sampler);
  info.version = version();
  info.description = scenario.description;
  info.file = options.scenario.file;
  info.seconds = result.seconds;
  info.threads = result.threads;
  const std::string json = summaryJson(info, summary).dump(2) + "\n";

  if (options.json) {
    std::cout << json;
  } else {
    printReport(std::cout, info, summary, result.statistics);
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");

  if (!outDir.empty()) {
    writeFileAtomically(outDir / "summary.json", json);
    if (options.writePaths) {
      writeFileAtomically(outDir / "paths.csv",
                          [&result](std::ostream& out) { writePathsCsv(out, result.statistics); });
    }
  }
  return kExitSuccess;
}

}  // namespace

void addRunCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand("run", "Simulate a scenario and summarise the paths");
  addScenarioOptions(*command, options->scenario);
  command
      ->add_option("--paths", options->paths, "Paths to simulate, >= 1 (default: simulation.paths)")
      ->type_name("N")
      ->check(wholeNumber(1));
  command->add_option("--seed", options->seed, "Random seed (default: simulation.seed)")
      ->type_name("SEED")
      ->check(wholeNumber(0))
      ->each([options](const std::string&) { options->seedGiven = true; });
  command
      ->add_option("--threads", options->threads,
                   "Worker threads, 0..4096 (default 0: every hardware thread)")
      ->type_name("T")
      ->check(wholeNumber(0, 4096));
  command->add_flag("--json", options->json, "Print the summary JSON instead of the table");
  CLI::Option* out =
      command->add_option("--out", options->out, "Write summary.json (and paths.csv) into DIR")
          ->type_name("DIR");
  command->add_flag("--write-paths", options->writePaths, "With --out, also write paths.csv")
      ->needs(out);
  command->add_flag("--quiet", options->quiet, "No progress bar");
  command->final_callback([options, &action] { action = [options] { return run(*options); }; });
}

}  // namespace spinval::cli
