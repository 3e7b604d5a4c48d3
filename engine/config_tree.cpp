#include "config_tree.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace spinval {

namespace fs = std::filesystem;

bool ConfigNode::isDistribution() const {
  return isMap() && find("dist") != nullptr;
}

const ConfigEntry* ConfigNode::entry(std::string_view key) const {
  for (const ConfigEntry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

ConfigEntry* ConfigNode::entry(std::string_view key) {
  for (ConfigEntry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const ConfigNode* ConfigNode::find(std::string_view key) const {
  const ConfigEntry* e = entry(key);
  return e ? &e->value : nullptr;
}

ConfigNode* ConfigNode::find(std::string_view key) {
  ConfigEntry* e = entry(key);
  return e ? &e->value : nullptr;
}

void ConfigNode::set(const std::string& key, const SourceLocation& keyWhere, ConfigNode value) {
  if (ConfigEntry* e = entry(key)) {
    e->keyWhere = keyWhere;
    e->value = std::move(value);
    return;
  }
  entries.push_back(ConfigEntry{key, keyWhere, std::move(value)});
}

void ConfigNode::erase(std::string_view key) {
  std::erase_if(entries, [&](const ConfigEntry& e) { return e.key == key; });
}

ConfigNode ConfigNode::scalar(std::string text, bool plain, SourceLocation where) {
  ConfigNode node;
  node.kind = Kind::kScalar;
  node.text = std::move(text);
  node.plain = plain;
  node.where = std::move(where);
  return node;
}

ConfigNode ConfigNode::map(SourceLocation where) {
  ConfigNode node;
  node.kind = Kind::kMap;
  node.where = std::move(where);
  return node;
}

ConfigNode ConfigNode::sequence(SourceLocation where) {
  ConfigNode node;
  node.kind = Kind::kSequence;
  node.where = std::move(where);
  return node;
}

namespace {

// yaml-cpp marks are 0-based; locations are 1-based. Text that starts at `firstColumn` of its
// line (a --set value after "KEY=") shifts the columns of its first line.
SourceLocation locate(const YAML::Mark& mark, const ConfigOrigin& origin) {
  if (mark.is_null()) return {origin.file, 1, origin.firstColumn};
  int column = mark.column + 1;
  if (mark.line == 0) column += origin.firstColumn - 1;
  return {origin.file, mark.line + 1, column};
}

std::string childKey(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

ConfigNode convert(const YAML::Node& node, const ConfigOrigin& origin, const std::string& path) {
  ConfigNode out;
  out.where = locate(node.Mark(), origin);
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      out.kind = ConfigNode::Kind::kScalar;
      out.text = node.Scalar();
      // yaml-cpp tags plain scalars "?" and quoted or block scalars "!".
      out.plain = node.Tag() == "?";
      break;
    case YAML::NodeType::Sequence: {
      out.kind = ConfigNode::Kind::kSequence;
      std::size_t index = 0;
      for (const YAML::Node& item : node) {
        out.items.push_back(convert(item, origin, path + "[" + std::to_string(index) + "]"));
        ++index;
      }
      break;
    }
    case YAML::NodeType::Map:
      out.kind = ConfigNode::Kind::kMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        const SourceLocation keyWhere = locate(it->first.Mark(), origin);
        if (!it->first.IsScalar()) {
          throw InputError(keyWhere, path, "expected a plain key, got a complex mapping key");
        }
        const std::string key = it->first.Scalar();
        const std::string dotted = childKey(path, key);
        if (const ConfigEntry* first = out.entry(key)) {
          throw InputError(keyWhere, dotted,
                           "duplicate key (first given at " + first->keyWhere.str() + ")");
        }
        ConfigNode value = convert(it->second, origin, dotted);
        // An empty value ("key:") has its mark on the next token; point at the key instead.
        if (value.isNull() && value.where.line != keyWhere.line) value.where = keyWhere;
        out.entries.push_back(ConfigEntry{key, keyWhere, std::move(value)});
      }
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.kind = ConfigNode::Kind::kNull;
      break;
  }
  return out;
}

std::string trimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// The key of a block-mapping line "key: ..." (nullopt for other lines).
std::optional<std::string> lineKey(std::string_view s) {
  if (s.empty() || std::string_view("-{[#\"'&*!|>%@`").find(s.front()) != std::string_view::npos) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ' || s[i + 1] == '\t')) {
      return trimRight(s.substr(0, i));
    }
    if (s[i] == '#' && i > 0 && s[i - 1] == ' ') return std::nullopt;
  }
  return std::nullopt;
}

// The dotted key that encloses line `errorLine` (0-based) of YAML text, read from indentation:
// each "key:" line opens a level that lines indented deeper belong to. A sequence item that
// starts with "name: X" is named X, as peers are. Best effort for text that does not parse.
std::string enclosingKey(const std::string& text, int errorLine) {
  struct Level {
    std::size_t indent;
    std::string key;
  };
  std::vector<Level> levels;
  std::istringstream in(text);
  std::string raw;
  for (int line = 0; line <= errorLine && std::getline(in, raw); ++line) {
    std::size_t indent = raw.find_first_not_of(' ');
    if (indent == std::string::npos || raw[indent] == '#' || raw[indent] == '\r') continue;
    std::string_view rest = std::string_view(raw).substr(indent);
    bool item = false;
    while (rest.size() >= 2 && rest[0] == '-' && (rest[1] == ' ' || rest[1] == '\t')) {
      if (!item) {
        while (!levels.empty() && levels.back().indent >= indent) levels.pop_back();
      }
      item = true;
      const std::size_t skip = rest.find_first_not_of(" \t", 1);
      if (skip == std::string_view::npos) {
        rest = {};
        break;
      }
      indent += skip;
      rest.remove_prefix(skip);
    }
    const std::optional<std::string> key = lineKey(rest);
    if (!key) continue;
    while (!levels.empty() && levels.back().indent >= indent) levels.pop_back();
    if (item && *key == "name") {
      std::string value = trimRight(rest.substr(rest.find(':') + 1));
      value.erase(0, value.find_first_not_of(" \t"));
      if (!value.empty()) levels.push_back({indent - 1, value});
    }
    levels.push_back({indent, *key});
  }
  std::string dotted;
  for (const Level& level : levels) dotted = childKey(dotted, level.key);
  return dotted;
}

struct ChainLink {
  fs::path canonical;
  std::string display;
};

fs::path canonicalPath(const fs::path& file) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(file, ec);
  return ec ? fs::absolute(file).lexically_normal() : canonical;
}

ConfigNode loadChain(const std::string& display, std::vector<ChainLink>& chain) {
  std::optional<std::string> text = readText(display);
  if (!text) {
    throw InputError(SourceLocation{display, 0, 0}, "",
                     "cannot read the scenario file (expected a readable YAML file)");
  }
  ConfigNode root = parseConfigText(*text, ConfigOrigin{display, 1});
  if (!root.isMap()) {
    throw InputError(root.where, "",
                     "expected a mapping of scenario keys, got " + describeConfigNode(root));
  }
  chain.push_back({canonicalPath(display), display});

  const ConfigEntry* extends = root.entry("extends");
  if (!extends) return root;
  if (!extends->value.isScalar() || extends->value.text.empty()) {
    throw InputError(
        extends->value.where, "extends",
        "expected the path of a scenario file, got " + describeConfigNode(extends->value));
  }
  const fs::path target(extends->value.text);
  const std::string baseDisplay =
      target.is_absolute() ? target.lexically_normal().string()
                           : (fs::path(display).parent_path() / target).lexically_normal().string();
  const fs::path baseCanonical = canonicalPath(baseDisplay);
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (chain[i].canonical != baseCanonical) continue;
    std::string cycle;
    for (std::size_t j = i; j < chain.size(); ++j) cycle += chain[j].display + " -> ";
    throw InputError(extends->keyWhere, "extends",
                     "extends cycle: " + cycle + baseDisplay +
                         " (expected a chain of files that ends in a scenario without extends)");
  }
  if (!readText(baseDisplay)) {
    throw InputError(extends->value.where, "extends",
                     "cannot read '" + extends->value.text + "' (resolved to " + baseDisplay +
                         "; expected a path relative to this file)");
  }
  ConfigNode base = loadChain(baseDisplay, chain);
  chain.pop_back();
  root.erase("extends");
  mergeConfig(base, std::move(root));
  return base;
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void serializeInto(std::string& out, const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::kNull:
      out += "null";
      break;
    case ConfigNode::Kind::kScalar:
      if (node.plain) {
        out += node.text;
      } else {
        appendJsonString(out, node.text);
      }
      break;
    case ConfigNode::Kind::kSequence:
      out += '[';
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i > 0) out += ',';
        serializeInto(out, node.items[i]);
      }
      out += ']';
      break;
    case ConfigNode::Kind::kMap:
      out += '{';
      for (std::size_t i = 0; i < node.entries.size(); ++i) {
        if (i > 0) out += ',';
        appendJsonString(out, node.entries[i].key);
        out += ':';
        serializeInto(out, node.entries[i].value);
      }
      out += '}';
      break;
  }
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

