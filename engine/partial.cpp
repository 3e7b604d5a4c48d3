#include "spinval/partial.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include "bytes.hpp"
#include "config_tree.hpp"
#include "spinval/error.hpp"

namespace spinval {

namespace {

constexpr std::string_view kPieceMagic = "spinval-piece-1";
constexpr const char* kShardFormat = "spinval-shard-1";

void writeMoments(ByteWriter& out, const Moments& m) {
  out.u64(m.count());
  out.f64(m.mean());
  out.f64(m.m2());
  out.f64(m.min());
  out.f64(m.max());
}

Moments readMoments(ByteReader& in) {
  const std::uint64_t n = in.u64();
  const double mean = in.f64(), m2 = in.f64(), min = in.f64(), max = in.f64();
  return Moments::fromState(n, mean, m2, min, max);
}

void writeMomentsList(ByteWriter& out, const std::vector<Moments>& list) {
  out.u64(list.size());
  for (const Moments& m : list) writeMoments(out, m);
}

std::vector<Moments> readMomentsList(ByteReader& in) {
  std::vector<Moments> list(in.u64());
  for (Moments& m : list) m = readMoments(in);
  return list;
}

void writeBlockStatistics(ByteWriter& out, const BlockStatistics& s) {
  writeMomentsList(out, s.outputs);
  writeMomentsList(out, s.yearly);
  out.u64(s.categoryCounts.size());
  for (std::uint64_t c : s.categoryCounts) out.u64(c);
  out.u64(s.outputUnits.size());
  for (const auto& units : s.outputUnits) writeMomentsList(out, units);
  out.u64(s.thresholds.size());
  for (const MeanAccumulator& t : s.thresholds) {
    writeMoments(out, t.all);
    writeMomentsList(out, t.units);
  }
}

BlockStatistics readBlockStatistics(ByteReader& in) {
  BlockStatistics s;
  s.outputs = readMomentsList(in);
  s.yearly = readMomentsList(in);
  s.categoryCounts.resize(in.u64());
  for (std::uint64_t& c : s.categoryCounts) c = in.u64();
  s.outputUnits.resize(in.u64());
  for (auto& units : s.outputUnits) units = readMomentsList(in);
  s.thresholds.resize(in.u64());
  for (MeanAccumulator& t : s.thresholds) {
    t.all = readMoments(in);
    t.units = readMomentsList(in);
  }
  return s;
}

std::string readFile(const std::filesystem::path& path) {
  std::optional<std::string> text = readText(path);
  if (!text) throw std::runtime_error("cannot read " + path.string());
  return std::move(*text);
}

}  // namespace

// Reads and writes the private stores of a piece's RunStatistics.
struct PieceCodec {
  static void write(ByteWriter& out, const RunStatistics& s) {
    out.u8(s.options_.sketch ? 1 : 0);
    if (s.options_.sketch) {
      for (const auto* list : {&s.sketches_.outputs, &s.sketches_.yearly}) {
        out.u64(list->size());
        for (const QuantileSketch& sketch : *list) {
          const auto cbor = nlohmann::json::to_cbor(sketch.toJson());
          out.bytes(std::string_view(reinterpret_cast<const char*>(cbor.data()), cbor.size()));
        }
      }
      return;
    }
    for (const auto* list : {&s.outputValues_, &s.yearlyValues_}) {
      out.u64(list->size());
      for (const auto& values : *list) out.f64s(values.data(), values.size());
    }
  }

