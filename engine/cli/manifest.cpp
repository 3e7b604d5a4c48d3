#include "manifest.hpp"

#include <ctime>
#include <set>

#include "spinval/cluster.hpp"
#include "spinval/version.hpp"

namespace spinval::cli {

namespace {

std::vector<std::string>& storedCommandLine() {
  static std::vector<std::string> line;
  return line;
}

double cpuNow() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

}  // namespace

std::string utcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void setCommandLine(int argc, char** argv) {
  storedCommandLine().assign(argv, argv + argc);
}

const std::vector<std::string>& commandLine() {
  return storedCommandLine();
}

void PhaseClock::start(std::string name) {
  stop();
  phases_.push_back({std::move(name), 0, 0});
  wallStart_ = std::chrono::steady_clock::now();
  cpuStart_ = cpuNow();
  running_ = true;
}

void PhaseClock::stop() {
  if (!running_) return;
  phases_.back().seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart_).count();
  phases_.back().cpuSeconds = cpuNow() - cpuStart_;
  running_ = false;
}

nlohmann::ordered_json PhaseClock::json() const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Phase& phase : phases_) {
    list.push_back(
        {{"name", phase.name}, {"seconds", phase.seconds}, {"cpu_seconds", phase.cpuSeconds}});
  }
  return list;
}

nlohmann::ordered_json buildJson() {
  const std::string mpi = mpiLibraryVersion();
  return {{"version", version()},
          {"git_revision", gitRevision()},
          {"build_type", buildType()},
          {"compiler", compiler()},
          {"flags", compileFlags()},
          {"mpi", mpiBuild() ? nlohmann::ordered_json(mpi) : nlohmann::ordered_json()}};
}

nlohmann::ordered_json manifestJson(const std::string& command, const RunInfo& info,
                                    const std::vector<ProcessInfo>& processes,
                                    const PhaseClock& phases) {
  nlohmann::ordered_json j;
  j["command"] = command;
  j["command_line"] = commandLine();
  j["created_utc"] = utcNow();
  j["scenario"] = info.scenario;
  j["scenario_file"] = info.file;
  j["scenario_sha256"] = info.scenarioSha256;
  j["seed"] = info.seed;
  j["sampler"] = info.sampler;
  j["paths"] = info.paths;
  j["spinval"] = buildJson();
  std::set<std::string> hosts;
  nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
  for (const ProcessInfo& p : processes) {
    hosts.insert(p.host);
    ranks.push_back({{"rank", p.rank},
                     {"host", p.host},
                     {"threads", p.threads},
                     {"paths", p.paths},
                     {"seconds", p.seconds},
                     {"cpu_seconds", p.cpuSeconds}});
  }
  j["ranks"] = processes.size();
  j["threads"] = processes.empty() ? 0u : processes.front().threads;
  j["hosts"] = hosts;
  j["processes"] = std::move(ranks);
  j["phases"] = phases.json();
  return j;
}

std::vector<ProcessInfo> shardProcesses(const std::vector<nlohmann::ordered_json>& shards) {
  std::vector<ProcessInfo> processes;
  for (const auto& shard : shards) {
    for (const auto& p : shard.at("manifest").at("processes")) {
      processes.push_back({static_cast<int>(processes.size()), p.at("host").get<std::string>(),
                           p.at("threads").get<unsigned>(), p.at("paths").get<std::uint64_t>(),
                           p.at("seconds").get<double>(), p.at("cpu_seconds").get<double>()});
    }
  }
  return processes;
}

nlohmann::ordered_json pointManifest(const std::vector<ProcessInfo>& processes) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ProcessInfo& p : processes) {
    list.push_back({{"host", p.host},
                    {"threads", p.threads},
                    {"paths", p.paths},
                    {"seconds", p.seconds},
                    {"cpu_seconds", p.cpuSeconds}});
  }
  return {{"created_utc", utcNow()}, {"spinval", buildJson()}, {"processes", std::move(list)}};
}

nlohmann::ordered_json sweepManifest(const std::string& command, const std::string& sweepFile,
                                     const PointKey& common,
                                     const std::vector<nlohmann::ordered_json>& points,
                                     const PhaseClock& phases) {
  nlohmann::ordered_json j;
  j["command"] = command;
  j["command_line"] = commandLine();
  j["created_utc"] = utcNow();
  j["sweep_file"] = sweepFile;
  j["seed"] = common.seed;
  j["paths"] = common.paths;
  j["sampler"] = common.sampler;
  j["version"] = common.version;
  j["spinval"] = buildJson();
  std::set<std::string> hosts;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& point : points) {
    nlohmann::ordered_json entry = {{"point", point.at("point")},
                                    {"scenario_sha256", point.at("scenario_sha256")}};
    if (point.contains("manifest")) {
      const auto& m = point.at("manifest");
      for (const auto& p : m.at("processes")) hosts.insert(p.at("host").get<std::string>());
      entry["computed"] = m;
    }
    list.push_back(std::move(entry));
  }
  j["hosts"] = hosts;
  j["points"] = std::move(list);
  j["phases"] = phases.json();
  return j;
}

}  // namespace spinval::cli
