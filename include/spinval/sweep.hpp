// Sweeps: a base scenario run at every point of a grid or a zip of `--set`-style overrides, all
// with the same seed. This header reads the sweep file, expands it into points, writes and
// checks the per-point result files that let an interrupted sweep resume, and writes the
// aggregates (sweep.csv, sweep.json) from those files only, so a resumed sweep and an
// uninterrupted one give the same bytes. docs/analysis.md section "sweep" has the format.
//
// On a cluster the points become the tasks of a Slurm job array (slurmScripts), each task
// storing its point's file, and a collect job writes the aggregates from those files.
//
//   SweepSpec spec = loadSweep("scenarios/sweeps/cost-vs-multiple.yaml");
//   for (const SweepPoint& point : expandSweep(spec)) ... loadScenario(spec.base, point.overrides)
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "spinval/error.hpp"

namespace spinval {

// One axis: a dotted scenario key and its values as YAML flow text ("0.3",
// "{"dist":pert,"min":0.3,"mode":0.4,"max":0.5}").
struct SweepAxis {
  std::string key;
  SourceLocation keyWhere;
  std::vector<std::string> values;
  std::vector<SourceLocation> valueWhere;
};

// An entry of a list in the sweep file with where it is written.
struct SweepItem {
  std::string text;
  SourceLocation where;
};

struct SweepSpec {
  enum class Mode { grid, zip };

