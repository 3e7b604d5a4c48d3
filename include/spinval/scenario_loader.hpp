// Loads a scenario file: YAML parsing, `extends` chains, `--set` overrides, and every check of
// docs/model.md section 5. The only file that includes yaml-cpp. Errors are InputErrors naming
// file:line:column and the dotted key; nothing is simulated before a scenario loads cleanly.
//
//   Scenario s = loadScenario("scenarios/thead-bear.yaml", {"cost.advantage=0.35"});
#pragma once

#include <string>
#include <vector>

#include "spinval/scenario.hpp"

namespace spinval {

// `overrides` are "KEY=VALUE" strings as given to --set; VALUE is parsed as YAML and replaces
// the leaf KEY (a dotted path; peers are named by their `name`) after all files are merged.
Scenario loadScenario(const std::string& file, const std::vector<std::string>& overrides = {});

// The merged scenario after --set as canonical text (keys in schema order, numbers printed
// round-trip); Scenario::sha256 is the SHA-256 of this text.
std::string canonicalScenarioText(const std::string& file,
                                  const std::vector<std::string>& overrides = {});

}  // namespace spinval
