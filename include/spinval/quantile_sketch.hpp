// A mergeable quantile sketch for runs too large to keep every value: DDSketch (Masson, Rim and
// Lee, "DDSketch: a fast and fully-mergeable quantile sketch with relative-error guarantees",
// VLDB 2019). Add a block's values to its own sketch, merge the blocks' sketches, then read
// quantiles and CDF estimates; toJson/fromJson carry a sketch in a partial result.
//
// Why DDSketch rather than KLL or t-digest:
// - Merging adds bucket counts, so it is exact, commutative and associative: blocks merged in
//   any grouping (threads, MPI ranks, shards) give the identical sketch, the identical JSON and
//   the identical digits. KLL's compactions and t-digest's centroid merges depend on the order
//   and grouping of the merges.
// - Its guarantee is a relative error in value, |x_hat - x| <= alpha |x|, which suits money
//   amounts spanning many orders of magnitude; a rank-error bound says nothing about how far
//   apart in value neighbouring ranks lie in a heavy tail.
// - It is deterministic: no random compaction and no seed.
// The bound is on values, not ranks: a quantile estimate is within eps |q| of the exact quantile
// q however dense or sparse the data are there; rank() gives the matching bound on the CDF.
//
// Buckets. gamma = (1 + alpha) / (1 - alpha). A value x > 0 goes to bucket
// i = ceil(log_gamma x), which holds (gamma^(i-1), gamma^i]; its representative
// 2 gamma^i / (gamma + 1) lies within relative alpha of every value in the bucket, since it is
// (1 - alpha) gamma^i = (1 + alpha) gamma^(i-1). Negative values go to a second store indexed by
// |x|. Values with |x| < kZeroThreshold (the smallest normal double, about 2.2e-308) count as
// zeros: every normal double keeps the relative guarantee and subnormals are reported as 0, an
// absolute error below 2.2e-308. Money amounts from 1e3 to 1e13 at alpha = 0.001 span about
// 11,500 buckets (92 KB of counts).
//
// Quantiles (type 7, as quantileOfSorted). Let x_(0) <= ... <= x_(n-1) be the values added,
// h = p (n - 1), k = floor(h), f = h - k, and q = x_(k) + f (x_(k+1) - x_(k)) the exact type-7
// quantile. The sketch estimates each order statistic by the representative of the bucket that
// holds rank j (buckets are disjoint intervals visited in increasing order of value: negative
// store by decreasing |x|, zeros, positive store by increasing x), clamped to [min, max], with
// x_hat(0) = min and x_hat(n-1) = max exactly; then q_hat = x_hat(k) + f (x_hat(k+1) - x_hat(k)).
// With eps = alpha + 1e-12 (the 1e-12 covers rounding in the logarithm and the power, which
// stays below 1e-13):
//     |x_hat(j) - x_(j)| <= eps |x_(j)|                              for every rank j,
//     |q_hat - q| <= eps ((1 - f) |x_(k)| + f |x_(k+1)|),
// which is eps |q| when x_(k) and x_(k+1) have the same sign (in particular for amounts that are
// all positive) and at most eps max(|x_(k)|, |x_(k+1)|) otherwise. So for positive amounts,
// (1 - eps) q <= q_hat <= (1 + eps) q, and p = 0 and p = 1 give min and max exactly.
//
// Bucket cap. Each store keeps at most maxBuckets consecutive buckets (default 1 << 16,
// 512 KiB). When its highest bucket M would leave more than that, the lowest buckets collapse:
// every value of that sign with index below L = M - maxBuckets + 1 (magnitude at most
// gamma^(L-1)) is counted in bucket L. Only order statistics inside a collapsed range lose the
// guarantee; they are reported with a magnitude between their true magnitude and that of bucket
// L's representative. The collapse depends on the multiset of values alone (L follows from the
// largest magnitude), so merging stays exact and associative. At alpha = 0.001 the default cap
// spans a factor gamma^65536, about 1e57, so money amounts never collapse.
//
// Determinism. The bucket index is ceil(std::log(|x|) * (1 / log gamma)), computed the same way
// by add(x) and the batch add; on one platform and libm it is a pure function of the bits of x.
// Builds must not use -ffast-math. A different libm may round a logarithm differently, so a value
// within about 1e-13 (relative) of a bucket boundary can land in the neighbouring bucket and the
// digits of two machines with different libm versions may differ by one bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace spinval {

class QuantileSketch {
 public:
  static constexpr double kDefaultAlpha = 0.001;
  static constexpr std::size_t kDefaultMaxBuckets = std::size_t{1} << 16;
  static constexpr double kZeroThreshold = std::numeric_limits<double>::min();
  // Accepted ranges; finer than 1e-6 spans less than a factor 1.14 in 1 << 16 buckets.
  static constexpr double kMinAlpha = 1e-6, kMaxAlpha = 0.5;
  static constexpr std::size_t kMaxMaxBuckets = std::size_t{1} << 24;

  // Throws std::invalid_argument unless alpha is in [kMinAlpha, kMaxAlpha] and maxBuckets in
  // [1, kMaxMaxBuckets].
  explicit QuantileSketch(double alpha = kDefaultAlpha,
                          std::size_t maxBuckets = kDefaultMaxBuckets);

