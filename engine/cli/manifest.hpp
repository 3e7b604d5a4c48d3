// The run manifest: what made a result folder. Every command that writes results writes
// manifest.json beside them: the command line, the inputs that fix the digits (scenario hash,
// seed, sampler, paths), the binary (version, git revision, build type and flags, MPI), the
// processes (ranks, threads, hosts) and the wall and CPU time of each phase.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/sweep.hpp"

namespace spinval::cli {

// The command line of this process, as main received it.
void setCommandLine(int argc, char** argv);
const std::vector<std::string>& commandLine();

// Wall and CPU time of consecutive phases: each call to start() ends the phase before it.
class PhaseClock {
 public:
  void start(std::string name);
  void stop();
  nlohmann::ordered_json json() const;  // [{name, seconds, cpu_seconds}, ...]

 private:
  struct Phase {
    std::string name;
    double seconds = 0, cpuSeconds = 0;
  };
  std::vector<Phase> phases_;
  std::chrono::steady_clock::time_point wallStart_;
  double cpuStart_ = 0;
  bool running_ = false;
};

// The current time, "2026-11-21T15:04:05Z".
std::string utcNow();

// The binary: version, git revision, build type, compiler, flags, MPI library (or null).
nlohmann::ordered_json buildJson();

// The manifest of a run: `info` gives the inputs, `processes` one entry per rank.
nlohmann::ordered_json manifestJson(const std::string& command, const RunInfo& info,
                                    const std::vector<ProcessInfo>& processes,
                                    const PhaseClock& phases);

// The processes recorded in shard files' manifests, numbered in shard order.
std::vector<ProcessInfo> shardProcesses(const std::vector<nlohmann::ordered_json>& shards);

// What computed one sweep point (stored in its points/<i>.json): host, threads, wall and CPU
// seconds, the binary, when.
nlohmann::ordered_json pointManifest(const std::vector<ProcessInfo>& processes);

// manifest.json of a sweep folder: the command, the sweep's inputs, the binary, and the hosts,
// threads and times of every point from the points' own records.
nlohmann::ordered_json sweepManifest(const std::string& command, const std::string& sweepFile,
                                     const PointKey& common,
                                     const std::vector<nlohmann::ordered_json>& points,
                                     const PhaseClock& phases);

}  // namespace spinval::cli