  static void read(ByteReader& in, RunStatistics& s) {
    const bool sketch = in.u8() != 0;
    if (sketch != s.options_.sketch) throw std::runtime_error("piece in another quantile mode");
    if (sketch) {
      for (auto* list : {&s.sketches_.outputs, &s.sketches_.yearly}) {
        if (in.u64() != list->size()) throw std::runtime_error("piece with other outputs");
        for (QuantileSketch& sketch : *list) {
          const std::string_view cbor = in.view();
          sketch = QuantileSketch::fromJson(nlohmann::json::from_cbor(cbor.begin(), cbor.end()));
        }
      }
      return;
    }
    for (auto* list : {&s.outputValues_, &s.yearlyValues_}) {
      if (in.u64() != list->size()) throw std::runtime_error("piece with other outputs");
      for (auto& values : *list) in.f64s(values.data(), values.size());
    }
  }
};

std::string encodePiece(const RunPiece& piece) {
  ByteWriter out;
  out.bytes(kPieceMagic);
  out.u64(piece.blocks.first);
  out.u64(piece.blocks.last);
  out.u64(piece.runPaths);
  out.u64(piece.firstPath());
  out.u64(piece.statistics.paths());
  out.u64(piece.threads);
  out.f64(piece.seconds);
  out.f64(piece.cpuSeconds);
  out.u64(piece.chunks.size());
  for (const BlockStatistics& chunk : piece.chunks) writeBlockStatistics(out, chunk);
  PieceCodec::write(out, piece.statistics);
  return out.take();
}

RunPiece decodePiece(std::string_view bytes, const Layout& layout,
                     const StatisticsOptions& options) {
  ByteReader in(bytes);
  if (in.view() != kPieceMagic) throw std::runtime_error("not a spinval piece");
  BlockRange blocks;
  blocks.first = in.u64();
  blocks.last = in.u64();
  const std::uint64_t runPaths = in.u64();
  const std::uint64_t firstPath = in.u64();
  const std::uint64_t endPath = in.u64();
  if (firstPath > endPath || endPath > runPaths) throw std::runtime_error("piece beyond its run");
  RunPiece piece{blocks, runPaths, {}, RunStatistics(layout, endPath, options, firstPath),
                 0.0,    0.0,      1};
  piece.threads = static_cast<unsigned>(in.u64());
  piece.seconds = in.f64();
  piece.cpuSeconds = in.f64();
  piece.chunks.resize(in.u64());
  for (BlockStatistics& chunk : piece.chunks) chunk = readBlockStatistics(in);
  PieceCodec::read(in, piece.statistics);
  if (!in.done()) throw std::runtime_error("trailing bytes after a piece");
  return piece;
}

nlohmann::ordered_json layoutJson(const Layout& layout) {
  nlohmann::ordered_json yearly = nlohmann::ordered_json::array();
  for (const YearlyOutput& output : layout.yearlyOutputs) {
    yearly.push_back({{"name", output.name}, {"categories", output.categories}});
  }
  return {{"first_year", layout.firstYear},
          {"years", layout.years},
          {"outputs", layout.outputs},
          {"yearly_outputs", std::move(yearly)}};
}

Layout layoutFromJson(const nlohmann::json& json) {
  Layout layout;
  layout.firstYear = json.at("first_year").get<int>();
  layout.years = json.at("years").get<int>();
  layout.outputs = json.at("outputs").get<std::vector<std::string>>();
  for (const auto& output : json.at("yearly_outputs")) {
    layout.yearlyOutputs.push_back({output.at("name").get<std::string>(),
                                    output.at("categories").get<std::vector<std::string>>()});
  }
  return layout;
}

std::string shardStem(Shard shard) {
  char text[64];
  std::snprintf(text, sizeof text, "shard-%04llu-of-%04llu",
                static_cast<unsigned long long>(shard.index),
                static_cast<unsigned long long>(shard.count));
  return text;
}

std::filesystem::path writeShard(const std::filesystem::path& dir, const ShardHeader& header,
                                 const Layout& layout, const RunPiece& piece) {
  const std::string stem = shardStem(header.shard);
  const std::string bytes = encodePiece(piece);
  nlohmann::ordered_json j;
  j["format"] = kShardFormat;
  j["scenario"] = header.run.scenario;
  j["scenario_sha256"] = header.run.scenarioSha256;
  j["description"] = header.run.description;
  j["file"] = header.run.file;
  j["seed"] = header.run.seed;
  j["paths"] = header.run.paths;
  j["sampler"] = header.run.sampler;
  j["version"] = header.run.version;
  j["shard"] = {{"index", header.shard.index},       {"count", header.shard.count},
                {"first_block", piece.blocks.first}, {"last_block", piece.blocks.last},
                {"first_path", piece.firstPath()},   {"paths", piece.paths()}};
  j["statistics"] = {{"stderr", header.run.stderrMethod},
                     {"quantiles", header.sketch ? "ddsketch" : "exact"},
                     {"relative_accuracy", header.sketch ? header.sketchAlpha : 0.0},
                     {"thresholds", header.thresholds}};
  j["layout"] = layoutJson(layout);
  j["data"] = {{"file", stem + ".bin"}, {"bytes", bytes.size()}};
  j["timing"] = {{"seconds", piece.seconds}, {"threads", piece.threads}};
  j["manifest"] = header.manifest;
  writeFileAtomically(dir / (stem + ".bin"), bytes);
  const std::filesystem::path file = dir / (stem + ".json");
  writeFileAtomically(file, j.dump(2) + "\n");
  return file;
}

namespace {

struct ShardFile {
  std::filesystem::path path;
  nlohmann::ordered_json json;
  Shard shard;
};

InputError refuse(const std::filesystem::path& file, const std::string& key,
                  const std::string& message) {
  return InputError({file.string(), 0, 0}, key, message);
}

ShardFile readShardFile(const std::filesystem::path& path) {
  ShardFile file{path, {}, {}};
  try {
    file.json = nlohmann::ordered_json::parse(readFile(path));
    if (file.json.value("format", "") != kShardFormat) {
      throw refuse(
          path, "format",
          std::string("not a spinval shard file (expected format '") + kShardFormat + "')");
    }
    file.shard.index = file.json.at("shard").at("index").get<std::uint64_t>();
    file.shard.count = file.json.at("shard").at("count").get<std::uint64_t>();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw refuse(path, "", std::string("cannot read the shard file: ") + e.what());
  }
  if (file.shard.count == 0 || file.shard.index == 0 || file.shard.index > file.shard.count) {
    throw refuse(path, "shard",
                 "shard " + std::to_string(file.shard.index) + " of " +
                     std::to_string(file.shard.count) + " is not a shard");
  }
  return file;
}

std::string show(const nlohmann::ordered_json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Everything that must be equal for shards to belong to one run.
constexpr const char* kSameKeys[] = {"format",  "version", "scenario_sha256", "seed",
                                     "sampler", "paths",   "statistics",      "layout"};

std::string refusalWhat(const std::string& key) {
  if (key == "scenario_sha256") return "different scenarios";
  if (key == "seed") return "different seeds";
  if (key == "sampler") return "different samplers";
  if (key == "paths") return "different path counts";
  if (key == "version") return "different spinval versions";
  if (key == "statistics") return "different statistics options (--prob, --quantiles)";
  if (key == "layout") return "different outputs";
  return "different " + key;
}

}  // namespace

namespace {

// "shard-<digits>-of-<digits>.json", as shardStem names them.
bool isShardFileName(const std::string& name) {
  auto digits = [&](std::size_t& at) {
    const std::size_t start = at;
    while (at < name.size() && name[at] >= '0' && name[at] <= '9') ++at;
    return at > start;
  };
  std::size_t at = 0;
  auto literal = [&](std::string_view text) {
    if (name.compare(at, text.size(), text) != 0) return false;
    at += text.size();
    return true;
  };
  return literal("shard-") && digits(at) && literal("-of-") && digits(at) && literal(".json") &&
         at == name.size();
}

}  // namespace

MergedRun mergeShards(const std::vector<std::filesystem::path>& dirs) {
  std::vector<ShardFile> files;
  for (const auto& dir : dirs) {
    if (!std::filesystem::is_directory(dir)) {
      throw refuse(dir, "", "not a folder of shard files");
    }
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (isShardFileName(entry.path().filename().string())) found.push_back(entry.path());
    }
    if (found.empty()) {
      throw refuse(dir, "", "no shard files (shard-K-of-N.json) in this folder");
    }
    std::sort(found.begin(), found.end());
    for (const auto& path : found) files.push_back(readShardFile(path));
  }

