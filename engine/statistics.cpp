#include "spinval/statistics.hpp"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>

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

std::vector<double> orderStatistics(std::span<double> values,
                                    std::span<const std::uint64_t> ranks) {
  std::vector<double> result;
  result.reserve(ranks.size());
  // Select left to right: after selecting rank r, everything before it is no larger, so the
  // next selection only has to look at the rest.
  std::size_t done = 0;
  for (std::uint64_t rank : ranks) {
    if (rank >= values.size()) throw std::out_of_range("order statistic beyond the values");
    const auto r = static_cast<std::ptrdiff_t>(rank);
    if (rank >= done) {
      std::nth_element(values.begin() + static_cast<std::ptrdiff_t>(done), values.begin() + r,
                       values.end());
      done = rank;
    }
    result.push_back(values[rank]);
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

// Adds a column of a block to its error units: pair means (rows 2k, 2k + 1; blocks start at
// even paths) or replicate p mod R.
template <class Value>
void addUnits(ErrorModel model, std::uint64_t firstPath, Eigen::Index rows, Value value,
              std::vector<Moments>& units) {
  if (model == ErrorModel::pairs) {
    for (Eigen::Index i = 0; i + 1 < rows; i += 2) units[0].add(0.5 * (value(i) + value(i + 1)));
  } else if (model == ErrorModel::replicates) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      units[(firstPath + static_cast<std::uint64_t>(i)) % kSobolReplicates].add(value(i));
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
    std::vector<double>().swap(outputValues_[k]);
  }
  for (std::size_t k = 0; k < yearlyValues_.size(); ++k) {
    if (!yearlyValues_[k].empty()) sketches.yearly[k].add(yearlyValues_[k].data(), n);
    std::vector<double>().swap(yearlyValues_[k]);
  }
  sketches_ = std::move(sketches);
  options_.sketch = true;
}

BlockStatistics RunStatistics::blockStatistics(std::uint64_t firstPath,
                                               const BlockOutput& block) const {
  const Layout& layout = *layout_;
  const Eigen::Index rows = block.outputs.rows();
  BlockStatistics stats;
  stats.outputs.resize(layout.outputs.size());
  stats.outputUnits.assign(layout.outputs.size(),
                           std::vector<Moments>(unitCount(options_.errorModel)));
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const auto column = block.outputs.col(static_cast<Eigen::Index>(k));
    for (Eigen::Index i = 0; i < rows; ++i) stats.outputs[k].add(column[i]);
    addUnits(
        options_.errorModel, firstPath, rows, [&](Eigen::Index i) { return column[i]; },
        stats.outputUnits[k]);
  }
  for (const Threshold& t : options_.thresholds) {
    MeanAccumulator indicator;
    indicator.units.resize(unitCount(options_.errorModel));
    const auto column = block.outputs.col(static_cast<Eigen::Index>(t.output));
    auto value = [&](Eigen::Index i) { return t.holds(column[i]) ? 1.0 : 0.0; };
    for (Eigen::Index i = 0; i < rows; ++i) indicator.all.add(value(i));
    addUnits(options_.errorModel, firstPath, rows, value, indicator.units);
    stats.thresholds.push_back(std::move(indicator));
  }
  const auto offsets = categoryOffsets(layout);
  stats.yearly.resize(layout.yearlyOutputs.size() * static_cast<std::size_t>(layout.years));
  stats.categoryCounts.assign(offsets.back(), 0);
  for (std::size_t m = 0; m < layout.yearlyOutputs.size(); ++m) {
    const auto& output = layout.yearlyOutputs[m];
    for (int y = 1; y <= layout.years; ++y) {
      const std::size_t slot = m * static_cast<std::size_t>(layout.years) + (y - 1);
      const auto column = block.yearly.col(static_cast<Eigen::Index>(slot));
      if (output.categorical()) {
        const std::size_t base = offsets[m] + (y - 1) * output.categories.size();
        for (Eigen::Index i = 0; i < column.size(); ++i) {
          ++stats.categoryCounts[base + static_cast<std::size_t>(column[i])];
        }
      }
      for (Eigen::Index i = 0; i < column.size(); ++i) stats.yearly[slot].add(column[i]);
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
  auto copy = [&](const auto& column, std::vector<double>& to) {
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
  auto copy = [&](const std::vector<double>& from, std::vector<double>& to) {
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
  auto values = outputValues(k);
  std::vector<double> scratch(values.begin(), values.end());
  const double probability[] = {p};
  return quantilesOf(scratch, probability)[0];
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
  auto values = outputValues(k);
  std::vector<double> scratch(values.begin(), values.end());
  const std::uint64_t ranks[] = {lo, hi};
  const auto x = orderStatistics(scratch, ranks);
  return {x[0], x[1]};
}

Summary summarize(const RunStatistics& statistics) {
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

  const double factor = statistics.intervalFactor();
  std::vector<double> scratch;
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const Moments& m = totals.outputs[k];
    MetricSummary metric;
    metric.mean = m.mean();
    metric.std = m.stddev();
    metric.stderror = statistics.meanStderror(k);
    metric.min = m.min();
    metric.max = m.max();
    metric.meanInterval = {metric.mean - factor * metric.stderror,
                           metric.mean + factor * metric.stderror};
    // Every quantile needs ranks floor(h), floor(h) + 1 and its interval's two ranks.
    std::vector<std::uint64_t> ranks;
    for (double p : kReportedProbabilities) {
      const double h = static_cast<double>(n - 1) * p;
      const auto lo = static_cast<std::uint64_t>(std::floor(h));
      const auto [a, b] = quantileIntervalRanks(n, p);
      ranks.insert(ranks.end(), {lo, std::min(lo + 1, n - 1), a, b});
    }
    std::vector<std::size_t> order(ranks.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return ranks[a] < ranks[b]; });
    std::vector<std::uint64_t> sortedRanks;
    for (std::size_t i : order) sortedRanks.push_back(ranks[i]);
    std::vector<double> selected(ranks.size());
    if (sketch) {
      const auto& s = statistics.outputSketch(k);
      for (std::size_t i = 0; i < ranks.size(); ++i) {
        selected[i] =
            s.quantile(n > 1 ? static_cast<double>(ranks[i]) / static_cast<double>(n - 1) : 0.0);
      }
    } else {
      auto values = statistics.outputValues(k);
      scratch.assign(values.begin(), values.end());
      const auto x = orderStatistics(scratch, sortedRanks);
      for (std::size_t i = 0; i < order.size(); ++i) selected[order[i]] = x[i];
    }
    for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q) {
      const double h = static_cast<double>(n - 1) * kReportedProbabilities[q];
      const double fraction = h - std::floor(h);
      const double* x = &selected[4 * q];
      metric.quantiles[q] = sketch ? statistics.outputSketch(k).quantile(kReportedProbabilities[q])
                                   : x[0] + fraction * (x[1] - x[0]);
      metric.quantileIntervals[q] = {x[2], x[3]};
    }
    summary.outputs.push_back(metric);
  }

  const auto offsets = categoryOffsets(layout);
  constexpr std::array<double, 3> kYearly = {0.05, 0.50, 0.95};
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
    YearlySummary yearly{output.name, {}};
    for (int y = 1; y <= layout.years; ++y) {
      const std::size_t slot = m * static_cast<std::size_t>(layout.years) + (y - 1);
      std::vector<double> q;
      if (sketch) {
        for (double p : kYearly) q.push_back(statistics.sketches_.yearly[slot].quantile(p));
      } else {
        auto values = statistics.yearlyValues(m, y);
        scratch.assign(values.begin(), values.end());
        q = quantilesOf(scratch, kYearly);
      }
      yearly.years.push_back({totals.yearly[slot].mean(), q[0], q[1], q[2]});
    }
    summary.yearly.push_back(std::move(yearly));
  }

  for (std::size_t t = 0; t < statistics.options().thresholds.size(); ++t) {
    const MeanAccumulator& indicator = totals.thresholds[t];
    summary.probabilities.push_back({statistics.options().thresholds[t].expression,
                                     indicator.all.mean(),
                                     statistics.unitStderror(indicator.all, indicator.units)});
  }
  return summary;
}

}  // namespace spinval
