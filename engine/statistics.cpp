#include "spinval/statistics.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <utility>

#include <immintrin.h>
// Key vectors are passed by value only to functions inlined where they are used, so never
// across an ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "spinval/parallel.hpp"
#include "spinval/vector_math.hpp"

namespace spinval {

void Moments::add(double x) {
  ++n_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(n_);
  m2_ += delta * (x - mean_);
  min_ = std::min(min_, x);
  max_ = std::max(max_, x);
}

void Moments::merge(const Moments& other) {
  if (other.n_ == 0) return;
  if (n_ == 0) {
    *this = other;
    return;
  }
  const double na = static_cast<double>(n_), nb = static_cast<double>(other.n_);
  const double n = na + nb;
  const double delta = other.mean_ - mean_;
  mean_ += delta * nb / n;
  m2_ += other.m2_ + delta * delta * na * nb / n;
  n_ += other.n_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

Moments Moments::fromState(std::uint64_t n, double mean, double m2, double min, double max) {
  Moments m;
  m.n_ = n;
  m.mean_ = mean;
  m.m2_ = m2;
  m.min_ = min;
  m.max_ = max;
  return m;
}

namespace {

// Moments of x[0], x[stride], ..., n values in two passes: the mean from the sum, then M2 as
// the sum of squared deviations less (sum of deviations)^2 / n, which cancels the rounding of
// the mean to first order (the corrected two-pass algorithm of Chan, Golub and LeVeque 1983).
// Each sum runs in four fixed lanes added in a fixed order, so the loop vectorises without
// reassociation and the digits do not depend on the compiler's choices.
Moments twoPass(const double* x, std::size_t n, std::size_t stride) {
  if (n == 0) return {};
  constexpr std::size_t L = 4;
  double sum[L] = {}, lo[L], hi[L];
  for (std::size_t j = 0; j < L; ++j) lo[j] = hi[j] = x[0];
  std::size_t i = 0;
  for (; i + L <= n; i += L) {
    for (std::size_t j = 0; j < L; ++j) {
      const double v = x[(i + j) * stride];
      sum[j] += v;
      lo[j] = v < lo[j] ? v : lo[j];
      hi[j] = v > hi[j] ? v : hi[j];
    }
  }
  for (; i < n; ++i) {
    const double v = x[i * stride];
    sum[0] += v;
    lo[0] = v < lo[0] ? v : lo[0];
    hi[0] = v > hi[0] ? v : hi[0];
  }
  const double count = static_cast<double>(n);
  const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / count;
  double squares[L] = {}, deviations[L] = {};
  for (i = 0; i + L <= n; i += L) {
    for (std::size_t j = 0; j < L; ++j) {
      const double d = x[(i + j) * stride] - mean;
      squares[j] += d * d;
      deviations[j] += d;
    }
  }
  for (; i < n; ++i) {
    const double d = x[i * stride] - mean;
    squares[0] += d * d;
    deviations[0] += d;
  }
  const double s2 = (squares[0] + squares[1]) + (squares[2] + squares[3]);
  const double s1 = (deviations[0] + deviations[1]) + (deviations[2] + deviations[3]);
  return Moments::fromState(n, mean, std::max(s2 - s1 * s1 / count, 0.0),
                            std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3])),
                            std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3])));
}

// Four lanes of doubles: lane j takes elements j, j + 4, j + 8, ... Without AVX the compiler
// splits each operation in two SSE2 ones, lane by lane all the same.
using Lanes4 = double __attribute__((vector_size(32)));

Lanes4 load4(const double* p) {
  Lanes4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// twoPass of C contiguous columns of n > 0 values at once, with the same lanes and so the same
// digits: each lane's sum is a chain of dependent additions, and C columns' chains side by side
// keep the adder busy where one column's would wait on it.
template <std::size_t C>
[[gnu::always_inline]] inline void twoPassLanes(const double* const* x, std::size_t n,
                                                Moments* out) {
  Lanes4 sum[C], lo[C], hi[C];
  for (std::size_t c = 0; c < C; ++c) {
    sum[c] = Lanes4{};
    lo[c] = hi[c] = Lanes4{} + x[c][0];
  }
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (std::size_t c = 0; c < C; ++c) {
      const Lanes4 v = load4(x[c] + i);
      sum[c] += v;
      lo[c] = v < lo[c] ? v : lo[c];
      hi[c] = v > hi[c] ? v : hi[c];
    }
  }
  const std::size_t body = i;
  for (std::size_t c = 0; c < C; ++c) {
    double s[4], l[4], u[4];
    std::memcpy(s, &sum[c], sizeof s);
    std::memcpy(l, &lo[c], sizeof l);
    std::memcpy(u, &hi[c], sizeof u);
    for (i = body; i < n; ++i) {
      const double v = x[c][i];
      s[0] += v;
      l[0] = v < l[0] ? v : l[0];
      u[0] = v > u[0] ? v : u[0];
    }
    const double count = static_cast<double>(n);
    const double mean = ((s[0] + s[1]) + (s[2] + s[3])) / count;
    out[c] = Moments::fromState(n, mean, 0.0, std::min(std::min(l[0], l[1]), std::min(l[2], l[3])),
                                std::max(std::max(u[0], u[1]), std::max(u[2], u[3])));
  }
  Lanes4 mean[C], squares[C], deviations[C];
  for (std::size_t c = 0; c < C; ++c) {
    mean[c] = Lanes4{} + out[c].mean();
    squares[c] = deviations[c] = Lanes4{};
  }
  for (i = 0; i < body; i += 4) {
    for (std::size_t c = 0; c < C; ++c) {
      const Lanes4 d = load4(x[c] + i) - mean[c];
      squares[c] += d * d;
      deviations[c] += d;
    }
  }
  for (std::size_t c = 0; c < C; ++c) {
    double q[4], e[4];
    std::memcpy(q, &squares[c], sizeof q);
    std::memcpy(e, &deviations[c], sizeof e);
    const double m = out[c].mean();
    for (i = body; i < n; ++i) {
      const double d = x[c][i] - m;
      q[0] += d * d;
      e[0] += d;
    }
    const double count = static_cast<double>(n);
    const double s2 = (q[0] + q[1]) + (q[2] + q[3]);
    const double s1 = (e[0] + e[1]) + (e[2] + e[3]);
    out[c] =
        Moments::fromState(n, m, std::max(s2 - s1 * s1 / count, 0.0), out[c].min(), out[c].max());
  }
}

template <std::size_t C>
void twoPassBaseline(const double* const* x, std::size_t n, Moments* out) {
  twoPassLanes<C>(x, n, out);
}

template <std::size_t C>
[[gnu::target("avx2")]] void twoPassAvx2(const double* const* x, std::size_t n, Moments* out) {
  twoPassLanes<C>(x, n, out);
}

const bool kAvx2 = __builtin_cpu_supports("avx2");

// twoPass of C contiguous columns, in one AVX2 register where the processor has it.
template <std::size_t C>
void twoPassColumns(const double* const* x, std::size_t n, Moments* out) {
  if (n == 0) {
    for (std::size_t c = 0; c < C; ++c) out[c] = Moments{};
    return;
  }
  if (kAvx2) {
    twoPassAvx2<C>(x, n, out);
  } else {
    twoPassBaseline<C>(x, n, out);
  }
}

// The moments of contiguous columns, two at a time.
void columnMoments(const std::vector<const double*>& columns, std::size_t n,
                   const std::vector<Moments*>& out) {
  std::size_t c = 0;
  for (; c + 2 <= columns.size(); c += 2) {
    Moments pair[2];
    twoPassColumns<2>(columns.data() + c, n, pair);
    *out[c] = pair[0];
    *out[c + 1] = pair[1];
  }
  if (c < columns.size()) twoPassColumns<1>(columns.data() + c, n, out[c]);
}

Moments stridedMoments(const double* x, std::size_t n, std::size_t stride) {
  if (stride != 1) return twoPass(x, n, stride);
  Moments m;
  twoPassColumns<1>(&x, n, &m);
  return m;
}

}  // namespace

Moments Moments::of(std::span<const double> values) {
  return stridedMoments(values.data(), values.size(), 1);
}

double Moments::variance() const {
  return n_ < 2 ? 0.0 : m2_ / static_cast<double>(n_ - 1);
}

double Moments::stddev() const {
  return std::sqrt(variance());
}

double Moments::stderror() const {
  return n_ == 0 ? 0.0 : stddev() / std::sqrt(static_cast<double>(n_));
}

double quantileOfSorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) throw std::invalid_argument("quantile of no values");
  const double h = static_cast<double>(sorted.size() - 1) * p;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

