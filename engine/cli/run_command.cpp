// spinval run: simulate a scenario and print the summary as a table or JSON, optionally
// writing summary.json, paths.csv and manifest.json into an output directory. Under mpirun
// the ranks share the work and rank 0 prints and writes; with --shard K/N the command computes
// one shard and writes its partial result for spinval merge.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "manifest.hpp"
#include "progress.hpp"
#include "spinval/cluster.hpp"
#include "spinval/error.hpp"
#include "spinval/parallel.hpp"
#include "spinval/partial.hpp"
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
  std::string sampler;     // empty: the scenario's simulation.sampler
  double precision = 0.0;  // 0: no precision target
  std::string precisionMetric = "ev_usd";
  std::string precisionStat = "mean";
  std::uint64_t maxPaths = 100'000'000;
  std::string quantiles = "auto";
  std::string memoryBudget = "1GiB";
  std::vector<std::string> probabilities;
  std::string shard;  // "K/N"; empty: the whole run
};

constexpr std::uint64_t kFirstPrecisionRound = 16384;

}  // namespace

// "1GiB", "512M", "2e9" (bytes); binary multiples for K, M, G, T with or without "iB".
std::uint64_t parseBytes(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double scale = 1;
  if (unit.size() == 3 && unit.substr(1) == "iB") unit = unit.substr(0, 1);
  if (unit == "K" || unit == "k")
    scale = 1024.0;
  else if (unit == "M")
    scale = 1024.0 * 1024;
  else if (unit == "G")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "T")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty() && unit != "B")
    used = 0;
  if (used == 0 || !(value > 0) || !std::isfinite(value * scale)) {
    throw InputError({"--memory-budget", 0, 0}, "",
                     "expected a size such as 1GiB, 512M or 2e9 (bytes), got '" + text + "'");
  }
  return static_cast<std::uint64_t>(value * scale);
}

std::string gib(double bytes) {
  std::ostringstream text;
  text << std::setprecision(3) << bytes / (1024.0 * 1024 * 1024) << " GiB";
  return text.str();
}

