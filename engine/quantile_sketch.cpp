#include "spinval/quantile_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace spinval {
namespace {

[[noreturn]] void badJson(const std::string& what) {
  std::string message = "quantile sketch JSON: ";
  message += what;
  throw std::invalid_argument(message);
}

const nlohmann::json& field(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end()) {
    std::string what = "missing \"";
    what += key;
    what += '"';
    badJson(what);
  }
  return *it;
}

std::uint64_t unsignedField(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = field(json, key);
  if (!value.is_number_unsigned()) {
    std::string what = "\"";
    what += key;
    what += "\" must be a non-negative integer";
    badJson(what);
  }
  return value.get<std::uint64_t>();
}

double numberField(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = field(json, key);
  if (!value.is_number()) {
    std::string what = "\"";
    what += key;
    what += "\" must be a number";
    badJson(what);
  }
  return value.get<double>();
}

void onlyKeys(const nlohmann::json& json, std::initializer_list<const char*> keys,
              const char* where) {
  if (!json.is_object()) {
    std::string what = where;
    what += " must be an object";
    badJson(what);
  }
  for (const auto& item : json.items()) {
    if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return item.key() == k; })) {
      std::string what = where;
      what += ": unknown key \"";
      what += item.key();
      what += '"';
      badJson(what);
    }
  }
}

}  // namespace

QuantileSketch::QuantileSketch(double alpha, std::size_t maxBuckets)
    : alpha_(alpha), maxBuckets_(maxBuckets), positive_(maxBuckets), negative_(maxBuckets) {
  if (!(alpha >= kMinAlpha && alpha <= kMaxAlpha)) {
    std::string message = "quantile sketch: relative accuracy alpha must lie in [1e-6, 0.5], got ";
    message += std::to_string(alpha);
    throw std::invalid_argument(message);
  }
  if (maxBuckets < 1 || maxBuckets > kMaxMaxBuckets) {
    std::string message = "quantile sketch: maxBuckets must lie in [1, 2^24], got ";
    message += std::to_string(maxBuckets);
    throw std::invalid_argument(message);
  }
  gamma_ = (1 + alpha) / (1 - alpha);
  logGamma_ = std::log(gamma_);
  inverseLogGamma_ = 1 / logGamma_;
  representativeFactor_ = 2 / (gamma_ + 1);
}

// One multiplication by the precomputed 1 / log gamma, so the index is a fixed function of the
// bits of the magnitude. |log| <= 709.8 for normal doubles and log gamma >= 2e-6, so the index
// fits in 32 bits.
std::int32_t QuantileSketch::index(double magnitude) const {
  return static_cast<std::int32_t>(std::ceil(std::log(magnitude) * inverseLogGamma_));
}

// 2 gamma^i / (gamma + 1); overflows to infinity only beyond DBL_MAX, where the clamp to max
// applies.
double QuantileSketch::representative(std::int32_t i) const {
  return std::exp(static_cast<double>(i) * logGamma_) * representativeFactor_;
}

void QuantileSketch::add(double x) {
  add(&x, 1);
}

void QuantileSketch::add(const double* x, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    if (!std::isfinite(x[k])) {
      std::string message = "quantile sketch: cannot add the non-finite value ";
      message += std::to_string(x[k]);
      throw std::invalid_argument(message);
    }
  }
  double lo = min_, hi = max_;
  for (std::size_t k = 0; k < n; ++k) {
    // -0 is recorded as +0 so that min and max do not depend on the order of equal values.
    const double v = x[k] == 0 ? 0.0 : x[k];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    if (v >= kZeroThreshold) {
      positive_.add(index(v));
    } else if (v <= -kZeroThreshold) {
      negative_.add(index(-v));
    } else {
      ++zeroCount_;
    }
  }
  count_ += n;
  min_ = lo;
  max_ = hi;
}

void QuantileSketch::merge(const QuantileSketch& other) {
  if (other.alpha_ != alpha_ || other.maxBuckets_ != maxBuckets_) {
    std::string message = "quantile sketch: cannot merge a sketch of alpha ";
    message += std::to_string(other.alpha_);
    message += " and maxBuckets ";
    message += std::to_string(other.maxBuckets_);
    message += " into one of alpha ";
    message += std::to_string(alpha_);
    message += " and maxBuckets ";
    message += std::to_string(maxBuckets_);
    throw std::invalid_argument(message);
  }
  count_ += other.count_;
  zeroCount_ += other.zeroCount_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  positive_.merge(other.positive_);
  negative_.merge(other.negative_);
}