ConfigNode parseConfigText(const std::string& text, const ConfigOrigin& origin) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw InputError(locate(e.mark, origin), enclosingKey(text, e.mark.line),
                     "malformed YAML: " + e.msg);
  }
  if (documents.size() > 1) {
    throw InputError(locate(documents[1].Mark(), origin), "",
                     "expected one YAML document, got " + std::to_string(documents.size()) +
                         " (a second document starts here)");
  }
  ConfigNode root = documents.empty() ? ConfigNode{} : convert(documents[0], origin, "");
  if (root.isNull() && root.where.line == 0) root.where = {origin.file, 1, origin.firstColumn};
  return root;
}

ConfigNode loadConfigFile(const std::string& file) {
  std::vector<ChainLink> chain;
  return loadChain(file, chain);
}

void mergeConfig(ConfigNode& base, ConfigNode over) {
  if (!base.isMap() || !over.isMap() || over.isDistribution()) {
    base = std::move(over);
    return;
  }
  base.where = over.where;
  for (ConfigEntry& e : over.entries) {
    if (ConfigEntry* existing = base.entry(e.key)) {
      existing->keyWhere = e.keyWhere;
      mergeConfig(existing->value, std::move(e.value));
    } else {
      base.entries.push_back(std::move(e));
    }
  }
}

