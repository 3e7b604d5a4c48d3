#include "spinval/report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <vector>

namespace spinval {

namespace {

// ---------------------------------------------------------------------------------------------
// Number formatting for the terminal report.

std::string fixed(double x, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, x);
  std::string text(buffer);
  // "-0.00" reads as a sign that is not there.
  if (text.front() == '-' && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

// Decimals that show `significant` digits of a number of this magnitude, within [0, most].
int decimalsFor(double magnitude, int significant, int most) {
  if (!(magnitude > 0.0) || !std::isfinite(magnitude)) return std::min(significant - 1, most);
  int decimals = significant - 1 - static_cast<int>(std::floor(std::log10(magnitude)));
  return std::clamp(decimals, 0, most);
}

// 200000 -> "200,000".

std::string groupedRounded(double x) {
  if (!(x > 0.0) || !std::isfinite(x)) return "0";
  return grouped(static_cast<std::uint64_t>(std::llround(x)));
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A readable label for a yearly row: "revenue (USD bn)".
std::string yearlyLabel(const std::string& name, const DisplayUnit& unit) {
  std::string base = name;
  if (endsWith(base, "_usd")) base.resize(base.size() - 4);
  if (base == "fcf") base = "FCF";
  std::replace(base.begin(), base.end(), '_', ' ');
  return unit.label.empty() ? base : base + " (" + unit.label + ")";
}

std::size_t indexOf(const std::vector<std::string>& names, const std::string& name) {
  auto it = std::find(names.begin(), names.end(), name);
  return static_cast<std::size_t>(it - names.begin());
}

constexpr int kNameWidth = 20;
constexpr int kUnitWidth = 8;
constexpr int kValueWidth = 10;
constexpr int kYearLabelWidth = 22;
constexpr int kYearWidth = 8;
constexpr int kLineBudget = 110;
constexpr int kHistogramBins = 24;
constexpr int kHistogramBar = 50;

// Indices into MetricSummary::quantiles.
constexpr std::size_t kP01 = 0, kP05 = 1, kP25 = 3, kP50 = 4, kP75 = 5, kP95 = 7, kP99 = 8;

// Words of `text` in lines of at most `width` characters, each after `indent`.
void printWrapped(std::ostream& out, const std::string& text, std::size_t width,
                  const std::string& indent) {
  std::istringstream words(text);
  std::string line;
  for (std::string word; words >> word;) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out << indent << line << '\n';
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out << indent << line << '\n';
}

// "2 threads", or "3 ranks x 2 threads".
std::string processes(const RunInfo& info) {
  std::string text = info.ranks > 1 ? std::to_string(info.ranks) + " ranks x " : "";
  return text + std::to_string(info.threads) + (info.threads == 1 ? " thread" : " threads");
}

void printHeader(std::ostream& out, const RunInfo& info) {
  out << "Scenario  " << info.scenario << '\n';
  if (!info.description.empty()) printWrapped(out, info.description, 90, "          ");
  if (!info.file.empty()) out << "File      " << info.file << '\n';
  out << "SHA-256   " << info.scenarioSha256 << '\n';
  out << "Run       seed " << info.seed << " | " << grouped(info.paths) << " paths | sampler "
      << info.sampler << " | " << processes(info) << " | spinval " << info.version << '\n';
}

void printMetrics(std::ostream& out, const Summary& summary) {
  static constexpr std::array<const char*, 7> kColumns = {"mean", "stderr", "P5", "P25",
                                                          "P50",  "P75",    "P95"};
  out << std::left << std::setw(kNameWidth) << "Per-path outputs" << std::setw(kUnitWidth) << "unit"
      << std::right;
  for (const char* column : kColumns) out << std::setw(kValueWidth) << column;
  out << '\n';
  for (std::size_t k = 0; k < summary.outputs.size(); ++k) {
    const std::string& name = summary.outputNames[k];
    const MetricSummary& m = summary.outputs[k];
    const std::array<double, 6> shown = {m.mean,
                                         m.quantiles[kP05],
                                         m.quantiles[kP25],
                                         m.quantiles[kP50],
                                         m.quantiles[kP75],
                                         m.quantiles[kP95]};
    double magnitude = 0.0;
    for (double x : shown) magnitude = std::max(magnitude, std::abs(x));
    DisplayUnit unit = displayUnit(name, magnitude);
    // Billions of USD always with cents of a billion, so the rows line up on the point.
    int decimals = unit.label == "USD bn" ? 2 : decimalsFor(magnitude * unit.scale, 4, 4);
    int stderrDecimals = std::max(decimals, decimalsFor(m.stderror * unit.scale, 2, decimals + 4));
    out << std::left << std::setw(kNameWidth) << name << std::setw(kUnitWidth) << unit.label
        << std::right;
    out << std::setw(kValueWidth) << fixed(m.mean * unit.scale, decimals);
    out << std::setw(kValueWidth) << fixed(m.stderror * unit.scale, stderrDecimals);
    for (std::size_t i = 1; i < shown.size(); ++i)
      out << std::setw(kValueWidth) << fixed(shown[i] * unit.scale, decimals);
    out << '\n';
  }
}

// Rows of values per year, in chunks of years that fit the line budget.
struct YearRow {
  std::string label;
  std::vector<std::string> cells;  // one per year
};

void printYearTable(std::ostream& out, const std::string& title, int firstYear, int years,
                    const std::vector<YearRow>& rows) {
  const int perChunk = std::max(1, (kLineBudget - kYearLabelWidth) / kYearWidth);
  for (int start = 0; start < years; start += perChunk) {
    int end = std::min(years, start + perChunk);
    out << std::left << std::setw(kYearLabelWidth) << (start == 0 ? title : "") << std::right;
    for (int y = start; y < end; ++y) out << std::setw(kYearWidth) << firstYear + y;
    out << '\n';
    for (const YearRow& row : rows) {
      out << std::left << std::setw(kYearLabelWidth) << row.label << std::right;
      for (int y = start; y < end; ++y)
        out << std::setw(kYearWidth) << row.cells[static_cast<std::size_t>(y)];
      out << '\n';
    }
  }
}

void printYearlyMedians(std::ostream& out, const Summary& summary) {
  if (summary.yearly.empty()) return;
  static const std::array<std::string, 4> kPreferred = {"shipments", "revenue_usd", "gross_margin",
                                                        "fcf_usd"};
  std::vector<const YearlySummary*> chosen;
  for (const std::string& name : kPreferred)
    for (const YearlySummary& y : summary.yearly)
      if (y.name == name) chosen.push_back(&y);
  if (chosen.empty())
    for (const YearlySummary& y : summary.yearly) chosen.push_back(&y);

  int years = static_cast<int>(chosen.front()->years.size());
  std::vector<YearRow> rows;
  for (const YearlySummary* yearly : chosen) {
    double magnitude = 0.0;
    for (const YearSummary& y : yearly->years) magnitude = std::max(magnitude, std::abs(y.p50));
    DisplayUnit unit = displayUnit(yearly->name, magnitude);
    int decimals = unit.label == "%" ? 1 : decimalsFor(magnitude * unit.scale, 4, 3);
    YearRow row{yearlyLabel(yearly->name, unit), {}};
    for (const YearSummary& y : yearly->years)
      row.cells.push_back(fixed(y.p50 * unit.scale, decimals));
    row.cells.resize(static_cast<std::size_t>(years));
    rows.push_back(std::move(row));
  }
  out << '\n';
  printYearTable(out, "Yearly medians", summary.firstYear, years, rows);
}

void printShares(std::ostream& out, const Summary& summary) {
  for (const ShareSummary& share : summary.shares) {
    int years = static_cast<int>(share.years.size());
    std::vector<YearRow> rows;
    for (std::size_t c = 0; c < share.categories.size(); ++c) {
      YearRow row{"  " + share.categories[c], {}};
      for (const std::vector<double>& year : share.years)
        row.cells.push_back(fixed(100.0 * year[c], 1));
      rows.push_back(std::move(row));
    }
    out << '\n';
    printYearTable(out, share.name + " share (%)", summary.firstYear, years, rows);
  }
}

// Counts of the stored values in kHistogramBins equal bins between P1 and P99.
void printHistogram(std::ostream& out, const Summary& summary, const RunStatistics& statistics,
                    const std::string& name) {
  auto output = statistics.layout().outputIndex(name);
  std::size_t k = indexOf(summary.outputNames, name);
  if (!output || k >= summary.outputs.size()) return;
  std::span<const double> values;
  if (statistics.storesValues()) {
    if (!statistics.storesOutputValues(*output)) return;
    values = statistics.outputValues(*output);
    if (values.empty()) return;
  }

  const double lo = summary.outputs[k].quantiles[kP01];
  const double hi = summary.outputs[k].quantiles[kP99];
  DisplayUnit unit = displayUnit(name, std::max(std::abs(lo), std::abs(hi)));
  std::string unitText = unit.label.empty() ? "" : ", " + unit.label;
  out << '\n' << "Histogram of " << name << " (P1 to P99" << unitText << ")\n";
  if (!(hi > lo)) {
    out << "  every path between P1 and P99 equals "
        << fixed(lo * unit.scale, decimalsFor(std::abs(lo * unit.scale), 4, 4)) << '\n';
    return;
  }

  std::array<std::uint64_t, kHistogramBins> counts{};
  std::uint64_t below = 0, above = 0;
  const double width = (hi - lo) / kHistogramBins;
  if (statistics.storesValues()) {
    for (double x : values) {
      if (x < lo) {
        ++below;
      } else if (x > hi) {
        ++above;
      } else {
        auto bin = static_cast<std::size_t>((x - lo) / width);
        counts[std::min<std::size_t>(bin, kHistogramBins - 1)] += 1;
      }
    }
  } else {
    // From the sketch: counts between bin edges, to its relative accuracy.
    const QuantileSketch& sketch = statistics.outputSketch(*output);
    std::uint64_t previous = sketch.rank(lo);
    below = previous;
    for (int b = 0; b < kHistogramBins; ++b) {
      const std::uint64_t next = b + 1 == kHistogramBins
                                     ? sketch.rank(std::nextafter(hi, kInfinity))
                                     : sketch.rank(lo + (b + 1) * width);
      counts[static_cast<std::size_t>(b)] = next - std::min(previous, next);
      previous = std::max(previous, next);
    }
    above = sketch.count() - std::min(sketch.count(), previous);
  }
  const std::uint64_t most = *std::max_element(counts.begin(), counts.end());
  const int decimals = decimalsFor(width * unit.scale, 2, 4);
  std::size_t edgeWidth = 0;
  for (int b = 0; b <= kHistogramBins; ++b)
    edgeWidth = std::max(edgeWidth, fixed((lo + b * width) * unit.scale, decimals).size());
  const std::string countWidthProbe = grouped(most);
  for (int b = 0; b < kHistogramBins; ++b) {
    std::uint64_t count = counts[static_cast<std::size_t>(b)];
    int bar = most == 0 ? 0
                        : static_cast<int>(std::llround(static_cast<double>(kHistogramBar) *
                                                        static_cast<double>(count) /
                                                        static_cast<double>(most)));
    if (count > 0 && bar == 0) bar = 1;
    out << "  " << std::setw(static_cast<int>(edgeWidth))
        << fixed((lo + b * width) * unit.scale, decimals) << " - "
        << std::setw(static_cast<int>(edgeWidth))
        << fixed((lo + (b + 1) * width) * unit.scale, decimals) << "  " << std::left
        << std::setw(kHistogramBar) << std::string(static_cast<std::size_t>(bar), '#') << std::right
        << ' ' << std::setw(static_cast<int>(countWidthProbe.size())) << grouped(count) << '\n';
  }
  out << "  " << grouped(below) << " paths below P1 and " << grouped(above)
      << " above P99 not shown\n";
}

void printProbabilities(std::ostream& out, const Summary& summary) {
  if (summary.probabilities.empty()) return;
  out << "\nThreshold probabilities        probability    stderr\n";
  for (const ProbabilitySummary& p : summary.probabilities) {
    out << "  " << std::left << std::setw(28) << p.expression << std::right << std::setw(11)
        << fixed(p.probability, 4) << std::setw(10) << fixed(p.stderror, 4) << '\n';
  }
}

void printConvergence(std::ostream& out, const Summary& summary) {
  if (!summary.convergence || summary.convergence->checks.empty()) return;
  const ConvergenceSummary& c = *summary.convergence;
  const ConvergenceCheck& last = c.checks.back();
  const double relative = last.estimate != 0.0 ? last.halfWidth / std::abs(last.estimate) : 0.0;
  out << "\nPrecision: " << c.stat << " of " << c.metric << ", 95% half-width "
      << fixed(100 * relative, 3) << "% of the estimate after " << grouped(last.paths) << " paths ("
      << c.checks.size() << (c.checks.size() == 1 ? " check" : " checks") << "); target "
      << fixed(100 * c.relativeTarget, 3) << "% "
      << (c.reached ? "reached" : "NOT reached: stopped at --max-paths") << '\n';
}

// ---------------------------------------------------------------------------------------------
// Files.

std::string shortest(double x) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x);
  if (ec != std::errc()) return "nan";
  return std::string(buffer, end);
}

[[noreturn]] void throwIoError(const std::string& what, const std::filesystem::path& file,
                               int error) {
  throw std::runtime_error("cannot " + what + " " + file.string() + ": " + std::strerror(error));
}

}  // namespace

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

DisplayUnit displayUnit(const std::string& name, double magnitude) {
  if (endsWith(name, "_usd")) {
    if (name.find("per_") != std::string::npos || magnitude < 1e6) return {"USD", 1.0};
    return {"USD bn", 1e-9};
  }
  if (endsWith(name, "multiple")) return {"x", 1.0};
  if (name == "listed") return {"share", 1.0};
  if (name.find("margin") != std::string::npos) return {"%", 100.0};
  if (name == "shipments") return {"k units", 1e-3};
  return {"", 1.0};
}

nlohmann::ordered_json summaryJson(const RunInfo& info, const Summary& summary) {
  using Json = nlohmann::ordered_json;
  Json j = Json::object();
  j["scenario"] = info.scenario;
  j["scenario_sha256"] = info.scenarioSha256;
  j["seed"] = info.seed;
  j["paths"] = info.paths;
  j["sampler"] = info.sampler;
  j["version"] = info.version;

  Json metrics = Json::object();
  for (std::size_t k = 0; k < summary.outputs.size(); ++k) {
    const MetricSummary& m = summary.outputs[k];
    Json metric = Json::object();
    metric["mean"] = m.mean;
    metric["std"] = m.std;
    metric["stderr"] = m.stderror;
    metric["min"] = m.min;
    metric["max"] = m.max;
    for (std::size_t q = 0; q < kReportedQuantileNames.size(); ++q)
      metric[kReportedQuantileNames[q]] = m.quantiles[q];
    Json intervals = Json::object();
    intervals["mean"] = Json::array({m.meanInterval.lo, m.meanInterval.hi});
    for (std::size_t q = 0; q < kReportedQuantileNames.size(); ++q) {
      intervals[kReportedQuantileNames[q]] =
          Json::array({m.quantileIntervals[q].lo, m.quantileIntervals[q].hi});
    }
    metric["ci95"] = std::move(intervals);
    metrics[summary.outputNames[k]] = std::move(metric);
  }
  j["metrics"] = std::move(metrics);

  Json yearly = Json::object();
  for (const YearlySummary& output : summary.yearly) {
    Json byYear = Json::object();
    for (std::size_t y = 0; y < output.years.size(); ++y) {
      const YearSummary& s = output.years[y];
      Json year = Json::object();
      year["mean"] = s.mean;
      year["p05"] = s.p05;
      year["p50"] = s.p50;
      year["p95"] = s.p95;
      byYear[std::to_string(summary.firstYear + static_cast<int>(y))] = std::move(year);
    }
    yearly[output.name] = std::move(byYear);
  }
  j["yearly"] = std::move(yearly);

  for (const ShareSummary& share : summary.shares) {
    Json byYear = Json::object();
    for (std::size_t y = 0; y < share.years.size(); ++y) {
      Json year = Json::object();
      for (std::size_t c = 0; c < share.categories.size(); ++c)
        year[share.categories[c]] = share.years[y][c];
      byYear[std::to_string(summary.firstYear + static_cast<int>(y))] = std::move(year);
    }
    j[share.name + "_share"] = std::move(byYear);
  }

  Json estimation = Json::object();
  estimation["stderr"] = info.stderrMethod;
  estimation["quantiles"] = summary.sketch ? "ddsketch" : "exact";
  if (summary.sketch) estimation["relative_accuracy"] = summary.sketchAlpha;
  j["estimation"] = std::move(estimation);

  if (!summary.probabilities.empty()) {
    Json probabilities = Json::object();
    for (const ProbabilitySummary& p : summary.probabilities) {
      probabilities[p.expression] = Json{{"probability", p.probability}, {"stderr", p.stderror}};
    }
    j["probabilities"] = std::move(probabilities);
  }

  if (summary.convergence) {
    const ConvergenceSummary& c = *summary.convergence;
    Json checks = Json::array();
    for (const ConvergenceCheck& check : c.checks) {
      checks.push_back(Json{
          {"paths", check.paths}, {"estimate", check.estimate}, {"half_width", check.halfWidth}});
    }
    j["convergence"] = Json{{"metric", c.metric},
                            {"stat", c.stat},
                            {"relative_target", c.relativeTarget},
                            {"reached", c.reached},
                            {"checks", std::move(checks)}};
  }

  Json timing = Json::object();
  timing["seconds"] = info.seconds;
  timing["paths_per_second"] =
      info.seconds > 0.0 ? static_cast<double>(info.paths) / info.seconds : 0.0;
  timing["threads"] = info.threads;
  timing["ranks"] = info.ranks;
  j["timing"] = std::move(timing);
  return j;
}

void printReport(std::ostream& out, const RunInfo& info, const Summary& summary,
                 const RunStatistics& statistics) {
  printHeader(out, info);
  out << '\n';
  printMetrics(out, summary);
  printYearlyMedians(out, summary);
  printShares(out, summary);
  printHistogram(out, summary, statistics, kHistogramOutput);
  printProbabilities(out, summary);
  printConvergence(out, summary);
  out << '\n'
      << groupedRounded(info.seconds > 0.0 ? static_cast<double>(info.paths) / info.seconds : 0.0)
      << " paths per second (" << grouped(info.paths) << " paths in " << fixed(info.seconds, 2)
      << " s on " << processes(info) << ")\n";
}

void writePathsCsv(std::ostream& out, const RunStatistics& statistics) {
  if (!statistics.storesValues())
    throw std::logic_error("writePathsCsv needs a run that stores every path's values");
  const Layout& layout = statistics.layout();
  out << "path";
  for (const std::string& name : layout.outputs) out << ',' << name;
  out << '\n';
  std::vector<std::span<const double>> columns;
  for (std::size_t k = 0; k < layout.outputs.size(); ++k)
    columns.push_back(statistics.outputValues(k));
  std::string line;
  for (std::uint64_t path = 0; path < statistics.merged(); ++path) {
    line = std::to_string(path);
    for (const std::span<const double>& column : columns) {
      line += ',';
      line += shortest(column[path]);
    }
    line += '\n';
    out << line;
  }
}

void writeFileAtomically(const std::filesystem::path& target, const std::string& content) {
  writeFileAtomically(target, [&content](std::ostream& out) { out << content; });
}

void writeFileAtomically(const std::filesystem::path& target,
                         const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  static std::atomic<unsigned> counter{0};
  fs::path directory = target.parent_path();
  if (directory.empty()) directory = ".";

  // A fresh name beside the target (same file system, so the rename is atomic).
  fs::path temporary;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    std::string name = ".";
    name += target.filename().string();
    name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    temporary = directory / name;
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt >= 100))
      throwIoError("create a temporary file for", target, errno);
  }
  ::close(fd);

  try {
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      if (!out) throwIoError("open", temporary, errno);
      write(out);
      out.flush();
      if (!out) throwIoError("write", target, errno != 0 ? errno : EIO);
      out.close();
      if (out.fail()) throwIoError("write", target, errno != 0 ? errno : EIO);
    }
    int sync = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
    if (sync < 0) throwIoError("reopen", temporary, errno);
    int synced = ::fsync(sync);
    int syncError = errno;
    ::close(sync);
    if (synced != 0) throwIoError("write", target, syncError);
    if (std::rename(temporary.c_str(), target.c_str()) != 0) throwIoError("replace", target, errno);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }

  // Make the rename itself durable; a failure here leaves a complete file, so it is ignored.
  int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace spinval