// Walks the buckets in increasing order of value: negative store by decreasing |x|, zeros,
// positive store by increasing x. Rank j lies in the first bucket whose cumulative count
// exceeds j.
double QuantileSketch::orderStatistic(std::uint64_t j) const {
  if (j == 0) return min_;
  if (j + 1 == count_) return max_;
  std::uint64_t seen = 0;
  if (negative_.total() != 0) {
    for (std::int32_t i = negative_.maxIndex(); i >= negative_.minIndex(); --i) {
      seen += negative_.at(i);
      if (j < seen) return std::clamp(-representative(i), min_, max_);
    }
  }
  seen += zeroCount_;
  if (j < seen) return std::clamp(0.0, min_, max_);
  for (std::int32_t i = positive_.minIndex(); i <= positive_.maxIndex(); ++i) {
    seen += positive_.at(i);
    if (j < seen) return std::clamp(representative(i), min_, max_);
  }
  return max_;  // unreachable: the counts sum to count_
}

double QuantileSketch::quantile(double p) const {
  if (count_ == 0) throw std::invalid_argument("quantile of an empty sketch");
  if (!(p >= 0 && p <= 1)) {
    std::string message = "quantile sketch: probability must lie in [0, 1], got ";
    message += std::to_string(p);
    throw std::invalid_argument(message);
  }
  // Type 7: h = (n - 1) p, x(k) + f (x(k + 1) - x(k)) with k = floor h and f = h - k.
  const double h = static_cast<double>(count_ - 1) * p;
  const double floorH = std::floor(h);
  const std::uint64_t k = std::min(static_cast<std::uint64_t>(floorH), count_ - 1);
  const double a = orderStatistic(k);
  if (k + 1 >= count_) return a;
  const double f = h - floorH;
  const double b = orderStatistic(k + 1);
  const double d = b - a;
  return std::isfinite(d) ? a + f * d : (1 - f) * a + f * b;
}

std::uint64_t QuantileSketch::rank(double x) const {
  if (std::isnan(x)) throw std::invalid_argument("quantile sketch: rank of NaN");
  if (count_ == 0 || x < min_) return 0;
  if (x >= max_) return count_;
  std::uint64_t r = 0;
  if (x <= -kZeroThreshold) {
    // Values <= x have |v| >= |x|: the buckets from |x|'s upward, including its own.
    if (negative_.total() == 0) return 0;
    const std::int32_t from = std::max(index(-x), negative_.minIndex());
    for (std::int32_t i = from; i <= negative_.maxIndex(); ++i) r += negative_.at(i);
    return r;
  }
  r = negative_.total() + zeroCount_;
  if (x < kZeroThreshold || positive_.total() == 0) return r;
  // Values <= x lie in x's bucket or below; collapsed values lie in the floor bucket.
  const std::int64_t to = std::min<std::int64_t>(
      std::max<std::int64_t>(index(x), positive_.floorIndex()), positive_.maxIndex());
  for (std::int64_t i = positive_.minIndex(); i <= to; ++i) {
    r += positive_.at(static_cast<std::int32_t>(i));
  }
  return r;
}

double QuantileSketch::cdf(double x) const {
  const std::uint64_t r = rank(x);
  return count_ == 0 ? 0.0 : static_cast<double>(r) / static_cast<double>(count_);
}

std::size_t QuantileSketch::memoryBytes() const {
  return sizeof(*this) + positive_.heapBytes() + negative_.heapBytes();
}

nlohmann::json QuantileSketch::toJson() const {
  nlohmann::json json;
  json["alpha"] = alpha_;
  json["max_buckets"] = static_cast<std::uint64_t>(maxBuckets_);
  json["count"] = count_;
  json["zero_count"] = zeroCount_;
  if (count_ != 0) {
    json["min"] = min_;
    json["max"] = max_;
  }
  json["positive"] = positive_.toJson();
  json["negative"] = negative_.toJson();
  return json;
}

