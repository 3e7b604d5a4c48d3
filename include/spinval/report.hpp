// Writers of a run's results: the summary JSON of docs/model.md section 4, the terminal
// report, paths.csv, and atomic file writes (temporary file, then rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "spinval/statistics.hpp"

namespace spinval {

struct RunInfo {
  std::string scenario;
  std::string scenarioSha256;
  std::uint64_t seed = 1;
  std::uint64_t paths = 0;
  std::string sampler = "mc";
  std::string version;
  // Timing: the only fields that differ between repeat runs.
  double seconds = 0.0;
  unsigned threads = 1;
};

// The summary object; key order is fixed and documented in README.md.
nlohmann::json summaryJson(const RunInfo& info, const Summary& summary);

// The terminal report: metrics table, yearly medians, regime shares, a histogram of ev_usd,
// paths per second.
void printReport(std::ostream& out, const RunInfo& info, const Summary& summary,
                 const RunStatistics& statistics);

// One row per path: path index, then every per-path output.
void writePathsCsv(std::ostream& out, const RunStatistics& statistics);

// Writes `content` to a temporary file beside `target` and renames it into place, so a
// failure never leaves a half-written or lost file.
void writeFileAtomically(const std::filesystem::path& target, const std::string& content);

}  // namespace spinval