  // Throws std::invalid_argument for a non-finite value; the batch form checks every value
  // before adding any. -0 is recorded as +0.
  void add(double x);
  void add(const double* x, std::size_t n);
  // Adds the other sketch's counts. Throws std::invalid_argument unless alpha and maxBuckets
  // are equal.
  void merge(const QuantileSketch& other);

  double alpha() const { return alpha_; }
  std::size_t maxBuckets() const { return maxBuckets_; }
  std::uint64_t count() const { return count_; }
  std::uint64_t zeroCount() const { return zeroCount_; }
  double min() const { return min_; }  // exact; +infinity when empty
  double max() const { return max_; }  // exact; -infinity when empty

  // Type-7 quantile estimate for p in [0, 1], within the bound stated above. Throws
  // std::invalid_argument when empty or p is outside [0, 1].
  double quantile(double p) const;
  // Estimated number of values <= x: for |x| >= kZeroThreshold outside a collapsed range,
  // N(x) <= rank(x) <= N(x + (gamma - 1) |x|), with N the exact count and gamma - 1 about
  // 2 alpha; rank(x) = 0 below min and count() at or above max. Throws for NaN.
  std::uint64_t rank(double x) const;
  // rank(x) / count(), an upper estimate of the empirical CDF; 0 when empty.
  double cdf(double x) const;

  // True when some store collapsed its lowest buckets.
  bool collapsed() const { return positive_.collapsed() || negative_.collapsed(); }
  // Buckets spanned by the two stores, from lowest to highest non-empty bucket.
  std::size_t bucketCount() const { return positive_.span() + negative_.span(); }
  // Heap and object bytes in use.
  std::size_t memoryBytes() const;

  // {"alpha", "max_buckets", "count", "zero_count", "min", "max" (omitted when empty),
  //  "positive"/"negative": {"offset", "counts", "collapsed"}}; counts are exact integers,
  // trimmed to the first and last non-empty bucket, so equal sketches give equal JSON.
  nlohmann::json toJson() const;
  // Inverse of toJson; throws std::invalid_argument for missing, mistyped or inconsistent
  // fields.
  static QuantileSketch fromJson(const nlohmann::json& json);

 private:
  // Counts of consecutive buckets held in a vector that starts at bucket offset_. The non-empty
  // range is [minIndex_, maxIndex_]; maxIndex_ - minIndex_ < maxBuckets_ always.
  class Store {
   public:
    explicit Store(std::size_t maxBuckets) : maxBuckets_(static_cast<std::int64_t>(maxBuckets)) {}

    void add(std::int32_t index) {
      if (total_ != 0 && index >= minIndex_ && index <= maxIndex_) {
        ++counts_[static_cast<std::size_t>(index - offset_)];
        ++total_;
      } else {
        addSlow(index, 1);
      }
    }
    void addSlow(std::int32_t index, std::uint64_t n);
    void merge(const Store& other);

    std::uint64_t total() const { return total_; }
    bool collapsed() const { return collapsed_; }
    std::size_t span() const {
      return total_ == 0 ? 0 : static_cast<std::size_t>(maxIndex_ - minIndex_ + 1);
    }
    std::int32_t minIndex() const { return minIndex_; }
    std::int32_t maxIndex() const { return maxIndex_; }
    // Count of bucket i; 0 outside the non-empty range.
    std::uint64_t at(std::int32_t i) const {
      return total_ == 0 || i < minIndex_ || i > maxIndex_
                 ? 0
                 : counts_[static_cast<std::size_t>(i - offset_)];
    }
    // Lowest bucket that has not collapsed: maxIndex - maxBuckets + 1.
    std::int64_t floorIndex() const { return std::int64_t{maxIndex_} - maxBuckets_ + 1; }
    std::size_t heapBytes() const { return counts_.capacity() * sizeof(std::uint64_t); }

    nlohmann::json toJson() const;
    void fromJson(const nlohmann::json& json, const char* name);

   private:
    // Makes `top` (above maxIndex_) the highest bucket, collapsing what falls below the floor.
    void raiseTop(std::int32_t top);
    // Reallocates so that the vector covers [lo, hi], with room to grow.
    void cover(std::int64_t lo, std::int64_t hi);

    std::int64_t maxBuckets_;
    std::vector<std::uint64_t> counts_;
    std::int32_t offset_ = 0;
    std::int32_t minIndex_ = 0, maxIndex_ = 0;
    std::uint64_t total_ = 0;
    bool collapsed_ = false;
  };

  std::int32_t index(double magnitude) const;  // ceil(log_gamma magnitude)
  double representative(std::int32_t i) const;
  // Estimate of the order statistic of 0-based rank j < count(), clamped to [min, max].
  double orderStatistic(std::uint64_t j) const;

  double alpha_;
  std::size_t maxBuckets_;
  double gamma_, logGamma_, inverseLogGamma_, representativeFactor_;
  std::uint64_t count_ = 0, zeroCount_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  Store positive_, negative_;
};

}  // namespace spinval