QuantileSketch QuantileSketch::fromJson(const nlohmann::json& json) {
  onlyKeys(json,
           {"alpha", "max_buckets", "count", "zero_count", "min", "max", "positive", "negative"},
           "sketch");
  const double alpha = numberField(json, "alpha");
  const std::uint64_t maxBuckets = unsignedField(json, "max_buckets");
  if (maxBuckets > kMaxMaxBuckets) badJson("\"max_buckets\" exceeds 2^24");
  QuantileSketch sketch(alpha, static_cast<std::size_t>(maxBuckets));
  sketch.count_ = unsignedField(json, "count");
  sketch.zeroCount_ = unsignedField(json, "zero_count");
  if (sketch.count_ != 0) {
    sketch.min_ = numberField(json, "min");
    sketch.max_ = numberField(json, "max");
    if (!(sketch.min_ <= sketch.max_)) badJson("\"min\" exceeds \"max\"");
  } else if (json.contains("min") || json.contains("max")) {
    badJson("an empty sketch has no \"min\" or \"max\"");
  }
  sketch.positive_.fromJson(field(json, "positive"), "positive");
  sketch.negative_.fromJson(field(json, "negative"), "negative");
  // Every stored index must be one that a finite value of magnitude >= kZeroThreshold can
  // reach.
  const std::int32_t lowest = sketch.index(kZeroThreshold);
  const std::int32_t highest = sketch.index(std::numeric_limits<double>::max());
  for (const Store* store : {&sketch.positive_, &sketch.negative_}) {
    if (store->total() != 0 && (store->minIndex() < lowest || store->maxIndex() > highest)) {
      badJson("bucket offsets outside the range of finite doubles");
    }
  }
  const std::uint64_t a = sketch.zeroCount_, b = sketch.positive_.total(),
                      c = sketch.negative_.total();
  if (b > sketch.count_ || c > sketch.count_ - b || a != sketch.count_ - b - c) {
    badJson("\"count\" differs from the sum of the zero and bucket counts");
  }
  return sketch;
}

// ---- Store ----

void QuantileSketch::Store::addSlow(std::int32_t index, std::uint64_t n) {
  if (n == 0) return;
  if (total_ == 0) {
    cover(index, index);
    minIndex_ = maxIndex_ = index;
  } else if (index > maxIndex_) {
    raiseTop(index);
  }
  std::int64_t i = index;
  if (i < floorIndex()) {
    i = floorIndex();
    collapsed_ = true;
  }
  if (i < minIndex_) {
    cover(i, maxIndex_);
    minIndex_ = static_cast<std::int32_t>(i);
  }
  counts_[static_cast<std::size_t>(i - offset_)] += n;
  total_ += n;
}

// Each value of bucket index t ends in bucket max(t, L), L = (largest index) - maxBuckets + 1,
// whatever the grouping: raising the top folds the old buckets below the new L into L, and the
// other store's buckets go to max(j, L).
void QuantileSketch::Store::merge(const Store& other) {
  if (other.total_ == 0) return;
  if (total_ == 0) {
    *this = other;
    return;
  }
  if (other.maxIndex_ > maxIndex_) raiseTop(other.maxIndex_);
  const std::int64_t floor = floorIndex();
  const std::int64_t lowest = std::max<std::int64_t>(other.minIndex_, floor);
  if (lowest < minIndex_) {
    cover(lowest, maxIndex_);
    minIndex_ = static_cast<std::int32_t>(lowest);
  }
  if (other.collapsed_ || other.minIndex_ < floor) collapsed_ = true;
  for (std::int64_t j = other.minIndex_; j <= other.maxIndex_; ++j) {
    counts_[static_cast<std::size_t>(std::max(j, floor) - offset_)] +=
        other.counts_[static_cast<std::size_t>(j - other.offset_)];
  }
  total_ += other.total_;
}

void QuantileSketch::Store::raiseTop(std::int32_t top) {
  const std::int64_t floor = std::int64_t{top} - maxBuckets_ + 1;
  std::uint64_t folded = 0;
  if (minIndex_ < floor) {
    const std::int64_t last = std::min<std::int64_t>(maxIndex_, floor - 1);
    for (std::int64_t j = minIndex_; j <= last; ++j) {
      folded += std::exchange(counts_[static_cast<std::size_t>(j - offset_)], 0);
    }
    minIndex_ = static_cast<std::int32_t>(floor);
    collapsed_ = true;
  }
  maxIndex_ = top;
  cover(minIndex_, maxIndex_);
  counts_[static_cast<std::size_t>(minIndex_ - offset_)] += folded;
}

