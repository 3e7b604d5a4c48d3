// spinval sweep: run a base scenario at every point of a grid or zip of overrides, with one
// seed for all, writing points/<index>.json per point and then sweep.csv and sweep.json. Points
// whose stored result matches (scenario hash, seed, paths, sampler, version) are skipped.
//
// On a cluster the same steps are spread over Slurm jobs: --slurm writes a job array (one task
// per point) and a collect job instead of running; --task I computes one point, as array task I
// does; --collect writes the aggregates from the stored points, or nothing while one is missing.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "manifest.hpp"
#include "progress.hpp"
#include "spinval/cluster.hpp"
#include "spinval/error.hpp"
#include "spinval/partial.hpp"
#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"
#include "spinval/sweep.hpp"
#include "spinval/version.hpp"

namespace spinval::cli {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// --collect while a point is missing or stale: nothing written, the points named on stderr.
inline constexpr int kExitIncomplete = 3;

struct SweepOptions {
  std::string file;
  std::string out;
  unsigned threads = 0;
  bool quiet = false;
  bool json = false;
  // Slurm.
  bool slurm = false;
  bool collect = false;
  std::size_t task = 0;  // 0: no --task
  std::string partition;
  std::size_t arrayLimit = 0;
  std::size_t shardsPerPoint = 1;
  unsigned cpusPerTask = 1;
};

// "41.2bn" for USD amounts of a billion or more, else four significant digits.
std::string shortValue(const std::string& metric, double value) {
  char text[64];
  if (metric.ends_with("_usd") && std::abs(value) >= 1e9) {
    std::snprintf(text, sizeof text, "%.3gbn", value / 1e9);
  } else {
    std::snprintf(text, sizeof text, "%.4g", value);
  }
  return text;
}

PreparedScenario preparePoint(const SweepSpec& spec, const SweepPoint& point) {
  try {
    return prepareScenario(ScenarioOptions{spec.base, point.overrides});
  } catch (const InputError& e) {
    throw sweepPointError(spec, point, e);
  }
}

// A sweep file read and checked, with the scenarios of the points prepared so far.
struct LoadedSweep {
  SweepSpec spec;
  std::vector<SweepPoint> points;
  PointKey common;  // seed, paths, sampler and version: the same at every point
  SamplerKind sampler = SamplerKind::mc;
  std::vector<std::optional<PreparedScenario>> prepared;  // by point index - 1
  std::vector<std::string> metrics;                       // set by resolveMetrics

