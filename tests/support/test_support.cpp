#include "test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace spinval::testing {

std::string sourcePath(const std::string& relative) {
  return std::string(SPINVAL_SOURCE_DIR) + "/" + relative;
}

std::string dataPath(const std::string& relative) {
  return std::string(SPINVAL_TEST_DATA) + "/" + relative;
}

std::string readFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeFile(const std::filesystem::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary);
  out << content;
}

std::string spinvalCommand() {
  return std::string("'") + SPINVAL_BINARY + "'";
}

CommandResult runCommand(const std::string& command) {
  const TempDir dir;
  const std::string line = command + " >'" + (dir.path() / "out").string() + "' 2>'" +
                           (dir.path() / "err").string() + "'";
  const int raw = std::system(line.c_str());
  CommandResult result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = readFile(dir.path() / "out");
  result.err = readFile(dir.path() / "err");
  return result;
}

CommandResult runSpinval(const std::string& arguments) {
  return runCommand(spinvalCommand() + " " + arguments);
}

TempDir::TempDir() {
  static std::atomic<int> counter = 0;
  path_ = std::filesystem::temp_directory_path() /
          ("spinval-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string withoutTiming(const std::string& json) {
  const std::size_t at = json.find("\"timing\"");
  if (at == std::string::npos) throw std::invalid_argument("no timing in: " + json);
  return json.substr(0, at);
}

}  // namespace spinval::testing
