#include "test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

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

namespace {

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CommandResult runSpinval(const std::string& arguments) {
  auto dir = std::filesystem::temp_directory_path() /
             ("spinval-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  std::string command = std::string("'") + SPINVAL_BINARY + "' " + arguments + " >'" +
                        (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'";
  int raw = std::system(command.c_str());
  CommandResult result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = slurp(dir / "out");
  result.err = slurp(dir / "err");
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace spinval::testing
