// spinval sweep: run a base scenario at every point of a grid or zip of overrides, with one
// seed for all, writing points/<index>.json per point and then sweep.csv and sweep.json. Points
// whose stored result matches (scenario hash, seed, paths, sampler, version) are skipped.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "progress.hpp"
#include "spinval/error.hpp"
#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"
#include "spinval/sweep.hpp"
#include "spinval/version.hpp"

namespace spinval::cli {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct SweepOptions {
  std::string file;
  std::string out;
  unsigned threads = 0;
  bool quiet = false;
  bool json = false;
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

int sweep(const SweepOptions& options) {
  // Everything about the input, every point's scenario included, is checked before any point
  // runs.
  const SweepSpec spec = loadSweep(options.file);
  const std::vector<SweepPoint> points = expandSweep(spec);

  SweepPoint basePoint;
  basePoint.index = 0;
  for (const SweepItem& item : spec.set) basePoint.overrides.push_back(item.text);
  const PreparedScenario base = preparePoint(spec, basePoint);
  PointKey common;
  common.seed = spec.seed ? *spec.seed : base.scenario().simulation.seed;
  common.paths = spec.paths ? *spec.paths : base.scenario().simulation.paths;
  SamplerKind sampler = base.sampler;
  if (spec.sampler) {
    try {
      sampler = parseSampler(spec.sampler->text);
    } catch (const std::invalid_argument& e) {
      throw InputError(spec.sampler->where, "sampler", e.what());
    }
  }
  common.sampler = samplerName(sampler);
  common.version = version();

  std::vector<PreparedScenario> prepared;
  prepared.reserve(points.size());
  for (const SweepPoint& point : points) prepared.push_back(preparePoint(spec, point));

  std::vector<std::string> metrics;
  const Layout& layout = prepared.front().model->layout();
  if (spec.metrics.empty()) {
    metrics = layout.outputs;
  } else {
    for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
      if (!layout.outputIndex(spec.metrics[i].text)) {
        std::string known;
        for (const std::string& name : layout.outputs) {
          if (!known.empty()) known += ", ";
          known += name;
        }
        throw InputError(
            spec.metrics[i].where, "metrics[" + std::to_string(i) + "]",
            "unknown output '" + spec.metrics[i].text + "' (expected one of " + known + ")");
      }
      metrics.push_back(spec.metrics[i].text);
    }
  }

  const fs::path outDir =
      options.out.empty() ? defaultSweepOutDir(options.file) : fs::path(options.out);
  fs::create_directories(outDir / "points");
  const unsigned threads = resolveThreads(options.threads);
  const std::uint64_t paths = admissiblePaths(sampler, common.paths);
  const bool sketch = static_cast<double>(paths) * static_cast<double>(exactBytesPerPath(layout)) >
                      static_cast<double>(std::uint64_t{1} << 30);

  for (std::size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& point = points[i];
    const Scenario& scenario = prepared[i].scenario();
    PointKey key = common;
    key.scenarioSha256 = scenario.sha256;
    key.overrides = point.overrides;
    std::string line = "point " + std::to_string(point.index) + "/" +
                       std::to_string(points.size()) + " " + pointLabel(spec, point) + ": ";
    std::string reason;
    if (readStoredPoint(outDir, point.index, key, reason)) {
      if (!options.quiet) std::cerr << line << "skipped (done)" << std::endl;
      continue;
    }

    RunSettings settings;
    settings.paths = common.paths;
    settings.seed = common.seed;
    settings.sampler = sampler;
    settings.threads = threads;
    settings.sketch = sketch;
    ProgressBar bar(ProgressBar::wanted(options.quiet));
    settings.progress = [&bar](std::uint64_t done, std::uint64_t total) {
      bar.update(done, total);
    };
    RunResult result = simulate(*prepared[i].model, prepared[i].copula, settings);
    bar.finish();

    const Summary summary = summarize(result.statistics);
    RunInfo info;
    info.scenario = scenario.name;
    info.scenarioSha256 = scenario.sha256;
    info.seed = settings.seed;
    info.paths = result.statistics.merged();
    info.sampler = common.sampler;
    info.version = common.version;
    info.stderrMethod = errorModelName(result.statistics.options().errorModel);
    info.seconds = result.seconds;
    info.threads = result.threads;
    const Json stored = pointJson(spec, point, key, summaryJson(info, summary));
    writeFileAtomically(pointFile(outDir, point.index), stored.dump(2) + "\n");

    if (!options.quiet) {
      const std::string& metric = metrics.front();
      const std::size_t k = *layout.outputIndex(metric);
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f s", result.seconds);
      line += metric + " mean " + shortValue(metric, summary.outputs.at(k).mean) + " (" + seconds;
      if (reason != "missing") line += ", recomputed: " + reason;
      std::cerr << line << ")" << std::endl;
    }
  }

  // The aggregates come from the stored files only, whether a point ran now or before.
  std::vector<Json> stored;
  for (const SweepPoint& point : points) {
    PointKey key = common;
    key.scenarioSha256 = prepared[point.index - 1].scenario().sha256;
    key.overrides = point.overrides;
    std::string reason;
    std::optional<Json> j = readStoredPoint(outDir, point.index, key, reason);
    if (!j) {
      throw std::runtime_error("cannot read back " + pointFile(outDir, point.index).string() +
                               " (" + reason + ")");
    }
    stored.push_back(std::move(*j));
  }
  writeFileAtomically(outDir / "sweep.csv", sweepCsv(spec, metrics, stored));
  const std::string json = sweepJson(spec, common, metrics, stored).dump(2) + "\n";
  writeFileAtomically(outDir / "sweep.json", json);

  if (options.json) {
    std::cout << json;
  } else {
    const std::string& metric = metrics.front();
    std::cout << spec.name << ": " << points.size() << " points, " << common.paths
              << " paths, seed " << common.seed << ", " << common.sampler << "; " << metric << "\n";
    for (std::size_t i = 0; i < points.size(); ++i) {
      std::cout << "  " << points[i].index << "  " << pointLabel(spec, points[i]);
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
  command
      ->add_option("--threads", options->threads,
                   "Worker threads, 0..4096 (default 0: every hardware thread)")
      ->type_name("T")
      ->check(wholeNumber(0, 4096));
  command->add_flag("--quiet", options->quiet, "No progress lines");
  command->add_flag("--json", options->json, "Print sweep.json instead of the table");
  command->final_callback([options, &action] { action = [options] { return sweep(*options); }; });
}

}  // namespace spinval::cli
