#include "spinval/statistics.hpp"

#include <algorithm>
#include <atomic>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
template <std::size_t Stride>
Moments twoPass(const double* x, std::size_t n, std::size_t stride = Stride) {
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

Moments stridedMoments(const double* x, std::size_t n, std::size_t stride) {
  return stride == 1 ? twoPass<1>(x, n) : twoPass<0>(x, n, stride);
}

}  // namespace

Moments Moments::of(std::span<const double> values) {
  return twoPass<1>(values.data(), values.size());
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

// count[i] = the number of bounds <= v[i], two values at a time with SSE2 (compilers do not
// vectorise a double comparison into integer counts).
void countBoundsBelow(const double* v, std::size_t n, const std::vector<double>& bounds,
                      std::int64_t* count) {
  std::size_t i = 0;
#ifdef __SSE2__
  for (; i + 2 <= n; i += 2) {
    const __m128d x = _mm_loadu_pd(v + i);
    __m128i c = _mm_setzero_si128();
    // The mask is -1 in each lane where x >= bound.
    for (double bound : bounds)
      c = _mm_sub_epi64(c, _mm_castpd_si128(_mm_cmpge_pd(x, _mm_set1_pd(bound))));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(count + i), c);
  }
#endif
  for (; i < n; ++i) {
    std::int64_t c = 0;
    for (double bound : bounds) c += v[i] >= bound ? 1 : 0;
    count[i] = c;
  }
}

}  // namespace

std::vector<double> orderStatistics(std::span<double> values,
                                    std::span<const std::uint64_t> ranks) {
  for (std::uint64_t rank : ranks) {
    if (rank >= values.size()) throw std::out_of_range("order statistic beyond the values");
  }
  std::vector<std::uint64_t> sorted(ranks.begin(), ranks.end());
  std::sort(sorted.begin(), sorted.end());
  selectRanks(values, 0, values.size(), sorted.data(), sorted.data() + sorted.size());
  std::vector<double> result;
  result.reserve(ranks.size());
  for (std::uint64_t rank : ranks) result.push_back(values[rank]);
  return result;
}

