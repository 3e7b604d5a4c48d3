#include "spinval/sweep.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "config_tree.hpp"

namespace spinval {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

const std::vector<std::string> kSweepKeys = {"base", "paths", "seed",    "sampler", "set",
                                             "mode", "axes",  "metrics", "stats"};

// Concatenation by appending, for keys and messages.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

std::string indexedKey(const std::string& key, std::size_t i) {
  return concat(key, "[", std::to_string(i), "]");
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::uint64_t readWholeNumber(const ConfigNode& node, const std::string& key, std::uint64_t least) {
  const std::optional<double> number = configNumber(node);
  if (!number || *number < static_cast<double>(least) || *number != std::floor(*number) ||
      *number > 9.0e18) {
    throw InputError(node.where, key,
                     "expected a whole number >= " + std::to_string(least) + ", got " +
                         describeConfigNode(node));
  }
  return static_cast<std::uint64_t>(*number);
}

SweepItem readString(const ConfigNode& node, const std::string& key, const std::string& expected) {
  if (!node.isScalar() || node.text.empty()) {
    throw InputError(node.where, key, "expected " + expected + ", got " + describeConfigNode(node));
  }
  return SweepItem{node.text, node.where};
}

std::vector<SweepItem> readStringList(const ConfigNode& node, const std::string& key,
                                      const std::string& expected) {
  if (!node.isSequence()) {
    throw InputError(node.where, key,
                     "expected a list of " + expected + ", got " + describeConfigNode(node));
  }
  std::vector<SweepItem> items;
  for (std::size_t i = 0; i < node.items.size(); ++i) {
    items.push_back(readString(node.items[i], indexedKey(key, i), expected));
  }
  return items;
}

std::string formatNumber(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) throw std::runtime_error("cannot format a number");
  return std::string(buffer, end);
}

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// An axis value for JSON: a number when the flow text is one, else the text.
Json axisValueJson(const std::string& text) {
  if (const std::optional<double> number = configNumber(ConfigNode::scalar(text, true))) {
    const Json parsed = Json::parse(text, nullptr, false);
    return parsed.is_number() ? parsed : Json(*number);
  }
  return text;
}

double statValue(const Json& point, const std::string& metric, const std::string& stat) {
  const Json* metrics = nullptr;
  if (point.contains("summary") && point["summary"].contains("metrics")) {
    metrics = &point["summary"]["metrics"];
  }
  if (!metrics || !metrics->contains(metric) || !(*metrics)[metric].contains(stat) ||
      !(*metrics)[metric][stat].is_number()) {
    throw std::runtime_error("sweep point " + point.value("point", Json(0)).dump() +
                             " has no statistic " + stat + " of " + metric);
  }
  return (*metrics)[metric][stat].get<double>();
}

}  // namespace

const std::vector<std::string>& sweepStatNames() {
  static const std::vector<std::string> names = {"mean", "std", "stderr", "min", "max",
                                                 "p01",  "p05", "p10",    "p25", "p50",
                                                 "p75",  "p90", "p95",    "p99"};
  return names;
}

