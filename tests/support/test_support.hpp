// Helpers shared by the tests: paths into the source tree and running the spinval binary.
#pragma once

#include <string>

namespace spinval::testing {

// Absolute path of a file under the source tree ("scenarios/thead-base.yaml").
std::string sourcePath(const std::string& relative);
// Absolute path of a file under tests/data.
std::string dataPath(const std::string& relative);

struct CommandResult {
  int status = -1;  // exit status
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the built spinval binary with `arguments` (a shell-quoted string).
CommandResult runSpinval(const std::string& arguments);

}  // namespace spinval::testing
