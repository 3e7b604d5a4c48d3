// Partial results: a shard of a run written to disk, and the merge of all shards back into the
// run. A shard K of N writes two files into its output folder,
//
//   shard-K-of-N.json  what the shard is: scenario and its hash, seed, sampler, paths of the
//                      whole run, version, statistics options, the outputs' layout, its blocks,
//                      and the manifest of the process that computed it;
//   shard-K-of-N.bin   its piece (simulation.hpp): chunk statistics in order, then stored
//                      values or sketches, in the binary encoding of engine/bytes.hpp;
//
// so several shards may share a folder. mergeShards reads every shard file of the folders it
// is given, refuses shards that do not belong together, and rebuilds the run's statistics,
// which summarise to the same bytes as the unsharded run. docs/cluster.md has the formats.
//
//   writeShard(dir, header, simulatePiece(model, copula, settings, {2, 5}));
//   MergedRun run = mergeShards({"shards/"});  // summarize(*run.statistics)
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spinval/model.hpp"
#include "spinval/report.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"

namespace spinval {

// A piece in the binary encoding, and back. decodePiece needs the layout and options the piece
// was computed with; it throws std::runtime_error when the bytes do not match them.
std::string encodePiece(const RunPiece& piece);
RunPiece decodePiece(std::string_view bytes, const Layout& layout,
                     const StatisticsOptions& options);

// The part of a layout statistics need (years, first year, outputs, yearly outputs with their
// categories), as JSON and back.
nlohmann::ordered_json layoutJson(const Layout& layout);
Layout layoutFromJson(const nlohmann::json& json);

// What a shard file says about its shard.
struct ShardHeader {
  RunInfo run;  // paths: of the whole run
  Shard shard;
  bool sketch = false;
  double sketchAlpha = 0;
  std::vector<std::string> thresholds;  // --prob expressions
  nlohmann::ordered_json manifest;      // of the process that computed the shard
};

// "shard-0002-of-0005" for shard 2 of 5 (the stem of both files).
std::string shardStem(Shard shard);

// Writes both files atomically, the binary first; returns the JSON file's path.
std::filesystem::path writeShard(const std::filesystem::path& dir, const ShardHeader& header,
                                 const Layout& layout, const RunPiece& piece);

struct MergedRun {
  std::unique_ptr<Layout> layout;
  RunInfo info;  // from the shards; seconds: the sum of theirs; threads: the most any used
  std::optional<RunStatistics> statistics;
  std::vector<nlohmann::ordered_json> shards;  // each shard's JSON file, in shard order
};

// Reads every shard-*-of-*.json in the folders and merges them. Throws InputError, naming the
// files and the key, for: a folder with no shard files, an unreadable or malformed file,
// shards that differ in scenario hash, seed, sampler, paths, version, shard count, statistics
// options or layout, a shard given twice, and missing shards.
MergedRun mergeShards(const std::vector<std::filesystem::path>& dirs);

}  // namespace spinval