SweepSpec loadSweep(const std::string& file) {
  const std::optional<std::string> text = readText(file);
  if (!text) {
    throw InputError(SourceLocation{file, 0, 0}, "",
                     "cannot read the sweep file (expected a readable YAML file)");
  }
  const ConfigNode root = parseConfigText(*text, ConfigOrigin{file, 1});
  if (!root.isMap()) {
    throw InputError(root.where, "",
                     "expected a mapping of sweep keys (" + joined(kSweepKeys) + "), got " +
                         describeConfigNode(root));
  }
  SweepSpec spec;
  spec.file = file;
  spec.name = fs::path(file).stem().string();
  for (const ConfigEntry& e : root.entries) {
    if (std::find(kSweepKeys.begin(), kSweepKeys.end(), e.key) == kSweepKeys.end()) {
      throw InputError(e.keyWhere, e.key,
                       "unknown key in a sweep file (expected one of " + joined(kSweepKeys) + ")");
    }
  }

  const ConfigEntry* base = root.entry("base");
  if (!base) {
    throw InputError(root.where, "base", "missing key (expected the base scenario's path)");
  }
  const SweepItem baseItem = readString(base->value, "base", "the path of a scenario file");
  const fs::path target(baseItem.text);
  spec.base = target.is_absolute()
                  ? target.lexically_normal().string()
                  : (fs::path(file).parent_path() / target).lexically_normal().string();
  spec.baseWhere = baseItem.where;
  if (!readText(spec.base)) {
    throw InputError(baseItem.where, "base",
                     "cannot read '" + baseItem.text + "' (resolved to " + spec.base +
                         "; expected a path relative to the sweep file)");
  }

  if (const ConfigNode* paths = root.find("paths"))
    spec.paths = readWholeNumber(*paths, "paths", 1);
  if (const ConfigNode* seed = root.find("seed")) spec.seed = readWholeNumber(*seed, "seed", 0);
  if (const ConfigNode* sampler = root.find("sampler")) {
    spec.sampler = readString(*sampler, "sampler", "mc, antithetic, lhs or sobol");
  }
  if (const ConfigNode* set = root.find("set")) {
    spec.set = readStringList(*set, "set", "KEY=VALUE overrides");
    for (std::size_t i = 0; i < spec.set.size(); ++i) {
      if (spec.set[i].text.find('=') == std::string::npos) {
        throw InputError(spec.set[i].where, indexedKey("set", i),
                         "expected KEY=VALUE, got '" + spec.set[i].text + "'");
      }
    }
  }
  if (const ConfigNode* mode = root.find("mode")) {
    const SweepItem item = readString(*mode, "mode", "grid or zip");
    if (item.text == "grid") {
      spec.mode = SweepSpec::Mode::grid;
    } else if (item.text == "zip") {
      spec.mode = SweepSpec::Mode::zip;
    } else {
      throw InputError(item.where, "mode", "expected grid or zip, got '" + item.text + "'");
    }
  }

  const ConfigEntry* axes = root.entry("axes");
  if (!axes) {
    throw InputError(root.where, "axes",
                     "missing key (expected a mapping of scenario keys to lists of values)");
  }
  if (!axes->value.isMap() || axes->value.entries.empty()) {
    throw InputError(axes->value.where, "axes",
                     "expected a mapping of scenario keys to lists of values, got " +
                         describeConfigNode(axes->value));
  }
  for (const ConfigEntry& e : axes->value.entries) {
    const std::string key = concat("axes.", e.key);
    if (e.key.empty() || e.key.find_first_of("= ") != std::string::npos) {
      throw InputError(e.keyWhere, key, "expected a dotted scenario key such as cost.advantage");
    }
    if (!e.value.isSequence() || e.value.items.empty()) {
      throw InputError(e.value.where, key,
                       "expected a non-empty list of values, got " + describeConfigNode(e.value));
    }
    SweepAxis axis;
    axis.key = e.key;
    axis.keyWhere = e.keyWhere;
    for (const ConfigNode& value : e.value.items) {
      axis.values.push_back(serializeConfig(value));
      axis.valueWhere.push_back(value.where);
    }
    spec.axes.push_back(std::move(axis));
  }
  if (spec.mode == SweepSpec::Mode::zip) {
    const SweepAxis& first = spec.axes.front();
    for (const SweepAxis& axis : spec.axes) {
      if (axis.values.size() != first.values.size()) {
        throw InputError(axis.keyWhere, concat("axes.", axis.key),
                         "zip axes must have equal lengths: " + std::to_string(axis.values.size()) +
                             " values here, " + std::to_string(first.values.size()) + " in " +
                             first.key);
      }
    }
  }

  if (const ConfigNode* metrics = root.find("metrics")) {
    spec.metrics = readStringList(*metrics, "metrics", "per-path output names");
  }
  if (const ConfigNode* stats = root.find("stats")) {
    spec.stats = readStringList(*stats, "stats", "statistic names");
    const std::vector<std::string>& known = sweepStatNames();
    for (std::size_t i = 0; i < spec.stats.size(); ++i) {
      if (std::find(known.begin(), known.end(), spec.stats[i].text) == known.end()) {
        throw InputError(spec.stats[i].where, indexedKey("stats", i),
                         "unknown statistic '" + spec.stats[i].text + "' (expected one of " +
                             joined(known) + ")");
      }
    }
  } else {
    for (const char* stat : {"mean", "stderr", "p05", "p50", "p95"}) {
      spec.stats.push_back(SweepItem{stat, {}});
    }
  }
  return spec;
}