  const PreparedScenario& scenarioOf(const SweepPoint& point) const {
    return *prepared.at(point.index - 1);
  }
  PointKey keyOf(const SweepPoint& point) const {
    PointKey key = common;
    key.scenarioSha256 = scenarioOf(point).scenario().sha256;
    key.overrides = point.overrides;
    return key;
  }
};

// Reads the sweep file and the base scenario with the `set` overrides; prepares no point.
LoadedSweep readSweep(const std::string& file) {
  LoadedSweep sweep;
  sweep.spec = loadSweep(file);
  sweep.points = expandSweep(sweep.spec);
  sweep.prepared.resize(sweep.points.size());

  SweepPoint basePoint;
  basePoint.index = 0;
  for (const SweepItem& item : sweep.spec.set) basePoint.overrides.push_back(item.text);
  const PreparedScenario base = preparePoint(sweep.spec, basePoint);
  PointKey& common = sweep.common;
  common.seed = sweep.spec.seed ? *sweep.spec.seed : base.scenario().simulation.seed;
  common.paths = sweep.spec.paths ? *sweep.spec.paths : base.scenario().simulation.paths;
  sweep.sampler = base.sampler;
  if (sweep.spec.sampler) {
    try {
      sweep.sampler = parseSampler(sweep.spec.sampler->text);
    } catch (const std::invalid_argument& e) {
      throw InputError(sweep.spec.sampler->where, "sampler", e.what());
    }
  }
  common.sampler = samplerName(sweep.sampler);
  common.version = version();
  return sweep;
}

void preparePoints(LoadedSweep& sweep, const std::vector<const SweepPoint*>& which) {
  for (const SweepPoint* point : which) {
    sweep.prepared.at(point->index - 1) = preparePoint(sweep.spec, *point);
  }
}

void prepareAllPoints(LoadedSweep& sweep) {
  std::vector<const SweepPoint*> all;
  for (const SweepPoint& point : sweep.points) all.push_back(&point);
  preparePoints(sweep, all);
}

// The metrics the aggregates report, checked against the layout of a prepared point.
void resolveMetrics(LoadedSweep& sweep) {
  const PreparedScenario* any = nullptr;
  for (const std::optional<PreparedScenario>& p : sweep.prepared) {
    if (p) {
      any = &*p;
      break;
    }
  }
  const Layout& layout = any->model->layout();
  if (sweep.spec.metrics.empty()) {
    sweep.metrics = layout.outputs;
    return;
  }
  for (std::size_t i = 0; i < sweep.spec.metrics.size(); ++i) {
    const SweepItem& metric = sweep.spec.metrics[i];
    if (!layout.outputIndex(metric.text)) {
      std::string known;
      for (const std::string& name : layout.outputs) {
        if (!known.empty()) known += ", ";
        known += name;
      }
      throw InputError(metric.where, "metrics[" + std::to_string(i) + "]",
                       "unknown output '" + metric.text + "' (expected one of " + known + ")");
    }
    sweep.metrics.push_back(metric.text);
  }
}

fs::path outDirOf(const SweepOptions& options) {
  return options.out.empty() ? defaultSweepOutDir(options.file) : fs::path(options.out);
}

std::string progressPrefix(const LoadedSweep& sweep, const SweepPoint& point) {
  return "point " + std::to_string(point.index) + "/" + std::to_string(sweep.points.size()) + " " +
         pointLabel(sweep.spec, point) + ": ";
}

// How every point runs: the sweep's paths, seed and sampler, and sketches instead of stored
// values when those would take more than 1 GiB.
RunSettings pointSettings(const LoadedSweep& sweep, const Layout& layout, unsigned threads) {
  const std::uint64_t paths = admissiblePaths(sweep.sampler, sweep.common.paths);
  RunSettings settings;
  settings.paths = sweep.common.paths;
  settings.seed = sweep.common.seed;
  settings.sampler = sweep.sampler;
  settings.threads = threads;
  settings.sketch = static_cast<double>(paths) * static_cast<double>(exactBytesPerPath(layout)) >
                    static_cast<double>(std::uint64_t{1} << 30);
  settings.keptOutputs.emplace();  // a point's summary reads no output whole
  return settings;
}

// The summary's run fields for a point; the caller sets the timing (seconds, threads).
RunInfo pointInfo(const LoadedSweep& sweep, const Scenario& scenario,
                  const RunStatistics& statistics) {
  RunInfo info;
  info.scenario = scenario.name;
  info.scenarioSha256 = scenario.sha256;
  info.seed = sweep.common.seed;
  info.paths = statistics.merged();
  info.sampler = sweep.common.sampler;
  info.version = sweep.common.version;
  info.stderrMethod = errorModelName(statistics.options().errorModel);
  return info;
}

// Runs one point and stores points/<index>.json atomically, unless the stored file matches
// already. The progress line goes to stderr. Returns whether the point ran.
bool computePoint(const LoadedSweep& sweep, const SweepPoint& point, const fs::path& outDir,
                  unsigned threads, bool quiet) {
  const PreparedScenario& prepared = sweep.scenarioOf(point);
  const Scenario& scenario = prepared.scenario();
  const PointKey key = sweep.keyOf(point);
  std::string line = progressPrefix(sweep, point);
  std::string reason;
  if (readStoredPoint(outDir, point.index, key, reason)) {
    if (!quiet) std::cerr << line << "skipped (done)" << std::endl;
    return false;
  }

  const Layout& layout = prepared.model->layout();
  RunSettings settings = pointSettings(sweep, layout, threads);
  ProgressBar bar(ProgressBar::wanted(quiet));
  settings.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); };
  RunResult result = simulate(*prepared.model, prepared.copula, settings);
  bar.finish();

  const Summary summary = summarize(result.statistics, result.threads);
  RunInfo info = pointInfo(sweep, scenario, result.statistics);
  info.seconds = result.seconds;
  info.threads = result.threads;
  Json stored = pointJson(sweep.spec, point, key, summaryJson(info, summary));
  stored["manifest"] = pointManifest(result.processes);
  writeFileAtomically(pointFile(outDir, point.index), stored.dump(2) + "\n");

  if (!quiet) {
    const std::string& metric = sweep.metrics.front();
    const std::size_t k = *layout.outputIndex(metric);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f s", result.seconds);
    line += metric + " mean " + shortValue(metric, summary.outputs.at(k).mean) + " (" + seconds;
    if (reason != "missing") line += ", recomputed: " + reason;
    std::cerr << line << ")" << std::endl;
  }
  return true;
}