namespace {

// Puts x_(r) at index r for every rank r in [first, last) (increasing, all in [lo, hi)), given
// that values[lo, hi) holds exactly the order statistics lo .. hi - 1 in some order. Selects
// the rank nearest the middle of the range, which splits it into two such ranges, and recurses
// into both with their ranks: the ranges halve at each level, so k ranks of n values cost
// O(n log k) comparisons instead of k selections over what remains. Order statistics are
// unique values, so any order of selection gives the same results.
void selectRanks(std::span<double> values, std::size_t lo, std::size_t hi,
                 const std::uint64_t* first, const std::uint64_t* last) {
  auto at = [&](std::size_t i) { return values.begin() + static_cast<std::ptrdiff_t>(i); };
  while (first != last) {
    if (hi - lo <= 64) {
      std::sort(at(lo), at(hi));
      return;
    }
    const std::uint64_t middle = lo + (hi - lo) / 2;
    const std::uint64_t* pick = std::lower_bound(first, last, middle);
    if (pick == last || (pick != first && middle - *(pick - 1) < *pick - middle)) --pick;
    const auto r = static_cast<std::size_t>(*pick);
    if (r == lo) {
      std::iter_swap(at(lo), std::min_element(at(lo), at(hi)));
    } else if (r + 1 == hi) {
      std::iter_swap(at(r), std::max_element(at(lo), at(hi)));
    } else {
      std::nth_element(at(lo), at(r), at(hi));
    }
    selectRanks(values, lo, r, first, std::lower_bound(first, pick, *pick));
    first = std::upper_bound(pick, last, *pick);
    lo = r + 1;
  }
}

// Partitions a[0, n) in place around the pivot, through scratch[0, n): the values below it (or,
// with OrEqual, not above it) first; returns their number. Each value is written to both ends of
// the scratch and only one end advances, so the loop has no branch on the values to mispredict.
template <bool OrEqual>
std::size_t partition(double* a, double* scratch, std::size_t n, double pivot) {
  std::size_t lo = 0, hi = n;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = a[i];
    const std::size_t left = (OrEqual ? x <= pivot : x < pivot) ? 1 : 0;
    scratch[lo] = x;
    scratch[hi - 1] = x;
    lo += left;
    hi -= 1 - left;
  }
  std::copy_n(scratch, n, a);
  return lo;
}

// A pivot for a[0, n) that splits the ranks [first, last) (relative to a) about their middle
// one: that rank's share of 15 evenly spaced values, sorted.
double pivotFor(const double* a, std::size_t n, const std::uint64_t* first,
                const std::uint64_t* last, std::size_t base) {
  constexpr std::size_t kSpaced = 15;
  std::array<double, kSpaced> spaced;
  for (std::size_t j = 0; j < kSpaced; ++j) spaced[j] = a[(2 * j + 1) * n / (2 * kSpaced)];
  std::sort(spaced.begin(), spaced.end());
  const std::uint64_t target = first[(last - first) / 2] - base;
  return spaced[std::min<std::size_t>(kSpaced - 1, target * kSpaced / n)];
}

// What selectRanks does, several times faster: quickselect towards all the ranks at once with
// the branch-free partition above, pivots aimed at the ranks, and the values equal to a pivot
// that is the least value split off (so ties always make progress). After `depth` levels
// (only for values in an unlucky order) it hands the range to selectRanks. scratch holds at
// least hi - lo values.
void quickSelectRanks(double* values, double* scratch, std::size_t lo, std::size_t hi,
                      const std::uint64_t* first, const std::uint64_t* last, int depth) {
  while (first != last) {
    const std::size_t n = hi - lo;
    if (n <= 32) {
      std::sort(values + lo, values + hi);
      return;
    }
    if (depth-- == 0) {
      selectRanks(std::span(values, hi), lo, hi, first, last);
      return;
    }
    const double pivot = pivotFor(values + lo, n, first, last, lo);
    std::size_t split = lo + partition<false>(values + lo, scratch, n, pivot);
    if (split == lo) {
      // The pivot is the least value: the values equal to it are in place.
      split = lo + partition<true>(values + lo, scratch, n, pivot);
      first = std::lower_bound(first, last, split);
      lo = split;
      continue;
    }
    const std::uint64_t* right = std::lower_bound(first, last, split);
    quickSelectRanks(values, scratch, lo, split, first, right, depth);
    first = right;
    lo = split;
  }
}

// quickSelectRanks over all of `values` for increasing ranks (repeats allowed).
void selectRanksFast(std::span<double> values, const std::uint64_t* first,
                     const std::uint64_t* last) {
  if (first == last) return;
  const auto scratch = std::make_unique_for_overwrite<double[]>(values.size());
  quickSelectRanks(values.data(), scratch.get(), 0, values.size(), first, last,
                   2 * static_cast<int>(std::bit_width(values.size())) + 8);
}

// An order-preserving 32-bit key of a non-NaN double: the high half of its bits, with the lower
// 31 bits flipped for negative values. As 64-bit integers so flipped, doubles order as they
// compare (but for -0 < +0); the high half keeps that order without the ties broken, so the key
// never decreases as x increases. Values within about 2^-20 of each other, relative, may share a
// key. Four keys fit one SSE2 register, where only two doubles would.
std::int32_t keyOf(double x) {
  const auto high = static_cast<std::int32_t>(std::bit_cast<std::uint64_t>(x) >> 32);
  return high ^ static_cast<std::int32_t>(static_cast<std::uint32_t>(high >> 31) >> 1);
}

// The values found inside one window of orderStatisticsOf, in pieces. A pass makes room for a
// chunk of values at the end of the last piece and writes there without checking; a piece
// without that room is left as it is and a new one begun, so that values are never copied to
// grow, and the pieces that several workers filled join by moving them.
struct Inside {
  struct Piece {
    std::unique_ptr<double[]> values;
    std::size_t size = 0, capacity = 0;
  };
  std::vector<Piece> pieces;  // values in any order; the last is being filled

  // A first piece with room for `wanted` values.
  void reserve(std::size_t wanted) {
    if (pieces.empty()) newPiece(wanted);
  }

  // Where `more` values can be written (see filled): the end of the last piece, or a new one
  // at least as large as all before it.
  double* room(std::size_t more) {
    if (pieces.empty() || pieces.back().capacity - pieces.back().size < more) {
      newPiece(std::max(more, size()));
    }
    return pieces.back().values.get() + pieces.back().size;
  }

  // The last piece now ends at `end`.
  void filled(const double* end) {
    pieces.back().size = static_cast<std::size_t>(end - pieces.back().values.get());
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (const Piece& piece : pieces) n += piece.size;
    return n;
  }

  std::vector<std::span<const double>> spans() const {
    std::vector<std::span<const double>> all;
    for (const Piece& piece : pieces) all.emplace_back(piece.values.get(), piece.size);
    return all;
  }

  // All the values in one piece, copied there if they are in several.
  std::span<double> joined() {
    if (pieces.size() != 1) {
      Piece one{std::make_unique_for_overwrite<double[]>(size()), 0, size()};
      for (const Piece& piece : pieces) {
        std::copy_n(piece.values.get(), piece.size, one.values.get() + one.size);
        one.size += piece.size;
      }
      pieces.clear();
      pieces.push_back(std::move(one));
    }
    return {pieces.front().values.get(), pieces.front().size};
  }

  // Takes over the pieces of `other`.
  void append(Inside&& other) {
    for (Piece& piece : other.pieces) {
      if (piece.size != 0) pieces.push_back(std::move(piece));
    }
    other.pieces.clear();
  }

 private:
  void newPiece(std::size_t capacity) {
    pieces.push_back(Piece{std::make_unique_for_overwrite<double[]>(capacity), 0, capacity});
  }
};

constexpr std::size_t kPassChunk = 4096;  // values between growths of Inside (and count flushes)

// kLanes keys of 32 bits in one register (4 to an SSE2 one, 8 to an AVX2 one), the bits of half
// as many doubles as 32-bit words, and the keys as unsigned.
template <int kLanes>
struct KeyLanes;
template <>
struct KeyLanes<4> {
  using Keys = std::int32_t __attribute__((vector_size(16)));
  using Words = std::int32_t __attribute__((vector_size(16)));
  using Unsigned = std::uint32_t __attribute__((vector_size(16)));
};
template <>
struct KeyLanes<8> {
  using Keys = std::int32_t __attribute__((vector_size(32)));
  using Words = std::int32_t __attribute__((vector_size(32)));
  using Unsigned = std::uint32_t __attribute__((vector_size(32)));
};
template <int kLanes>
using Keys = typename KeyLanes<kLanes>::Keys;

// keyOf(v[0]) .. keyOf(v[kLanes - 1]): the high halves of the doubles' bits, picked from their
// 32-bit words.
template <int kLanes>
[[gnu::always_inline]] inline Keys<kLanes> keysOf(const double* v) {
  using Lanes = KeyLanes<kLanes>;
  typename Lanes::Words low, high;  // the words of v[0 .. kLanes / 2) and of the rest
  std::memcpy(&low, v, sizeof low);
  std::memcpy(&high, v + kLanes / 2, sizeof high);
  Keys<kLanes> top;
  if constexpr (kLanes == 4) {
    top = __builtin_shufflevector(low, high, 1, 3, 5, 7);
  } else {
    top = __builtin_shufflevector(low, high, 1, 3, 5, 7, 9, 11, 13, 15);
  }
  using Unsigned = typename Lanes::Unsigned;
  return top ^ reinterpret_cast<Keys<kLanes>>(reinterpret_cast<Unsigned>(top >> 31) >> 1);
}