std::vector<double> orderStatisticsOf(std::span<const double> values,
                                      std::span<const std::uint64_t> ranks) {
  const std::size_t n = values.size();
  for (std::uint64_t rank : ranks) {
    if (rank >= n) throw std::out_of_range("order statistic beyond the values");
  }
  auto selectCopy = [&] {
    std::vector<double> copy(values.begin(), values.end());
    return orderStatistics(copy, ranks);
  };
  if (n < (std::size_t{1} << 14) || ranks.empty()) return selectCopy();

  // A sample of m = 4 n^(2/3) values (at most n / 8), every (n / m)-th. The number of sample values
  // below x_(r) is about Binomial(m, p), p = (r + 1/2) / n, so x_(r) lies between the sample's
  // order statistics 4 standard deviations either side of m p - 1/2 unless the values are in a very
  // unlikely order; a window of ranks is those bounds, and windows that meet are joined.
  const auto m = std::min(n / 8, static_cast<std::size_t>(4.0 * std::cbrt(static_cast<double>(n) *
                                                                          static_cast<double>(n))));
  std::vector<double> sample(m);
  for (std::size_t i = 0; i < m; ++i) sample[i] = values[i * n / m];
  std::vector<std::uint64_t> sorted(ranks.begin(), ranks.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  struct Window {
    std::int64_t lo, hi;              // sample ranks; below 0 or at m and above: unbounded
    std::size_t firstRank, lastRank;  // [first, last) in `sorted`
    std::uint64_t below = 0;          // values below the window
    std::vector<double> inside;       // values in it
  };
  std::vector<Window> windows;
  const auto sampleSize = static_cast<double>(m);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double p = (static_cast<double>(sorted[i]) + 0.5) / static_cast<double>(n);
    const double centre = p * sampleSize - 0.5;
    const double spread = 4.0 * std::sqrt(sampleSize * p * (1.0 - p)) + 2.0;
    const auto lo = static_cast<std::int64_t>(std::floor(centre - spread));
    const auto hi = static_cast<std::int64_t>(std::ceil(centre + spread));
    if (!windows.empty() && lo <= windows.back().hi + 1) {
      windows.back().hi = std::max(windows.back().hi, hi);
      windows.back().lastRank = i + 1;
    } else {
      windows.push_back({lo, hi, i, i + 1, 0, {}});
    }
  }
  const auto last = static_cast<std::int64_t>(m) - 1;
  std::vector<std::uint64_t> sampleRanks;
  for (const Window& w : windows) {
    if (w.lo > 0) sampleRanks.push_back(static_cast<std::uint64_t>(w.lo));
    if (w.hi < last) sampleRanks.push_back(static_cast<std::uint64_t>(w.hi));
  }
  selectRanks(sample, 0, m, sampleRanks.data(), sampleRanks.data() + sampleRanks.size());
  // Boundaries low_0 <= high_0 <= low_1 <= ...: value v is in window w when low_w <= v <
  // high_w, that is when exactly 2w + 1 boundaries are <= v. high_w is just above the sample's
  // value so that values equal to it count as inside.
  std::vector<double> bounds;
  for (const Window& w : windows) {
    bounds.push_back(w.lo > 0 ? sample[static_cast<std::size_t>(w.lo)] : -kInfinity);
    bounds.push_back(w.hi < last ? std::nextafter(sample[static_cast<std::size_t>(w.hi)], kInfinity)
                                 : kInfinity);
  }
  if (!std::is_sorted(bounds.begin(), bounds.end())) return selectCopy();

  // One pass: per chunk, each value's number of boundaries at or below it (vectorised), then
  // a histogram of those numbers (in four parts, so that equal neighbours do not wait on each
  // other's increments) and the few values inside a window copied out.
  constexpr std::size_t kChunk = 256;
  std::vector<std::uint64_t> histogram(4 * (bounds.size() + 1), 0);
  std::int64_t count[kChunk];
  for (std::size_t start = 0; start < n; start += kChunk) {
    const std::size_t size = std::min(kChunk, n - start);
    const double* v = values.data() + start;
    countBoundsBelow(v, size, bounds, count);
    for (std::size_t i = 0; i < size; ++i) {
      const auto c = static_cast<std::size_t>(count[i]);
      ++histogram[(i & 3) * (bounds.size() + 1) + c];
      if (c & 1) windows[c >> 1].inside.push_back(v[i]);
    }
  }
  // atOrAbove[j]: the values at or above boundary j, those with more than j boundaries below.
  std::vector<std::uint64_t> atOrAbove(bounds.size(), 0);
  for (std::size_t part = 0; part < 4; ++part) {
    for (std::size_t c = 1; c <= bounds.size(); ++c) {
      for (std::size_t j = 0; j < c; ++j) atOrAbove[j] += histogram[part * (bounds.size() + 1) + c];
    }
  }

  // x_(r) is the (r - below)-th of the window's values when the window holds rank r; otherwise
  // the sample misled and the values are selected in full.
  std::vector<double> selected(sorted.size());
  std::vector<std::uint64_t> local;
  for (std::size_t w = 0; w < windows.size(); ++w) {
    Window& window = windows[w];
    window.below = n - atOrAbove[2 * w];
    local.clear();
    for (std::size_t i = window.firstRank; i < window.lastRank; ++i) {
      if (sorted[i] < window.below || sorted[i] - window.below >= window.inside.size()) {
        return selectCopy();
      }
      local.push_back(sorted[i] - window.below);
    }
    selectRanks(window.inside, 0, window.inside.size(), local.data(), local.data() + local.size());
    for (std::size_t i = window.firstRank; i < window.lastRank; ++i) {
      selected[i] = window.inside[local[i - window.firstRank]];
    }
  }
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
  if (options_.sketch) sketches_ = makeSketches();
  extend(paths);
}

