// spinval sensitivity: which inputs move a per-path output. Tornado swings, Spearman rank
// correlations and Sobol indices over every non-constant static input and the yearly shocks as
// one group, printed as ranked tables with a text bar per input, or as JSON.
#include <algorithm>
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
#include "spinval/sensitivity.hpp"
#include "spinval/version.hpp"

namespace spinval::cli {

namespace {

struct SensitivityOptions {
  ScenarioOptions scenario;
  std::string metric = "ev_usd";
  std::string method = "all";
  std::uint64_t paths = 4096;
  std::uint64_t seed = 0;
  bool seedGiven = false;
  unsigned threads = 0;
  bool json = false;
  std::string out;
  bool quiet = false;
};

constexpr const char* kSobolNote =
    "indices are for the copula's independent factors: input i's factor is what is left of its "
    "normal score after the inputs before it in the correlations list are accounted for "
    "(Cholesky order); without correlations they are the inputs' own indices";
constexpr const char* kTornadoNote =
    "the input's uniform is pinned after the copula, so correlated inputs keep their "
    "unconditional distribution";

nlohmann::ordered_json number(double x) {
  if (!std::isfinite(x)) return nullptr;
  return x;
}

nlohmann::ordered_json sensitivityJson(const Scenario& scenario, const SensitivityResult& r,
                                       const std::string& method) {
  nlohmann::ordered_json j;
  j["scenario"] = scenario.name;
  j["scenario_sha256"] = scenario.sha256;
  j["metric"] = r.metric;
  j["method"] = method;
  j["seed"] = r.seed;
  j["paths"] = r.paths;
  j["version"] = version();
  j["correlated"] = r.correlated;
  j["baseline"] = {{"mean", r.baseMean}, {"p50", r.baseMedian}};
  if (!r.tornado.empty()) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const TornadoRow& t : r.tornado) {
      rows.push_back({{"input", t.input},
                      {"group", t.group},
                      {"p10_value", number(t.lowValue)},
                      {"p90_value", number(t.highValue)},
                      {"median_at_p10", t.medianLow},
                      {"median_at_p90", t.medianHigh},
                      {"mean_at_p10", t.meanLow},
                      {"mean_at_p90", t.meanHigh},
                      {"swing", t.swing}});
    }
    j["tornado"] = {
        {"evaluations", r.tornadoEvaluations}, {"note", kTornadoNote}, {"inputs", rows}};
  }
  if (!r.rank.empty()) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const RankRow& row : r.rank) {
      rows.push_back({{"input", row.input},
                      {"group", row.group},
                      {"spearman", row.spearman},
                      {"share", row.share}});
    }
    j["rank"] = {{"evaluations", r.paths}, {"inputs", rows}};
  }
  if (!r.sobol.empty()) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const SobolRow& row : r.sobol) {
      rows.push_back({{"input", row.input},
                      {"group", row.group},
                      {"first", row.first},
                      {"first_sd", row.firstSd},
                      {"first_ci95", {row.firstLo, row.firstHi}},
                      {"total", row.total},
                      {"total_sd", row.totalSd},
                      {"total_ci95", {row.totalLo, row.totalHi}}});
    }
    j["sobol"] = {{"evaluations", r.sobolEvaluations},
                  {"variance", r.sobolVariance},
                  {"bootstrap", {{"resamples", r.bootstrap}, {"seed", r.bootstrapSeed}}},
                  {"note", r.correlated ? kSobolNote : "inputs are independent"},
                  {"inputs", rows}};
  }
  return j;
}

// A value of the metric: billions for a USD amount of at least 100 million, else 4 digits.
std::string formatMetric(const std::string& metric, double x) {
  char text[64];
  const bool usd = metric.size() > 4 && metric.compare(metric.size() - 4, 4, "_usd") == 0;
  if (usd && std::fabs(x) >= 1e8) {
    std::snprintf(text, sizeof text, "%.2fB", x / 1e9);
  } else {
    std::snprintf(text, sizeof text, "%.4g", x);
  }
  return text;
}