  const ShardFile& first = files.front();
  for (const ShardFile& file : files) {
    for (const char* key : kSameKeys) {
      const auto here = file.json.value(key, nlohmann::ordered_json());
      const auto there = first.json.value(key, nlohmann::ordered_json());
      if (here != there) {
        const std::string values =
            here.is_structured() ? "" : ": " + show(here) + " here, " + show(there) + " in";
        throw refuse(file.path, key,
                     "shards of " + refusalWhat(key) + values + " " + first.path.string());
      }
    }
    if (file.shard.count != first.shard.count) {
      throw refuse(file.path, "shard.count",
                   "shards of different splits: " + std::to_string(file.shard.count) +
                       " shards here, " + std::to_string(first.shard.count) + " in " +
                       first.path.string());
    }
  }

  const std::uint64_t count = first.shard.count;
  std::map<std::uint64_t, const ShardFile*> byIndex;
  for (const ShardFile& file : files) {
    auto [it, inserted] = byIndex.emplace(file.shard.index, &file);
    if (!inserted) {
      throw refuse(file.path, "shard.index",
                   "shard " + std::to_string(file.shard.index) + " of " + std::to_string(count) +
                       " given twice: here and in " + it->second->path.string());
    }
  }
  if (byIndex.size() != count) {
    std::string missing;
    for (std::uint64_t k = 1; k <= count; ++k) {
      if (!byIndex.contains(k)) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
    }
    throw refuse(first.path, "shard.index",
                 "missing shard" + std::string(count - byIndex.size() > 1 ? "s " : " ") + missing +
                     " of " + std::to_string(count) + " (found " + std::to_string(byIndex.size()) +
                     ")");
  }

