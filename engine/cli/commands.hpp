// The subcommands of the spinval program. Each add*Command registers a CLI11 subcommand on the
// root app and, when the parse selects it, sets `action` to run it. main() runs the action and
// turns exceptions into exit statuses: InputError 2, anything else 1.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "spinval/copula.hpp"
#include "spinval/sampler.hpp"
#include "spinval/scenario.hpp"
#include "spinval/simulation.hpp"
#include "spinval/thead_model.hpp"

namespace spinval::cli {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Runs the selected command and returns its exit status.
using Action = std::function<int()>;

void addRunCommand(CLI::App& app, Action& action);
void addValidateCommand(CLI::App& app, Action& action);
void addSensitivityCommand(CLI::App& app, Action& action);
void addCompareCommand(CLI::App& app, Action& action);
void addSweepCommand(CLI::App& app, Action& action);
void addMergeCommand(CLI::App& app, Action& action);

// Checks that a value is a whole number in [least, most], with a message that says so.
CLI::Validator wholeNumber(std::uint64_t least,
                           std::uint64_t most = std::numeric_limits<std::uint64_t>::max());

// --seed (setting `given` when it appears) and --threads, as every simulating command has them.
void addSeedOption(CLI::App& command, std::uint64_t& seed, bool& given, const std::string& help);
void addThreadsOption(CLI::App& command, unsigned& threads);

// A --memory-budget size such as "1GiB", "512M" or "2e9" (bytes); throws InputError.
std::uint64_t parseBytes(const std::string& text);
// Bytes as "1.5 GiB", for messages.
std::string gib(double bytes);

// The scenario argument and the --set overrides, shared by the commands that load a scenario.
struct ScenarioOptions {
  std::string file;
  std::vector<std::string> overrides;
};
void addScenarioOptions(CLI::App& command, ScenarioOptions& options);

// A scenario loaded, checked and turned into what the simulation needs.
struct PreparedScenario {
  std::unique_ptr<TheadModel> model;
  Copula copula;
  SamplerKind sampler = SamplerKind::mc;

  const Scenario& scenario() const { return model->scenario(); }
};

// Loads the scenario, builds the model and the copula, and resolves the sampler. Every problem
// with the input is thrown as an InputError, before anything runs or is written.
PreparedScenario prepareScenario(const ScenarioOptions& options);

// What run and compare take from their options, or else from the (first) scenario: the path
// count (0: simulation.paths), the seed, the sampler (empty: simulation.sampler; a name that is
// none is an InputError) and the threads (0: every hardware thread).
struct CommonRunOptions {
  std::uint64_t paths = 0;
  bool seedGiven = false;
  std::uint64_t seed = 0;
  std::string sampler;
  unsigned threads = 0;
};
RunSettings commonSettings(const PreparedScenario& prepared, const CommonRunOptions& options);

}  // namespace spinval::cli