// The stored points in point order, and the points that are missing or stale with the reason.
struct GatheredPoints {
  std::vector<Json> stored;
  std::vector<std::pair<const SweepPoint*, std::string>> missing;
};

GatheredPoints gatherPoints(const LoadedSweep& sweep, const fs::path& outDir) {
  GatheredPoints gathered;
  for (const SweepPoint& point : sweep.points) {
    std::string reason;
    std::optional<Json> j = readStoredPoint(outDir, point.index, sweep.keyOf(point), reason);
    if (j) {
      gathered.stored.push_back(std::move(*j));
    } else {
      gathered.missing.emplace_back(&point, reason);
    }
  }
  return gathered;
}

// Writes sweep.csv and sweep.json from the stored points (the only source of the aggregates,
// whether the points ran now, before, or in other processes) and prints the table or the JSON.
int writeAggregates(const LoadedSweep& sweep, const fs::path& outDir,
                    const std::vector<Json>& stored, bool printJson, const std::string& command,
                    PhaseClock& phases) {
  phases.start("write");
  writeFileAtomically(outDir / "sweep.csv", sweepCsv(sweep.spec, sweep.metrics, stored));
  const std::string json =
      sweepJson(sweep.spec, sweep.common, sweep.metrics, stored).dump(2) + "\n";
  writeFileAtomically(outDir / "sweep.json", json);
  phases.stop();
  writeFileAtomically(
      outDir / "manifest.json",
      sweepManifest(command, sweep.spec.file, sweep.common, stored, phases).dump(2) + "\n");

  if (printJson) {
    std::cout << json;
  } else {
    const std::string& metric = sweep.metrics.front();
    std::cout << sweep.spec.name << ": " << sweep.points.size() << " points, " << sweep.common.paths
              << " paths, seed " << sweep.common.seed << ", " << sweep.common.sampler << "; "
              << metric << "\n";
    for (std::size_t i = 0; i < sweep.points.size(); ++i) {
      std::cout << "  " << sweep.points[i].index << "  " << pointLabel(sweep.spec, sweep.points[i]);
      for (const char* stat : {"mean", "p05", "p50", "p95"}) {
        const double value = stored[i]["summary"]["metrics"][metric][stat].get<double>();
        std::cout << "  " << stat << " " << shortValue(metric, value);
      }
      std::cout << "\n";
    }
    std::cout << "wrote " << (outDir / "sweep.csv").string() << " and "
              << (outDir / "sweep.json").string() << "\n";
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
  return kExitSuccess;
}

// Shards per point (--shards-per-point S > 1): array task t computes shard (t-1)%S+1 of point
// (t-1)/S+1 into shards/point-<p>/split-<S>/, and the task that finds all S shards stored
// merges them into points/<p>.json, which --collect then reads like any other point. A
// requeued task redoes only its own shard; a shard left by another scenario, seed, sampler,
// path count or version is recomputed.
fs::path shardFolder(const fs::path& outDir, std::size_t point, std::size_t shards) {
  return outDir / "shards" / ("point-" + std::to_string(point)) /
         ("split-" + std::to_string(shards));
}

// Whether the shard file is stored for this point's key.
bool shardStored(const fs::path& folder, Shard shard, const PointKey& key, std::uint64_t paths) {
  const fs::path file = folder / (shardStem(shard) + ".json");
  if (!fs::exists(file) || !fs::exists(folder / (shardStem(shard) + ".bin"))) return false;
  try {
    std::ifstream in(file);
    const Json j = Json::parse(in);
    return j.at("scenario_sha256") == key.scenarioSha256 && j.at("seed") == key.seed &&
           j.at("paths") == paths && j.at("sampler") == key.sampler &&
           j.at("version") == key.version;
  } catch (const std::exception&) {
    return false;
  }
}

// Merges the point's shards into points/<p>.json when all are stored; returns whether it did.
bool mergePointShards(const LoadedSweep& sweep, const SweepPoint& point, std::size_t shards,
                      const fs::path& outDir, unsigned threads) {
  const PreparedScenario& prepared = sweep.scenarioOf(point);
  const PointKey key = sweep.keyOf(point);
  const fs::path folder = shardFolder(outDir, point.index, shards);
  const RunSettings settings = pointSettings(sweep, prepared.model->layout(), 1);
  const std::uint64_t paths = admissiblePaths(settings.sampler, settings.paths);
  for (std::uint64_t k = 1; k <= shards; ++k) {
    if (!shardStored(folder, {k, shards}, key, paths)) return false;
  }
  MergedRun merged = mergeShards({folder});
  const Summary summary = summarize(*merged.statistics, threads);
  RunInfo info = pointInfo(sweep, prepared.scenario(), *merged.statistics);
  info.seconds = merged.info.seconds;
  info.threads = merged.info.threads;
  info.ranks = static_cast<unsigned>(shards);
  Json stored = pointJson(sweep.spec, point, key, summaryJson(info, summary));
  const std::vector<ProcessInfo> processes = shardProcesses(merged.shards);
  stored["manifest"] = pointManifest(processes);
  writeFileAtomically(pointFile(outDir, point.index), stored.dump(2) + "\n");
  return true;
}

int computeShard(const LoadedSweep& sweep, const SweepPoint& point, std::size_t shardIndex,
                 std::size_t shards, const fs::path& outDir, unsigned threads, bool quiet) {
  const PreparedScenario& prepared = sweep.scenarioOf(point);
  const PointKey key = sweep.keyOf(point);
  const Shard shard{shardIndex, shards};
  const std::string label = progressPrefix(sweep, point) + "shard " + std::to_string(shardIndex) +
                            "/" + std::to_string(shards) + ": ";
  std::string reason;
  if (readStoredPoint(outDir, point.index, key, reason)) {
    if (!quiet) std::cerr << label << "skipped (point done)" << std::endl;
    return kExitSuccess;
  }
  const fs::path folder = shardFolder(outDir, point.index, shards);
  RunSettings settings = pointSettings(sweep, prepared.model->layout(), threads);
  const std::uint64_t paths = admissiblePaths(settings.sampler, settings.paths);
  if (shardStored(folder, shard, key, paths)) {
    if (!quiet) std::cerr << label << "skipped (shard done)" << std::endl;
  } else {
    ProgressBar bar(ProgressBar::wanted(quiet));
    settings.progress = [&bar](std::uint64_t done, std::uint64_t total) {
      bar.update(done, total);
    };
    const RunPiece piece = simulatePiece(*prepared.model, prepared.copula, settings, shard);
    bar.finish();
    const Scenario& scenario = prepared.scenario();
    ShardHeader header;
    header.run.scenario = scenario.name;
    header.run.scenarioSha256 = scenario.sha256;
    header.run.description = scenario.description;
    header.run.seed = key.seed;
    header.run.paths = piece.runPaths;
    header.run.sampler = key.sampler;
    header.run.version = key.version;
    header.run.stderrMethod = errorModelName(piece.statistics.options().errorModel);
    header.shard = shard;
    header.sketch = settings.sketch;
    header.sketchAlpha = piece.statistics.options().sketchAlpha;
    header.manifest = pointManifest({ProcessInfo{0, hostName(), piece.threads, piece.paths(),
                                                 piece.seconds, piece.cpuSeconds}});
    fs::create_directories(folder);
    writeShard(folder, header, prepared.model->layout(), piece);
    if (!quiet) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f s", piece.seconds);
      std::cerr << label << piece.paths() << " paths (" << seconds << ")" << std::endl;
    }
  }
  const bool merged = mergePointShards(sweep, point, shards, outDir, threads);
  std::cout << "task: point " << point.index << " shard " << shardIndex << " of " << shards
            << (merged ? "; all shards done, point written to " +
                             pointFile(outDir, point.index).string()
                       : std::string("; waiting for the point's other shards"))
            << "\n";
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
  return kExitSuccess;
}