namespace {

// "K/N" with 1 <= K <= N.
Shard parseShard(const std::string& text) {
  Shard shard;
  unsigned long long k = 0, n = 0;
  char slash = 0;
  std::istringstream in(text);
  if (in >> k >> slash >> n && slash == '/' && in.peek() == EOF && k >= 1 && k <= n &&
      text.find_first_not_of("0123456789/") == std::string::npos) {
    shard.index = k;
    shard.count = n;
    return shard;
  }
  throw InputError({"--shard", 0, 0}, "",
                   "expected K/N with 1 <= K <= N, such as 2/5, got '" + text + "'");
}

int run(const RunOptions& options) {
  const Communicator& world = Communicator::world();
  PhaseClock phases;
  phases.start("load");
  // Everything about the input is checked here, before anything is written.
  std::optional<Shard> shard;
  if (!options.shard.empty()) {
    shard = parseShard(options.shard);
    auto conflict = [](const std::string& flag, const std::string& why) {
      return InputError({flag, 0, 0}, "", "cannot be combined with --shard: " + why);
    };
    if (options.precision > 0.0) {
      throw conflict("--precision",
                     "a precision target needs every shard's results between rounds; run it "
                     "whole, or under mpirun");
    }
    if (options.writePaths) throw conflict("--write-paths", "use spinval merge --write-paths");
    if (options.json) throw conflict("--json", "a shard has no summary; spinval merge prints it");
    if (world.size() > 1) throw conflict("mpirun", "use either MPI ranks or shards");
  }
  prepareThreads(resolveThreads(options.threads));  // they start while the scenario loads
  PreparedScenario prepared = prepareScenario(options.scenario);
  const Scenario& scenario = prepared.scenario();

  RunSettings settings = commonSettings(
      prepared, {options.paths, options.seedGiven, options.seed, options.sampler, options.threads});
  for (const std::string& expression : options.probabilities) {
    try {
      settings.thresholds.push_back(parseThreshold(expression, prepared.model->layout()));
    } catch (const std::invalid_argument& e) {
      throw InputError({"--prob", 0, 0}, "", e.what());
    }
  }
  if (options.precision > 0.0) {
    PrecisionTarget target;
    target.relative = options.precision;
    target.metric = options.precisionMetric;
    target.maxPaths = options.maxPaths;
    try {
      target.stat = parsePrecisionStat(options.precisionStat);
    } catch (const std::invalid_argument& e) {
      throw InputError({"--precision-stat", 0, 0}, "", e.what());
    }
    if (!prepared.model->layout().outputIndex(target.metric)) {
      throw InputError({"--precision-metric", 0, 0}, "", "unknown output '" + target.metric + "'");
    }
    settings.precision = target;
    // Without --paths a precision run starts from a small first round and grows from there.
    if (options.paths == 0) settings.paths = kFirstPrecisionRound;
  }

  // Paths the sampler needs, and the quantile mode the memory budget allows.
  const std::uint64_t admissible = admissiblePaths(settings.sampler, settings.paths);
  if (admissible != settings.paths && !settings.precision) {
    std::cerr << "spinval: notice: " << samplerName(settings.sampler) << " runs " << admissible
              << " paths (" << settings.paths << " requested)\n";
  }
  const std::uint64_t budget = parseBytes(options.memoryBudget);
  // A precision run starts exact and moves to sketches if it outgrows the budget; only an
  // explicit --quantiles exact is held to its largest possible size up front.
  settings.memoryBudget = budget;
  const std::uint64_t most = settings.precision && options.quantiles == "exact"
                                 ? std::max(admissible, options.maxPaths)
                                 : admissible;
  const double exactBytes =
      static_cast<double>(most) * static_cast<double>(exactBytesPerPath(prepared.model->layout()));
  if (options.quantiles == "sketch") {
    settings.sketch = true;
  } else if (exactBytes > static_cast<double>(budget)) {
    if (options.quantiles == "exact") {
      throw InputError({"--quantiles", 0, 0}, "",
                       "exact quantiles of " + std::to_string(most) + " paths need " +
                           gib(exactBytes) + ", over the memory budget of " +
                           gib(static_cast<double>(budget)) +
                           "; use --quantiles sketch or a larger --memory-budget");
    }
    settings.sketch = true;
    std::cerr << "spinval: notice: exact quantiles of " << most << " paths would need "
              << gib(exactBytes) << " (budget " << gib(static_cast<double>(budget))
              << "); using the DDSketch quantiles (relative accuracy 0.1%)\n";
  }
  if (settings.sketch && options.writePaths) {
    throw InputError({"--write-paths", 0, 0}, "",
                     "paths.csv needs every path's values, which the sketch quantile mode does "
                     "not keep; use fewer paths or a larger --memory-budget");
  }

  const std::filesystem::path outDir = options.out;
  if (!outDir.empty()) std::filesystem::create_directories(outDir);

  RunInfo info;
  info.scenario = scenario.name;
  info.scenarioSha256 = scenario.sha256;
  info.seed = settings.seed;
  info.sampler = samplerName(settings.sampler);
  info.version = version();
  info.stderrMethod = errorModelName(errorModelOf(settings.sampler));
  info.description = scenario.description;
  info.file = options.scenario.file;
  info.ranks = static_cast<unsigned>(world.size());

  ProgressBar bar(world.root() && ProgressBar::wanted(options.quiet));
  settings.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  phases.start("simulate");
  if (shard) {
    const RunPiece piece = simulatePiece(*prepared.model, prepared.copula, settings, *shard);
    bar.finish();
    phases.start("write");
    info.paths = piece.runPaths;
    ShardHeader header{info,
                       *shard,
                       settings.sketch,
                       piece.statistics.options().sketchAlpha,
                       options.probabilities,
                       {}};
    phases.stop();
    header.manifest = manifestJson(
        "run", info,
        {ProcessInfo{0, hostName(), piece.threads, piece.paths(), piece.seconds, piece.cpuSeconds}},
        phases);
    const auto file = writeShard(outDir, header, prepared.model->layout(), piece);
    if (!options.quiet) {
      std::cout << "shard " << shard->index << " of " << shard->count << ": " << piece.paths()
                << " of " << piece.runPaths << " paths (blocks " << piece.blocks.first << " to "
                << piece.blocks.last << ") written to " << file.string() << "\n";
    }
    return kExitSuccess;
  }
  // Outputs read whole after the run: all of them for paths.csv, else the histogram's in the
  // table; the others keep only the values near their quantiles in a long run.
  if (!options.writePaths) {
    settings.keptOutputs.emplace();
    const auto histogram = prepared.model->layout().outputIndex(kHistogramOutput);
    if (!options.json && histogram) settings.keptOutputs->push_back(*histogram);
  }
  RunResult result = simulate(*prepared.model, prepared.copula, settings, world);
  bar.finish();
  if (!world.root()) return kExitSuccess;

  phases.start("summarize");
  Summary summary = summarize(result.statistics, result.threads);
  summary.convergence = result.convergence;
  info.paths = result.statistics.merged();
  info.seconds = result.seconds;
  info.threads = result.threads;
  const std::string json = summaryJson(info, summary).dump(2) + "\n";

  phases.start("print");
  if (options.json) {
    std::cout << json;
  } else {
    printReport(std::cout, info, summary, result.statistics);
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");

  if (!outDir.empty()) {
    phases.start("write");
    writeFileAtomically(outDir / "summary.json", json);
    if (options.writePaths) {
      writeFileAtomically(outDir / "paths.csv",
                          [&result](std::ostream& out) { writePathsCsv(out, result.statistics); });
    }
    phases.stop();
    writeFileAtomically(outDir / "manifest.json",
                        manifestJson("run", info, result.processes, phases).dump(2) + "\n");
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
  addSeedOption(*command, options->seed, options->seedGiven,
                "Random seed (default: simulation.seed)");
  addThreadsOption(*command, options->threads);
  command->add_flag("--json", options->json, "Print the summary JSON instead of the table");
  CLI::Option* out =
      command->add_option("--out", options->out, "Write summary.json (and paths.csv) into DIR")
          ->type_name("DIR");
  command->add_flag("--write-paths", options->writePaths, "With --out, also write paths.csv")
      ->needs(out);
  command->add_flag("--quiet", options->quiet, "No progress bar");
  command
      ->add_option("--sampler", options->sampler,
                   "mc, antithetic, lhs or sobol (default: simulation.sampler)")
      ->type_name("NAME");
  command
      ->add_option("--precision", options->precision,
                   "Run until the 95% half-width is at most REL of the statistic (first round: "
                   "--paths, else 16384)")
      ->type_name("REL")
      ->check(CLI::Range(1e-9, 1.0));
  command
      ->add_option("--precision-metric", options->precisionMetric,
                   "Output the precision applies to (default ev_usd)")
      ->type_name("OUTPUT");
  command
      ->add_option("--precision-stat", options->precisionStat,
                   "mean, p50, p05 or p95 (default mean)")
      ->type_name("STAT");
  command
      ->add_option("--max-paths", options->maxPaths,
                   "Most paths a precision run may take (default 100000000)")
      ->type_name("N")
      ->check(wholeNumber(1));
  command
      ->add_option("--quantiles", options->quantiles,
                   "exact (stored values), sketch (DDSketch) or auto: exact within the budget")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "exact", "sketch"}));
  command
      ->add_option("--memory-budget", options->memoryBudget,
                   "Memory for exact quantiles before auto switches to the sketch (default 1GiB)")
      ->type_name("SIZE");
  command
      ->add_option("--prob", options->probabilities,
                   "Threshold probability such as 'ev_usd>50e9' (repeatable)")
      ->type_name("EXPR")
      ->allow_extra_args(false);
  command
      ->add_option("--shard", options->shard,
                   "Compute shard K of N only and write it into --out for spinval merge")
      ->type_name("K/N")
      ->needs(out);
  command->final_callback([options, &action] { action = [options] { return run(*options); }; });
}

}  // namespace spinval::cli