// One bit per lane, set where the lane's lowest bit is.
[[gnu::always_inline]] inline unsigned oddLanes(Keys<4> c) {
  return static_cast<unsigned>(_mm_movemask_ps(reinterpret_cast<__m128>(c << 31)));
}
[[gnu::always_inline]] inline unsigned oddLanes(Keys<8> c) {
  return oddLanes(Keys<4>(__builtin_shufflevector(c, c, 0, 1, 2, 3))) |
         oddLanes(Keys<4>(__builtin_shufflevector(c, c, 4, 5, 6, 7))) << 4;
}

// One pass over the values for windows 0 .. W - 1: adds to atOrAbove[w] the number of values
// whose key is above lowAbove[w] (at or above the window) and appends those whose key is also not
// above highAbove[w] (inside it) to inside[w]. The bounds increase, lowAbove[0] < highAbove[0] <=
// lowAbove[1] < ..., so a key is above an odd number of them exactly when it is inside a window,
// the ((that number) - 1) / 2-th. kLanes keys at a time. When few values are inside, the groups
// with one inside take a branch; when many are (Branchless), each value is written to the window
// the key is in or below and only those inside advance it, which costs less than the
// mispredicted branches. The values inside a window are selected from, so their order there
// does not matter.
template <std::size_t W, bool Branchless, int kLanes>
[[gnu::always_inline]] inline void classifyLanes(std::span<const double> values,
                                                 const std::int32_t* lowAbove,
                                                 const std::int32_t* highAbove,
                                                 std::uint64_t* atOrAbove, Inside* inside) {
  using K = Keys<kLanes>;
  const double* v = values.data();
  const std::size_t n = values.size();
  K low[W], high[W];
  for (std::size_t w = 0; w < W; ++w) {
    low[w] = K{} + lowAbove[w];
    high[w] = K{} + highAbove[w];
  }
  for (std::size_t start = 0; start < n; start += kPassChunk) {
    const std::size_t end = std::min(n, start + kPassChunk);
    double sink;  // for the values above every window, in the branchless writes
    double* out[W + 1];
    out[W] = &sink;
    for (std::size_t w = 0; w < W; ++w) out[w] = inside[w].room(end - start);
    // Per lane and window, the keys above lowAbove[w] (a comparison is -1 where true, so
    // subtracting counts); a chunk leaves at most kPassChunk / kLanes in a lane.
    K count[W];
    for (K& lanes : count) lanes = K{};
    std::size_t i = start;
    for (; i + kLanes <= end; i += kLanes) {
      // Small pages end the hardware's streams: ask for the values 2 KiB ahead (an address
      // only, which may lie past the end).
      __builtin_prefetch(
          reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(v + i) + 2048));
      const K key = keysOf<kLanes>(v + i);
      K c = K{};  // the number of bounds below each key
      for (std::size_t w = 0; w < W; ++w) {
        const K above = key > low[w];
        count[w] -= above;
        c -= above + (key > high[w]);
      }
      if constexpr (Branchless) {
        for (int j = 0; j < kLanes; ++j) {
          const auto bounds = static_cast<std::uint32_t>(c[j]);
          double*& to = out[bounds >> 1];
          *to = v[i + static_cast<std::size_t>(j)];
          to += bounds & 1;
        }
        continue;
      }
      const unsigned odd = oddLanes(c);
      if (odd != 0) {
        for (unsigned lanes = odd; lanes != 0; lanes &= lanes - 1) {
          const int j = std::countr_zero(lanes);
          *out[static_cast<std::uint32_t>(c[j]) >> 1]++ = v[i + static_cast<std::size_t>(j)];
        }
      }
    }
    for (std::size_t w = 0; w < W; ++w) {
      for (int j = 0; j < kLanes; ++j) atOrAbove[w] += static_cast<std::uint32_t>(count[w][j]);
    }
    for (; i < end; ++i) {
      const std::int32_t key = keyOf(v[i]);
      std::uint32_t b = 0;
      for (std::size_t w = 0; w < W; ++w) {
        const std::uint32_t above = key > lowAbove[w] ? 1 : 0;
        atOrAbove[w] += above;
        b += above + (key > highAbove[w] ? 1 : 0);
      }
      if (b & 1) *out[b >> 1]++ = v[i];
    }
    for (std::size_t w = 0; w < W; ++w) inside[w].filled(out[w]);
  }
}

template <std::size_t W, bool Branchless>
void classifySse2(std::span<const double> values, const std::int32_t* lowAbove,
                  const std::int32_t* highAbove, std::uint64_t* atOrAbove, Inside* inside) {
  classifyLanes<W, Branchless, 4>(values, lowAbove, highAbove, atOrAbove, inside);
}

template <std::size_t W, bool Branchless>
[[gnu::target("avx2")]] void classifyAvx2(std::span<const double> values,
                                          const std::int32_t* lowAbove,
                                          const std::int32_t* highAbove, std::uint64_t* atOrAbove,
                                          Inside* inside) {
  classifyLanes<W, Branchless, 8>(values, lowAbove, highAbove, atOrAbove, inside);
}

constexpr std::size_t kMaxPassWindows = 10;  // windows per pass; more take more passes

template <bool Branchless, std::size_t... W>
constexpr auto classifiers(std::index_sequence<W...>) {
  return std::array{&classifySse2<W + 1, Branchless>...};
}
template <bool Branchless, std::size_t... W>
constexpr auto classifiersAvx2(std::index_sequence<W...>) {
  return std::array{&classifyAvx2<W + 1, Branchless>...};
}

}  // namespace

std::vector<double> orderStatistics(std::span<double> values,
                                    std::span<const std::uint64_t> ranks) {
  for (std::uint64_t rank : ranks) {
    if (rank >= values.size()) throw std::out_of_range("order statistic beyond the values");
  }
  std::vector<std::uint64_t> sorted(ranks.begin(), ranks.end());
  std::sort(sorted.begin(), sorted.end());
  selectRanksFast(values, sorted.data(), sorted.data() + sorted.size());
  std::vector<double> result;
  result.reserve(ranks.size());
  for (std::uint64_t rank : ranks) result.push_back(values[rank]);
  return result;
}

namespace {

constexpr std::size_t kSampledFrom = std::size_t{1} << 14;  // fewer values: selected on a copy

using Pieces = std::span<const std::span<const double>>;

void selectOf(Pieces values, std::span<const std::uint64_t> ranks, double* out);

void selectOf(std::span<const double> values, std::span<const std::uint64_t> ranks, double* out) {
  selectOf(Pieces(&values, 1), ranks, out);
}

// Windows of keys, each holding one or more of `ranks` (increasing, distinct) of n values,
// placed from `sample`, m values drawn like them: the number of sample values below x_(r) is
// about Binomial(m, p), p = (r + 1/2) / n, so x_(r) lies between the sample's order statistics
// `sigmas` standard deviations (and 2 ranks) either side of m p - 1/2 unless the values are in a
// very unlikely order. Window w holds the values whose key is above lowAbove[w] and not above
// highAbove[w]: at least those from its low to its high sample value, since the key never
// decreases. Windows whose ranks or keys meet are joined, so the bounds increase. A window whose
// sample values are all one value (a value many paths share, as an indicator's 0 and 1) is likely
// to hold only that value.
struct KeyWindows {
  std::vector<std::int32_t> lowAbove, highAbove;
  std::vector<double> lowValue, highValue;       // the sample values at the bounds
  std::vector<std::size_t> firstRank, lastRank;  // the ranks it holds, [first, last) in `ranks`
  std::vector<std::int64_t> sampledInside;       // its sample ranks, for the expected size

  std::size_t size() const { return lowAbove.size(); }
};

KeyWindows keyWindows(std::span<const double> sample, std::uint64_t n,
                      std::span<const std::uint64_t> ranks, double sigmas) {
  const std::size_t m = sample.size();
  struct Window {
    std::int64_t lo, hi;              // sample ranks; below 0 or at m and above: unbounded
    std::size_t firstRank, lastRank;  // [first, last) in `ranks`
  };
  std::vector<Window> windows;
  const auto sampleSize = static_cast<double>(m);
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const double p = (static_cast<double>(ranks[i]) + 0.5) / static_cast<double>(n);
    const double centre = p * sampleSize - 0.5;
    const double spread = sigmas * std::sqrt(sampleSize * p * (1.0 - p)) + 2.0;
    const auto lo = static_cast<std::int64_t>(std::floor(centre - spread));
    const auto hi = static_cast<std::int64_t>(std::ceil(centre + spread));
    if (!windows.empty() && lo <= windows.back().hi + 1) {
      windows.back().hi = std::max(windows.back().hi, hi);
      windows.back().lastRank = i + 1;
    } else {
      windows.push_back({lo, hi, i, i + 1});
    }
  }
  const auto last = static_cast<std::int64_t>(m) - 1;
  std::vector<std::uint64_t> sampleRanks;
  for (const Window& w : windows) {
    if (w.lo > 0) sampleRanks.push_back(static_cast<std::uint64_t>(w.lo));
    if (w.hi < last) sampleRanks.push_back(static_cast<std::uint64_t>(w.hi));
  }
  std::vector<double> sampled(sampleRanks.size());
  selectOf(sample, sampleRanks, sampled.data());

