// Options and set-up shared by the commands that load a scenario.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "spinval/error.hpp"
#include "spinval/scenario_loader.hpp"

namespace spinval::cli {

namespace {

// One notice line per coefficient that `correlation.repair: nearest` changed, after a line on
// why: "spinval: notice: correlation a ~ b repaired 0.9 -> 0.8437 (-0.0563)".
void printCorrelationRepairs(std::ostream& out, const CorrelationInputs& c) {
  if (c.repaired.empty()) return;
  const bool spearman = c.kind == CorrelationKind::spearman;
  char line[512];
  std::snprintf(line, sizeof line,
                "spinval: notice: correlations: the %smatrix is not positive definite (smallest "
                "eigenvalue %.3g); using the nearest correlation matrix (%d iterations)",
                spearman ? "copula's Pearson " : "", c.unrepairedEigenvalue, c.repairIterations);
  out << line << "\n";
  for (const RepairedCorrelation& r : c.repaired) {
    const double change = r.repaired - r.given;
    std::snprintf(line, sizeof line,
                  std::abs(change) >= 5e-5 ? "%.6g -> %.4f (%+.4f)" : "%.6g -> %.6f (%+.1e)",
                  r.given, r.repaired, change);
    out << "spinval: notice: correlation " << r.first << " ~ " << r.second
        << (spearman ? " (spearman)" : "") << " repaired " << line << "\n";
  }
  out.flush();
}

}  // namespace

CLI::Validator wholeNumber(std::uint64_t least, std::uint64_t most) {
  std::string expected = "a whole number";
  if (most == std::numeric_limits<std::uint64_t>::max()) {
    if (least > 0) expected += " >= " + std::to_string(least);
  } else {
    expected += " in [" + std::to_string(least) + ", " + std::to_string(most) + "]";
  }
  return CLI::Validator(
      [least, most, expected](std::string& text) -> std::string {
        std::uint64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
            value < least || value > most)
          return "expected " + expected + ", got '" + text + "'";
        return {};
      },
      "");
}

void addSeedOption(CLI::App& command, std::uint64_t& seed, bool& given, const std::string& help) {
  command.add_option("--seed", seed, help)
      ->type_name("SEED")
      ->check(wholeNumber(0))
      ->each([&given](const std::string&) { given = true; });
}

void addThreadsOption(CLI::App& command, unsigned& threads) {
  command
      .add_option("--threads", threads,
                  "Worker threads, 0..4096 (default 0: every hardware thread)")
      ->type_name("T")
      ->check(wholeNumber(0, 4096));
}

void addScenarioOptions(CLI::App& command, ScenarioOptions& options) {
  command.add_option("SCENARIO", options.file, "Scenario file (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  command
      .add_option("--set", options.overrides,
                  "Override a scenario leaf, VALUE in YAML (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

PreparedScenario prepareScenario(const ScenarioOptions& options) {
  Scenario scenario = loadScenario(options.file, options.overrides);
  const SourceLocation file{scenario.file.empty() ? options.file : scenario.file, 0, 0};

  PreparedScenario prepared;
  try {
    prepared.sampler = parseSampler(scenario.simulation.sampler);
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "simulation.sampler", e.what());
  }
  try {
    prepared.model = std::make_unique<TheadModel>(std::move(scenario));
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "", e.what());
  }
  try {
    prepared.copula =
        Copula::fromScenario(prepared.scenario().correlations, prepared.model->layout());
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "correlations", e.what());
  }
  printCorrelationRepairs(std::cerr, prepared.scenario().correlations);
  return prepared;
}

RunSettings commonSettings(const PreparedScenario& prepared, const CommonRunOptions& options) {
  const Scenario& scenario = prepared.scenario();
  RunSettings settings;
  settings.paths = options.paths != 0 ? options.paths : scenario.simulation.paths;
  settings.seed = options.seedGiven ? options.seed : scenario.simulation.seed;
  settings.sampler = prepared.sampler;
  if (!options.sampler.empty()) {
    try {
      settings.sampler = parseSampler(options.sampler);
    } catch (const std::invalid_argument& e) {
      throw InputError({"--sampler", 0, 0}, "", e.what());
    }
  }
  settings.threads = resolveThreads(options.threads);
  return settings;
}

}  // namespace spinval::cli