std::string formatNumber(double x, const char* format) {
  if (!std::isfinite(x)) return "-";
  char text[64];
  std::snprintf(text, sizeof text, format, x);
  return text;
}

// A bar of up to `width` characters, proportional to value / largest.
std::string bar(double value, double largest, int width = 30) {
  if (!(largest > 0) || !(value > 0)) return "";
  const int n = static_cast<int>(std::lround(std::min(value / largest, 1.0) * width));
  return std::string(static_cast<std::size_t>(std::max(n, value > 0 ? 1 : 0)), '#');
}

std::size_t nameWidth(const SensitivityResult& r) {
  std::size_t w = 5;
  for (const auto& t : r.tornado) w = std::max(w, t.input.size());
  for (const auto& t : r.rank) w = std::max(w, t.input.size());
  for (const auto& t : r.sobol) w = std::max(w, t.input.size());
  return w;
}

void printTables(std::ostream& out, const Scenario& scenario, const std::string& file,
                 const SensitivityResult& r) {
  const int w = static_cast<int>(nameWidth(r));
  char line[512];
  out << "spinval sensitivity: " << scenario.name << " (" << file << ")\n";
  out << r.metric << ": median " << formatMetric(r.metric, r.baseMedian) << ", mean "
      << formatMetric(r.metric, r.baseMean) << " over " << r.paths << " paths, seed " << r.seed
      << "\n";

  if (!r.tornado.empty()) {
    out << "\nTornado: median " << r.metric
        << " with the input at its P10 and at its P90, everything else random (common random "
           "numbers); "
        << r.tornadoEvaluations << " evaluations\n";
    std::snprintf(line, sizeof line, "  %-*s %11s %11s %11s %11s %11s  %s\n", w, "input", "P10",
                  "P90", "median@P10", "median@P90", "swing", "swing bar");
    out << line;
    const double largest = r.tornado.front().swing;
    for (const TornadoRow& t : r.tornado) {
      std::snprintf(
          line, sizeof line, "  %-*s %11s %11s %11s %11s %11s  %s\n", w, t.input.c_str(),
          formatNumber(t.lowValue, "%.4g").c_str(), formatNumber(t.highValue, "%.4g").c_str(),
          formatMetric(r.metric, t.medianLow).c_str(), formatMetric(r.metric, t.medianHigh).c_str(),
          formatMetric(r.metric, t.swing).c_str(), bar(t.swing, largest).c_str());
      out << line;
    }
    if (r.correlated) out << "  note: " << kTornadoNote << "\n";
  }

  if (!r.rank.empty()) {
    out << "\nRank: Spearman's rho of the input with " << r.metric
        << ", and its share rho^2 / sum rho^2\n";
    std::snprintf(line, sizeof line, "  %-*s %8s %7s  %s\n", w, "input", "rho", "share",
                  "share bar (+ raises, - lowers the metric)");
    out << line;
    const double largest = r.rank.front().share;
    for (const RankRow& row : r.rank) {
      std::snprintf(line, sizeof line, "  %-*s %+8.3f %6.1f%%  %s %s\n", w, row.input.c_str(),
                    row.spearman, 100.0 * row.share, row.spearman >= 0 ? "+" : "-",
                    bar(row.share, largest).c_str());
      out << line;
    }
  }

  if (!r.sobol.empty()) {
    out << "\nSobol: first-order S1 (Saltelli 2010) and total ST (Jansen 1999), 95% bootstrap "
           "intervals from "
        << r.bootstrap << " resamples; " << r.paths << " x (k + 2) = " << r.sobolEvaluations
        << " evaluations\n";
    std::snprintf(line, sizeof line, "  %-*s %7s %17s %7s %17s  %s\n", w, "input", "S1", "S1 95%",
                  "ST", "ST 95%", "ST bar");
    out << line;
    const double largest = r.sobol.front().total;
    for (const SobolRow& row : r.sobol) {
      char lo[64], hi[64];
      std::snprintf(lo, sizeof lo, "[%.3f, %.3f]", row.firstLo, row.firstHi);
      std::snprintf(hi, sizeof hi, "[%.3f, %.3f]", row.totalLo, row.totalHi);
      std::snprintf(line, sizeof line, "  %-*s %7.3f %17s %7.3f %17s  %s\n", w, row.input.c_str(),
                    row.first, lo, row.total, hi, bar(row.total, largest).c_str());
      out << line;
    }
    if (r.correlated) out << "  note: " << kSobolNote << "\n";
  }
  std::snprintf(line, sizeof line, "\n%.2f s on %u threads\n", r.seconds, r.threads);
  out << line;
}