  KeyWindows joined;
  auto& [lowAbove, highAbove, lowValue, highValue, firstRank, lastRank, sampledInside] = joined;
  const double* bound = sampled.data();
  for (const Window& w : windows) {
    const double lowest = w.lo > 0 ? *bound++ : -kInfinity;
    const double highest = w.hi < last ? *bound++ : kInfinity;
    const std::int32_t low =
        w.lo > 0 ? static_cast<std::int32_t>(std::max<std::int64_t>(
                       std::int64_t{keyOf(lowest)} - 1, std::numeric_limits<std::int32_t>::min()))
                 : std::numeric_limits<std::int32_t>::min();
    const std::int32_t high =
        w.hi < last ? keyOf(highest) : std::numeric_limits<std::int32_t>::max();
    const std::int64_t sampledRanks = std::min(w.hi, last) - std::max<std::int64_t>(w.lo, 0) + 1;
    if (!lowAbove.empty() && low < highAbove.back()) {
      highAbove.back() = std::max(highAbove.back(), high);
      highValue.back() = std::max(highValue.back(), highest);
      lastRank.back() = w.lastRank;
      sampledInside.back() += sampledRanks;
    } else {
      lowAbove.push_back(low);
      highAbove.push_back(high);
      lowValue.push_back(lowest);
      highValue.push_back(highest);
      firstRank.push_back(w.firstRank);
      lastRank.push_back(w.lastRank);
      sampledInside.push_back(sampledRanks);
    }
  }
  return joined;
}

// How many of n values drawn like `sample` each window can expect to hold: as many in
// proportion as the sample has inside it (for a window of one shared value, as many as share it
// there).
std::vector<std::size_t> expectedInside(const KeyWindows& windows, std::span<const double> sample,
                                        std::uint64_t n) {
  std::vector<std::size_t> expected;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    const auto inSample = windows.lowValue[w] == windows.highValue[w]
                              ? static_cast<std::int64_t>(
                                    std::count(sample.begin(), sample.end(), windows.lowValue[w]))
                              : windows.sampledInside[w];
    expected.push_back(static_cast<std::size_t>(
        std::min(static_cast<double>(n), static_cast<double>(inSample) * static_cast<double>(n) /
                                             static_cast<double>(sample.size()))));
  }
  return expected;
}

// What passes over values find in each window: how many are at or above it, and those inside,
// with room from the start for one of `shares` equal shares of the `expected` values, a
// sixteenth more (the expectation's own error is a few percent) and the `chunk` of values a
// pass makes room for, so that a window seldom takes a second piece and little memory is
// reserved that is never written.
struct WindowContents {
  std::vector<std::uint64_t> atOrAbove;
  std::vector<Inside> inside;

  WindowContents() = default;
  WindowContents(const KeyWindows& windows, std::span<const std::size_t> expected,
                 std::size_t shares, std::size_t chunk)
      : atOrAbove(windows.size(), 0), inside(windows.size()) {
    for (std::size_t w = 0; w < windows.size(); ++w) {
      const std::size_t share = expected[w] / shares;
      inside[w].reserve(share + share / 16 + chunk);
    }
  }
};

// One pass over `values` per kMaxPassWindows windows, adding to `contents`; `branchless` as in
// classify.
void classifyInto(std::span<const double> values, const KeyWindows& windows,
                  WindowContents& contents, bool branchless) {
  static constexpr auto kBranching =
      classifiers<false>(std::make_index_sequence<kMaxPassWindows>{});
  static constexpr auto kBranchless =
      classifiers<true>(std::make_index_sequence<kMaxPassWindows>{});
  static constexpr auto kBranchingAvx2 =
      classifiersAvx2<false>(std::make_index_sequence<kMaxPassWindows>{});
  static constexpr auto kBranchlessAvx2 =
      classifiersAvx2<true>(std::make_index_sequence<kMaxPassWindows>{});
  static const bool avx2 = vectorLanes() == 4;
  const auto& classify = avx2 ? (branchless ? kBranchlessAvx2 : kBranchingAvx2)
                              : (branchless ? kBranchless : kBranching);
  for (std::size_t first = 0; first < windows.size(); first += kMaxPassWindows) {
    const std::size_t size = std::min(kMaxPassWindows, windows.size() - first);
    classify[size - 1](values, windows.lowAbove.data() + first, windows.highAbove.data() + first,
                       contents.atOrAbove.data() + first, contents.inside.data() + first);
  }
}

// x_(r) for `ranks` of n values into out: the (r - below)-th of the values inside r's window. False
// when a rank lies outside its window. Reorders the windows' values.
bool selectInWindows(std::uint64_t n, std::span<const std::uint64_t> ranks,
                     const KeyWindows& windows, WindowContents& contents, double* out) {
  std::vector<std::uint64_t> local;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    const std::uint64_t below = n - contents.atOrAbove[w];
    Inside& inside = contents.inside[w];
    const std::size_t size = inside.size();
    local.clear();
    for (std::size_t i = windows.firstRank[w]; i < windows.lastRank[w]; ++i) {
      if (ranks[i] < below || ranks[i] - below >= size) return false;
      local.push_back(ranks[i] - below);
    }
    // A window of one shared value needs no selection; one of more than half the values (their
    // keys being few) is selected in place.
    const std::vector<std::span<const double>> pieces = inside.spans();
    double* to = out + windows.firstRank[w];
    const double shared = windows.lowValue[w];
    if (shared == windows.highValue[w] &&
        std::all_of(pieces.begin(), pieces.end(), [&](std::span<const double> piece) {
          return std::all_of(piece.begin(), piece.end(), [&](double x) { return x == shared; });
        })) {
      std::fill_n(to, local.size(), shared);
    } else if (2 * size <= n) {
      selectOf(pieces, local, to);
    } else {
      const std::span<double> window = inside.joined();
      selectRanksFast(window, local.data(), local.data() + local.size());
      for (std::size_t i = 0; i < local.size(); ++i) to[i] = window[local[i]];
    }
  }
  return true;
}

// x_(r) for the increasing distinct `ranks` of the values in `pieces` (taken together), none of
// them NaN, into out[0, ranks.size()), without reordering or copying the values (see
// orderStatisticsOf). The sample's order statistics and each large window's are selected the
// same way in turn.
void selectOf(Pieces pieces, std::span<const std::uint64_t> ranks, double* out) {
  std::size_t n = 0;
  for (std::span<const double> piece : pieces) n += piece.size();
  auto selectCopy = [&] {
    std::vector<double> copy;
    copy.reserve(n);
    for (std::span<const double> piece : pieces) {
      copy.insert(copy.end(), piece.begin(), piece.end());
    }
    selectRanksFast(copy, ranks.data(), ranks.data() + ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) out[i] = copy[ranks[i]];
  };
  if (n < kSampledFrom || ranks.empty()) return selectCopy();

  // A sample of m = 4 n^(2/3) values (at most n / 8): m / 8 runs of 8 consecutive values (a cache
  // line, where single values would each cost one), run j from index floor(j n / (m / 8)) rounded
  // down to a multiple of 8 of the pieces taken in turn; windows 4 standard deviations either
  // side (see keyWindows).
  constexpr std::size_t kRun = 8;
  const auto m =
      std::min(n / 8, static_cast<std::size_t>(
                          4.0 * std::cbrt(static_cast<double>(n) * static_cast<double>(n)))) /
      kRun * kRun;
  const std::size_t runs = m / kRun;
  std::vector<double> sample(m);
  std::size_t piece = 0, pieceStart = 0;  // the piece holding index i, and its first index
  for (std::size_t j = 0; j < runs; ++j) {
    for (std::size_t k = 0, i = j * n / runs / kRun * kRun; k < kRun;) {
      while (i >= pieceStart + pieces[piece].size()) pieceStart += pieces[piece++].size();
      const std::size_t count = std::min(kRun - k, pieceStart + pieces[piece].size() - i);
      std::copy_n(pieces[piece].begin() + static_cast<std::ptrdiff_t>(i - pieceStart), count,
                  sample.begin() + static_cast<std::ptrdiff_t>(j * kRun + k));
      k += count;
      i += count;
    }
  }
  const KeyWindows windows = keyWindows(sample, n, ranks, 4.0);

  // One pass per kMaxPassWindows windows and piece.
  const std::vector<std::size_t> expected = expectedInside(windows, sample, n);
  WindowContents contents(windows, expected, 1, kPassChunk);
  const std::size_t expectedInside =
      std::accumulate(expected.begin(), expected.end(), std::size_t{0});
  // Branches on the values inside cost less than writing every value while fewer than about a
  // fifth of the quadruples hold one.
  for (std::span<const double> values : pieces) {
    classifyInto(values, windows, contents, 20 * expectedInside > n);
  }
  // Where the sample misled, the values are selected in full.
  if (!selectInWindows(n, ranks, windows, contents, out)) selectCopy();
}

}  // namespace