// Every point, one after the other, in this process.
int sweepHere(const SweepOptions& options) {
  // Everything about the input, every point's scenario included, is checked before any point
  // runs.
  PhaseClock phases;
  phases.start("load");
  LoadedSweep sweep = readSweep(options.file);
  prepareAllPoints(sweep);
  resolveMetrics(sweep);

  const fs::path outDir = outDirOf(options);
  fs::create_directories(outDir / "points");
  const unsigned threads = resolveThreads(options.threads);
  phases.start("points");
  for (const SweepPoint& point : sweep.points) {
    computePoint(sweep, point, outDir, threads, options.quiet);
  }

  GatheredPoints gathered = gatherPoints(sweep, outDir);
  if (!gathered.missing.empty()) {
    const auto& [point, reason] = gathered.missing.front();
    throw std::runtime_error("cannot read back " + pointFile(outDir, point->index).string() + " (" +
                             reason + ")");
  }
  return writeAggregates(sweep, outDir, gathered.stored, options.json, "sweep", phases);
}

// --task I: array task I's piece only, as a Slurm array task runs it.
int runTask(const SweepOptions& options) {
  LoadedSweep sweep = readSweep(options.file);
  const std::size_t shards = options.shardsPerPoint;
  const std::size_t tasks = sweep.points.size() * shards;
  if (options.task > tasks) {
    std::string count = std::to_string(sweep.points.size()) + " points";
    if (shards > 1) count += " x " + std::to_string(shards) + " shards";
    throw InputError({"--task", 0, 0}, "",
                     "expected an array task of this sweep, 1 to " + std::to_string(tasks) + " (" +
                         count + "), got " + std::to_string(options.task));
  }
  const SweepTask task = sweepTask(options.task, shards);
  const SweepPoint& point = sweep.points.at(task.point - 1);
  preparePoints(sweep, {&point});
  resolveMetrics(sweep);

  const fs::path outDir = outDirOf(options);
  fs::create_directories(outDir / "points");
  const unsigned threads = resolveThreads(options.threads);
  if (shards > 1) {
    return computeShard(sweep, point, task.shard, shards, outDir, threads, options.quiet);
  }
  const bool ran = computePoint(sweep, point, outDir, threads, options.quiet);
  std::cout << "task " << options.task << ": point " << point.index << " "
            << (ran ? "written to " : "stored already in ")
            << pointFile(outDir, point.index).string() << "\n";
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
  return kExitSuccess;
}

