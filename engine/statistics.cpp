#include "spinval/statistics.hpp"

#include <algorithm>
#include <cmath>
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

std::vector<double> quantilesOf(std::span<double> values, std::span<const double> probabilities) {
  if (values.empty()) throw std::invalid_argument("quantile of no values");
  std::vector<double> result;
  result.reserve(probabilities.size());
  // Each quantile needs the order statistics floor(h) and floor(h) + 1. Select them left to
  // right: everything before the previous selection is already below it.
  std::size_t done = 0;
  const std::size_t n = values.size();
  for (double p : probabilities) {
    const double h = static_cast<double>(n - 1) * p;
    const auto lo = static_cast<std::size_t>(std::floor(h));
    auto begin = values.begin() + static_cast<std::ptrdiff_t>(std::min(done, lo));
    std::nth_element(begin, values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
    double x = values[lo];
    if (lo + 1 < n) {
      // The next order statistic is the smallest value above position lo.
      auto next =
          std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo + 1), values.end());
      x += (h - static_cast<double>(lo)) * (*next - values[lo]);
    }
    result.push_back(x);
    done = lo;
  }
  return result;
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

}  // namespace

BlockStatistics blockStatistics(const Layout& layout, const BlockOutput& block) {
  BlockStatistics stats;
  stats.outputs.resize(layout.outputs.size());
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const auto column = block.outputs.col(static_cast<Eigen::Index>(k));
    for (Eigen::Index i = 0; i < column.size(); ++i) stats.outputs[k].add(column[i]);
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

RunStatistics::RunStatistics(const Layout& layout, std::uint64_t paths, bool storeValues)
    : layout_(&layout), paths_(paths), storeValues_(storeValues) {
  if (!storeValues_) return;
  outputValues_.assign(layout.outputs.size(), std::vector<double>(paths));
  yearlyValues_.assign(layout.yearlyOutputs.size() * static_cast<std::size_t>(layout.years),
                       std::vector<double>(paths));
}

void RunStatistics::store(std::uint64_t firstPath, const BlockOutput& block) {
  if (!storeValues_) return;
  const auto rows = static_cast<std::size_t>(block.outputs.rows());
  if (firstPath + rows > paths_) throw std::out_of_range("block beyond the run's paths");
  for (std::size_t k = 0; k < outputValues_.size(); ++k) {
    const double* column = block.outputs.col(static_cast<Eigen::Index>(k)).data();
    std::copy(column, column + rows,
              outputValues_[k].begin() + static_cast<std::ptrdiff_t>(firstPath));
  }
  for (std::size_t k = 0; k < yearlyValues_.size(); ++k) {
    const double* column = block.yearly.col(static_cast<Eigen::Index>(k)).data();
    std::copy(column, column + rows,
              yearlyValues_[k].begin() + static_cast<std::ptrdiff_t>(firstPath));
  }
}

std::span<const double> RunStatistics::outputValues(std::size_t k) const {
  return outputValues_.at(k);
}

std::span<const double> RunStatistics::yearlyValues(std::size_t m, int year) const {
  return yearlyValues_.at(m * static_cast<std::size_t>(layout_->years) + (year - 1));
}

Summary summarize(const RunStatistics& statistics) {
  if (!statistics.storesValues()) {
    throw std::logic_error("exact quantiles need the stored values of every path");
  }
  const Layout& layout = statistics.layout();
  const BlockStatistics& totals = statistics.totals();
  Summary summary;
  summary.paths = statistics.paths();
  summary.firstYear = layout.firstYear;
  summary.outputNames = layout.outputs;

  std::vector<double> scratch;
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const Moments& m = totals.outputs[k];
    MetricSummary metric{m.mean(), m.stddev(), m.stderror(), m.min(), m.max(), {}};
    auto values = statistics.outputValues(k);
    scratch.assign(values.begin(), values.end());
    auto q = quantilesOf(scratch, kReportedProbabilities);
    std::copy(q.begin(), q.end(), metric.quantiles.begin());
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
                         static_cast<double>(statistics.paths()));
        }
        shares.years.push_back(std::move(year));
      }
      summary.shares.push_back(std::move(shares));
      continue;
    }
    YearlySummary yearly{output.name, {}};
    for (int y = 1; y <= layout.years; ++y) {
      auto values = statistics.yearlyValues(m, y);
      scratch.assign(values.begin(), values.end());
      auto q = quantilesOf(scratch, kYearly);
      const double mean =
          totals.yearly[m * static_cast<std::size_t>(layout.years) + (y - 1)].mean();
      yearly.years.push_back({mean, q[0], q[1], q[2]});
    }
    summary.yearly.push_back(std::move(yearly));
  }
  return summary;
}

}  // namespace spinval