// Buckets outside the old non-empty range are zero, so copying the overlap of the old and new
// windows keeps every count inside [lo, hi]. The window grows by half its span (at least 64
// buckets) on the side being extended, never beyond maxBuckets.
void QuantileSketch::Store::cover(std::int64_t lo, std::int64_t hi) {
  const std::int64_t size = static_cast<std::int64_t>(counts_.size());
  if (size != 0 && lo >= offset_ && hi < offset_ + size) return;
  const std::int64_t span = hi - lo + 1;
  const std::int64_t newSize =
      std::min(maxBuckets_, std::max(span, span + std::max<std::int64_t>(span / 2, 64)));
  const std::int64_t slack = newSize - span;
  std::int64_t newOffset;
  if (size == 0) {
    newOffset = lo - slack / 2;
  } else if (hi >= offset_ + size) {
    newOffset = lo;
  } else {
    newOffset = lo - slack;
  }
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(newSize), 0);
  const std::int64_t from = std::max<std::int64_t>(offset_, newOffset);
  const std::int64_t to = std::min<std::int64_t>(offset_ + size, newOffset + newSize);
  for (std::int64_t j = from; j < to; ++j) {
    counts[static_cast<std::size_t>(j - newOffset)] =
        counts_[static_cast<std::size_t>(j - offset_)];
  }
  counts_ = std::move(counts);
  offset_ = static_cast<std::int32_t>(newOffset);
}

nlohmann::json QuantileSketch::Store::toJson() const {
  nlohmann::json counts = nlohmann::json::array();
  if (total_ != 0) {
    for (std::int64_t j = minIndex_; j <= maxIndex_; ++j) {
      counts.push_back(counts_[static_cast<std::size_t>(j - offset_)]);
    }
  }
  return {{"offset", total_ == 0 ? 0 : minIndex_},
          {"counts", std::move(counts)},
          {"collapsed", collapsed_}};
}

void QuantileSketch::Store::fromJson(const nlohmann::json& json, const char* name) {
  onlyKeys(json, {"offset", "counts", "collapsed"}, name);
  std::string where = name;
  const nlohmann::json& offset = field(json, "offset");
  const nlohmann::json& counts = field(json, "counts");
  const nlohmann::json& collapsed = field(json, "collapsed");
  if (!offset.is_number_integer()) badJson(where += ".offset must be an integer");
  if (!counts.is_array()) badJson(where += ".counts must be an array");
  if (!collapsed.is_boolean()) badJson(where += ".collapsed must be a boolean");
  const auto first = offset.get<std::int64_t>();
  const auto size = static_cast<std::int64_t>(counts.size());
  if (size > maxBuckets_) badJson(where += ": more buckets than max_buckets");
  if (first < -(std::int64_t{1} << 30) || first > (std::int64_t{1} << 30)) {
    badJson(where += ".offset out of range");
  }
  *this = Store(static_cast<std::size_t>(maxBuckets_));
  collapsed_ = collapsed.get<bool>();
  if (size == 0) {
    if (first != 0) badJson(where += ": an empty store has offset 0");
    if (collapsed_) badJson(where += ": an empty store cannot be collapsed");
    return;
  }
  for (const nlohmann::json& c : counts) {
    if (!c.is_number_unsigned()) badJson(where += ".counts must be non-negative integers");
  }
  if (counts.front().get<std::uint64_t>() == 0 || counts.back().get<std::uint64_t>() == 0) {
    badJson(where += ".counts must start and end with a non-empty bucket");
  }
  counts_.resize(static_cast<std::size_t>(size));
  offset_ = minIndex_ = static_cast<std::int32_t>(first);
  maxIndex_ = static_cast<std::int32_t>(first + size - 1);
  for (std::size_t j = 0; j < counts_.size(); ++j) {
    counts_[j] = counts[j].get<std::uint64_t>();
    if (counts_[j] > std::numeric_limits<std::uint64_t>::max() - total_) {
      badJson(where += ".counts overflow 64 bits");
    }
    total_ += counts_[j];
  }
}

}  // namespace spinval