// --collect: the aggregates from the stored points, all or nothing.
int collectSweep(const SweepOptions& options) {
  PhaseClock phases;
  phases.start("load");
  LoadedSweep sweep = readSweep(options.file);
  prepareAllPoints(sweep);
  resolveMetrics(sweep);
  const fs::path outDir = outDirOf(options);
  GatheredPoints gathered = gatherPoints(sweep, outDir);
  if (!gathered.missing.empty() && options.shardsPerPoint > 1) {
    // A point whose shards are all stored but which no task merged (its last task stopped
    // in between) is merged here.
    bool merged = false;
    for (const auto& [point, reason] : gathered.missing) {
      merged = mergePointShards(sweep, *point, options.shardsPerPoint, outDir,
                                resolveThreads(options.threads)) ||
               merged;
    }
    if (merged) gathered = gatherPoints(sweep, outDir);
  }
  if (gathered.missing.empty()) {
    return writeAggregates(sweep, outDir, gathered.stored, options.json, "sweep --collect", phases);
  }

  std::vector<std::size_t> points, tasks;
  for (const auto& [point, reason] : gathered.missing) {
    std::cerr << progressPrefix(sweep, *point) << reason << "\n";
    points.push_back(point->index);
    for (std::size_t s = 1; s <= options.shardsPerPoint; ++s) {
      tasks.push_back((point->index - 1) * options.shardsPerPoint + s);
    }
  }
  std::string message = std::to_string(points.size()) + " of " +
                        std::to_string(sweep.points.size()) + " points not done (" +
                        taskRanges(points) + "), so nothing was written; ";
  const fs::path submit = slurmDir(outDir) / "submit.sh";
  if (fs::exists(submit)) {
    message += "once their tasks have ended, resubmit them with " + shellQuote(submit.string()) +
               " " + taskRanges(tasks);
  } else {
    message += "compute them with spinval sweep SWEEP --task I, or run the whole sweep";
  }
  std::cout.flush();
  std::cerr << "spinval: error: " << message << std::endl;
  return kExitIncomplete;
}