std::optional<double> configNumber(const ConfigNode& node) {
  if (!node.isScalar() || !node.plain) return std::nullopt;
  std::string_view s = node.text;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && isDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exponent = 0;
    while (i < s.size() && isDigit(s[i])) ++i, ++exponent;
    if (exponent == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  // from_chars takes no leading '+'.
  std::string_view digitsText = s.substr(s[0] == '+' ? 1 : 0);
  double value = 0.0;
  const auto [end, ec] =
      std::from_chars(digitsText.data(), digitsText.data() + digitsText.size(), value);
  if (ec != std::errc() || end != digitsText.data() + digitsText.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string describeConfigNode(const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::kNull:
      return "nothing (null)";
    case ConfigNode::Kind::kScalar:
      if (!node.plain) return "the quoted string \"" + node.text + "\"";
      if (configNumber(node)) return node.text;
      return "'" + node.text + "'";
    case ConfigNode::Kind::kSequence:
      return "a list";
    case ConfigNode::Kind::kMap:
      if (const ConfigNode* dist = node.find("dist"); dist && dist->isScalar()) {
        return "a distribution (dist: " + dist->text + ")";
      }
      return "a mapping";
  }
  return "a value";
}

std::string serializeConfig(const ConfigNode& node) {
  std::string out;
  serializeInto(out, node);
  return out;
}

std::optional<std::string> readText(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace spinval