std::vector<SweepPoint> expandSweep(const SweepSpec& spec) {
  std::vector<SweepPoint> points;
  if (spec.axes.empty()) return points;
  const auto make = [&spec, &points](const std::vector<std::size_t>& choice) {
    SweepPoint point;
    point.index = points.size() + 1;
    for (const SweepItem& item : spec.set) point.overrides.push_back(item.text);
    for (std::size_t a = 0; a < spec.axes.size(); ++a) {
      const std::string& value = spec.axes[a].values[choice[a]];
      point.values.push_back(value);
      std::string override = spec.axes[a].key;
      override += "=";
      override += value;
      point.overrides.push_back(std::move(override));
    }
    points.push_back(std::move(point));
  };
  std::vector<std::size_t> choice(spec.axes.size(), 0);
  if (spec.mode == SweepSpec::Mode::zip) {
    for (std::size_t i = 0; i < spec.axes.front().values.size(); ++i) {
      std::fill(choice.begin(), choice.end(), i);
      make(choice);
    }
    return points;
  }
  // Odometer order: the last axis turns fastest.
  while (true) {
    make(choice);
    std::size_t a = spec.axes.size();
    while (a > 0) {
      --a;
      if (++choice[a] < spec.axes[a].values.size()) break;
      choice[a] = 0;
      if (a == 0) return points;
    }
  }
}

std::string pointLabel(const SweepSpec& spec, const SweepPoint& point) {
  std::string label;
  for (std::size_t a = 0; a < spec.axes.size() && a < point.values.size(); ++a) {
    if (!label.empty()) label += ' ';
    label += spec.axes[a].key;
    label += '=';
    label += point.values[a];
  }
  return label;
}

InputError sweepPointError(const SweepSpec& spec, const SweepPoint& point, const InputError& e) {
  const std::string& file = e.where().file;
  const bool unknownKey = e.detail().starts_with("unknown --set key");
  for (std::size_t i = 0; i < spec.set.size(); ++i) {
    if (file == "--set " + spec.set[i].text) {
      return InputError(spec.set[i].where, indexedKey("set", i), e.key() + ": " + e.detail());
    }
  }
  for (std::size_t a = 0; a < spec.axes.size(); ++a) {
    const SweepAxis& axis = spec.axes[a];
    if (a >= point.values.size() || file != "--set " + axis.key + "=" + point.values[a]) continue;
    if (unknownKey) return InputError(axis.keyWhere, concat("axes.", axis.key), e.detail());
    const auto at = std::find(axis.values.begin(), axis.values.end(), point.values[a]);
    const std::size_t v = static_cast<std::size_t>(at - axis.values.begin());
    const std::string key = indexedKey(concat("axes.", axis.key), v);
    std::string detail = e.detail();
    if (e.key() != axis.key) detail = e.key() + ": " + detail;
    return InputError(axis.valueWhere.at(v), key, detail);
  }
  return InputError(e.where(), e.key(),
                    e.detail() + " (in sweep point " + std::to_string(point.index) + ": " +
                        pointLabel(spec, point) + ")");
}

fs::path defaultSweepOutDir(const std::string& file) {
  const fs::path path(file);
  return path.parent_path() / ("out-" + path.stem().string());
}

fs::path pointFile(const fs::path& outDir, std::size_t index) {
  return outDir / "points" / (std::to_string(index) + ".json");
}

Json pointJson(const SweepSpec& spec, const SweepPoint& point, const PointKey& key,
               const Json& summary) {
  Json j = Json::object();
  j["point"] = point.index;
  Json axes = Json::object();
  for (std::size_t a = 0; a < spec.axes.size(); ++a) {
    axes[spec.axes[a].key] = axisValueJson(point.values.at(a));
  }
  j["axes"] = std::move(axes);
  j["overrides"] = point.overrides;
  j["scenario_sha256"] = key.scenarioSha256;
  j["seed"] = key.seed;
  j["paths"] = key.paths;
  j["sampler"] = key.sampler;
  j["version"] = key.version;
  j["summary"] = summary;
  return j;
}

