// Writers of a run's results: the summary JSON of docs/model.md section 4, the terminal
// report, paths.csv, and atomic file writes (temporary file, then rename).
//
//   RunInfo info{.scenario = "thead-base", ...};
//   std::cout << summaryJson(info, summary).dump(2) << '\n';
//   writeFileAtomically(dir / "summary.json", summaryJson(info, summary).dump(2) + "\n");
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
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
  std::string stderrMethod = "iid";  // errorModelName of the sampler's ErrorModel
  // Shown in the terminal report only.
  std::string description;
  std::string file;
  // Timing: the only fields that differ between repeat runs or between one process and many.
  double seconds = 0.0;
  unsigned threads = 1;  // per process
  unsigned ranks = 1;    // MPI ranks, or shards merged
};

// How an output reads best in tables: its unit label ("USD bn", "USD", "x", "%", "k units",
// ...) and the factor that converts to it. `magnitude` is a typical absolute value of the
// output in its own unit (small USD amounts stay in USD).
struct DisplayUnit {
  std::string label;
  double scale = 1.0;
};
DisplayUnit displayUnit(const std::string& output, double magnitude);
// 1234567 as "1,234,567".
std::string grouped(std::uint64_t n);

// The summary object, keys in this order: scenario, scenario_sha256, seed, paths, sampler,
// version, metrics, yearly, one "<name>_share" per categorical yearly output (regime_share),
// then timing {seconds, paths_per_second, threads, ranks}. Everything before "timing" depends only
// on the inputs, never on the thread count.
nlohmann::ordered_json summaryJson(const RunInfo& info, const Summary& summary);

// The output whose histogram the terminal report draws from its values, which a run must keep
// whole (RunSettings::keptOutputs) for the histogram to show.
inline constexpr const char* kHistogramOutput = "ev_usd";

// The terminal report: run header, metrics table, yearly medians, shares of categorical yearly
// outputs, a histogram of kHistogramOutput (when its values are kept, or from its sketch), paths
// per second.
void printReport(std::ostream& out, const RunInfo& info, const Summary& summary,
                 const RunStatistics& statistics);

// One row per path: the 0-based path index, then every per-path output (shortest round-trip
// decimal). Requires stored values.
void writePathsCsv(std::ostream& out, const RunStatistics& statistics);

// Writes `content` to a temporary file beside `target` and renames it into place, so a
// failure never leaves a half-written or lost file. Throws std::runtime_error on I/O errors,
// after removing the temporary file.
void writeFileAtomically(const std::filesystem::path& target, const std::string& content);
// The same, with the content streamed by `write` (for files too large to build in memory).
void writeFileAtomically(const std::filesystem::path& target,
                         const std::function<void(std::ostream&)>& write);

}  // namespace spinval
