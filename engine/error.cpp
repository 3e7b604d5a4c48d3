#include "spinval/error.hpp"

#include <cmath>
#include <sstream>

namespace spinval {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {

std::string inputMessage(const SourceLocation& where, const std::string& key,
                         const std::string& message) {
  std::string out = where.str();
  if (!out.empty()) out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

std::string simulationMessage(std::uint64_t path, std::uint64_t seed, const std::string& output,
                              double value) {
  std::ostringstream out;
  out << "path " << path << " (seed " << seed << "): " << output << " is "
      << (std::isnan(value) ? "NaN" : "infinite")
      << "; the inputs drive a number out of range (replay with --seed " << seed << ")";
  return out.str();
}

}  // namespace

InputError::InputError(SourceLocation where, std::string key, const std::string& message)
    : std::runtime_error(inputMessage(where, key, message)),
      where_(std::move(where)),
      key_(std::move(key)),
      detail_(message) {}

SimulationError::SimulationError(std::uint64_t path, std::uint64_t seed, const std::string& output,
                                 double value)
    : std::runtime_error(simulationMessage(path, seed, output, value)), path_(path), seed_(seed) {}

}  // namespace spinval