  std::string file;  // the sweep file as given
  std::string name;  // its stem
  std::string base;  // the base scenario, resolved against the sweep file's folder
  SourceLocation baseWhere;
  std::optional<std::uint64_t> paths, seed;  // absent: the base scenario's simulation section
  std::optional<SweepItem> sampler;
  std::vector<SweepItem> set;  // KEY=VALUE overrides applied to every point, before the axes
  Mode mode = Mode::grid;
  std::vector<SweepAxis> axes;
  std::vector<SweepItem> metrics;  // empty: every per-path output
  std::vector<SweepItem> stats;    // default mean, stderr, p05, p50, p95
};

// Statistics a sweep can report: the per-metric scalars of the summary JSON.
const std::vector<std::string>& sweepStatNames();

// Reads and checks a sweep file. Every problem is an InputError at file:line:column with the
// key (unknown keys, wrong types, an empty axis, zip axes of different lengths, unknown stats).
// Scenario keys and values are checked when the points' scenarios load (sweepPointError).
SweepSpec loadSweep(const std::string& file);

// One point: 1-based index, the axis values (flow text, in axis order) and the overrides that
// make its scenario (the `set` list, then one KEY=VALUE per axis).
struct SweepPoint {
  std::size_t index = 1;
  std::vector<std::string> values;
  std::vector<std::string> overrides;
};

// grid: the cartesian product, first axis slowest; zip: the i-th value of every axis.
std::vector<SweepPoint> expandSweep(const SweepSpec& spec);

// "cost.advantage=0.3 peers.long_run_ev_sales=8": the point's axis values for messages.
std::string pointLabel(const SweepSpec& spec, const SweepPoint& point);

// An error from loading a point's scenario, moved from the "--set KEY=VALUE" it names to the
// sweep file's line that wrote the override (an unknown key to the key, a bad value to the
// value). Errors elsewhere (in the base scenario) are returned unchanged.
InputError sweepPointError(const SweepSpec& spec, const SweepPoint& point, const InputError& e);

// Default output folder: "out-<name>" beside the sweep file.
std::filesystem::path defaultSweepOutDir(const std::string& file);

// What a stored point must match to be reused.
struct PointKey {
  std::string scenarioSha256;
  std::uint64_t seed = 1;
  std::uint64_t paths = 0;  // as requested (the summary records the paths run)
  std::string sampler;
  std::string version;
  std::vector<std::string> overrides;  // the point's overrides, which its axis values come from
};

// points/<index>.json inside the output folder.
std::filesystem::path pointFile(const std::filesystem::path& outDir, std::size_t index);

// The per-point file: point, axes (key -> value: a number, or the flow text), overrides,
// scenario_sha256, seed, paths, sampler, version, then summary (the run's summary JSON,
// timing included).
nlohmann::ordered_json pointJson(const SweepSpec& spec, const SweepPoint& point,
                                 const PointKey& key, const nlohmann::ordered_json& summary);

// The stored point if its file exists, parses, is for this index and matches `key`;
// otherwise nullopt, with `reason` set to why ("missing", "scenario changed", ...).
std::optional<nlohmann::ordered_json> readStoredPoint(const std::filesystem::path& outDir,
                                                      std::size_t index, const PointKey& key,
                                                      std::string& reason);

// The aggregates, from the per-point files' contents in point order (timing never included).
// sweep.csv: header point,<axis keys...>,metric,stat,value; one row per point, metric and stat;
// numbers shortest round-trip.
std::string sweepCsv(const SweepSpec& spec, const std::vector<std::string>& metrics,
                     const std::vector<nlohmann::ordered_json>& points);
// sweep.json: sweep, mode, base, seed, paths, sampler, version, axes (key -> values), metrics,
// stats, points (each point, axes, scenario_sha256, metrics -> stat -> value).
nlohmann::ordered_json sweepJson(const SweepSpec& spec, const PointKey& common,
                                 const std::vector<std::string>& metrics,
                                 const std::vector<nlohmann::ordered_json>& points);

// ---------------------------------------------------------------------------------------------
// Slurm: one job-array task per point (or per shard of a point), then a collect job.

// Array task t (1-based) of a sweep with S shards per point computes shard (t-1)%S+1 of point
// (t-1)/S+1, so the tasks of point p are (p-1)S+1 .. pS. With S = 1, task t is point t.
struct SweepTask {
  std::size_t point = 1;
  std::size_t shard = 1;
};
SweepTask sweepTask(std::size_t task, std::size_t shardsPerPoint);

// Task ids in the form sbatch --array takes, runs compressed: {2, 3, 4, 7, 9, 10} ->
// "2-4,7,9-10". The ids must be sorted and distinct.
std::string taskRanges(const std::vector<std::size_t>& tasks);

// A string as one word for a POSIX shell: 'it'\''s' for it's.
std::string shellQuote(const std::string& text);

// What the scripts need. Paths are absolute: the tasks run elsewhere, from another folder.
struct SlurmSettings {
  std::filesystem::path binary;     // the spinval the tasks run
  std::filesystem::path sweepFile;  // the sweep file
  std::filesystem::path outDir;     // the sweep's output folder, on a file system the nodes share
  std::string name;                 // the sweep's name, for job names
  std::size_t points = 0;
  std::size_t shardsPerPoint = 1;
  std::size_t arrayLimit = 0;  // at most K tasks at once (sbatch --array=1-N%K); 0: no limit
  std::string partition;       // empty: the cluster's default partition
  unsigned cpusPerTask = 1;    // each task runs spinval with this many threads
  std::string version;         // of spinval, for the scripts' header comment
};

// The scripts `spinval sweep --slurm` writes into <out>/slurm/:
//   array.sh    the job array: one task per point (per shard with S > 1), --requeue, logs in
//               <out>/logs/task-<array job>_<task>.out; task t runs
//               spinval sweep SWEEP --out DIR --task $SLURM_ARRAY_TASK_ID
//   collect.sh  spinval sweep SWEEP --out DIR --collect, logs in <out>/logs/collect-<job>.out
//   submit.sh   submits array.sh, then collect.sh with --dependency=afterok:<array job>;
//               `submit.sh TASKS` resubmits only those tasks and a new collect job. Job ids are
//               appended to <out>/slurm/jobs.
// Throws std::invalid_argument for what an #SBATCH line cannot hold: an output folder with
// white space or quotes, a partition name other than letters, digits, "_", "-", "." and ",".
struct SlurmScripts {
  std::string array, collect, submit;
};
SlurmScripts slurmScripts(const SlurmSettings& settings);

// <out>/slurm, where the scripts go.
std::filesystem::path slurmDir(const std::filesystem::path& outDir);

}  // namespace spinval
