// Turns a merged configuration tree (config_tree.hpp) into a validated Scenario. The schema is
// walked in docs/model.md order; each leaf is checked for its type and domain as it is read, and
// a canonical copy of the scenario (schema order, defaults filled in, numbers printed %.17g) is
// built alongside for Scenario::sha256.
//
// Error locations: a wrong type or out-of-domain value points at the value; an unknown key at
// the key; a missing key at the enclosing mapping. A distribution parameter that makes no sense
// is keyed "<leaf>.<parameter>" and points at that parameter's value (at the mapping when the
// parameter is absent); a support outside the leaf's domain is keyed by the leaf and points at
// the distribution mapping; a support's finite bounds count as reached (a lognormal's 0 does
// not), so uniform(0, 1) leaves (0, 1] and a normal needs min/max for a bounded domain.
// Correlation entries are keyed "correlations[i]" (0-based), peers "peers.list.<name>"
// ("peers.list[i]" until the name is known). --set values are located in the file
// "--set KEY=VALUE", line 1, at the 1-based column of the offending text in KEY=VALUE.
#include "spinval/scenario_loader.hpp"

#include <openssl/evp.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "config_tree.hpp"
#include "spinval/copula.hpp"
#include "spinval/error.hpp"
#include "spinval/sampler.hpp"

