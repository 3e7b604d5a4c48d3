// Errors that leave the library. The command line maps InputError to exit status 2 and every
// other exception to 1; the library itself never exits. Messages read
// `scenarios/x.yaml:14:5: pricing.entrant_discount: expected a number in [0, 1), got 1.2`.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace spinval {

// Where a value came from: a file with a 1-based line and column, or a command-line
// `--set` override (file "--set KEY=VALUE", line 1, column of the value).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  std::string str() const;  // "file:line:column", or "file" when line is 0
};

// Bad input: malformed YAML, unknown or missing keys, values outside their domain, bad
// distribution parameters, invalid correlations, bad command-line values.
class InputError : public std::runtime_error {
 public:
  InputError(SourceLocation where, std::string key, const std::string& message);

  const SourceLocation& where() const { return where_; }
  const std::string& key() const { return key_; }
  const std::string& detail() const { return detail_; }

 private:
  SourceLocation where_;
  std::string key_;
  std::string detail_;
};

// A number that overflowed or turned NaN inside a path. Names the global path index and the
// seed so the path can be replayed.
class SimulationError : public std::runtime_error {
 public:
  SimulationError(std::uint64_t path, std::uint64_t seed, const std::string& output, double value);

  std::uint64_t path() const { return path_; }
  std::uint64_t seed() const { return seed_; }

 private:
  std::uint64_t path_;
  std::uint64_t seed_;
};

}  // namespace spinval
