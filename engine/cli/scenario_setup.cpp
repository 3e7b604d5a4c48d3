// Options and set-up shared by the commands that load a scenario.
#include <charconv>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "spinval/error.hpp"
#include "spinval/scenario_loader.hpp"

namespace spinval::cli {

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
        GaussianCopula::fromScenario(prepared.scenario().correlations, prepared.model->layout());
  } catch (const std::invalid_argument& e) {
    throw InputError(file, "correlations", e.what());
  }
  return prepared;
}

}  // namespace spinval::cli