namespace spinval {

namespace {

using Keys = std::vector<std::string>;

// The schema's keys, in docs/model.md order; shared by the reader and --set.
const Keys kTopKeys = {"name",          "description", "base_year",   "horizon_years", "simulation",
                       "market",        "company",     "regime",      "pricing",       "cost",
                       "other_revenue", "opex",        "finance",     "peers",         "valuation",
                       "ipo",           "parent",      "correlation", "correlations"};
const Keys kTopLeaves = {"name", "description", "base_year", "horizon_years", "correlations"};
const Keys kSimulationKeys = {"paths", "seed", "sampler"};
const Keys kMarketKeys = {"units_base", "growth_start", "growth_end", "growth_sigma"};
const Keys kCompanyKeys = {"shipments_base",      "share_ceiling",     "adoption_speed",
                           "execution_sigma",     "capacity_base",     "capacity_growth",
                           "captive_share_start", "captive_share_end", "captive_markup"};
const Keys kRegimeKeys = {"states", "initial", "transition", "share_multiplier", "price_premium"};
const Keys kRegimeStateMaps = {"transition", "share_multiplier", "price_premium"};
const Keys kPricingKeys = {"h20_price_base", "h20_price_decline", "perf_ratio_base",
                           "perf_drift",     "perf_sigma",        "entrant_discount"};
const Keys kCostKeys = {"h20_unit_cost", "advantage", "learning_rate"};
const Keys kOtherRevenueKeys = {"base", "growth", "gross_margin"};
const Keys kOpexKeys = {"ratio_start", "ratio_end", "fixed"};
const Keys kFinanceKeys = {"tax_rate", "reinvestment_rate", "net_cash"};
const Keys kPeersKeys = {"long_run_ev_sales", "half_life_years", "list"};
const Keys kPeerKeys = {"name", "ev_sales", "beta", "sigma", "weight"};
const Keys kValuationKeys = {"multiple_haircut", "relative_weight", "wacc", "terminal_growth"};
const Keys kIpoKeys = {"year",          "probability", "offer_discount", "private_discount",
                       "primary_raise", "float",       "employee_pool"};
const Keys kParentKeys = {"ads_outstanding"};
const Keys kCorrelationKeys = {"method", "dof", "kind", "repair"};
// The values of correlation.method, .kind and .repair, in the order of their enums.
const Keys kCopulaMethods = {"gaussian", "student_t"};
const Keys kCorrelationKinds = {"pearson", "spearman"};
const Keys kCorrelationRepairs = {"error", "nearest"};

const std::vector<std::pair<std::string, const Keys*>> kSections = {
    {"simulation", &kSimulationKeys},
    {"market", &kMarketKeys},
    {"company", &kCompanyKeys},
    {"regime", &kRegimeKeys},
    {"pricing", &kPricingKeys},
    {"cost", &kCostKeys},
    {"other_revenue", &kOtherRevenueKeys},
    {"opex", &kOpexKeys},
    {"finance", &kFinanceKeys},
    {"peers", &kPeersKeys},
    {"valuation", &kValuationKeys},
    {"ipo", &kIpoKeys},
    {"parent", &kParentKeys},
    {"correlation", &kCorrelationKeys}};

constexpr std::size_t kMaxPeers = 32;
constexpr std::size_t kMaxStates = 8;
constexpr double kProbabilityTolerance = 1e-9;
constexpr double kMinTerminalSpread = 0.005;
constexpr double kMinEigenvalue = 1e-12;
// A repaired coefficient is reported when it moved by more than this; smaller moves are
// round-off of the iteration, not changes it made.
constexpr double kRepairReportThreshold = 1e-6;
const std::string kSentiment = "peers.sentiment";

// ---- text helpers

std::string fmt(double x) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

// Computed numbers (sums, spreads) in messages, without round-off noise: 1.1,
// not 1.0999999999999999.
std::string fmtComputed(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.12g", x);
  return buffer;
}

std::string canonicalNumber(double x) {
  if (x == 0.0) return "0";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string dotted(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "(did you mean 'advantage'?; expected one of: a, b, c)"
std::string expectedKeys(std::string_view given, const Keys& allowed) {
  std::string out = "(";
  std::size_t best = 3;
  const std::string* suggestion = nullptr;
  for (const std::string& key : allowed) {
    const std::size_t d = editDistance(given, key);
    if (d < best) best = d, suggestion = &key;
  }
  if (suggestion) out += "did you mean '" + *suggestion + "'? ";
  if (allowed.empty()) return out + "expected no keys here)";
  return out + "expected one of: " + join(allowed, ", ") + ")";
}

// ---- value domains

struct Domain {
  double lo = -kInfinity, hi = kInfinity;
  bool loOpen = true, hiOpen = true;

  bool contains(double x) const {
    return (loOpen ? x > lo : x >= lo) && (hiOpen ? x < hi : x <= hi);
  }
  std::string str() const {
    const bool hasLo = std::isfinite(lo), hasHi = std::isfinite(hi);
    if (!hasLo && !hasHi) return "of any value";
    if (!hasHi) return (loOpen ? "> " : ">= ") + fmt(lo);
    if (!hasLo) return (hiOpen ? "< " : "<= ") + fmt(hi);
    return std::string("in ") + (loOpen ? "(" : "[") + fmt(lo) + ", " + fmt(hi) +
           (hiOpen ? ")" : "]");
  }
};

const Domain kAnyValue{};
const Domain kPositive{0.0, kInfinity, true, true};
const Domain kNonNegative{0.0, kInfinity, false, true};
const Domain kUnitClosed{0.0, 1.0, false, false};
const Domain kUnitHalfOpen{0.0, 1.0, false, true};
const Domain kShareCeiling{0.0, 1.0, true, false};
const Domain kAboveMinusOne{-1.0, kInfinity, true, true};
const Domain kBelowOne{-kInfinity, 1.0, true, true};
const Domain kMarginRange{-1.0, 1.0, false, false};
const Domain kCorrelation{-1.0, 1.0, false, false};

// ---- distributions: parameters each `dist` accepts, in canonical order

struct DistSpec {
  std::string name;
  Keys parameters;  // every key besides `dist`
};

const std::vector<DistSpec> kDistSpecs = {
    {"constant", {"value"}},
    {"uniform", {"min", "max", "truncate_min", "truncate_max"}},
    {"triangular", {"min", "mode", "max", "truncate_min", "truncate_max"}},
    {"pert", {"min", "mode", "max", "lambda", "truncate_min", "truncate_max"}},
    {"beta", {"alpha", "beta", "min", "max", "truncate_min", "truncate_max"}},
    {"normal", {"mean", "sd", "min", "max"}},
    {"lognormal", {"median", "sigma", "mean", "sd", "min", "max"}},
    {"discrete", {"values", "probs"}},
    {"bernoulli", {"p"}},
    {"student_t", {"location", "scale", "dof", "min", "max"}},
    {"gamma", {"shape", "scale", "rate", "min", "max"}},
    {"loguniform", {"min", "max", "truncate_min", "truncate_max"}},
    {"empirical", {"values", "bins", "weights", "min", "max"}},
    {"mixture", {"weights", "components", "min", "max"}},
};

// "pert takes min, mode, max and optional lambda"
std::string distHint(const DistSpec& spec) {
  static const std::map<std::string, std::string> hints = {
      {"constant", "value"},
      {"uniform", "min and max, and optional truncate_min and truncate_max"},
      {"triangular", "min, mode and max, and optional truncate_min and truncate_max"},
      {"pert", "min, mode, max and optional lambda, truncate_min and truncate_max"},
      {"beta", "alpha, beta and optional min, max, truncate_min and truncate_max"},
      {"normal", "mean, sd and optional min and max"},
      {"lognormal", "median and sigma, or mean and sd, and optional min and max"},
      {"discrete", "values and probs"},
      {"bernoulli", "p"},
      {"student_t", "location, scale, dof and optional min and max"},
      {"gamma", "shape and scale (or rate), and optional min and max"},
      {"loguniform", "min and max, and optional truncate_min and truncate_max"},
      {"empirical", "values, or bins and weights, and optional min and max"},
      {"mixture", "weights, components (a list of distributions) and optional min and max"}};
  return spec.name + " takes " + hints.at(spec.name);
}

const DistSpec* findDistSpec(const std::string& name) {
  for (const DistSpec& spec : kDistSpecs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// ---- strict mappings

// A mapping whose keys must all be in `allowed`; unknown keys are reported on construction.
class Section {
 public:
  Section(const ConfigNode& node, std::string key, const Keys& allowed)
      : node_(node), key_(std::move(key)) {
    if (!node.isMap()) {
      throw InputError(node.where, key_, "expected a mapping, got " + describeConfigNode(node));
    }
    for (const ConfigEntry& e : node.entries) {
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        throw InputError(e.keyWhere, keyOf(e.key),
                         "unknown key '" + e.key + "' " + expectedKeys(e.key, allowed));
      }
    }
  }

  const ConfigNode& node() const { return node_; }
  const std::string& key() const { return key_; }
  std::string keyOf(std::string_view name) const { return dotted(key_, name); }
  const ConfigNode* find(std::string_view name) const { return node_.find(name); }
  bool has(std::string_view name) const { return find(name) != nullptr; }

  const ConfigNode& require(std::string_view name, const std::string& hint = "") const {
    if (const ConfigNode* value = find(name)) return *value;
    throw InputError(node_.where, keyOf(name),
                     "missing required key '" + std::string(name) + "'" +
                         (hint.empty() ? "" : " (" + hint + ")"));
  }

 private:
  const ConfigNode& node_;
  std::string key_;
};

// ---- scalar readers

double readNumber(const ConfigNode& node, const std::string& key) {
  if (node.isDistribution()) {
    throw InputError(
        node.where, key,
        "must be a constant: expected a plain number, got " + describeConfigNode(node));
  }
  if (std::optional<double> x = configNumber(node)) return *x;
  throw InputError(node.where, key, "expected a number, got " + describeConfigNode(node));
}

double readNumberIn(const ConfigNode& node, const std::string& key, const Domain& domain) {
  const double x = readNumber(node, key);
  if (!domain.contains(x)) {
    throw InputError(node.where, key, "expected a number " + domain.str() + ", got " + fmt(x));
  }
  return x;
}

double readWhole(const ConfigNode& node, const std::string& key) {
  const double x = readNumber(node, key);
  if (x != std::floor(x)) {
    throw InputError(node.where, key, "expected a whole number, got " + fmt(x));
  }
  return x;
}

int readInt(const ConfigNode& node, const std::string& key, int lo, int hi) {
  const double x = readWhole(node, key);
  if (x < lo || x > hi) {
    throw InputError(node.where, key,
                     "expected a whole number in " + std::to_string(lo) + ".." +
                         std::to_string(hi) + ", got " + fmt(x));
  }
  return static_cast<int>(x);
}

std::uint64_t readUnsigned(const ConfigNode& node, const std::string& key, std::uint64_t lo) {
  const double x = readWhole(node, key);
  if (x < static_cast<double>(lo)) {
    throw InputError(node.where, key,
                     "expected a whole number >= " + std::to_string(lo) + ", got " + fmt(x));
  }
  // Plain digits are read exactly up to 2^64 - 1; other forms (2e5) through the double.
  std::uint64_t value = 0;
  std::string_view digits = node.text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc() && end == digits.data() + digits.size()) return value;
  if (x > 9007199254740992.0) {
    throw InputError(node.where, key,
                     "expected a whole number below 2^64, written as plain digits above 2^53, "
                     "got " +
                         node.text);
  }
  return static_cast<std::uint64_t>(x);
}

std::string readString(const ConfigNode& node, const std::string& key) {
  if (!node.isScalar() || node.text.empty()) {
    throw InputError(node.where, key,
                     "expected a non-empty string, got " + describeConfigNode(node));
  }
  return node.text;
}

ConfigNode numberNode(double x) {
  return ConfigNode::scalar(canonicalNumber(x), true);
}
ConfigNode wholeNode(std::uint64_t x) {
  return ConfigNode::scalar(std::to_string(x), true);
}
ConfigNode stringNode(const std::string& s) {
  return ConfigNode::scalar(s, false);
}

// ---- the reader

class ScenarioReader {
 public:
  explicit ScenarioReader(const ConfigNode& root) : root_(root) {}

  Scenario read(ConfigNode& canonical);

 private:
  // A [D] leaf: a number or a distribution mapping, whose support must lie in `domain`.
  Distribution readD(const Section& section, std::string_view name, const Domain& domain,
                     ConfigNode& canonical);
  // A [C] leaf: a plain number in `domain`.
  double readC(const Section& section, std::string_view name, const Domain& domain,
               ConfigNode& canonical);
  Distribution buildDistribution(const ConfigNode& node, const std::string& key,
                                 ConfigNode& canonical);
  void checkSupport(const Distribution& d, const ConfigNode& node, const std::string& key,
                    const Domain& domain);

  void readSimulation(Scenario& s, ConfigNode& canonical);
  void readRegime(const Section& section, Scenario& s, ConfigNode& canonical);
  void readPeers(const Section& section, Scenario& s, ConfigNode& canonical);
  void readIpoYear(const Section& section, Scenario& s, ConfigNode& canonical);
  void checkTerminalSpread(const Section& valuation, const Scenario& s);
  void readCorrelationOptions(Scenario& s, ConfigNode& canonical);
  void readCorrelations(Scenario& s, ConfigNode& canonical);

  const ConfigNode& root_;
  // Every [D] leaf by dotted key: whether it is a constant (constants cannot be correlated).
  std::map<std::string, bool> leaves_;
};

Distribution ScenarioReader::readD(const Section& section, std::string_view name,
                                   const Domain& domain, ConfigNode& canonical) {
  const std::string key = section.keyOf(name);
  const ConfigNode& node = section.require(name);
  ConfigNode canonicalLeaf;
  Distribution d;
  if (node.isMap()) {
    d = buildDistribution(node, key, canonicalLeaf);
  } else if (std::optional<double> x = configNumber(node)) {
    if (!domain.contains(*x)) {
      throw InputError(node.where, key, "expected a number " + domain.str() + ", got " + fmt(*x));
    }
    d = Distribution::constant(*x);
    canonicalLeaf = numberNode(*x);
  } else {
    throw InputError(
        node.where, key,
        "expected a number or a distribution mapping with `dist`, got " + describeConfigNode(node));
  }
  checkSupport(d, node, key, domain);
  leaves_[key] = d.isConstant();
  canonical.set(std::string(name), {}, std::move(canonicalLeaf));
  return d;
}

double ScenarioReader::readC(const Section& section, std::string_view name, const Domain& domain,
                             ConfigNode& canonical) {
  const double x = readNumberIn(section.require(name), section.keyOf(name), domain);
  canonical.set(std::string(name), {}, numberNode(x));
  return x;
}

Distribution ScenarioReader::buildDistribution(const ConfigNode& node, const std::string& key,
                                               ConfigNode& canonical) {
  const ConfigNode* distNode = node.find("dist");
  if (!distNode) {
    throw InputError(node.where, dotted(key, "dist"),
                     "missing required key 'dist' (a mapping here is a distribution: "
                     "dist: normal, mean: ..., sd: ...)");
  }
  const std::string distName = distNode->isScalar() ? distNode->text : "";
  const DistSpec* spec = findDistSpec(distName);
  if (!spec) {
    Keys distNames;
    for (const DistSpec& known : kDistSpecs) distNames.push_back(known.name);
    throw InputError(distNode->where, dotted(key, "dist"),
                     "unknown distribution " + describeConfigNode(*distNode) + " " +
                         expectedKeys(distName, distNames));
  }
  Keys allowed = {"dist"};
  allowed.insert(allowed.end(), spec->parameters.begin(), spec->parameters.end());
  const Section section(node, key, allowed);

  canonical = ConfigNode::map();
  canonical.set("dist", {}, stringNode(spec->name));
  const auto fail = [&](std::string_view parameter, const std::string& message) -> InputError {
    const ConfigNode* at = section.find(parameter);
    return InputError(at ? at->where : node.where, section.keyOf(parameter), message);
  };
  const auto required = [&](std::string_view parameter) {
    const double x =
        readNumber(section.require(parameter, distHint(*spec)), section.keyOf(parameter));
    canonical.set(std::string(parameter), {}, numberNode(x));
    return x;
  };
  const auto optional = [&](std::string_view parameter,
                            std::optional<double> fallback) -> std::optional<double> {
    std::optional<double> x = fallback;
    if (const ConfigNode* value = section.find(parameter)) {
      x = readNumber(*value, section.keyOf(parameter));
    }
    if (x) canonical.set(std::string(parameter), {}, numberNode(*x));
    return x;
  };
  const auto requireAbove = [&](std::string_view parameter, double x, double bound,
                                const std::string& what) {
    if (!(x > bound)) {
      throw fail(parameter,
                 "expected " + std::string(parameter) + " > " + what + ", got " + fmt(x));
    }
  };
  const auto orderedRange = [&](double lo, double hi) {
    requireAbove("max", hi, lo, "min (" + fmt(lo) + ")");
  };
  const auto modeInside = [&](double lo, double mode, double hi) {
    if (mode < lo || mode > hi) {
      throw fail("mode", "expected mode in [min, max] = [" + fmt(lo) + ", " + fmt(hi) + "], got " +
                             fmt(mode));
    }
  };
  const auto truncation = [&](std::optional<double>& lo, std::optional<double>& hi) {
    lo = optional("min", std::nullopt);
    hi = optional("max", std::nullopt);
    if (lo && hi) orderedRange(*lo, *hi);
  };
  const auto numberList = [&](std::string_view parameter) {
    const ConfigNode& list = section.require(parameter, distHint(*spec));
    const std::string listKey = section.keyOf(parameter);
    if (!list.isSequence() || list.items.empty()) {
      throw InputError(list.where, listKey,
                       "expected a non-empty list of numbers, got " + describeConfigNode(list));
    }
    std::vector<double> out;
    ConfigNode canonicalList = ConfigNode::sequence();
    for (const ConfigNode& item : list.items) {
      out.push_back(readNumber(item, listKey));
      canonicalList.items.push_back(numberNode(out.back()));
    }
    canonical.set(std::string(parameter), {}, std::move(canonicalList));
    return out;
  };
  // truncate_min and truncate_max of a distribution whose own parameters are called min and max.
  // The distribution is checked untruncated first, so that the library's "min" and "max" errors
  // of the truncation below cannot be taken for errors of its own min and max.
  const auto truncateOwn = [&](DistributionKind kind) {
    const std::optional<double> lo = optional("truncate_min", std::nullopt);
    const std::optional<double> hi = optional("truncate_max", std::nullopt);
    if (lo && hi) requireAbove("truncate_max", *hi, *lo, "truncate_min (" + fmt(*lo) + ")");
    Distribution plain(kind);
    if (!lo && !hi) return plain;
    try {
      return Distribution(std::move(kind), lo.value_or(-kInfinity), hi.value_or(kInfinity));
    } catch (const ParameterError& e) {
      throw ParameterError(e.parameter() == "min" ? "truncate_min" : "truncate_max", e.what());
    }
  };
  // Every item of a list parameter checked by `ok`, the error pointing at the offending item.
  const auto eachItem = [&](std::string_view parameter, const std::vector<double>& values,
                            const auto& ok) {
    const ConfigNode& list = *section.find(parameter);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string problem = ok(i);
      if (!problem.empty())
        throw InputError(list.items[i].where, section.keyOf(parameter), problem);
    }
  };

  try {
    const std::string& dist = spec->name;
    if (dist == "constant") {
      const double value = required("value");
      canonical = numberNode(value);  // hashes as the plain number it equals
      return Distribution(Constant{value});
    }
    if (dist == "uniform") {
      const double lo = required("min"), hi = required("max");
      orderedRange(lo, hi);
      return truncateOwn(Uniform{lo, hi});
    }
    if (dist == "triangular" || dist == "pert") {
      const double lo = required("min"), mode = required("mode"), hi = required("max");
      orderedRange(lo, hi);
      modeInside(lo, mode, hi);
      if (dist == "triangular") return truncateOwn(Triangular{lo, mode, hi});
      const double lambda = *optional("lambda", Pert{0, 0, 0}.lambda);
      requireAbove("lambda", lambda, 0.0, "0");
      return truncateOwn(Pert{lo, mode, hi, lambda});
    }
    if (dist == "beta") {
      const Beta defaults{1.0, 1.0};
      const double alpha = required("alpha"), beta = required("beta");
      requireAbove("alpha", alpha, 0.0, "0");
      requireAbove("beta", beta, 0.0, "0");
      const double lo = *optional("min", defaults.min), hi = *optional("max", defaults.max);
      orderedRange(lo, hi);
      return truncateOwn(Beta{alpha, beta, lo, hi});
    }
    if (dist == "normal") {
      const double mean = required("mean"), sd = required("sd");
      requireAbove("sd", sd, 0.0, "0");
      std::optional<double> lo, hi;
      truncation(lo, hi);
      return Distribution(Normal{mean, sd}, lo.value_or(-kInfinity), hi.value_or(kInfinity));
    }
    if (dist == "lognormal") {
      // Exactly one parameterisation: median and sigma (of ln X), or mean and sd (of X). The
      // first of these keys in the mapping decides; a key of the other form is an error.
      const auto isMedianForm = [](const std::string& k) { return k == "median" || k == "sigma"; };
      const auto isMomentForm = [](const std::string& k) { return k == "mean" || k == "sd"; };
      std::optional<bool> byMedian;
      for (const ConfigEntry& e : node.entries) {
        if (!isMedianForm(e.key) && !isMomentForm(e.key)) continue;
        if (!byMedian) {
          byMedian = isMedianForm(e.key);
        } else if (*byMedian != isMedianForm(e.key)) {
          throw InputError(e.keyWhere, section.keyOf(e.key),
                           "expected median and sigma, or mean and sd, not keys of both forms");
        }
      }
      Lognormal ln{};
      if (byMedian.value_or(true)) {
        const double median = required("median"), sigma = required("sigma");
        requireAbove("median", median, 0.0, "0");
        requireAbove("sigma", sigma, 0.0, "0");
        ln = lognormalFromMedian(median, sigma);
      } else {
        const double mean = required("mean"), sd = required("sd");
        requireAbove("mean", mean, 0.0, "0");
        requireAbove("sd", sd, 0.0, "0");
        ln = lognormalFromMoments(mean, sd);
      }
      std::optional<double> lo, hi;
      truncation(lo, hi);
      return Distribution(ln, lo.value_or(-kInfinity), hi.value_or(kInfinity));
    }
    if (dist == "discrete") {
      std::vector<double> values = numberList("values");
      std::vector<double> probs = numberList("probs");
      const ConfigNode& probsNode = *section.find("probs");
      if (probs.size() != values.size()) {
        throw fail("probs", "expected " + std::to_string(values.size()) +
                                " probabilities, one per value, got " +
                                std::to_string(probs.size()));
      }
      double sum = 0.0;
      for (std::size_t i = 0; i < probs.size(); ++i) {
        if (!(probs[i] > 0.0)) {
          throw InputError(probsNode.items[i].where, section.keyOf("probs"),
                           "expected probabilities > 0, got " + fmt(probs[i]));
        }
        sum += probs[i];
      }
      if (std::abs(sum - 1.0) > kProbabilityTolerance) {
        throw fail("probs", "expected probabilities that sum to 1 (+-1e-9), got a sum of " +
                                fmtComputed(sum));
      }
      return Distribution(Discrete{std::move(values), std::move(probs)});
    }
    if (dist == "student_t") {
      const double location = required("location"), scale = required("scale");
      const double dof = required("dof");
      requireAbove("scale", scale, 0.0, "0");
      requireAbove("dof", dof, 0.0, "0");
      std::optional<double> lo, hi;
      truncation(lo, hi);
      return Distribution(StudentT{location, scale, dof}, lo.value_or(-kInfinity),
                          hi.value_or(kInfinity));
    }
    if (dist == "gamma") {
      // A scale or a rate (1 / scale), not both: the second of the two in the mapping is the error.
      const ConfigEntry* first = nullptr;
      for (const ConfigEntry& e : node.entries) {
        if (e.key != "scale" && e.key != "rate") continue;
        if (first) {
          throw InputError(e.keyWhere, section.keyOf(e.key),
                           "expected scale or rate (1 / scale), not both");
        }
        first = &e;
      }
      const double shape = required("shape");
      requireAbove("shape", shape, 0.0, "0");
      double scale = 0.0;
      if (section.has("rate")) {
        const double rate = required("rate");
        requireAbove("rate", rate, 0.0, "0");
        scale = 1.0 / rate;
      } else {
        scale = required("scale");
        requireAbove("scale", scale, 0.0, "0");
      }
      std::optional<double> lo, hi;
      truncation(lo, hi);
      return Distribution(Gamma{shape, scale}, lo.value_or(-kInfinity), hi.value_or(kInfinity));
    }
    if (dist == "loguniform") {
      const double lo = required("min"), hi = required("max");
      requireAbove("min", lo, 0.0, "0");
      orderedRange(lo, hi);
      return truncateOwn(Loguniform{lo, hi});
    }
    if (dist == "empirical") {
      // Observations (values), or a histogram (bins and weights).
      Empirical e;
      if (section.has("values")) {
        for (const char* other : {"bins", "weights"}) {
          if (const ConfigEntry* entry = node.entry(other)) {
            throw InputError(entry->keyWhere, section.keyOf(other),
                             "expected values (observations) or bins with weights, not both");
          }
        }
        e.values = numberList("values");
        if (e.values.size() < 2) {
          throw fail("values",
                     "expected at least 2 observations, got " + std::to_string(e.values.size()));
        }
      } else {
        if (!section.has("bins")) {
          throw InputError(node.where, section.keyOf("values"),
                           "missing required key 'values' or 'bins' (" + distHint(*spec) + ")");
        }
        e.bins = numberList("bins");
        e.weights = numberList("weights");
        if (e.bins.size() < 2) {
          throw fail("bins", "expected at least 2 bin edges, got " + std::to_string(e.bins.size()));
        }
        eachItem("bins", e.bins, [&](std::size_t i) -> std::string {
          if (i == 0 || e.bins[i] > e.bins[i - 1]) return "";
          return "expected strictly increasing bin edges, got " + fmt(e.bins[i]) + " after " +
                 fmt(e.bins[i - 1]);
        });
        if (e.weights.size() != e.bins.size() - 1) {
          throw fail("weights", "expected " + std::to_string(e.bins.size() - 1) +
                                    " weights, one per bin, got " +
                                    std::to_string(e.weights.size()));
        }
        eachItem("weights", e.weights, [&](std::size_t i) -> std::string {
          if (e.weights[i] >= 0.0) return "";
          return "expected weights >= 0, got " + fmt(e.weights[i]);
        });
        if (std::all_of(e.weights.begin(), e.weights.end(), [](double w) { return w == 0.0; })) {
          throw fail("weights", "expected weights with a positive sum, got all 0");
        }
      }
      std::optional<double> lo, hi;
      truncation(lo, hi);
      return Distribution(std::move(e), lo.value_or(-kInfinity), hi.value_or(kInfinity));
    }
    if (dist == "mixture") {
      std::vector<double> weights = numberList("weights");
      const ConfigNode& list = section.require("components", distHint(*spec));
      const std::string listKey = section.keyOf("components");
      if (!list.isSequence() || list.items.empty()) {
        throw InputError(
            list.where, listKey,
            "expected a non-empty list of distributions, got " + describeConfigNode(list));
      }
      // Each component is a number or a distribution mapping, read (recursively) as a [D] leaf
      // keyed "<leaf>.components[i]".
      Mixture mixture;
      ConfigNode canonicalList = ConfigNode::sequence();
      for (std::size_t i = 0; i < list.items.size(); ++i) {
        const ConfigNode& item = list.items[i];
        std::string itemKey = listKey;
        itemKey += '[';
        itemKey += std::to_string(i);
        itemKey += ']';
        ConfigNode canonicalItem;
        if (item.isMap()) {
          mixture.components.push_back(buildDistribution(item, itemKey, canonicalItem));
        } else if (std::optional<double> x = configNumber(item)) {
          mixture.components.push_back(Distribution::constant(*x));
          canonicalItem = numberNode(*x);
        } else {
          throw InputError(item.where, itemKey,
                           "expected a number or a distribution mapping with `dist`, got " +
                               describeConfigNode(item));
        }
        canonicalList.items.push_back(std::move(canonicalItem));
      }
      canonical.set("components", {}, std::move(canonicalList));
      if (weights.size() != mixture.components.size()) {
        throw fail("weights", "expected " + std::to_string(mixture.components.size()) +
                                  " weights, one per component, got " +
                                  std::to_string(weights.size()));
      }
      eachItem("weights", weights, [&](std::size_t i) -> std::string {
        if (weights[i] > 0.0) return "";
        return "expected weights > 0, got " + fmt(weights[i]);
      });
      double sum = 0.0;
      for (double w : weights) sum += w;
      if (std::abs(sum - 1.0) > kProbabilityTolerance) {
        throw fail("weights",
                   "expected weights that sum to 1 (+-1e-9), got a sum of " + fmtComputed(sum));
      }
      mixture.weights = std::move(weights);
      std::optional<double> lo, hi;
      truncation(lo, hi);
      return Distribution(std::move(mixture), lo.value_or(-kInfinity), hi.value_or(kInfinity));
    }
    // bernoulli
    const double p = required("p");
    if (!kUnitClosed.contains(p)) {
      throw fail("p", "expected p " + kUnitClosed.str() + ", got " + fmt(p));
    }
    return Distribution(Bernoulli{p});
  } catch (const ParameterError& e) {
    if (section.has(e.parameter())) throw fail(e.parameter(), e.what());
    throw InputError(node.where, key, e.what());
  }
}

// Whether a draw can equal the lower end of the support: a lognormal's or a gamma's support
// (0, inf) does not contain 0, nor does a mixture's when every component at that end leaves it
// open; every other bound of a support can be reached.
bool lowerReached(const Distribution& d) {
  const DistributionKind& kind = d.kind();
  if (std::holds_alternative<Lognormal>(kind) || std::holds_alternative<Gamma>(kind)) {
    return d.lower() > 0.0;
  }
  if (const auto* mixture = std::get_if<Mixture>(&kind)) {
    return std::any_of(
        mixture->components.begin(), mixture->components.end(),
        [&](const Distribution& c) { return c.lower() <= d.lower() && lowerReached(c); });
  }
  return true;
}

// Whether `min` and `max` truncate this distribution (they are its own parameters for uniform,
// triangular, pert, beta and loguniform; a mixture with a discrete component cannot be cut).
bool truncatableByMinMax(const Distribution& d) {
  const DistributionKind& kind = d.kind();
  if (const auto* mixture = std::get_if<Mixture>(&kind)) {
    return std::none_of(mixture->components.begin(), mixture->components.end(),
                        [](const Distribution& c) { return c.isDiscrete(); });
  }
  return std::holds_alternative<Normal>(kind) || std::holds_alternative<Lognormal>(kind) ||
         std::holds_alternative<StudentT>(kind) || std::holds_alternative<Gamma>(kind) ||
         std::holds_alternative<Empirical>(kind);
}

void ScenarioReader::checkSupport(const Distribution& d, const ConfigNode& node,
                                  const std::string& key, const Domain& domain) {
  const double lower = d.lower(), upper = d.upper();
  if (d.isConstant()) {
    if (!domain.contains(lower)) {
      throw InputError(node.where, key,
                       "expected a value " + domain.str() + ", got " + d.describe());
    }
    return;
  }
  const bool reached = lowerReached(d);
  std::vector<std::string> reaches, fixes;
  if (std::isfinite(domain.lo) &&
      (lower < domain.lo || (reached && domain.loOpen && lower == domain.lo))) {
    reaches.push_back((lower < domain.lo ? "reaches below " : "reaches ") + fmt(domain.lo));
    fixes.push_back(domain.loOpen ? "a min above " + fmt(domain.lo) : "min: " + fmt(domain.lo));
  }
  if (std::isfinite(domain.hi) && (upper > domain.hi || (domain.hiOpen && upper == domain.hi))) {
    reaches.push_back((upper > domain.hi ? "reaches above " : "reaches ") + fmt(domain.hi));
    fixes.push_back(domain.hiOpen ? "a max below " + fmt(domain.hi) : "max: " + fmt(domain.hi));
  }
  if (reaches.empty()) return;
  const bool truncatable = truncatableByMinMax(d);
  throw InputError(
      node.where, key,
      d.describe() + " " + join(reaches, " and ") + " (expected values " + domain.str() + "); " +
          (truncatable ? "add " + join(fixes, " and ") : "choose parameters that keep it inside"));
}

void ScenarioReader::readSimulation(Scenario& s, ConfigNode& canonical) {
  ConfigNode out = ConfigNode::map();
  const ConfigNode* node = root_.find("simulation");
  const ConfigNode empty = ConfigNode::map(root_.where);
  const Section section(node && !node->isNull() ? *node : empty, "simulation", kSimulationKeys);
  if (const ConfigNode* paths = section.find("paths")) {
    s.simulation.paths = readUnsigned(*paths, section.keyOf("paths"), 1);
  }
  if (const ConfigNode* seed = section.find("seed")) {
    s.simulation.seed = readUnsigned(*seed, section.keyOf("seed"), 0);
  }
  if (const ConfigNode* sampler = section.find("sampler")) {
    s.simulation.sampler = readString(*sampler, section.keyOf("sampler"));
    const auto& known = samplerNames();
    if (std::find(known.begin(), known.end(), s.simulation.sampler) == known.end()) {
      throw InputError(
          sampler->where, section.keyOf("sampler"),
          "expected one of: " + join(known, ", ") + ", got '" + s.simulation.sampler + "'");
    }
  }
  out.set("paths", {}, wholeNode(s.simulation.paths));
  out.set("seed", {}, wholeNode(s.simulation.seed));
  out.set("sampler", {}, stringNode(s.simulation.sampler));
  canonical.set("simulation", {}, std::move(out));
}

void ScenarioReader::readRegime(const Section& section, Scenario& s, ConfigNode& canonical) {
  RegimeInputs& r = s.regime;
  const ConfigNode& states = section.require("states");
  const std::string statesKey = section.keyOf("states");
  if (!states.isSequence() || states.items.empty() || states.items.size() > kMaxStates) {
    throw InputError(states.where, statesKey,
                     "expected a list of 1 to 8 state names, got " +
                         (states.isSequence() ? std::to_string(states.items.size()) + " states"
                                              : describeConfigNode(states)));
  }
  ConfigNode statesOut = ConfigNode::sequence();
  for (const ConfigNode& item : states.items) {
    const std::string name = readString(item, statesKey);
    if (std::find(r.states.begin(), r.states.end(), name) != r.states.end()) {
      throw InputError(item.where, statesKey,
                       "expected distinct state names, got '" + name + "' twice");
    }
    r.states.push_back(name);
    statesOut.items.push_back(stringNode(name));
  }
  canonical.set("states", {}, std::move(statesOut));

  const ConfigNode& initial = section.require("initial");
  const std::string initialName = readString(initial, section.keyOf("initial"));
  const auto found = std::find(r.states.begin(), r.states.end(), initialName);
  if (found == r.states.end()) {
    throw InputError(
        initial.where, section.keyOf("initial"),
        "expected one of the states (" + join(r.states, ", ") + "), got '" + initialName + "'");
  }
  r.initial = static_cast<int>(found - r.states.begin());
  canonical.set("initial", {}, stringNode(initialName));

  const std::size_t n = r.states.size();
  const Section transition(section.require("transition"), section.keyOf("transition"), r.states);
  ConfigNode transitionOut = ConfigNode::map();
  for (const std::string& state : r.states) {
    const ConfigNode& row = transition.require(state, "a row of probabilities per state");
    const std::string rowKey = transition.keyOf(state);
    if (!row.isSequence() || row.items.size() != n) {
      throw InputError(row.where, rowKey,
                       "expected a list of " + std::to_string(n) +
                           " probabilities, one per state in order (" + join(r.states, ", ") +
                           "), got " +
                           (row.isSequence() ? std::to_string(row.items.size()) + " values"
                                             : describeConfigNode(row)));
    }
    std::vector<double> probabilities;
    ConfigNode rowOut = ConfigNode::sequence();
    double sum = 0.0;
    for (const ConfigNode& item : row.items) {
      probabilities.push_back(readNumberIn(item, rowKey, kUnitClosed));
      sum += probabilities.back();
      rowOut.items.push_back(numberNode(probabilities.back()));
    }
    if (std::abs(sum - 1.0) > kProbabilityTolerance) {
      throw InputError(row.where, rowKey,
                       "expected transition probabilities that sum to 1 (+-1e-9), got a sum of " +
                           fmtComputed(sum));
    }
    r.transition.push_back(std::move(probabilities));
    transitionOut.set(state, {}, std::move(rowOut));
  }
  canonical.set("transition", {}, std::move(transitionOut));

  const auto perState = [&](std::string_view name, const Domain& domain) {
    const Section map(section.require(name), section.keyOf(name), r.states);
    ConfigNode out = ConfigNode::map();
    std::vector<double> values;
    for (const std::string& state : r.states) {
      values.push_back(readC(map, state, domain, out));
    }
    canonical.set(std::string(name), {}, std::move(out));
    return values;
  };
  r.shareMultiplier = perState("share_multiplier", kPositive);
  r.pricePremium = perState("price_premium", kAboveMinusOne);
}

void ScenarioReader::readPeers(const Section& section, Scenario& s, ConfigNode& canonical) {
  PeerInputs& p = s.peers;
  p.longRunEvSales = readD(section, "long_run_ev_sales", kPositive, canonical);
  p.halfLifeYears = readD(section, "half_life_years", kPositive, canonical);

  const ConfigNode& list = section.require("list");
  const std::string listKey = section.keyOf("list");
  if (!list.isSequence() || list.items.empty() || list.items.size() > kMaxPeers) {
    throw InputError(list.where, listKey,
                     "expected a list of 1 to 32 peers, got " +
                         (list.isSequence() ? std::to_string(list.items.size()) + " peers"
                                            : describeConfigNode(list)));
  }
  ConfigNode listOut = ConfigNode::sequence();
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const ConfigNode& item = list.items[i];
    const std::string indexKey = listKey + "[" + std::to_string(i) + "]";
    if (!item.isMap()) {
      throw InputError(item.where, indexKey,
                       "expected a peer mapping (name, ev_sales, beta, sigma, weight), got " +
                           describeConfigNode(item));
    }
    const ConfigNode* nameNode = item.find("name");
    if (!nameNode) {
      throw InputError(item.where, indexKey + ".name", "missing required key 'name'");
    }
    Peer peer;
    peer.name = readString(*nameNode, indexKey + ".name");
    if (auto [it, inserted] = seen.emplace(peer.name, i); !inserted) {
      throw InputError(nameNode->where, indexKey + ".name",
                       "expected unique peer names, got '" + peer.name + "' again (first at " +
                           listKey + "[" + std::to_string(it->second) + "])");
    }
    const Section peerSection(item, listKey + "." + peer.name, kPeerKeys);
    ConfigNode peerOut = ConfigNode::map();
    peerOut.set("name", {}, stringNode(peer.name));
    peer.evSales = readD(peerSection, "ev_sales", kPositive, peerOut);
    peer.beta = readC(peerSection, "beta", kAnyValue, peerOut);
    peer.sigma = readC(peerSection, "sigma", kNonNegative, peerOut);
    peer.weight = readC(peerSection, "weight", kPositive, peerOut);
    p.list.push_back(std::move(peer));
    listOut.items.push_back(std::move(peerOut));
  }
  canonical.set("list", {}, std::move(listOut));
}

void ScenarioReader::readIpoYear(const Section& section, Scenario& s, ConfigNode& canonical) {
  const std::string key = section.keyOf("year");
  const ConfigNode& node = section.require("year");
  s.ipo.year = readD(section, "year", kAnyValue, canonical);
  // The years as written: a plain number, a constant's value or a discrete's values.
  std::vector<const ConfigNode*> years;
  const ConfigNode* dist = node.find("dist");
  if (node.isScalar()) {
    years = {&node};
  } else if (dist && dist->text == "constant") {
    years = {node.find("value")};
  } else if (dist && dist->text == "discrete") {
    for (const ConfigNode& item : node.find("values")->items) years.push_back(&item);
  } else {
    throw InputError(
        node.where, key,
        "expected a year as a constant or a discrete distribution, got " + s.ipo.year.describe());
  }
  const int first = s.baseYear + 1, last = s.baseYear + s.horizonYears - 1;
  for (const ConfigNode* year : years) {
    const double v = *configNumber(*year);
    if (v != std::floor(v) || v < first || v > last) {
      throw InputError(year->where, key,
                       "expected a whole calendar year in " + std::to_string(first) + ".." +
                           std::to_string(last) + " (after base_year " +
                           std::to_string(s.baseYear) +
                           ", before base_year + horizon_years), got " + fmt(v));
    }
  }
}

void ScenarioReader::checkTerminalSpread(const Section& valuation, const Scenario& s) {
  const double lowestWacc = s.valuation.wacc.lower();
  const double highestGrowth = s.valuation.terminalGrowth.upper();
  if (lowestWacc - highestGrowth >= kMinTerminalSpread) return;
  throw InputError(valuation.require("terminal_growth").where, valuation.keyOf("terminal_growth"),
                   "expected wacc - terminal_growth >= 0.005 on every draw, but wacc can be " +
                       fmt(lowestWacc) + " while terminal_growth can be " + fmt(highestGrowth) +
                       " (a spread of " + fmtComputed(lowestWacc - highestGrowth) + ")");
}

void ScenarioReader::readCorrelationOptions(Scenario& s, ConfigNode& canonical) {
  CorrelationInputs& c = s.correlations;
  const ConfigNode* node = root_.find("correlation");
  const ConfigNode empty = ConfigNode::map(root_.where);
  const Section section(node && !node->isNull() ? *node : empty, "correlation", kCorrelationKeys);
  // One of `allowed`, as its index; `allowed[0]` when the key is absent.
  const auto choice = [&](std::string_view name, const Keys& allowed) -> std::size_t {
    const ConfigNode* value = section.find(name);
    if (!value) return 0;
    const std::string key = section.keyOf(name);
    const std::string text = readString(*value, key);
    const auto it = std::find(allowed.begin(), allowed.end(), text);
    if (it == allowed.end()) {
      throw InputError(value->where, key,
                       "expected one of: " + join(allowed, ", ") + ", got '" + text + "'");
    }
    return static_cast<std::size_t>(it - allowed.begin());
  };
  const std::size_t method = choice("method", kCopulaMethods);
  const std::size_t kind = choice("kind", kCorrelationKinds);
  const std::size_t repair = choice("repair", kCorrelationRepairs);
  c.method = static_cast<CopulaFamily>(method);
  c.kind = static_cast<CorrelationKind>(kind);
  c.repair = static_cast<CorrelationRepair>(repair);

  ConfigNode out = ConfigNode::map();
  out.set("method", {}, stringNode(kCopulaMethods[method]));
  if (c.method == CopulaFamily::studentT) {
    c.dof =
        readNumberIn(section.require("dof", "the student_t method needs its degrees of freedom"),
                     section.keyOf("dof"), kPositive);
    out.set("dof", {}, numberNode(c.dof));
  } else if (const ConfigEntry* dof = section.node().entry("dof")) {
    throw InputError(dof->keyWhere, section.keyOf("dof"),
                     "only method student_t takes dof (method is " + kCopulaMethods[method] + ")");
  }
  out.set("kind", {}, stringNode(kCorrelationKinds[kind]));
  out.set("repair", {}, stringNode(kCorrelationRepairs[repair]));
  canonical.set("correlation", {}, std::move(out));
}

void ScenarioReader::readCorrelations(Scenario& s, ConfigNode& canonical) {
  ConfigNode out = ConfigNode::sequence();
  const ConfigEntry* entry = root_.entry("correlations");
  if (!entry || entry->value.isNull()) {
    canonical.set("correlations", {}, std::move(out));
    return;
  }
  const ConfigNode& list = entry->value;
  if (!list.isSequence()) {
    throw InputError(list.where, "correlations",
                     "expected a list of [key, key, rho] entries, got " + describeConfigNode(list));
  }
  CorrelationInputs& c = s.correlations;
  std::map<std::string, std::size_t> index;
  std::map<std::pair<std::size_t, std::size_t>, std::size_t> pairs;
  std::vector<std::tuple<std::size_t, std::size_t, double>> values;
  const auto keyIndex = [&](const std::string& key) {
    auto [it, inserted] = index.emplace(key, c.keys.size());
    if (inserted) c.keys.push_back(key);
    return it->second;
  };
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const ConfigNode& item = list.items[i];
    const std::string itemKey = "correlations[" + std::to_string(i) + "]";
    if (!item.isSequence() || item.items.size() != 3) {
      throw InputError(item.where, itemKey,
                       "expected [key, key, rho], got " +
                           (item.isSequence() ? "a list of " + std::to_string(item.items.size())
                                              : describeConfigNode(item)));
    }
    std::string names[2];
    for (int k = 0; k < 2; ++k) {
      const ConfigNode& nameNode = item.items[static_cast<std::size_t>(k)];
      names[k] = readString(nameNode, itemKey);
      if (names[k] == kSentiment) continue;
      const auto leaf = leaves_.find(names[k]);
      if (leaf == leaves_.end()) {
        throw InputError(item.where, itemKey,
                         "unknown key '" + names[k] +
                             "' (expected the dotted key of a [D] input, such as "
                             "market.growth_start or peers.list.<name>.ev_sales, or " +
                             kSentiment + ")");
      }
      if (leaf->second) {
        throw InputError(item.where, itemKey,
                         "'" + names[k] +
                             "' is a constant; only an input with a distribution can be "
                             "correlated");
      }
    }
    if (names[0] == names[1]) {
      throw InputError(item.where, itemKey,
                       "expected two different keys, got '" + names[0] + "' twice");
    }
    const double rho = readNumberIn(item.items[2], itemKey, kCorrelation);
    const std::size_t a = keyIndex(names[0]), b = keyIndex(names[1]);
    const auto pair = std::minmax(a, b);
    if (auto [it, inserted] = pairs.emplace(pair, i); !inserted) {
      throw InputError(item.where, itemKey,
                       "the pair " + names[0] + ", " + names[1] + " is already given at " +
                           "correlations[" + std::to_string(it->second) + "]");
    }
    values.emplace_back(a, b, rho);
    ConfigNode itemOut = ConfigNode::sequence();
    itemOut.items = {stringNode(names[0]), stringNode(names[1]), numberNode(rho)};
    out.items.push_back(std::move(itemOut));
  }
  const auto n = static_cast<Eigen::Index>(c.keys.size());
  // The copula's parameter from a coefficient of the scenario's kind, and back.
  const bool spearman = c.kind == CorrelationKind::spearman;
  std::optional<StudentTSpearman> studentT;
  if (spearman && c.method == CopulaFamily::studentT && n > 0) studentT.emplace(c.dof);
  const auto toParameter = [&](double rho) {
    if (!spearman) return rho;
    return studentT ? studentT->pearson(rho) : gaussianPearsonFromSpearman(rho);
  };
  const auto fromParameter = [&](double rho) {
    if (!spearman) return rho;
    return studentT ? studentT->spearman(rho) : gaussianSpearman(rho);
  };
  Eigen::MatrixXd given = Eigen::MatrixXd::Identity(n, n);
  c.matrix = Eigen::MatrixXd::Identity(n, n);
  for (const auto& [a, b, rho] : values) {
    const auto i = static_cast<Eigen::Index>(a), j = static_cast<Eigen::Index>(b);
    given(i, j) = given(j, i) = rho;
    c.matrix(i, j) = c.matrix(j, i) = toParameter(rho);
  }
  if (n > 0) {
    const Eigen::LLT<Eigen::MatrixXd> llt(c.matrix);
    const double smallest = smallestEigenvalue(c.matrix);
    if (llt.info() != Eigen::Success || !(smallest > kMinEigenvalue)) {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.3g", smallest);
      if (c.repair == CorrelationRepair::error) {
        throw InputError(entry->keyWhere, "correlations",
                         std::string("correlation matrix is not positive definite ") +
                             (spearman ? "after the Spearman conversion " : "") +
                             "(smallest eigenvalue " + buffer +
                             "); lower some |rho| so the pairs can hold together, or set "
                             "correlation.repair: nearest");
      }
      const NearestCorrelation nearest = nearestCorrelation(c.matrix);
      if (!nearest.converged) {
        throw InputError(entry->keyWhere, "correlations",
                         std::string("correlation matrix is not positive definite (smallest "
                                     "eigenvalue ") +
                             buffer + ") and its repair did not converge in " +
                             std::to_string(nearest.iterations) + " iterations");
      }
      c.unrepairedEigenvalue = smallest;
      c.repairIterations = nearest.iterations;
      for (Eigen::Index i = 0; i < n; ++i) {
        for (Eigen::Index j = i + 1; j < n; ++j) {
          const double repaired = fromParameter(nearest.matrix(i, j));
          if (std::abs(repaired - given(i, j)) > kRepairReportThreshold) {
            c.repaired.push_back({c.keys[static_cast<std::size_t>(i)],
                                  c.keys[static_cast<std::size_t>(j)], given(i, j), repaired});
          }
        }
      }
      c.matrix = nearest.matrix;
    }
  }
  canonical.set("correlations", {}, std::move(out));
}

Scenario ScenarioReader::read(ConfigNode& canonical) {
  Scenario s;
  canonical = ConfigNode::map();
  const Section root(root_, "", kTopKeys);

  s.name = readString(root.require("name"), "name");
  canonical.set("name", {}, stringNode(s.name));
  if (const ConfigNode* description = root.find("description")) {
    if (!description->isScalar()) {
      throw InputError(description->where, "description",
                       "expected a string, got " + describeConfigNode(*description));
    }
    s.description = description->text;
  }
  canonical.set("description", {}, stringNode(s.description));
  s.baseYear = readInt(root.require("base_year"), "base_year", -100000, 100000);
  canonical.set("base_year", {}, numberNode(s.baseYear));
  s.horizonYears = readInt(root.require("horizon_years"), "horizon_years", 3, 40);
  canonical.set("horizon_years", {}, numberNode(s.horizonYears));
  readSimulation(s, canonical);

  const auto section = [&](const std::string& name, const Keys& keys, const auto& body) {
    const Section sec(root.require(name), name, keys);
    ConfigNode out = ConfigNode::map();
    body(sec, out);
    canonical.set(name, {}, std::move(out));
  };

  section("market", kMarketKeys, [&](const Section& m, ConfigNode& out) {
    s.market.unitsBase = readD(m, "units_base", kPositive, out);
    s.market.growthStart = readD(m, "growth_start", kAnyValue, out);
    s.market.growthEnd = readD(m, "growth_end", kAnyValue, out);
    s.market.growthSigma = readC(m, "growth_sigma", kNonNegative, out);
  });
  section("company", kCompanyKeys, [&](const Section& m, ConfigNode& out) {
    CompanyInputs& c = s.company;
    c.shipmentsBase = readD(m, "shipments_base", kPositive, out);
    c.shareCeiling = readD(m, "share_ceiling", kShareCeiling, out);
    c.adoptionSpeed = readD(m, "adoption_speed", kPositive, out);
    c.executionSigma = readC(m, "execution_sigma", kNonNegative, out);
    c.capacityBase = readD(m, "capacity_base", kPositive, out);
    c.capacityGrowth = readD(m, "capacity_growth", kAboveMinusOne, out);
    c.captiveShareStart = readD(m, "captive_share_start", kUnitClosed, out);
    c.captiveShareEnd = readD(m, "captive_share_end", kUnitClosed, out);
    c.captiveMarkup = readD(m, "captive_markup", kAboveMinusOne, out);
  });
  section("regime", kRegimeKeys, [&](const Section& m, ConfigNode& out) { readRegime(m, s, out); });
  section("pricing", kPricingKeys, [&](const Section& m, ConfigNode& out) {
    PricingInputs& p = s.pricing;
    p.h20PriceBase = readD(m, "h20_price_base", kPositive, out);
    p.h20PriceDecline = readD(m, "h20_price_decline", kUnitHalfOpen, out);
    p.perfRatioBase = readD(m, "perf_ratio_base", kPositive, out);
    p.perfDrift = readD(m, "perf_drift", kAnyValue, out);
    p.perfSigma = readC(m, "perf_sigma", kNonNegative, out);
    p.entrantDiscount = readD(m, "entrant_discount", kUnitHalfOpen, out);
  });
  section("cost", kCostKeys, [&](const Section& m, ConfigNode& out) {
    s.cost.h20UnitCost = readD(m, "h20_unit_cost", kPositive, out);
    s.cost.advantage = readD(m, "advantage", kUnitHalfOpen, out);
    s.cost.learningRate = readD(m, "learning_rate", kUnitHalfOpen, out);
  });
  section("other_revenue", kOtherRevenueKeys, [&](const Section& m, ConfigNode& out) {
    s.otherRevenue.base = readD(m, "base", kNonNegative, out);
    s.otherRevenue.growth = readD(m, "growth", kAboveMinusOne, out);
    s.otherRevenue.grossMargin = readD(m, "gross_margin", kMarginRange, out);
  });
  section("opex", kOpexKeys, [&](const Section& m, ConfigNode& out) {
    s.opex.ratioStart = readD(m, "ratio_start", kNonNegative, out);
    s.opex.ratioEnd = readD(m, "ratio_end", kNonNegative, out);
    s.opex.fixed = readD(m, "fixed", kNonNegative, out);
  });
  section("finance", kFinanceKeys, [&](const Section& m, ConfigNode& out) {
    s.finance.taxRate = readD(m, "tax_rate", kUnitHalfOpen, out);
    s.finance.reinvestmentRate = readD(m, "reinvestment_rate", kNonNegative, out);
    s.finance.netCash = readD(m, "net_cash", kAnyValue, out);
  });
  section("peers", kPeersKeys, [&](const Section& m, ConfigNode& out) { readPeers(m, s, out); });
  section("valuation", kValuationKeys, [&](const Section& m, ConfigNode& out) {
    ValuationInputs& v = s.valuation;
    v.multipleHaircut = readD(m, "multiple_haircut", kBelowOne, out);
    v.relativeWeight = readC(m, "relative_weight", kUnitClosed, out);
    v.wacc = readD(m, "wacc", kAboveMinusOne, out);
    v.terminalGrowth = readD(m, "terminal_growth", kAnyValue, out);
    checkTerminalSpread(m, s);
  });
  section("ipo", kIpoKeys, [&](const Section& m, ConfigNode& out) {
    IpoInputs& i = s.ipo;
    readIpoYear(m, s, out);
    i.probability = readC(m, "probability", kUnitClosed, out);
    i.offerDiscount = readD(m, "offer_discount", kUnitHalfOpen, out);
    i.privateDiscount = readD(m, "private_discount", kUnitHalfOpen, out);
    i.primaryRaise = readD(m, "primary_raise", kNonNegative, out);
    i.floatShare = readD(m, "float", kUnitHalfOpen, out);
    i.employeePool = readD(m, "employee_pool", kUnitHalfOpen, out);
  });
  section("parent", kParentKeys, [&](const Section& m, ConfigNode& out) {
    s.parent.adsOutstanding = readC(m, "ads_outstanding", kPositive, out);
  });

  leaves_.emplace(kSentiment, false);
  readCorrelationOptions(s, canonical);
  readCorrelations(s, canonical);
  return s;
}

// ---- --set

bool contains(const Keys& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Applies one "KEY=VALUE" override. KEY must name a leaf of the schema: a top-level leaf, a
// section's key, a regime state's row or value (regime.transition.open), a peer's key by its
// name (peers.list.Cambricon.ev_sales), or a whole list or table (peers.list, correlations).
void applyOverride(ConfigNode& root, const std::string& override) {
  const std::string file = "--set " + override;
  const std::size_t equals = override.find('=');
  if (equals == std::string::npos) {
    throw InputError(SourceLocation{file, 1, 1}, override,
                     "expected KEY=VALUE, got no '=' in '" + override + "'");
  }
  const std::string key = override.substr(0, equals);
  const SourceLocation at{file, 1, 1};
  const auto unknown = [&](std::size_t offset, const std::string& message) {
    return InputError(SourceLocation{file, 1, static_cast<int>(offset) + 1}, key,
                      "unknown --set key: " + message);
  };
  // Resolve the key before parsing the value, so an unknown key is reported as such.
  const std::size_t dot = key.find('.');
  const std::string head = key.substr(0, dot);
  const std::string rest = dot == std::string::npos ? "" : key.substr(dot + 1);
  const std::size_t restOffset = dot + 1;

  ConfigNode* parent = nullptr;
  std::string leaf;
  if (contains(kTopLeaves, head)) {
    if (!rest.empty()) {
      throw unknown(restOffset,
                    "'" + head + "' has no keys below it (expected " + head + "=VALUE)");
    }
    parent = &root;
    leaf = head;
  } else {
    const auto section = std::find_if(kSections.begin(), kSections.end(),
                                      [&](const auto& s) { return s.first == head; });
    if (section == kSections.end()) {
      throw unknown(0, "no key '" + head + "' in a scenario " + expectedKeys(head, kTopKeys));
    }
    const Keys& keys = *section->second;
    if (rest.empty()) {
      throw unknown(0, "'" + head + "' is a section; set one of its keys, such as " + head + "." +
                           keys.front());
    }
    ConfigNode* sectionNode = root.find(head);
    if (!sectionNode || !sectionNode->isMap()) {
      root.set(head, at, ConfigNode::map(at));
      sectionNode = root.find(head);
    }
    if (head == "peers" && rest.starts_with("list.")) {
      const std::string path = rest.substr(5);
      const std::size_t pathOffset = restOffset + 5;
      ConfigNode* list = sectionNode->find("list");
      Keys names;
      ConfigNode* peer = nullptr;
      std::size_t matched = 0;
      if (list && list->isSequence()) {
        for (ConfigNode& item : list->items) {
          const ConfigNode* name = item.isMap() ? item.find("name") : nullptr;
          if (!name || !name->isScalar()) continue;
          names.push_back(name->text);
          if (path.starts_with(name->text + ".") && name->text.size() >= matched) {
            peer = &item;
            matched = name->text.size();
          }
        }
      }
      if (!peer) {
        throw unknown(pathOffset, "no peer named in '" + path +
                                      "' (expected peers.list.<name>."
                                      "<key> with a name among: " +
                                      join(names, ", ") + ")");
      }
      leaf = path.substr(matched + 1);
      if (!contains(kPeerKeys, leaf)) {
        throw unknown(pathOffset + matched + 1,
                      "no key '" + leaf + "' in a peer " + expectedKeys(leaf, kPeerKeys));
      }
      parent = peer;
    } else {
      const std::size_t dot2 = rest.find('.');
      const std::string name = rest.substr(0, dot2);
      if (!contains(keys, name)) {
        throw unknown(restOffset,
                      "no key '" + name + "' in " + head + " " + expectedKeys(name, keys));
      }
      if (dot2 == std::string::npos) {
        parent = sectionNode;
        leaf = name;
      } else if (head == "regime" && contains(kRegimeStateMaps, name)) {
        const std::string state = rest.substr(dot2 + 1);
        Keys states;
        if (const ConfigNode* list = sectionNode->find("states"); list && list->isSequence()) {
          for (const ConfigNode& item : list->items) states.push_back(item.text);
        }
        if (!contains(states, state)) {
          throw unknown(restOffset + dot2 + 1,
                        "no state '" + state + "' in regime.states " + expectedKeys(state, states));
        }
        ConfigNode* map = sectionNode->find(name);
        if (!map || !map->isMap()) {
          sectionNode->set(name, at, ConfigNode::map(at));
          map = sectionNode->find(name);
        }
        parent = map;
        leaf = state;
      } else {
        throw unknown(restOffset + dot2 + 1, "'" + head + "." + name +
                                                 "' is a leaf; set it whole (a number, or a "
                                                 "distribution mapping {dist: ..., ...})");
      }
    }
  }
  ConfigNode value;
  try {
    value = parseConfigText(override.substr(equals + 1),
                            ConfigOrigin{file, static_cast<int>(equals) + 2});
  } catch (const InputError& e) {
    throw InputError(e.where(), key, e.detail());  // keyed by the --set key, not the value's text
  }
  parent->set(leaf, at, std::move(value));
}

std::string sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 of the scenario failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

Scenario load(const std::string& file, const std::vector<std::string>& overrides,
              std::string& canonicalText) {
  ConfigNode root = loadConfigFile(file);
  for (const std::string& override : overrides) applyOverride(root, override);
  ScenarioReader reader(root);
  ConfigNode canonical;
  Scenario s = reader.read(canonical);
  canonicalText = serializeConfig(canonical);
  s.file = file;
  s.sha256 = sha256Hex(canonicalText);
  return s;
}

}  // namespace

Scenario loadScenario(const std::string& file, const std::vector<std::string>& overrides) {
  std::string text;
  return load(file, overrides, text);
}

std::string canonicalScenarioText(const std::string& file,
                                  const std::vector<std::string>& overrides) {
  std::string text;
  load(file, overrides, text);
  return text;
}

}  // namespace spinval
