// A YAML document as an ordered tree whose every node remembers the file, line and column it
// came from, so that errors found after `extends` merging and `--set` overrides still point at
// the text the user wrote. Private to the scenario loader; only config_tree.cpp sees yaml-cpp.
//
//   ConfigNode root = loadConfigFile("scenarios/thead-bear.yaml");  // extends resolved
//   applyOverride(root, path, parseConfigText("0.35", origin));
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spinval/error.hpp"

namespace spinval {

struct ConfigEntry;

struct ConfigNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  SourceLocation where;
  std::string text;   // a scalar's text
  bool plain = true;  // a scalar written without quotes or block style (may be a number)
  std::vector<ConfigNode> items;     // a sequence's items
  std::vector<ConfigEntry> entries;  // a mapping's entries in document order

  bool isNull() const { return kind == Kind::kNull; }
  bool isScalar() const { return kind == Kind::kScalar; }
  bool isSequence() const { return kind == Kind::kSequence; }
  bool isMap() const { return kind == Kind::kMap; }
  // A distribution mapping: a mapping with a `dist` key.
  bool isDistribution() const;

  const ConfigEntry* entry(std::string_view key) const;
  ConfigEntry* entry(std::string_view key);
  const ConfigNode* find(std::string_view key) const;
  ConfigNode* find(std::string_view key);
  // Sets `key` to `value`, replacing an existing entry in place or appending a new one.
  void set(const std::string& key, const SourceLocation& keyWhere, ConfigNode value);
  void erase(std::string_view key);

  static ConfigNode scalar(std::string text, bool plain, SourceLocation where = {});
  static ConfigNode map(SourceLocation where = {});
  static ConfigNode sequence(SourceLocation where = {});
};

struct ConfigEntry {
  std::string key;
  SourceLocation keyWhere;  // where the key itself is written
  ConfigNode value;
};

// Where parsed text comes from: a file, or a `--set` value whose first line starts at
// `firstColumn` (1-based) of the text the location names.
struct ConfigOrigin {
  std::string file;
  int firstColumn = 1;
};

// Parses YAML text into a tree. Malformed YAML is an InputError at the parser's mark, keyed by
// the mapping keys that enclose the offending line (as far as indentation shows them).
ConfigNode parseConfigText(const std::string& text, const ConfigOrigin& origin);

// Reads a scenario file and resolves its `extends` chain: the base is loaded first (its path
// relative to the extending file) and this file merged over it by mergeConfig. The returned
// root has no `extends` key. A cycle is an error at the `extends` key that closes it; a missing
// base file is an error at the `extends` value.
ConfigNode loadConfigFile(const std::string& file);

// Merges `over` into `base`: mappings merge key by key; a distribution mapping, a sequence, a
// scalar or a null replaces what it overrides whole, as does any value of a different kind.
void mergeConfig(ConfigNode& base, ConfigNode over);

// Number forms accepted in a plain scalar: optional sign, digits with an optional fraction and
// exponent (1, -0.5, .5, 2e9, 1.5E-3). Quoted strings, booleans, hex and inf/nan are not numbers.
std::optional<double> configNumber(const ConfigNode& node);

// How a node reads in a message: "'abc'", "1.5", "a list", "a mapping", "null".
std::string describeConfigNode(const ConfigNode& node);

// Deterministic text of a tree: JSON-like, mappings in their entry order, plain scalars as
// written, other scalars as JSON strings. Callers normalise numbers before serialising.
std::string serializeConfig(const ConfigNode& node);

// The whole contents of `file`, or nothing where it is not a regular file that can be read.
std::optional<std::string> readText(const std::filesystem::path& file);

}  // namespace spinval