std::optional<Json> readStoredPoint(const fs::path& outDir, std::size_t index, const PointKey& key,
                                    std::string& reason) {
  const std::optional<std::string> text = readText(pointFile(outDir, index));
  if (!text) {
    reason = "missing";
    return std::nullopt;
  }
  Json j = Json::parse(*text, nullptr, false);
  const auto has = [&j](const char* name, bool (Json::*check)() const noexcept) {
    return j.contains(name) && (j[name].*check)();
  };
  if (j.is_discarded() || !j.is_object() || !has("point", &Json::is_number_unsigned) ||
      !has("scenario_sha256", &Json::is_string) || !has("seed", &Json::is_number_unsigned) ||
      !has("paths", &Json::is_number_unsigned) || !has("sampler", &Json::is_string) ||
      !has("version", &Json::is_string) || !has("summary", &Json::is_object)) {
    reason = "unreadable result file";
    return std::nullopt;
  }
  if (j["point"].get<std::uint64_t>() != index) {
    reason = "result file of another point";
  } else if (j["scenario_sha256"].get<std::string>() != key.scenarioSha256) {
    reason = "scenario changed";
  } else if (j["seed"].get<std::uint64_t>() != key.seed) {
    reason = "seed changed";
  } else if (j["paths"].get<std::uint64_t>() != key.paths) {
    reason = "paths changed";
  } else if (j["sampler"].get<std::string>() != key.sampler) {
    reason = "sampler changed";
  } else if (j["version"].get<std::string>() != key.version) {
    reason = "spinval version changed";
  } else if (!j.contains("overrides") || j["overrides"] != Json(key.overrides)) {
    reason = "overrides changed";
  } else {
    reason.clear();
    return j;
  }
  return std::nullopt;
}

std::string sweepCsv(const SweepSpec& spec, const std::vector<std::string>& metrics,
                     const std::vector<Json>& points) {
  std::string out = "point";
  for (const SweepAxis& axis : spec.axes) out += concat(",", csvField(axis.key));
  out += ",metric,stat,value\n";
  for (const Json& point : points) {
    std::string prefix = std::to_string(point.at("point").get<std::uint64_t>());
    for (const SweepAxis& axis : spec.axes) {
      const Json& value = point.at("axes").at(axis.key);
      prefix += ",";
      if (value.is_string()) {
        prefix += csvField(value.get<std::string>());
      } else if (value.is_number_float()) {
        prefix += formatNumber(value.get<double>());
      } else {
        prefix += value.dump();
      }
    }
    for (const std::string& metric : metrics) {
      for (const SweepItem& stat : spec.stats) {
        out += prefix;
        out += concat(",", csvField(metric), ",", stat.text, ",");
        out += formatNumber(statValue(point, metric, stat.text));
        out += '\n';
      }
    }
  }
  return out;
}

Json sweepJson(const SweepSpec& spec, const PointKey& common,
               const std::vector<std::string>& metrics, const std::vector<Json>& points) {
  Json j = Json::object();
  j["sweep"] = spec.name;
  j["mode"] = spec.mode == SweepSpec::Mode::grid ? "grid" : "zip";
  j["base"] = fs::path(spec.base).filename().string();
  j["seed"] = common.seed;
  j["paths"] = common.paths;
  j["sampler"] = common.sampler;
  j["version"] = common.version;
  Json axes = Json::object();
  for (const SweepAxis& axis : spec.axes) {
    Json values = Json::array();
    for (const std::string& value : axis.values) values.push_back(axisValueJson(value));
    axes[axis.key] = std::move(values);
  }
  j["axes"] = std::move(axes);
  j["metrics"] = metrics;
  Json stats = Json::array();
  for (const SweepItem& stat : spec.stats) stats.push_back(stat.text);
  j["stats"] = std::move(stats);
  Json list = Json::array();
  for (const Json& point : points) {
    Json p = Json::object();
    p["point"] = point.at("point");
    p["axes"] = point.at("axes");
    p["scenario_sha256"] = point.at("scenario_sha256");
    Json values = Json::object();
    for (const std::string& metric : metrics) {
      Json m = Json::object();
      for (const SweepItem& stat : spec.stats) m[stat.text] = statValue(point, metric, stat.text);
      values[metric] = std::move(m);
    }
    p["metrics"] = std::move(values);
    list.push_back(std::move(p));
  }
  j["points"] = std::move(list);
  return j;
}

