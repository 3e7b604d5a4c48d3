// spinval validate: load and check a scenario, build its model and copula, and say so in one
// line without simulating.
#include <iostream>
#include <memory>

#include "commands.hpp"

namespace spinval::cli {

namespace {

int validate(const ScenarioOptions& options) {
  PreparedScenario prepared = prepareScenario(options);
  const Scenario& scenario = prepared.scenario();
  const Layout& layout = prepared.model->layout();

  std::size_t stochastic = 0;
  for (const StaticInput& input : layout.staticInputs)
    if (!input.distribution.isConstant()) ++stochastic;

  std::cout << "OK " << scenario.name << " (sha256 " << scenario.sha256 << "): " << stochastic
            << " stochastic inputs, " << layout.yearlyShocks.size() << " yearly shocks, "
            << scenario.simulation.paths << " paths, horizon " << layout.years << " years ("
            << layout.firstYear << "-" << layout.firstYear + layout.years - 1 << ")" << std::endl;
  return kExitSuccess;
}

}  // namespace

void addValidateCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<ScenarioOptions>();
  CLI::App* command =
      app.add_subcommand("validate", "Load and check a scenario without simulating it");
  addScenarioOptions(*command, *options);
  command->final_callback(
      [options, &action] { action = [options] { return validate(*options); }; });
}

}  // namespace spinval::cli