  MergedRun merged;
  const auto& j = first.json;
  try {
    merged.layout = std::make_unique<Layout>(layoutFromJson(j.at("layout")));
    merged.info.scenario = j.at("scenario").get<std::string>();
    merged.info.scenarioSha256 = j.at("scenario_sha256").get<std::string>();
    merged.info.description = j.at("description").get<std::string>();
    merged.info.file = j.at("file").get<std::string>();
    merged.info.seed = j.at("seed").get<std::uint64_t>();
    merged.info.paths = j.at("paths").get<std::uint64_t>();
    merged.info.sampler = j.at("sampler").get<std::string>();
    merged.info.version = j.at("version").get<std::string>();
    merged.info.stderrMethod = j.at("statistics").at("stderr").get<std::string>();
  } catch (const std::exception& e) {
    throw refuse(first.path, "", std::string("malformed shard file: ") + e.what());
  }

  StatisticsOptions options;
  const auto& statistics = j.at("statistics");
  options.errorModel = errorModelOf(parseSampler(merged.info.sampler));
  options.sketch = statistics.at("quantiles") == "ddsketch";
  if (options.sketch) options.sketchAlpha = statistics.at("relative_accuracy").get<double>();
  for (const auto& expression : statistics.at("thresholds")) {
    options.thresholds.push_back(parseThreshold(expression.get<std::string>(), *merged.layout));
  }

  std::vector<RunPiece> pieces;
  pieces.reserve(count);
  for (const auto& [index, file] : byIndex) {
    const auto& shard = file->json.at("shard");
    const BlockRange expected = shardBlocks(0, merged.info.paths, {index, count});
    const std::filesystem::path data =
        file->path.parent_path() / file->json.at("data").at("file").get<std::string>();
    try {
      if (shard.at("first_block") != expected.first || shard.at("last_block") != expected.last) {
        throw std::runtime_error("its blocks are not those of shard " + std::to_string(index) +
                                 " of " + std::to_string(count));
      }
      const std::string bytes = readFile(data);
      if (bytes.size() != file->json.at("data").at("bytes").get<std::uint64_t>()) {
        throw std::runtime_error(data.filename().string() + " has " + std::to_string(bytes.size()) +
                                 " bytes, the shard file says " +
                                 file->json.at("data").at("bytes").dump());
      }
      pieces.push_back(decodePiece(bytes, *merged.layout, options));
      if (pieces.back().blocks.first != expected.first ||
          pieces.back().blocks.last != expected.last) {
        throw std::runtime_error(data.filename().string() + " holds other blocks");
      }
    } catch (const std::exception& e) {
      throw refuse(file->path, "data", std::string("unusable shard: ") + e.what());
    }
    const auto& timing = file->json.at("timing");
    merged.info.seconds += timing.at("seconds").get<double>();
    merged.info.threads = std::max(merged.info.threads, timing.at("threads").get<unsigned>());
    merged.shards.push_back(file->json);
  }
  std::vector<const RunPiece*> order;
  for (const RunPiece& piece : pieces) order.push_back(&piece);
  merged.statistics.emplace(mergePieces(*merged.layout, options, merged.info.paths, order));
  return merged;
}

}  // namespace spinval