SweepTask sweepTask(std::size_t task, std::size_t shardsPerPoint) {
  if (task == 0 || shardsPerPoint == 0) {
    throw std::invalid_argument("array tasks and shards are counted from 1");
  }
  return SweepTask{(task - 1) / shardsPerPoint + 1, (task - 1) % shardsPerPoint + 1};
}

std::string taskRanges(const std::vector<std::size_t>& tasks) {
  std::string out;
  for (std::size_t i = 0; i < tasks.size();) {
    std::size_t last = i;
    while (last + 1 < tasks.size() && tasks[last + 1] == tasks[last] + 1) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(tasks[i]);
    if (last > i) out += concat("-", std::to_string(tasks[last]));
    i = last + 1;
  }
  return out;
}

std::string shellQuote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

fs::path slurmDir(const fs::path& outDir) {
  return outDir / "slurm";
}

// A shell script written one line at a time.
class Script {
 public:
  template <typename... Parts>
  void line(const Parts&... parts) {
    text_ += concat(parts..., "\n");
  }
  std::string text() && { return std::move(text_); }

 private:
  std::string text_;
};

SlurmScripts slurmScripts(const SlurmSettings& settings) {
  const std::string out = settings.outDir.string();
  if (out.find_first_of(" \t\n\r\"'\\") != std::string::npos) {
    throw std::invalid_argument("an #SBATCH line cannot hold the output folder '" + out +
                                "' (white space, quotes or backslashes); choose another --out");
  }
  if (settings.partition.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_-.,") != std::string::npos) {
    throw std::invalid_argument("expected a partition name (letters, digits, _ - . ,), got '" +
                                settings.partition + "'");
  }
  if (settings.points == 0 || settings.shardsPerPoint == 0 || settings.cpusPerTask == 0) {
    throw std::invalid_argument("a Slurm sweep needs at least one point, shard and CPU");
  }

  // In an #SBATCH --output file name "%" starts a pattern (%A array job, %a task, %j job).
  std::string logs;
  for (const char c : (settings.outDir / "logs").string()) {
    logs += c;
    if (c == '%') logs += '%';
  }
  std::string jobName = "spinval-";
  for (const char c : settings.name) {
    const bool plain =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    jobName += plain ? c : '_';
  }
  const std::string tasks = std::to_string(settings.points * settings.shardsPerPoint);
  const std::string shardsPerPoint = std::to_string(settings.shardsPerPoint);
  const std::string limit =
      settings.arrayLimit > 0 ? concat("%", std::to_string(settings.arrayLimit)) : "";
  const std::string cpus = std::to_string(settings.cpusPerTask);
  const std::string dir = slurmDir(settings.outDir).string();
  const std::string spinval =
      concat(shellQuote(settings.binary.string()), " sweep ",
             shellQuote(settings.sweepFile.string()), " --out ", shellQuote(out));
  const std::string shards =
      settings.shardsPerPoint > 1 ? concat(" --shards-per-point ", shardsPerPoint) : "";
  const std::string written =
      concat("# Written by spinval ", settings.version, " for ", settings.sweepFile.string(), ".");

  // sbatch reads #SBATCH lines up to the first command only.
  Script array;
  array.line("#!/bin/sh");
  array.line("#SBATCH --job-name=", jobName);
  array.line("#SBATCH --array=1-", tasks, limit);
  if (!settings.partition.empty()) array.line("#SBATCH --partition=", settings.partition);
  array.line("#SBATCH --requeue");
  array.line("#SBATCH --ntasks=1");
  array.line("#SBATCH --cpus-per-task=", cpus);
  array.line("#SBATCH --output=", logs, "/task-%A_%a.out");
  array.line("#");
  if (settings.shardsPerPoint > 1) {
    array.line("# Sweep ", settings.name, ": ", std::to_string(settings.points), " points, ",
               shardsPerPoint, " array tasks per point: task t computes shard");
    array.line("# (t-1)%", shardsPerPoint, "+1 of point (t-1)/", shardsPerPoint,
               "+1; the last shard of a point to finish stores the point as");
    array.line("# ", out, "/points/<point>.json.");
  } else {
    array.line("# Sweep ", settings.name, ": ", std::to_string(settings.points),
               " points, one array task per point: task t computes point t");
    array.line("# into ", out, "/points/<t>.json.");
  }
  array.line("# A task whose piece is stored already skips it, so a requeued or resubmitted task");
  array.line("# recomputes only its own piece. submit.sh (beside this file) submits this array");
  array.line("# and the collect job.");
  array.line(written);
  array.line(": \"${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}\"");
  array.line("exec ", spinval, " --task \"$SLURM_ARRAY_TASK_ID\"", shards,
             " --threads \"${SLURM_CPUS_PER_TASK:-", cpus, "}\"");

  Script collect;
  collect.line("#!/bin/sh");
  collect.line("#SBATCH --job-name=", jobName, "-collect");
  if (!settings.partition.empty()) collect.line("#SBATCH --partition=", settings.partition);
  collect.line("#SBATCH --ntasks=1");
  collect.line("#SBATCH --cpus-per-task=1");
  collect.line("#SBATCH --output=", logs, "/collect-%j.out");
  collect.line("#");
  collect.line("# Sweep ", settings.name, ": writes ", out, "/sweep.csv and sweep.json");
  collect.line(
      "# from the points the array tasks stored, the bytes a local `spinval sweep` writes.");
  collect.line("# With a point missing or stale it writes nothing, names the points and exits 3.");
  collect.line(written);
  collect.line("exec ", spinval, " --collect", shards);

  const std::string arrayScript = shellQuote(dir + "/array.sh");
  const std::string collectScript = shellQuote(dir + "/collect.sh");
  const std::string jobs = shellQuote(dir + "/jobs");
  Script submit;
  submit.line("#!/bin/sh");
  submit.line("# Sweep ", settings.name, ": submits the job array (", tasks,
              " tasks), then the collect job, which starts");
  submit.line("# once every task has succeeded (--dependency=afterok).");
  submit.line("#");
  submit.line("#   submit.sh          submit every task, then the collect job");
  submit.line(
      "#   submit.sh TASKS    resubmit only TASKS, such as 3 or 2,5-7 (after a scancel or a");
  submit.line("#                      failure), then a new collect job that also waits for the");
  submit.line("#                      tasks still queued");
  submit.line("#");
  submit.line("# The job ids are appended to ", dir, "/jobs.");
  submit.line(written);
  submit.line("set -eu");
  submit.line("if [ $# -gt 1 ]; then");
  submit.line("  echo \"usage: $0 [TASKS]  (as sbatch --array takes them: 3 or 2,5-7)\" >&2");
  submit.line("  exit 2");
  submit.line("fi");
  submit.line("after=\"\"");
  submit.line("if [ $# -eq 1 ]; then");
  submit.line(
      "  # A collect job submitted before waits for a task that was cancelled or failed, so");
  submit.line(
      "  # it can never start: cancel it, and make the new one wait for old tasks still queued.");
  submit.line("  if [ -f ", jobs, " ]; then");
  submit.line("    while read -r kind id; do");
  submit.line("      case $kind in");
  submit.line("        collect) scancel --state=PENDING \"$id\" 2>/dev/null || true ;;");
  submit.line(
      "        array) [ -z \"$(squeue -h -j \"$id\" -o %i 2>/dev/null)\" ] || "
      "after=\"$after,afterany:$id\" ;;");
  submit.line("      esac");
  submit.line("    done <", jobs);
  submit.line("  fi");
  submit.line("  array=$(sbatch --parsable --array=\"$1", limit, "\" ", arrayScript, ")");
  submit.line("else");
  submit.line("  array=$(sbatch --parsable ", arrayScript, ")");
  submit.line("fi");
  submit.line("array=${array%%;*}");
  submit.line("echo \"array $array\" >>", jobs);
  submit.line("collect=$(sbatch --parsable --dependency=\"afterok:$array$after\" ", collectScript,
              ")");
  submit.line("collect=${collect%%;*}");
  submit.line("echo \"collect $collect\" >>", jobs);
  submit.line(
      "echo \"submitted job array $array and collect job $collect (it starts when every "
      "task has succeeded)\"");

  return SlurmScripts{std::move(array).text(), std::move(collect).text(), std::move(submit).text()};
}

}  // namespace spinval