std::vector<double> orderStatisticsOf(std::span<const double> values,
                                      std::span<const std::uint64_t> ranks) {
  for (std::uint64_t rank : ranks) {
    if (rank >= values.size()) throw std::out_of_range("order statistic beyond the values");
  }
  std::vector<std::uint64_t> sorted(ranks.begin(), ranks.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<double> selected(sorted.size());
  selectOf(values, sorted, selected.data());
  std::vector<double> result;
  result.reserve(ranks.size());
  for (std::uint64_t rank : ranks) {
    result.push_back(selected[static_cast<std::size_t>(
        std::lower_bound(sorted.begin(), sorted.end(), rank) - sorted.begin())]);
  }
  return result;
}

std::vector<double> quantilesOf(std::span<double> values, std::span<const double> probabilities) {
  if (values.empty()) throw std::invalid_argument("quantile of no values");
  const std::uint64_t n = values.size();
  std::vector<std::uint64_t> ranks;
  std::vector<double> fractions;
  for (double p : probabilities) {
    const double h = static_cast<double>(n - 1) * p;
    const auto lo = static_cast<std::uint64_t>(std::floor(h));
    ranks.push_back(lo);
    ranks.push_back(std::min(lo + 1, n - 1));
    fractions.push_back(h - static_cast<double>(lo));
  }
  const auto x = orderStatistics(values, ranks);
  std::vector<double> result;
  for (std::size_t i = 0; i < fractions.size(); ++i) {
    result.push_back(x[2 * i] + fractions[i] * (x[2 * i + 1] - x[2 * i]));
  }
  return result;
}

std::pair<std::uint64_t, std::uint64_t> quantileIntervalRanks(std::uint64_t n, double p) {
  if (n == 0) throw std::invalid_argument("interval of no values");
  const double np = static_cast<double>(n) * p;
  const double half = 1.959963984540054 * std::sqrt(np * (1 - p));
  const double last = static_cast<double>(n - 1);
  const double lo = std::clamp(std::floor(np - half), 0.0, last);
  const double hi = std::clamp(std::ceil(np + half), 0.0, last);
  return {static_cast<std::uint64_t>(lo), static_cast<std::uint64_t>(hi)};
}

ErrorModel errorModelOf(SamplerKind sampler) {
  switch (sampler) {
    case SamplerKind::antithetic:
      return ErrorModel::pairs;
    case SamplerKind::sobol:
      return ErrorModel::replicates;
    case SamplerKind::mc:
    case SamplerKind::lhs:
      break;
  }
  return ErrorModel::iid;
}

std::string errorModelName(ErrorModel model) {
  switch (model) {
    case ErrorModel::pairs:
      return "antithetic-pairs";
    case ErrorModel::replicates:
      return "sobol-replicates";
    case ErrorModel::iid:
      break;
  }
  return "iid";
}

bool Threshold::holds(double x) const {
  switch (op) {
    case Op::greater:
      return x > value;
    case Op::greaterEqual:
      return x >= value;
    case Op::less:
      return x < value;
    case Op::lessEqual:
      return x <= value;
  }
  return false;
}

Threshold parseThreshold(const std::string& expression, const Layout& layout) {
  Threshold t;
  t.expression = expression;
  const auto at = expression.find_first_of("<>");
  if (at == std::string::npos || at == 0) {
    throw std::invalid_argument(
        "'" + expression + "' is not OUTPUT>VALUE, OUTPUT>=VALUE, OUTPUT<VALUE or OUTPUT<=VALUE");
  }
  const bool orEqual = at + 1 < expression.size() && expression[at + 1] == '=';
  t.op = expression[at] == '>' ? (orEqual ? Threshold::Op::greaterEqual : Threshold::Op::greater)
                               : (orEqual ? Threshold::Op::lessEqual : Threshold::Op::less);
  std::string name = expression.substr(0, at);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  const auto index = layout.outputIndex(name);
  if (!index) {
    std::string known;
    for (const auto& output : layout.outputs) known += (known.empty() ? "" : ", ") + output;
    throw std::invalid_argument("'" + expression + "': unknown output '" + name +
                                "' (expected one of " + known + ")");
  }
  t.output = *index;
  const std::string number = expression.substr(at + (orEqual ? 2 : 1));
  std::size_t used = 0;
  try {
    t.value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  while (used < number.size() && number[used] == ' ') ++used;
  if (number.empty() || used != number.size() || !std::isfinite(t.value)) {
    throw std::invalid_argument("'" + expression + "': '" + number + "' is not a number");
  }
  return t;
}

void MeanAccumulator::merge(const MeanAccumulator& other) {
  all.merge(other.all);
  if (units.empty()) units.resize(other.units.size());
  for (std::size_t u = 0; u < units.size(); ++u) units[u].merge(other.units[u]);
}

void BlockStatistics::merge(const BlockStatistics& other) {
  if (outputs.empty() && yearly.empty() && categoryCounts.empty()) {
    *this = other;
    return;
  }
  for (std::size_t k = 0; k < outputs.size(); ++k) outputs[k].merge(other.outputs[k]);
  for (std::size_t k = 0; k < yearly.size(); ++k) yearly[k].merge(other.yearly[k]);
  for (std::size_t k = 0; k < categoryCounts.size(); ++k) {
    categoryCounts[k] += other.categoryCounts[k];
  }
  for (std::size_t k = 0; k < outputUnits.size(); ++k) {
    for (std::size_t u = 0; u < outputUnits[k].size(); ++u) {
      outputUnits[k][u].merge(other.outputUnits[k][u]);
    }
  }
  for (std::size_t k = 0; k < thresholds.size(); ++k) thresholds[k].merge(other.thresholds[k]);
}

namespace {

// Offset of (categorical output m, year y) in BlockStatistics::categoryCounts.
std::vector<std::size_t> categoryOffsets(const Layout& layout) {
  std::vector<std::size_t> offsets(layout.yearlyOutputs.size(), 0);
  std::size_t next = 0;
  for (std::size_t m = 0; m < layout.yearlyOutputs.size(); ++m) {
    offsets[m] = next;
    next += layout.yearlyOutputs[m].categories.size() * static_cast<std::size_t>(layout.years);
  }
  offsets.push_back(next);
  return offsets;
}

std::size_t unitCount(ErrorModel model) {
  switch (model) {
    case ErrorModel::pairs:
      return 1;
    case ErrorModel::replicates:
      return kSobolReplicates;
    case ErrorModel::iid:
      break;
  }
  return 0;
}

// The error units of a column of a block: the moments of its pair means (rows 2k, 2k + 1;
// blocks start at even paths) or of replicate p mod R for each replicate. `scratch` holds rows
// values.
void unitMoments(ErrorModel model, std::uint64_t firstPath, const double* column, std::size_t rows,
                 std::vector<double>& scratch, std::vector<Moments>& units) {
  if (model == ErrorModel::pairs) {
    const std::size_t pairs = rows / 2;
    for (std::size_t i = 0; i < pairs; ++i) {
      scratch[i] = 0.5 * (column[2 * i] + column[2 * i + 1]);
    }
    units[0] = stridedMoments(scratch.data(), pairs, 1);
  } else if (model == ErrorModel::replicates) {
    const std::uint64_t shift = firstPath % kSobolReplicates;
    for (std::uint64_t r = 0; r < kSobolReplicates; ++r) {
      // Row i is in replicate (firstPath + i) mod R.
      const auto start =
          static_cast<std::size_t>((r + kSobolReplicates - shift) % kSobolReplicates);
      const std::size_t count =
          start < rows ? (rows - start + kSobolReplicates - 1) / kSobolReplicates : 0;
      units[r] = count == 0 ? Moments{} : stridedMoments(column + start, count, kSobolReplicates);
    }
  }
}

}  // namespace

namespace {

constexpr std::array<double, 3> kYearlyProbabilities = {0.05, 0.50, 0.95};

std::vector<std::uint64_t> distinctIncreasing(std::vector<std::uint64_t> ranks) {
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

// The order statistics of n values that a yearly column's summary interpolates between, distinct
// and increasing: floor(h) and floor(h) + 1 for h = (n - 1) p.
std::vector<std::uint64_t> yearlyRanks(std::uint64_t n) {
  std::array<std::uint64_t, 2 * kYearlyProbabilities.size()> all{};
  for (std::size_t i = 0; i < kYearlyProbabilities.size(); ++i) {
    all[2 * i] = static_cast<std::uint64_t>(
        std::floor(static_cast<double>(n - 1) * kYearlyProbabilities[i]));
    all[2 * i + 1] = std::min(all[2 * i] + 1, n - 1);
  }
  return distinctIncreasing({all.begin(), all.end()});
}

// The order statistics of n values that an output's summary reads, in the summary's order: for
// each reported probability p, floor(h) and floor(h) + 1 for h = (n - 1) p, and the two ranks of
// its 95% interval.
std::vector<std::uint64_t> outputRanks(std::uint64_t n) {
  std::vector<std::uint64_t> ranks;
  for (double p : kReportedProbabilities) {
    const auto lo = static_cast<std::uint64_t>(std::floor(static_cast<double>(n - 1) * p));
    const auto [a, b] = quantileIntervalRanks(n, p);
    ranks.insert(ranks.end(), {lo, std::min(lo + 1, n - 1), a, b});
  }
  return ranks;
}

}  // namespace

// The windows of each windowed column (none for the others) around the distinct ranks its
// summary reads, and whether its classification should write without branches (many values
// inside).
struct RunStatistics::WindowPlan {
  std::vector<std::uint64_t> outputRanks, yearlyRanks;  // distinct, increasing
  std::vector<KeyWindows> windows;                      // per column
  std::vector<std::vector<std::size_t>> expected;       // values inside each, over all paths
  std::vector<char> branchless;  // not vector<bool>: the columns are planned on several threads
};

// What a worker's blocks, or the whole run, put in each column's windows.
struct RunStatistics::Windows {
  std::vector<WindowContents> columns;
};

RunStatistics::Column& RunStatistics::column(std::size_t c) {
  return c < outputValues_.size() ? outputValues_[c] : yearlyValues_[c - outputValues_.size()];
}

const RunStatistics::Column& RunStatistics::column(std::size_t c) const {
  return c < outputValues_.size() ? outputValues_[c] : yearlyValues_[c - outputValues_.size()];
}

const double* RunStatistics::blockColumn(const BlockOutput& block, std::size_t c) const {
  const std::size_t outputs = outputValues_.size();
  return c < outputs ? block.outputs.col(static_cast<Eigen::Index>(c)).data()
                     : block.yearly.col(static_cast<Eigen::Index>(c - outputs)).data();
}

std::uint64_t exactBytesPerPath(const Layout& layout) {
  std::uint64_t columns = layout.outputs.size();
  for (const auto& output : layout.yearlyOutputs) {
    if (!output.categorical()) columns += static_cast<std::uint64_t>(layout.years);
  }
  return 8 * (columns + 1);
}

RunStatistics::RunStatistics(const Layout& layout, std::uint64_t paths, StatisticsOptions options,
                             std::uint64_t firstStored)
    : layout_(&layout), paths_(0), firstStored_(firstStored), options_(std::move(options)) {
  if (firstStored > paths) throw std::invalid_argument("stored range beyond the run's paths");
  outputValues_.resize(layout.outputs.size());
  yearlyValues_.resize(layout.yearlyOutputs.size() * static_cast<std::size_t>(layout.years));
  windowedColumns_.assign(columnCount(), 0);
  if (options_.sketch) sketches_ = makeSketches();
  extend(paths);
}

void RunStatistics::extend(std::uint64_t paths) {
  if (paths <= paths_) return;
  if (pilot_ != 0) throw std::logic_error("extend on a run with windows");
  paths_ = paths;
  if (options_.sketch) return;
  const std::uint64_t stored = paths - firstStored_;
  for (auto& values : outputValues_) values.resize(stored);
  for (std::size_t m = 0; m < layout_->yearlyOutputs.size(); ++m) {
    if (layout_->yearlyOutputs[m].categorical()) continue;
    for (int y = 0; y < layout_->years; ++y) {
      yearlyValues_[m * static_cast<std::size_t>(layout_->years) + static_cast<std::size_t>(y)]
          .resize(stored);
    }
  }
}

void populatePages(std::span<double> pages) {
#ifdef MADV_POPULATE_WRITE
  if (!pages.empty()) {
    static_cast<void>(madvise(pages.data(), pages.size_bytes(), MADV_POPULATE_WRITE));
  }
#else
  static_cast<void>(pages);
#endif
}

std::vector<std::span<double>> RunStatistics::pagesToStore(std::uint64_t first, std::uint64_t end) {
  std::vector<std::span<double>> pages;
#ifdef MADV_POPULATE_WRITE
  if (options_.sketch) return pages;
  // Indices into the stored columns, which hold paths [firstStored_, paths_).
  first = std::clamp(first, firstStored_, paths_) - firstStored_;
  end = std::clamp(end, firstStored_, paths_) - firstStored_;
  if (first >= end) return pages;
  // Whole pages inside [first, end) only: a page shared with other paths may be written by
  // another worker already, and populating it is harmless but pointless.
  constexpr std::uintptr_t kPage = 4096;
  for (auto* group : {&outputValues_, &yearlyValues_}) {
    for (Column& column : *group) {
      const std::size_t size = column.size();  // the yearly ones may hold a pilot only
      const auto start =
          reinterpret_cast<std::uintptr_t>(column.data() + std::min<std::size_t>(first, size));
      const auto stop =
          reinterpret_cast<std::uintptr_t>(column.data() + std::min<std::size_t>(end, size));
      const std::uintptr_t low = (start + kPage - 1) & ~(kPage - 1), high = stop & ~(kPage - 1);
      if (high > low) {
        pages.emplace_back(reinterpret_cast<double*>(low), (high - low) / sizeof(double));
      }
    }
  }
#else
  static_cast<void>(first);
  static_cast<void>(end);
#endif
  return pages;
}

void RunStatistics::switchToSketch() {
  if (options_.sketch) return;
  if (firstStored_ != 0) throw std::logic_error("switchToSketch on a piece of a run");
  if (pilot_ != 0) throw std::logic_error("switchToSketch on a run with windows");
  Sketches sketches = makeSketches();
  const std::uint64_t n = merged();
  for (std::size_t k = 0; k < outputValues_.size(); ++k) {
    sketches.outputs[k].add(outputValues_[k].data(), n);
    Column().swap(outputValues_[k]);
  }
  for (std::size_t k = 0; k < yearlyValues_.size(); ++k) {
    if (!yearlyValues_[k].empty()) sketches.yearly[k].add(yearlyValues_[k].data(), n);
    Column().swap(yearlyValues_[k]);
  }
  sketches_ = std::move(sketches);
  options_.sketch = true;
}

BlockStatistics RunStatistics::blockStatistics(std::uint64_t firstPath,
                                               const BlockOutput& block) const {
  const Layout& layout = *layout_;
  const auto rows = static_cast<std::size_t>(block.outputs.rows());
  const ErrorModel model = options_.errorModel;
  std::vector<double> scratch(rows), indicator(rows);
  BlockStatistics stats;
  stats.outputs.resize(layout.outputs.size());
  stats.outputUnits.assign(layout.outputs.size(), std::vector<Moments>(unitCount(model)));
  // The moments of every output and yearly column, taken together (see columnMoments).
  std::vector<const double*> columns;
  std::vector<Moments*> moments;
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const double* column = block.outputs.col(static_cast<Eigen::Index>(k)).data();
    columns.push_back(column);
    moments.push_back(&stats.outputs[k]);
    unitMoments(model, firstPath, column, rows, scratch, stats.outputUnits[k]);
  }
  for (const Threshold& t : options_.thresholds) {
    MeanAccumulator mean;
    mean.units.resize(unitCount(model));
    const double* column = block.outputs.col(static_cast<Eigen::Index>(t.output)).data();
    for (std::size_t i = 0; i < rows; ++i) indicator[i] = t.holds(column[i]) ? 1.0 : 0.0;
    mean.all = stridedMoments(indicator.data(), rows, 1);
    unitMoments(model, firstPath, indicator.data(), rows, scratch, mean.units);
    stats.thresholds.push_back(std::move(mean));
  }
  const auto offsets = categoryOffsets(layout);
  std::vector<std::uint64_t> tally;
  stats.yearly.resize(layout.yearlyOutputs.size() * static_cast<std::size_t>(layout.years));
  stats.categoryCounts.assign(offsets.back(), 0);
  for (std::size_t m = 0; m < layout.yearlyOutputs.size(); ++m) {
    const auto& output = layout.yearlyOutputs[m];
    for (int y = 1; y <= layout.years; ++y) {
      const std::size_t slot = m * static_cast<std::size_t>(layout.years) + (y - 1);
      const double* column = block.yearly.col(static_cast<Eigen::Index>(slot)).data();
      if (output.categorical()) {
        // Counted in four interleaved tallies, so that increments of one category need not
        // wait on each other, with a last slot for values that are no category index: NaN or
        // infinite, left to the caller, who finds them in the column's moments, or an error.
        const std::size_t categories = output.categories.size();
        const std::size_t base = offsets[m] + (y - 1) * categories;
        auto isIndex = [&](double c) { return c >= 0.0 && c < static_cast<double>(categories); };
        tally.assign(4 * (categories + 1), 0);
        for (std::size_t i = 0; i < rows; ++i) {
          const double c = column[i];
          ++tally[(i % 4) * (categories + 1) +
                  (isIndex(c) ? static_cast<std::size_t>(c) : categories)];
        }
        for (std::size_t k = 0; k <= categories; ++k) {
          const std::uint64_t count = tally[k] + tally[categories + 1 + k] +
                                      tally[2 * (categories + 1) + k] +
                                      tally[3 * (categories + 1) + k];
          if (k < categories) {
            stats.categoryCounts[base + k] += count;
          } else if (count > 0) {
            for (std::size_t i = 0; i < rows; ++i) {
              const double c = column[i];
              if (std::isfinite(c) && !isIndex(c)) {
                throw std::logic_error(output.name +
                                       " is not a category index: " + std::to_string(c));
              }
            }
          }
        }
      }
      columns.push_back(column);
      moments.push_back(&stats.yearly[slot]);
    }
  }
  columnMoments(columns, rows, moments);
  return stats;
}

void RunStatistics::store(std::uint64_t firstPath, const BlockOutput& block) {
  if (options_.sketch) return;
  const auto rows = static_cast<std::size_t>(block.outputs.rows());
  if (firstPath < firstStored_ || firstPath + rows > paths_) {
    throw std::out_of_range("block outside the stored paths");
  }
  // Past the pilot the windowed columns' values go to the windows (addToWindows).
  const bool pastPilot = pilot_ != 0 && firstPath >= pilot_;
  if (pastPilot && !windowed()) throw std::logic_error("a block past the pilot before the windows");
  for (std::size_t c = 0; c < columnCount(); ++c) {
    Column& to = column(c);
    if (to.empty() || (pastPilot && windowedColumns_[c])) continue;
    const double* from = blockColumn(block, c);
    std::copy(from, from + rows,
              to.begin() + static_cast<std::ptrdiff_t>(firstPath - firstStored_));
  }
}

RunStatistics::Sketches RunStatistics::makeSketches() const {
  Sketches sketches;
  sketches.outputs.assign(layout_->outputs.size(), QuantileSketch(options_.sketchAlpha));
  sketches.yearly.assign(yearlyValues_.size(), QuantileSketch(options_.sketchAlpha));
  return sketches;
}

void RunStatistics::addToSketches(Sketches& sketches, const BlockOutput& block) const {
  const auto rows = static_cast<std::size_t>(block.outputs.rows());
  for (std::size_t k = 0; k < sketches.outputs.size(); ++k) {
    sketches.outputs[k].add(block.outputs.col(static_cast<Eigen::Index>(k)).data(), rows);
  }
  for (std::size_t m = 0; m < layout_->yearlyOutputs.size(); ++m) {
    if (layout_->yearlyOutputs[m].categorical()) continue;
    for (int y = 0; y < layout_->years; ++y) {
      const std::size_t slot =
          m * static_cast<std::size_t>(layout_->years) + static_cast<std::size_t>(y);
      sketches.yearly[slot].add(block.yearly.col(static_cast<Eigen::Index>(slot)).data(), rows);
    }
  }
}

void RunStatistics::mergeSketches(const Sketches& sketches) {
  for (std::size_t k = 0; k < sketches_.outputs.size(); ++k) {
    sketches_.outputs[k].merge(sketches.outputs[k]);
  }
  for (std::size_t k = 0; k < sketches_.yearly.size(); ++k) {
    sketches_.yearly[k].merge(sketches.yearly[k]);
  }
}

void RunStatistics::keepPilot(std::uint64_t pilotPaths, std::span<const std::size_t> keptOutputs) {
  if (options_.sketch || firstStored_ != 0 || merged() != 0 || pilotPaths == 0 ||
      pilotPaths >= paths_) {
    throw std::logic_error("keepPilot needs an exact run in one piece, before any block");
  }
  pilot_ = pilotPaths;
  for (std::size_t c = 0; c < columnCount(); ++c) {
    const bool kept = c < outputValues_.size() &&
                      std::find(keptOutputs.begin(), keptOutputs.end(), c) != keptOutputs.end();
    Column& values = column(c);
    if (kept || values.empty()) continue;  // categorical yearly columns store nothing
    windowedColumns_[c] = 1;
    Column().swap(values);
  }
  // Allocated after every full column has gone, so that the pilot's columns lie together, and
  // once freed (openWindows) make one piece of memory for the windows.
  for (std::size_t c = 0; c < columnCount(); ++c) {
    if (windowedColumns_[c]) Column(pilotPaths).swap(column(c));
  }
}

void RunStatistics::openWindows(double sigmas, unsigned threads) {
  if (pilot_ == 0 || windowed()) throw std::logic_error("openWindows");
  const std::size_t columns = columnCount();
  auto plan = std::make_shared<WindowPlan>();
  plan->outputRanks = distinctIncreasing(outputRanks(paths_));
  plan->yearlyRanks = yearlyRanks(paths_);
  plan->windows.resize(columns);
  plan->expected.resize(columns);
  plan->branchless.resize(columns);
  auto windows = std::make_shared<Windows>();
  windows->columns.resize(columns);
  // Each column on its own: its windows, then the pilot's values (the first of the run's) in
  // them.
  parallelFor(columns, threads, [&](std::size_t c) {
    if (!windowedColumns_[c]) return;
    Column& pilot = column(c);
    const auto& ranks = c < outputValues_.size() ? plan->outputRanks : plan->yearlyRanks;
    plan->windows[c] = keyWindows(pilot, paths_, ranks, sigmas);
    plan->expected[c] = expectedInside(plan->windows[c], pilot, paths_);
    // On a block's values, fresh in the cache, branches cost less than writing every value
    // until about a quarter of the values are inside (measured on the base scenario, where
    // about 5% of the yearly values are).
    const std::size_t inside =
        std::accumulate(plan->expected[c].begin(), plan->expected[c].end(), std::size_t{0});
    plan->branchless[c] = 4 * inside > paths_;
    // Room for the pilot's share of the values only.
    windows->columns[c] =
        WindowContents(plan->windows[c], plan->expected[c], paths_ / pilot_, kPassChunk);
    classifyInto(pilot, plan->windows[c], windows->columns[c], plan->branchless[c]);
  });
  // The pilot's values go only now, all together, so that the workers' windows can take their
  // memory, already faulted in, in large pieces.
  for (std::size_t c = 0; c < columns; ++c) {
    if (windowedColumns_[c]) Column().swap(column(c));
  }
  plan_ = std::move(plan);
  windows_.push_back(std::move(windows));
}

std::shared_ptr<RunStatistics::Windows> RunStatistics::makeWindows(unsigned workers,
                                                                   std::size_t rows) const {
  auto windows = std::make_shared<Windows>();
  for (std::size_t c = 0; c < columnCount(); ++c) {
    windows->columns.emplace_back(plan_->windows[c], plan_->expected[c], std::max(workers, 1u),
                                  rows);
  }
  return windows;
}

void RunStatistics::addToWindows(Windows& windows, const BlockOutput& block) const {
  const auto rows = static_cast<std::size_t>(block.outputs.rows());
  for (std::size_t c = 0; c < windows.columns.size(); ++c) {
    if (!windowedColumns_[c]) continue;
    classifyInto({blockColumn(block, c), rows}, plan_->windows[c], windows.columns[c],
                 plan_->branchless[c]);
  }
}

void RunStatistics::mergeWindows(std::shared_ptr<Windows> windows) {
  windows_.push_back(std::move(windows));
}

bool RunStatistics::closeWindows(unsigned threads) {
  if (!windowed() || merged() != paths_) throw std::logic_error("closeWindows");
  selected_.assign(columnCount(), {});
  std::atomic<bool> hold{true};
  parallelFor(columnCount(), threads, [&](std::size_t c) {
    if (!windowedColumns_[c]) return;
    const KeyWindows& windows = plan_->windows[c];
    // The pilot's and each worker's contents joined: counts add, and the pieces of values go
    // together as they are.
    WindowContents& all = windows_.front()->columns[c];
    for (std::size_t worker = 1; worker < windows_.size(); ++worker) {
      WindowContents& from = windows_[worker]->columns[c];
      for (std::size_t w = 0; w < windows.size(); ++w) {
        all.atOrAbove[w] += from.atOrAbove[w];
        all.inside[w].append(std::move(from.inside[w]));
      }
    }
    const auto& ranks = c < outputValues_.size() ? plan_->outputRanks : plan_->yearlyRanks;
    selected_[c].resize(ranks.size());
    if (!selectInWindows(paths_, ranks, windows, all, selected_[c].data())) hold = false;
  });
  windows_.clear();
  return hold;
}

std::vector<double> RunStatistics::columnOrderStatistics(
    std::size_t c, std::span<const std::uint64_t> ranks) const {
  if (!(pilot_ != 0 && windowedColumns_[c])) {
    return orderStatisticsOf(std::span<const double>(column(c)).first(merged()), ranks);
  }
  if (selected_.empty()) throw std::logic_error("order statistics of a run whose windows are open");
  const auto& selectedRanks = c < outputValues_.size() ? plan_->outputRanks : plan_->yearlyRanks;
  std::vector<double> x;
  for (std::uint64_t rank : ranks) {
    const auto at = std::lower_bound(selectedRanks.begin(), selectedRanks.end(), rank);
    if (at == selectedRanks.end() || *at != rank) {
      throw std::logic_error("an order statistic the windows did not select");
    }
    x.push_back(selected_[c][static_cast<std::size_t>(at - selectedRanks.begin())]);
  }
  return x;
}

void RunStatistics::absorb(const RunStatistics& piece) {
  if (pilot_ != 0 || piece.pilot_ != 0) {
    throw std::logic_error("absorb with windows");
  }
  if (piece.options_.sketch != options_.sketch) {
    throw std::invalid_argument("a piece with a different quantile mode");
  }
  if (options_.sketch) {
    mergeSketches(piece.sketches_);
    return;
  }
  if (piece.paths_ > paths_ || piece.firstStored_ < firstStored_) {
    throw std::out_of_range("piece outside the stored paths");
  }
  auto copy = [&](const Column& from, Column& to) {
    std::copy(from.begin(), from.end(),
              to.begin() + static_cast<std::ptrdiff_t>(piece.firstStored_ - firstStored_));
  };
  for (std::size_t k = 0; k < outputValues_.size(); ++k) {
    copy(piece.outputValues_.at(k), outputValues_[k]);
  }
  for (std::size_t k = 0; k < yearlyValues_.size(); ++k) {
    if (!yearlyValues_[k].empty()) copy(piece.yearlyValues_.at(k), yearlyValues_[k]);
  }
}

std::span<const double> RunStatistics::outputValues(std::size_t k) const {
  if (!storesOutputValues(k)) throw std::logic_error("values of an output kept in windows");
  return std::span<const double>(outputValues_.at(k)).first(merged());
}

std::span<const double> RunStatistics::yearlyValues(std::size_t m, int year) const {
  const std::size_t slot = m * static_cast<std::size_t>(layout_->years) + (year - 1);
  if (pilot_ != 0 && windowedColumns_.at(outputValues_.size() + slot)) {
    throw std::logic_error("values of a yearly column kept in windows");
  }
  return std::span<const double>(yearlyValues_.at(slot)).first(merged());
}

double RunStatistics::unitStderror(const Moments& all, const std::vector<Moments>& units) const {
  switch (options_.errorModel) {
    case ErrorModel::iid:
      return all.stderror();
    case ErrorModel::pairs:
      return units.at(0).stderror();
    case ErrorModel::replicates: {
      Moments means;
      for (const Moments& unit : units) means.add(unit.mean());
      return means.stderror();
    }
  }
  return all.stderror();
}

double RunStatistics::meanStderror(std::size_t k) const {
  return unitStderror(totals_.outputs.at(k), totals_.outputUnits.at(k));
}

double RunStatistics::intervalFactor() const {
  if (options_.errorModel != ErrorModel::replicates) return 1.959963984540054;
  const boost::math::students_t t(static_cast<double>(kSobolReplicates - 1));
  return boost::math::quantile(boost::math::complement(t, 0.025));
}

double RunStatistics::outputQuantile(std::size_t k, double p) const {
  if (options_.sketch) return sketches_.outputs.at(k).quantile(p);
  const std::uint64_t n = merged();
  if (n == 0) throw std::invalid_argument("quantile of no values");
  const double h = static_cast<double>(n - 1) * p;
  const auto lo = static_cast<std::uint64_t>(std::floor(h));
  const std::uint64_t ranks[] = {lo, std::min(lo + 1, n - 1)};
  const auto x = orderStatisticsOf(outputValues(k), ranks);
  return x[0] + (h - static_cast<double>(lo)) * (x[1] - x[0]);
}

std::pair<double, double> RunStatistics::outputQuantileInterval(std::size_t k, double p) const {
  const std::uint64_t n = merged();
  const auto [lo, hi] = quantileIntervalRanks(n, p);
  if (options_.sketch) {
    const auto& sketch = sketches_.outputs.at(k);
    const double last = static_cast<double>(n - 1);
    return {sketch.quantile(n > 1 ? static_cast<double>(lo) / last : 0.0),
            sketch.quantile(n > 1 ? static_cast<double>(hi) / last : 0.0)};
  }
  const std::uint64_t ranks[] = {lo, hi};
  const auto x = orderStatisticsOf(outputValues(k), ranks);
  return {x[0], x[1]};
}

Summary summarize(const RunStatistics& statistics, unsigned threads) {
  const Layout& layout = statistics.layout();
  const BlockStatistics& totals = statistics.totals();
  const std::uint64_t n = statistics.merged();
  if (n == 0) throw std::logic_error("summary of no paths");
  const bool sketch = !statistics.storesValues();
  Summary summary;
  summary.paths = n;
  summary.firstYear = layout.firstYear;
  summary.sketch = sketch;
  summary.sketchAlpha = sketch ? statistics.options().sketchAlpha : 0.0;
  summary.outputNames = layout.outputs;

  // Every quantile needs ranks floor(h), floor(h) + 1 and its interval's two ranks.
  const std::vector<std::uint64_t> ranks = outputRanks(n);
  std::vector<double> fractions;
  for (double p : kReportedProbabilities) {
    const double h = static_cast<double>(n - 1) * p;
    fractions.push_back(h - std::floor(h));
  }

  const double factor = statistics.intervalFactor();
  summary.outputs.resize(layout.outputs.size());
  auto outputColumn = [&](std::size_t k) {
    const Moments& m = totals.outputs[k];
    MetricSummary& metric = summary.outputs[k];
    metric.mean = m.mean();
    metric.std = m.stddev();
    metric.stderror = statistics.meanStderror(k);
    metric.min = m.min();
    metric.max = m.max();
    metric.meanInterval = {metric.mean - factor * metric.stderror,
                           metric.mean + factor * metric.stderror};
    std::vector<double> x(ranks.size());
    if (sketch) {
      const auto& s = statistics.outputSketch(k);
      for (std::size_t i = 0; i < ranks.size(); ++i) {
        x[i] = s.quantile(n > 1 ? static_cast<double>(ranks[i]) / static_cast<double>(n - 1) : 0.0);
      }
    } else {
      x = statistics.columnOrderStatistics(k, ranks);
    }
    for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q) {
      const double* r = &x[4 * q];
      metric.quantiles[q] = sketch ? statistics.outputSketch(k).quantile(kReportedProbabilities[q])
                                   : r[0] + fractions[q] * (r[1] - r[0]);
      metric.quantileIntervals[q] = {r[2], r[3]};
    }
  };

  const auto offsets = categoryOffsets(layout);
  std::vector<std::pair<std::size_t, int>> yearlyColumns;  // (summary.yearly index, year)
  for (std::size_t m = 0; m < layout.yearlyOutputs.size(); ++m) {
    const auto& output = layout.yearlyOutputs[m];
    if (output.categorical()) {
      ShareSummary shares{output.name, output.categories, {}};
      for (int y = 1; y <= layout.years; ++y) {
        std::vector<double> year;
        const std::size_t base = offsets[m] + (y - 1) * output.categories.size();
        for (std::size_t c = 0; c < output.categories.size(); ++c) {
          year.push_back(static_cast<double>(totals.categoryCounts[base + c]) /
                         static_cast<double>(n));
        }
        shares.years.push_back(std::move(year));
      }
      summary.shares.push_back(std::move(shares));
      continue;
    }
    summary.yearly.push_back(
        {output.name, std::vector<YearSummary>(static_cast<std::size_t>(layout.years))});
    for (int y = 1; y <= layout.years; ++y) yearlyColumns.emplace_back(m, y);
  }
  std::vector<std::size_t> yearlyIndex;  // summary.yearly index of each yearly output
  for (std::size_t m = 0, next = 0; m < layout.yearlyOutputs.size(); ++m) {
    yearlyIndex.push_back(layout.yearlyOutputs[m].categorical() ? 0 : next++);
  }
  auto yearlyColumn = [&](std::size_t m, int y) {
    const std::size_t slot = m * static_cast<std::size_t>(layout.years) + (y - 1);
    std::vector<double> q;
    if (sketch) {
      for (double p : kYearlyProbabilities) {
        q.push_back(statistics.sketches_.yearly[slot].quantile(p));
      }
    } else {
      const std::vector<std::uint64_t> ranks = yearlyRanks(n);
      const std::vector<double> x =
          statistics.columnOrderStatistics(layout.outputs.size() + slot, ranks);
      auto at = [&](std::uint64_t rank) {
        return x[static_cast<std::size_t>(std::lower_bound(ranks.begin(), ranks.end(), rank) -
                                          ranks.begin())];
      };
      for (double p : kYearlyProbabilities) {
        const double h = static_cast<double>(n - 1) * p;
        const auto lo = static_cast<std::uint64_t>(std::floor(h));
        q.push_back(at(lo) + (h - std::floor(h)) * (at(std::min(lo + 1, n - 1)) - at(lo)));
      }
    }
    summary.yearly[yearlyIndex[m]].years[static_cast<std::size_t>(y - 1)] = {
        totals.yearly[slot].mean(), q[0], q[1], q[2]};
  };

  // Each column's results depend on its values alone and land in their own place, so the
  // columns can be taken by any number of threads in any order: the outputs first (each has
  // 36 ranks to select), then the yearly columns (6).
  parallelFor(layout.outputs.size() + yearlyColumns.size(), threads, [&](std::size_t c) {
    if (c < layout.outputs.size()) {
      outputColumn(c);
    } else {
      const auto [m, y] = yearlyColumns[c - layout.outputs.size()];
      yearlyColumn(m, y);
    }
  });

  for (std::size_t t = 0; t < statistics.options().thresholds.size(); ++t) {
    const MeanAccumulator& indicator = totals.thresholds[t];
    summary.probabilities.push_back({statistics.options().thresholds[t].expression,
                                     indicator.all.mean(),
                                     statistics.unitStderror(indicator.all, indicator.units)});
  }
  return summary;
}

}  // namespace spinval