// --slurm: the job array, the collect job and the script that submits both.
int writeSlurmScripts(const SweepOptions& options) {
  // The same checks as a local sweep, so a bad point fails now rather than in its task.
  LoadedSweep sweep = readSweep(options.file);
  prepareAllPoints(sweep);
  resolveMetrics(sweep);

  std::error_code ec;
  const fs::path binary = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw std::runtime_error(
        "cannot find the path of the running spinval (/proc/self/exe: " + ec.message() + ")");
  }
  SlurmSettings settings;
  settings.binary = binary;
  settings.sweepFile = fs::absolute(options.file).lexically_normal();
  settings.outDir = fs::absolute(outDirOf(options)).lexically_normal();
  if (!settings.outDir.has_filename()) settings.outDir = settings.outDir.parent_path();
  settings.name = sweep.spec.name;
  settings.points = sweep.points.size();
  settings.shardsPerPoint = options.shardsPerPoint;
  settings.arrayLimit = options.arrayLimit;
  settings.partition = options.partition;
  settings.cpusPerTask = options.cpusPerTask;
  settings.version = version();
  SlurmScripts scripts;
  try {
    scripts = slurmScripts(settings);
  } catch (const std::invalid_argument& e) {
    throw InputError({"--slurm", 0, 0}, "", e.what());
  }

  const fs::path dir = slurmDir(settings.outDir);
  fs::create_directories(settings.outDir / "points");
  fs::create_directories(settings.outDir / "logs");
  fs::create_directories(dir);
  const std::vector<std::pair<std::string, const std::string*>> files = {
      {"array.sh", &scripts.array},
      {"collect.sh", &scripts.collect},
      {"submit.sh", &scripts.submit}};
  for (const auto& [name, text] : files) {
    writeFileAtomically(dir / name, *text);
    fs::permissions(dir / name,
                    fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
  }

  const std::size_t tasks = settings.points * settings.shardsPerPoint;
  std::cout << sweep.spec.name << ": " << settings.points << " points, " << sweep.common.paths
            << " paths, seed " << sweep.common.seed << ", " << sweep.common.sampler
            << "; a Slurm job array of " << tasks << " tasks";
  if (settings.arrayLimit > 0) std::cout << ", at most " << settings.arrayLimit << " at a time";
  if (!settings.partition.empty()) std::cout << ", partition " << settings.partition;
  std::cout << "\nwrote " << (dir / "array.sh").string() << "    the job array, task t computes "
            << (settings.shardsPerPoint > 1 ? "a shard of point (t-1)/S+1" : "point t")
            << "\nwrote " << (dir / "collect.sh").string()
            << "  writes sweep.csv and sweep.json from the points\nwrote "
            << (dir / "submit.sh").string() << "   submits both\nlogs go to "
            << (settings.outDir / "logs").string() << "/\nsubmit with:\n  "
            << shellQuote((dir / "submit.sh").string()) << "\nwhich runs:\n  sbatch --parsable "
            << shellQuote((dir / "array.sh").string())
            << "\n  sbatch --parsable --dependency=afterok:<array job id> "
            << shellQuote((dir / "collect.sh").string()) << "\n";
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
  return kExitSuccess;
}