int sensitivity(const SensitivityOptions& options) {
  PreparedScenario prepared = prepareScenario(options.scenario);
  const Scenario& scenario = prepared.scenario();
  if (!prepared.model->layout().outputIndex(options.metric)) {
    std::string known;
    for (const auto& name : prepared.model->layout().outputs) {
      if (!known.empty()) known += ", ";
      known += name;
    }
    throw InputError({"--metric", 0, 0}, "",
                     "unknown output '" + options.metric + "' (expected one of " + known + ")");
  }

  SensitivitySettings settings;
  settings.metric = options.metric;
  settings.tornado = options.method == "all" || options.method == "tornado";
  settings.rank = options.method == "all" || options.method == "rank";
  settings.sobol = options.method == "all" || options.method == "sobol";
  settings.paths = options.paths;
  settings.seed = options.seedGiven ? options.seed : scenario.simulation.seed;
  settings.threads = options.threads;

  const std::filesystem::path outDir = options.out;
  if (!outDir.empty()) std::filesystem::create_directories(outDir);

  ProgressBar progress(ProgressBar::wanted(options.quiet));
  settings.progress = [&progress](std::uint64_t done, std::uint64_t total) {
    progress.update(done, total);
  };
  SensitivityResult result;
  try {
    result = analyseSensitivity(*prepared.model, prepared.copula, settings);
  } catch (const std::invalid_argument& e) {
    throw InputError({options.scenario.file, 0, 0}, "", e.what());
  }
  progress.finish();

  const std::string json = sensitivityJson(scenario, result, options.method).dump(2) + "\n";
  if (options.json) {
    std::cout << json;
  } else {
    printTables(std::cout, scenario, options.scenario.file, result);
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
  if (!outDir.empty()) writeFileAtomically(outDir / "sensitivity.json", json);
  return kExitSuccess;
}

}  // namespace

void addSensitivityCommand(CLI::App& app, Action& action) {
  auto options = std::make_shared<SensitivityOptions>();
  CLI::App* command = app.add_subcommand(
      "sensitivity", "Rank the inputs that move an output: tornado, rank correlation, Sobol");
  addScenarioOptions(*command, options->scenario);
  command->add_option("--metric", options->metric, "Per-path output to explain (default ev_usd)")
      ->type_name("OUTPUT");
  command->add_option("--method", options->method, "tornado, rank, sobol or all (default all)")
      ->type_name("METHOD")
      ->check(CLI::IsMember({"tornado", "rank", "sobol", "all"}));
  command->add_option("--paths", options->paths, "Paths per run, >= 2 (default 4096)")
      ->type_name("N")
      ->check(wholeNumber(2));
  addSeedOption(*command, options->seed, options->seedGiven,
                "Random seed (default: simulation.seed)");
  addThreadsOption(*command, options->threads);
  command->add_flag("--json", options->json, "Print the JSON instead of the tables");
  command->add_option("--out", options->out, "Write sensitivity.json into DIR")->type_name("DIR");
  command->add_flag("--quiet", options->quiet, "No progress bar");
  command->final_callback(
      [options, &action] { action = [options] { return sensitivity(*options); }; });
}

}  // namespace spinval::cli