void RunStatistics::extend(std::uint64_t paths) {
  if (paths <= paths_) return;
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

void RunStatistics::switchToSketch() {
  if (options_.sketch) return;
  if (firstStored_ != 0) throw std::logic_error("switchToSketch on a piece of a run");
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
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const double* column = block.outputs.col(static_cast<Eigen::Index>(k)).data();
    stats.outputs[k] = stridedMoments(column, rows, 1);
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
  stats.yearly.resize(layout.yearlyOutputs.size() * static_cast<std::size_t>(layout.years));
  stats.categoryCounts.assign(offsets.back(), 0);
  for (std::size_t m = 0; m < layout.yearlyOutputs.size(); ++m) {
    const auto& output = layout.yearlyOutputs[m];
    for (int y = 1; y <= layout.years; ++y) {
      const std::size_t slot = m * static_cast<std::size_t>(layout.years) + (y - 1);
      const double* column = block.yearly.col(static_cast<Eigen::Index>(slot)).data();
      if (output.categorical()) {
        const std::size_t base = offsets[m] + (y - 1) * output.categories.size();
        for (std::size_t i = 0; i < rows; ++i) {
          ++stats.categoryCounts[base + static_cast<std::size_t>(column[i])];
        }
      }
      stats.yearly[slot] = stridedMoments(column, rows, 1);
    }
  }
  return stats;
}

void RunStatistics::store(std::uint64_t firstPath, const BlockOutput& block) {
  if (options_.sketch) return;
  const auto rows = static_cast<std::size_t>(block.outputs.rows());
  if (firstPath < firstStored_ || firstPath + rows > paths_) {
    throw std::out_of_range("block outside the stored paths");
  }
  auto copy = [&](const auto& column, Column& to) {
    std::copy(column.data(), column.data() + rows,
              to.begin() + static_cast<std::ptrdiff_t>(firstPath - firstStored_));
  };
  for (std::size_t k = 0; k < outputValues_.size(); ++k) {
    copy(block.outputs.col(static_cast<Eigen::Index>(k)), outputValues_[k]);
  }
  for (std::size_t k = 0; k < yearlyValues_.size(); ++k) {
    if (!yearlyValues_[k].empty())
      copy(block.yearly.col(static_cast<Eigen::Index>(k)), yearlyValues_[k]);
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

void RunStatistics::absorb(const RunStatistics& piece) {
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
  return std::span<const double>(outputValues_.at(k)).first(merged());
}

std::span<const double> RunStatistics::yearlyValues(std::size_t m, int year) const {
  return std::span<const double>(
             yearlyValues_.at(m * static_cast<std::size_t>(layout_->years) + (year - 1)))
      .first(merged());
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
  std::vector<std::uint64_t> ranks;
  std::vector<double> fractions;
  for (double p : kReportedProbabilities) {
    const double h = static_cast<double>(n - 1) * p;
    const auto lo = static_cast<std::uint64_t>(std::floor(h));
    const auto [a, b] = quantileIntervalRanks(n, p);
    ranks.insert(ranks.end(), {lo, std::min(lo + 1, n - 1), a, b});
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
      x = orderStatisticsOf(statistics.outputValues(k), ranks);
    }
    for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q) {
      const double* r = &x[4 * q];
      metric.quantiles[q] = sketch ? statistics.outputSketch(k).quantile(kReportedProbabilities[q])
                                   : r[0] + fractions[q] * (r[1] - r[0]);
      metric.quantileIntervals[q] = {r[2], r[3]};
    }
  };

  const auto offsets = categoryOffsets(layout);
  constexpr std::array<double, 3> kYearly = {0.05, 0.50, 0.95};
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
      for (double p : kYearly) q.push_back(statistics.sketches_.yearly[slot].quantile(p));
    } else {
      std::vector<std::uint64_t> yearRanks;
      for (double p : kYearly) {
        const auto lo = static_cast<std::uint64_t>(std::floor(static_cast<double>(n - 1) * p));
        yearRanks.insert(yearRanks.end(), {lo, std::min(lo + 1, n - 1)});
      }
      const auto x = orderStatisticsOf(statistics.yearlyValues(m, y), yearRanks);
      for (std::size_t i = 0; i < kYearly.size(); ++i) {
        const double h = static_cast<double>(n - 1) * kYearly[i];
        q.push_back(x[2 * i] + (h - std::floor(h)) * (x[2 * i + 1] - x[2 * i]));
      }
    }
    summary.yearly[yearlyIndex[m]].years[static_cast<std::size_t>(y - 1)] = {
        totals.yearly[slot].mean(), q[0], q[1], q[2]};
  };

  // Each column's results depend on its values alone and land in their own place, so the
  // columns can be taken by any number of threads in any order: the outputs first (each has
  // 36 ranks to select), then the yearly columns (6).
  const std::size_t columns = layout.outputs.size() + yearlyColumns.size();
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr error;
  auto worker = [&] {
    for (std::size_t c = next.fetch_add(1); c < columns; c = next.fetch_add(1)) {
      try {
        if (c < layout.outputs.size()) {
          outputColumn(c);
        } else {
          const auto [m, y] = yearlyColumns[c - layout.outputs.size()];
          yearlyColumn(m, y);
        }
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  const auto used =
      static_cast<unsigned>(std::clamp<std::size_t>(columns, 1, std::max(threads, 1u)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < used; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);

  for (std::size_t t = 0; t < statistics.options().thresholds.size(); ++t) {
    const MeanAccumulator& indicator = totals.thresholds[t];
    summary.probabilities.push_back({statistics.options().thresholds[t].expression,
                                     indicator.all.mean(),
                                     statistics.unitStderror(indicator.all, indicator.units)});
  }
  return summary;
}

}  // namespace spinval