int sweep(const SweepOptions& options) {
  if (options.shardsPerPoint != 1 && !options.slurm && options.task == 0 && !options.collect) {
    throw InputError({"--shards-per-point", 0, 0}, "", "needs --slurm, --task or --collect");
  }
  if (options.slurm) return writeSlurmScripts(options);
  if (options.task > 0) return runTask(options);
  if (options.collect) return collectSweep(options);
  return sweepHere(options);
}

}  // namespace

void addSweepCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<SweepOptions>();
  CLI::App* command = app.add_subcommand(
      "sweep", "Run a base scenario over a grid or zip of overrides, resuming finished points");
  command->add_option("SWEEP", options->file, "Sweep file (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  command
      ->add_option("--out", options->out,
                   "Output folder (default: out-<sweep name> beside the sweep file)")
      ->type_name("DIR");
  CLI::Option* threads =
      command
          ->add_option("--threads", options->threads,
                       "Worker threads, 0..4096 (default 0: every hardware thread)")
          ->type_name("T")
          ->check(wholeNumber(0, 4096));
  command->add_flag("--quiet", options->quiet, "No progress lines");
  CLI::Option* json =
      command->add_flag("--json", options->json, "Print sweep.json instead of the table");

  CLI::Option* slurm = command->add_flag("--slurm", options->slurm,
                                         "Write a Slurm job array (one task per point or shard), a "
                                         "collect job and submit.sh into DIR/slurm "
                                         "instead of running");
  CLI::Option* task =
      command
          ->add_option(
              "--task", options->task,
              "Compute array task I only (a point, or a shard of one), as a Slurm task does")
          ->type_name("I")
          ->check(wholeNumber(1));
  CLI::Option* collect = command->add_flag(
      "--collect", options->collect,
      "Write sweep.csv and sweep.json from the stored points; with any missing, write nothing and "
      "exit 3");
  command->add_option("--partition", options->partition, "With --slurm: the Slurm partition")
      ->type_name("P")
      ->needs(slurm);
  command
      ->add_option("--array-limit", options->arrayLimit,
                   "With --slurm: at most K array tasks at a time (--array=1-N%K)")
      ->type_name("K")
      ->check(wholeNumber(1))
      ->needs(slurm);
  command
      ->add_option("--cpus-per-task", options->cpusPerTask,
                   "With --slurm: CPUs (and threads) per array task (default 1)")
      ->type_name("C")
      ->check(wholeNumber(1, 4096))
      ->needs(slurm);
  command
      ->add_option("--shards-per-point", options->shardsPerPoint,
                   "With --slurm, --task or --collect: array tasks per point (default 1)")
      ->type_name("S")
      ->check(wholeNumber(1, 1000000));
  slurm->excludes(task)->excludes(collect)->excludes(threads)->excludes(json);
  task->excludes(collect)->excludes(json);
  command->final_callback([options, &action] { action = [options] { return sweep(*options); }; });
}

}  // namespace spinval::cli
