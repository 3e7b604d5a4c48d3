// spinval compare: run two or more scenarios with the same seed, path count and sampler, and
// print each output side by side with the paired differences to the first scenario, as a table
// or JSON, optionally writing compare.json into an output directory.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "progress.hpp"
#include "spinval/compare.hpp"
#include "spinval/error.hpp"
#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"
#include "spinval/version.hpp"

namespace spinval::cli {

namespace {

struct CompareOptions {
  std::vector<std::string> files;
  std::vector<std::string> overrides;
  std::uint64_t paths = 0;  // 0: the first scenario's simulation.paths
  std::uint64_t seed = 0;
  bool seedGiven = false;
  unsigned threads = 0;  // 0: every hardware thread
  std::string sampler;   // empty: the first scenario's simulation.sampler
  bool json = false;
  std::string out;
  bool quiet = false;
  std::string memoryBudget = "1GiB";
};

struct CompareInfo {
  std::vector<std::string> names, files, hashes;
  std::uint64_t seed = 1;
  std::string sampler;
};

// ---------------------------------------------------------------------------------------------
// The table.

std::string fixed(double x, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, x);
  std::string text(buffer);
  if ((text.front() == '-' || text.front() == '+') &&
      text.find_first_not_of("+-0.") == std::string::npos)
    text.erase(0, 1);
  return text;
}

std::string signedFixed(double x, int decimals) {
  std::string text = fixed(x, decimals);
  if (text.front() != '-' && text.find_first_not_of("0.") != std::string::npos) text.insert(0, "+");
  return text;
}

// Decimals that show `significant` digits of a number of this magnitude, within [0, most].
int decimalsFor(double magnitude, int significant, int most) {
  if (!(magnitude > 0.0) || !std::isfinite(magnitude)) return std::min(significant - 1, most);
  const int decimals = significant - 1 - static_cast<int>(std::floor(std::log10(magnitude)));
  return std::clamp(decimals, 0, most);
}

std::string letter(std::size_t j) {
  return std::string(1, static_cast<char>('A' + j % 26)) + (j >= 26 ? std::to_string(j / 26) : "");
}

void printTable(std::ostream& out, const CompareInfo& info, const Comparison& c) {
  const std::size_t runs = info.names.size();
  out << "spinval compare: " << runs << " scenarios, " << grouped(c.paths) << " paths each, seed "
      << info.seed << ", sampler " << info.sampler << " (stderr " << errorModelName(c.errorModel)
      << "), common random numbers\n";
  std::size_t nameWidth = 16;
  for (const std::string& name : info.names) nameWidth = std::max(nameWidth, name.size() + 5);
  for (std::size_t j = 0; j < runs; ++j) {
    out << "  " << std::left << std::setw(3) << letter(j) << std::setw(nameWidth - 2)
        << info.names[j] << info.files[j] << '\n';
  }
  out << std::right
      << "\nFor each scenario X after A, d = X - A path by path: mean(d) with its paired "
         "stderr,\nthe unpaired stderr sqrt(seA^2 + seX^2) for contrast, and P(X > A), the share "
         "of paths\nwhere X exceeds A, with its stderr.\n";

  constexpr int kValue = 10, kWide = 12;
  for (const MetricComparison& metric : c.metrics) {
    double magnitude = 0.0;
    for (const ScenarioMetric& s : metric.scenarios) {
      for (double x : {s.mean, s.p05, s.p50, s.p95}) magnitude = std::max(magnitude, std::abs(x));
    }
    const DisplayUnit unit = displayUnit(metric.name, magnitude);
    const int decimals = unit.label == "USD bn" ? 2 : decimalsFor(magnitude * unit.scale, 4, 4);
    double smallest = kInfinity;
    for (const PairedDifference& d : metric.differences) {
      if (d.stderror > 0) smallest = std::min(smallest, d.stderror);
    }
    const int errorDecimals =
        std::isfinite(smallest)
            ? std::max(decimals, decimalsFor(smallest * unit.scale, 2, decimals + 4))
            : decimals;

    std::string title = metric.name;
    if (!unit.label.empty()) {
      title += " (";
      title += unit.label;
      title += ")";
    }
    out << '\n' << title << '\n' << std::setw(static_cast<int>(nameWidth) + 1) << "";
    for (const char* column : {"mean", "P5", "P50", "P95"}) out << std::setw(kValue) << column;
    if (runs > 1) {
      for (const char* column : {"mean(d)", "paired se", "unpaired se"})
        out << std::setw(kWide) << column;
      out << std::setw(16) << "P(X > A)";
    }
    out << '\n';
    for (std::size_t j = 0; j < runs; ++j) {
      const ScenarioMetric& s = metric.scenarios[j];
      out << "  " << std::left << std::setw(3) << letter(j)
          << std::setw(static_cast<int>(nameWidth) - 4) << info.names[j] << std::right;
      for (double x : {s.mean, s.p05, s.p50, s.p95})
        out << std::setw(kValue) << fixed(x * unit.scale, decimals);
      if (j > 0) {
        const PairedDifference& d = metric.differences[j - 1];
        out << std::setw(kWide) << signedFixed(d.mean * unit.scale, errorDecimals);
        out << std::setw(kWide) << fixed(d.stderror * unit.scale, errorDecimals);
        out << std::setw(kWide) << fixed(d.unpairedStderror * unit.scale, errorDecimals);
        out << std::setw(16)
            << (fixed(d.probabilityGreater, 3) + " +- " + fixed(d.probabilityStderror, 3));
      }
      out << '\n';
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The JSON object: scenarios, seed, paths, sampler, version, estimation, metrics. Nothing in it
// depends on the thread count or the time taken.

nlohmann::ordered_json compareJson(const CompareInfo& info, const Comparison& c) {
  nlohmann::ordered_json j;
  j["scenarios"] = nlohmann::ordered_json::array();
  for (std::size_t s = 0; s < info.names.size(); ++s) {
    nlohmann::ordered_json scenario;
    scenario["name"] = info.names[s];
    scenario["file"] = info.files[s];
    scenario["sha256"] = info.hashes[s];
    j["scenarios"].push_back(scenario);
  }
  j["seed"] = info.seed;
  j["paths"] = c.paths;
  j["sampler"] = info.sampler;
  j["version"] = version();
  j["estimation"] = {{"stderr", errorModelName(c.errorModel)}};
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (const MetricComparison& metric : c.metrics) {
    nlohmann::ordered_json m;
    m["scenarios"] = nlohmann::ordered_json::array();
    for (const ScenarioMetric& s : metric.scenarios) {
      nlohmann::ordered_json row;
      row["mean"] = s.mean;
      row["stderr"] = s.stderror;
      row["p05"] = s.p05;
      row["p50"] = s.p50;
      row["p95"] = s.p95;
      m["scenarios"].push_back(row);
    }
    m["differences"] = nlohmann::ordered_json::array();
    for (std::size_t k = 0; k < metric.differences.size(); ++k) {
      const PairedDifference& d = metric.differences[k];
      nlohmann::ordered_json row;
      row["scenario"] = info.names[k + 1];
      row["against"] = info.names[0];
      row["mean_difference"] = d.mean;
      row["stderr"] = d.stderror;
      row["unpaired_stderr"] = d.unpairedStderror;
      row["p_greater"] = d.probabilityGreater;
      row["p_greater_stderr"] = d.probabilityStderror;
      m["differences"].push_back(row);
    }
    metrics[metric.name] = m;
  }
  j["metrics"] = metrics;
  return j;
}

// ---------------------------------------------------------------------------------------------

int compare(const CompareOptions& options) {
  // Every scenario is loaded and checked before anything runs.
  std::vector<PreparedScenario> prepared;
  for (const std::string& file : options.files)
    prepared.push_back(prepareScenario(ScenarioOptions{file, options.overrides}));

  RunSettings settings = commonSettings(
      prepared.front(),
      {options.paths, options.seedGiven, options.seed, options.sampler, options.threads});
  const std::uint64_t admissible = admissiblePaths(settings.sampler, settings.paths);
  if (admissible != settings.paths) {
    std::cerr << "spinval: notice: " << samplerName(settings.sampler) << " runs " << admissible
              << " paths (" << settings.paths << " requested)\n";
  }

  // Paired differences need every path's values of every scenario at once.
  const std::uint64_t budget = parseBytes(options.memoryBudget);
  double bytes = 0;
  for (const PreparedScenario& p : prepared) {
    bytes +=
        static_cast<double>(admissible) * static_cast<double>(exactBytesPerPath(p.model->layout()));
  }
  if (bytes > static_cast<double>(budget)) {
    throw InputError({"--memory-budget", 0, 0}, "",
                     "comparing " + std::to_string(prepared.size()) + " scenarios of " +
                         std::to_string(admissible) + " paths keeps every path's values, " +
                         gib(bytes) + ", over the memory budget of " +
                         gib(static_cast<double>(budget)) +
                         "; use fewer --paths or a larger --memory-budget");
  }

  const std::filesystem::path outDir = options.out;
  if (!outDir.empty()) std::filesystem::create_directories(outDir);

  ProgressBar bar(ProgressBar::wanted(options.quiet));
  std::vector<RunResult> results;
  const std::uint64_t total = admissible * prepared.size();
  for (std::size_t s = 0; s < prepared.size(); ++s) {
    const std::uint64_t before = admissible * s;
    settings.progress = [&bar, before, total](std::uint64_t done, std::uint64_t) {
      bar.update(before + done, total);
    };
    results.push_back(simulate(*prepared[s].model, prepared[s].copula, settings));
  }
  bar.finish();

  std::vector<const RunStatistics*> runs;
  CompareInfo info;
  info.seed = settings.seed;
  info.sampler = samplerName(settings.sampler);
  for (std::size_t s = 0; s < prepared.size(); ++s) {
    runs.push_back(&results[s].statistics);
    info.names.push_back(prepared[s].scenario().name);
    info.files.push_back(options.files[s]);
    info.hashes.push_back(prepared[s].scenario().sha256);
  }
  const Comparison comparison = compareRuns(runs);
  const std::string json = compareJson(info, comparison).dump(2) + "\n";

  if (options.json) {
    std::cout << json;
  } else {
    printTable(std::cout, info, comparison);
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
  if (!outDir.empty()) writeFileAtomically(outDir / "compare.json", json);
  return kExitSuccess;
}

}  // namespace

void addCompareCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* command = app.add_subcommand(
      "compare", "Run scenarios with common random numbers and compare them path by path");
  command
      ->add_option("SCENARIOS", options->files,
                   "Two or more scenario files (YAML); differences are to the first")
      ->required()
      ->expected(2, -1)
      ->check(CLI::ExistingFile);
  command
      ->add_option("--set", options->overrides,
                   "Override a leaf of every scenario, VALUE in YAML (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  command
      ->add_option("--paths", options->paths,
                   "Paths per scenario, >= 1 (default: the first scenario's simulation.paths)")
      ->type_name("N")
      ->check(wholeNumber(1));
  addSeedOption(*command, options->seed, options->seedGiven,
                "Random seed (default: the first scenario's simulation.seed)");
  addThreadsOption(*command, options->threads);
  command
      ->add_option("--sampler", options->sampler,
                   "mc, antithetic, lhs or sobol (default: the first scenario's)")
      ->type_name("NAME");
  command->add_flag("--json", options->json, "Print the comparison JSON instead of the table");
  command->add_option("--out", options->out, "Write compare.json into DIR")->type_name("DIR");
  command->add_flag("--quiet", options->quiet, "No progress bar");
  command
      ->add_option("--memory-budget", options->memoryBudget,
                   "Memory for every scenario's per-path values (default 1GiB)")
      ->type_name("SIZE");
  command->final_callback([options, &action] { action = [options] { return compare(*options); }; });
}

}  // namespace spinval::cli
