// Helpers shared by the tests: paths into the source tree and running the spinval binary.
#pragma once

#include <filesystem>
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
// Runs a shell command line.
CommandResult runCommand(const std::string& command);
// The built spinval binary, single-quoted for a shell command line.
std::string spinvalCommand();

// A fresh directory, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string readFile(const std::filesystem::path& file);
void writeFile(const std::filesystem::path& file, const std::string& content);

// A summary's text up to its "timing" object, the only part allowed to differ between runs
// of the same inputs on other thread, rank or shard counts.
std::string withoutTiming(const std::string& json);

}  // namespace spinval::testing
