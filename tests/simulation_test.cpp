#include "spinval/simulation.hpp"

#include <gtest/gtest.h>

#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <numbers>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "spinval/error.hpp"
#include "test_models.hpp"

namespace spinval {
namespace {

using testing::FunctionModel;
using testing::LognormalWalkModel;
using testing::MixedOutputsModel;
using testing::ThresholdNanModel;

void expectSameRun(const RunStatistics& a, const RunStatistics& b) {
  const Layout& layout = a.layout();
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const auto x = a.outputValues(k), y = b.outputValues(k);
    ASSERT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    // Bitwise: merged in block order, the moments may not differ in the last digit.
    EXPECT_EQ(a.totals().outputs[k].mean(), b.totals().outputs[k].mean());
    EXPECT_EQ(a.totals().outputs[k].variance(), b.totals().outputs[k].variance());
  }
  for (std::size_t k = 0; k < a.totals().yearly.size(); ++k) {
    EXPECT_EQ(a.totals().yearly[k].mean(), b.totals().yearly[k].mean());
    EXPECT_EQ(a.totals().yearly[k].variance(), b.totals().yearly[k].variance());
  }
  EXPECT_EQ(a.totals().categoryCounts, b.totals().categoryCounts);
}

TEST(Simulate, SameDigitsOnAnyThreadCountAndRepeat) {
  const LognormalWalkModel model(0.1, 0.4, 3);
  RunSettings settings;
  settings.paths = 20000 + 123;
  settings.seed = 99;
  settings.threads = 1;
  const RunResult one = simulate(model, {}, settings);
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    settings.threads = threads;
    const RunResult other = simulate(model, {}, settings);
    expectSameRun(one.statistics, other.statistics);
  }
}

// X = exp(mu + sigma Z): E X = exp(mu + sigma^2 / 2), Var X = (exp(sigma^2) - 1) E[X]^2. The
// walk W_y ~ N(0, y); the sign is Bernoulli(1/2). Tolerances are 6 standard errors of the
// exact sd (a correct build fails about once in 5e8 comparisons).
TEST(Simulate, EstimatesMatchExactMoments) {
  const double mu = 0.1, sigma = 0.4;
  const LognormalWalkModel model(mu, sigma, 3);
  const std::uint64_t n = 200000;
  const RunResult run = simulate(model, {}, {.paths = n, .seed = 5, .threads = 2});
  const auto& totals = run.statistics.totals();
  const double mean = std::exp(mu + sigma * sigma / 2);
  const double sd = mean * std::sqrt(std::exp(sigma * sigma) - 1);
  EXPECT_EQ(totals.outputs[0].count(), n);
  EXPECT_NEAR(totals.outputs[0].mean(), mean, 6 * sd / std::sqrt(n));
  // The sample variance of a lognormal has sd sqrt((mu4 - sigma^4) / n); bound it loosely at
  // 5% here, far wider than 6 of those sds for these parameters (about 1.2%).
  EXPECT_NEAR(totals.outputs[0].stddev() / sd, 1.0, 0.05);
  for (int y = 1; y <= 3; ++y) {
    const auto& walk = totals.yearly[static_cast<std::size_t>(y - 1)];
    EXPECT_NEAR(walk.mean(), 0.0, 6 * std::sqrt(y / double(n)));
    EXPECT_NEAR(walk.variance(), y, 6 * y * std::sqrt(2.0 / n));
  }
  const Summary summary = summarize(run.statistics);
  // Median of X is exp(mu); the sample median's sd is sqrt(p (1 - p) / n) / f(median).
  const double density = 1 / (std::exp(mu) * sigma * std::sqrt(2 * M_PI));
  EXPECT_NEAR(summary.outputs[0].quantiles[4], std::exp(mu), 6 * 0.5 / std::sqrt(n) / density);
  for (int y = 0; y < 3; ++y) {
    EXPECT_NEAR(summary.shares[0].years[static_cast<std::size_t>(y)][1], 0.5,
                6 * 0.5 / std::sqrt(n));
  }
}

TEST(Simulate, PartialLastBlockAndProgress) {
  const LognormalWalkModel model(0.0, 1.0, 1);
  std::uint64_t lastDone = 0, lastTotal = 0, calls = 0;
  RunSettings settings{.paths = 2 * kBlockSize + 7, .seed = 1, .threads = 2};
  settings.progress = [&](std::uint64_t done, std::uint64_t total) {
    EXPECT_GE(done, lastDone);
    lastDone = done;
    lastTotal = total;
    ++calls;
  };
  const RunResult run = simulate(model, {}, settings);
  EXPECT_EQ(run.statistics.totals().outputs[0].count(), settings.paths);
  EXPECT_EQ(lastDone, settings.paths);
  EXPECT_EQ(lastTotal, settings.paths);
  EXPECT_GE(calls, 1u);
}

void expectNonFiniteReported(ThresholdNanModel::Where where, const std::string& name,
                             const std::string& value) {
  const double threshold = 0.002;
  const ThresholdNanModel model(threshold, where);
  const std::uint64_t paths = 20 * kBlockSize, seed = 17;
  std::uint64_t expected = paths;
  const Sampler sampler(SamplerKind::mc, seed, model.layout());
  Eigen::MatrixXd u(kBlockSize, 1);
  for (std::uint64_t block = 0; block < 20 && expected == paths; ++block) {
    sampler.fill(block, block * kBlockSize, u, {});
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      if (u(i, 0) < threshold) {
        expected = block * kBlockSize + static_cast<std::uint64_t>(i);
        break;
      }
    }
  }
  ASSERT_LT(expected, paths) << "the threshold never triggers; pick another seed";
  for (unsigned threads : {1u, 2u, 3u}) {
    try {
      simulate(model, {}, {.paths = paths, .seed = seed, .threads = threads});
      FAIL() << "expected a SimulationError";
    } catch (const SimulationError& e) {
      EXPECT_EQ(e.path(), expected);
      EXPECT_EQ(e.seed(), seed);
      const std::string message = e.what();
      EXPECT_NE(message.find("path " + std::to_string(expected)), std::string::npos) << message;
      EXPECT_NE(message.find(name), std::string::npos) << message;
      EXPECT_NE(message.find(value), std::string::npos) << message;
    }
  }
}

// The lowest path whose uniform falls under the threshold is reported, with the seed and the
// output, on every thread count, whether the value is a NaN output, an infinite yearly value or a
// NaN category. The expected path is found by drawing the documented mc stream.
TEST(Simulate, NonFiniteOutputNamesThePathAndSeed) {
  for (const auto& [where, name, value] :
       {std::tuple{ThresholdNanModel::kOutput, "u", "NaN"},
        std::tuple{ThresholdNanModel::kYearly, "y[", "inf"},
        std::tuple{ThresholdNanModel::kCategory, "state[", "NaN"}}) {
    SCOPED_TRACE(name);
    expectNonFiniteReported(where, name, value);
  }
}

// f(u) = prod_d (1 + (u_d - 1/2) / 2) over 4 dimensions: smooth, with integral exactly 1.
double smoothProduct(const double* u, int dimensions) {
  double f = 1.0;
  for (int d = 0; d < dimensions; ++d) f *= 1.0 + 0.5 * (u[d] - 0.5);
  return f;
}

// exp(u0 + u1): monotone in each input. E f = (e - 1)^2.
double exponentialSum(const double* u, int) {
  return std::exp(u[0] + u[1]);
}

RunSettings settingsFor(std::uint64_t paths, std::uint64_t seed, SamplerKind sampler) {
  RunSettings settings;
  settings.paths = paths;
  settings.seed = seed;
  settings.sampler = sampler;
  settings.threads = 2;
  return settings;
}

// Least-squares slope of log RMSE against log N over seeds, for one sampler.
double errorSlope(SamplerKind sampler) {
  const FunctionModel model(4, smoothProduct);
  std::vector<double> logN, logRmse;
  for (int m = 10; m <= 18; m += 2) {
    const std::uint64_t n = std::uint64_t{1} << m;
    double squares = 0;
    const int seeds = 16;
    for (int seed = 1; seed <= seeds; ++seed) {
      const RunResult run =
          simulate(model, {}, settingsFor(n, static_cast<std::uint64_t>(seed), sampler));
      const double error = run.statistics.totals().outputs[0].mean() - 1.0;
      squares += error * error;
    }
    logN.push_back(std::log(static_cast<double>(n)));
    logRmse.push_back(0.5 * std::log(squares / seeds));
  }
  const double mx = std::accumulate(logN.begin(), logN.end(), 0.0) / logN.size();
  const double my = std::accumulate(logRmse.begin(), logRmse.end(), 0.0) / logRmse.size();
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < logN.size(); ++i) {
    sxy += (logN[i] - mx) * (logRmse[i] - my);
    sxx += (logN[i] - mx) * (logN[i] - mx);
  }
  return sxy / sxx;
}

// Plain Monte Carlo's error falls as N^-1/2; randomised Sobol on a smooth integrand close to
// N^-1. With 16 seeds per point the fitted slopes scatter by about 0.05, so the bounds below
// (mc in [-0.65, -0.35], sobol below -0.8) leave room on both sides.
TEST(Samplers, SobolErrorFallsFasterThanMc) {
  const double mc = errorSlope(SamplerKind::mc);
  const double sobol = errorSlope(SamplerKind::sobol);
  EXPECT_GT(mc, -0.65);
  EXPECT_LT(mc, -0.35);
  EXPECT_LT(sobol, -0.8) << "mc slope " << mc;
}

// The 95% interval from the 16 shifted replicates (Student t, 15 degrees of freedom) covers
// the exact integral in about 95% of seeds. Over 200 seeds the count has sd sqrt(200 .95 .05)
// = 3.1; at least 170 (6 sd below 190) fails a correct build about once in 1e8 runs.
TEST(Samplers, SobolReplicatesGiveAnHonestInterval) {
  const FunctionModel model(4, smoothProduct);
  int covered = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const RunResult run = simulate(model, {}, settingsFor(1024, seed, SamplerKind::sobol));
    const double half = run.statistics.intervalFactor() * run.statistics.meanStderror(0);
    if (std::abs(run.statistics.totals().outputs[0].mean() - 1.0) <= half) ++covered;
  }
  EXPECT_GE(covered, 170);
}

// Antithetic pairs of a monotone f: Var[(f(u) + f(1 - u)) / 2] = (Var f + Cov) / 2 with
// Cov = E[f(u) f(1 - u)] - (E f)^2 = e^2 - (e - 1)^4 < 0, and Var f = ((e^2 - 1) / 2)^2 -
// (e - 1)^4. The reported stderr (from pair means) must match the exact
// sqrt((Var f + Cov) / 2 / (n / 2)) within 5% (its own relative sd here is about 0.4%), and
// be below plain Monte Carlo's exact sqrt(Var f / n).
TEST(Samplers, AntitheticReducesTheVarianceOfAMonotoneFunction) {
  const FunctionModel model(2, exponentialSum);
  const double e = std::exp(1.0);
  const double mean = (e - 1) * (e - 1);
  const double var = std::pow((e * e - 1) / 2, 2) - std::pow(e - 1, 4);
  const double cov = e * e - std::pow(e - 1, 4);
  const std::uint64_t n = 1 << 17;
  const RunResult run = simulate(model, {}, settingsFor(n, 3, SamplerKind::antithetic));
  const double exactPairStderr = std::sqrt((var + cov) / 2 / (n / 2));
  const double mcStderr = std::sqrt(var / n);
  EXPECT_LT(exactPairStderr, 0.5 * mcStderr);
  EXPECT_NEAR(run.statistics.meanStderror(0) / exactPairStderr, 1.0, 0.05);
  EXPECT_NEAR(run.statistics.totals().outputs[0].mean(), mean, 6 * exactPairStderr);
}

// All four samplers estimate the same integral within 6 of their own reported standard errors,
// and lhs's reported (conservative, i.i.d.) stderr is at least its actual error spread.
TEST(Samplers, AllAgreeOnAKnownIntegral) {
  const FunctionModel model(4, smoothProduct);
  for (SamplerKind sampler :
       {SamplerKind::mc, SamplerKind::antithetic, SamplerKind::lhs, SamplerKind::sobol}) {
    const RunResult run = simulate(model, {}, settingsFor(1 << 14, 11, sampler));
    const double stderror = run.statistics.meanStderror(0);
    EXPECT_GT(stderror, 0.0) << samplerName(sampler);
    EXPECT_NEAR(run.statistics.totals().outputs[0].mean(), 1.0,
                6 * run.statistics.intervalFactor() / 1.96 * stderror)
        << samplerName(sampler);
  }
}

// A precision run stops once the 95% half-width is at most the target, or says it did not.
TEST(Precision, StopsAtTheTargetHalfWidth) {
  const LognormalWalkModel model(0.0, 0.5, 1);
  for (SamplerKind sampler : {SamplerKind::mc, SamplerKind::sobol}) {
    RunSettings settings = settingsFor(4096, 2, sampler);
    settings.precision = PrecisionTarget{0.002, "x", PrecisionTarget::Stat::mean, 50'000'000};
    const RunResult run = simulate(model, {}, settings);
    ASSERT_TRUE(run.convergence);
    ASSERT_TRUE(run.convergence->reached);
    const ConvergenceCheck& last = run.convergence->checks.back();
    EXPECT_LE(last.halfWidth, 0.002 * std::abs(last.estimate));
    EXPECT_EQ(last.paths, run.statistics.merged());
    EXPECT_GT(run.convergence->checks.size(), 1u);
    for (std::size_t i = 0; i + 1 < run.convergence->checks.size(); ++i) {
      EXPECT_GT(run.convergence->checks[i].halfWidth,
                0.002 * std::abs(run.convergence->checks[i].estimate));
    }
  }
  // A quantile target, and one that cannot be reached before maxPaths.
  RunSettings settings = settingsFor(4096, 2, SamplerKind::mc);
  settings.precision = PrecisionTarget{0.01, "x", PrecisionTarget::Stat::p95, 10'000'000};
  const RunResult p95 = simulate(model, {}, settings);
  ASSERT_TRUE(p95.convergence->reached);
  EXPECT_LE(p95.convergence->checks.back().halfWidth,
            0.01 * p95.convergence->checks.back().estimate);
  settings.precision = PrecisionTarget{1e-5, "x", PrecisionTarget::Stat::mean, 20000};
  const RunResult capped = simulate(model, {}, settings);
  EXPECT_FALSE(capped.convergence->reached);
  EXPECT_EQ(capped.statistics.merged(), 20000u);
}

// The same precision run on 1 and 3 threads stops at the same place with the same digits.
TEST(Precision, IsReproducibleAcrossThreads) {
  const LognormalWalkModel model(0.0, 0.5, 2);
  RunSettings settings = settingsFor(2000, 9, SamplerKind::lhs);
  settings.precision = PrecisionTarget{0.003, "x", PrecisionTarget::Stat::mean, 10'000'000};
  settings.threads = 1;
  const RunResult one = simulate(model, {}, settings);
  settings.threads = 3;
  const RunResult three = simulate(model, {}, settings);
  expectSameRun(one.statistics, three.statistics);
  ASSERT_EQ(one.convergence->checks.size(), three.convergence->checks.size());
  EXPECT_EQ(one.convergence->checks.back().halfWidth, three.convergence->checks.back().halfWidth);
}

// Sketch quantiles stay within the sketch's relative accuracy of the exact ones, and the two
// modes share every moment.
TEST(QuantileModes, SketchAgreesWithExact) {
  const LognormalWalkModel model(0.3, 0.8, 2);
  RunSettings settings = settingsFor(100000, 4, SamplerKind::mc);
  const Summary exact = summarize(simulate(model, {}, settings).statistics);
  settings.sketch = true;
  settings.threads = 3;
  const Summary sketch = summarize(simulate(model, {}, settings).statistics);
  EXPECT_TRUE(sketch.sketch);
  EXPECT_EQ(exact.outputs[0].mean, sketch.outputs[0].mean);
  for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q) {
    EXPECT_NEAR(sketch.outputs[0].quantiles[q], exact.outputs[0].quantiles[q],
                (QuantileSketch::kDefaultAlpha + 1e-12) * exact.outputs[0].quantiles[q]);
  }
}

// P(X > c) for X = exp(mu + sigma Z) is 1 - Phi((ln c - mu) / sigma); the estimate must lie
// within 6 of its binomial standard errors, and the reported stderr match sqrt(p (1 - p) / n).
void expectSameYearly(const Summary& a, const Summary& b) {
  ASSERT_EQ(a.yearly.size(), b.yearly.size());
  for (std::size_t m = 0; m < a.yearly.size(); ++m) {
    for (std::size_t y = 0; y < a.yearly[m].years.size(); ++y) {
      const YearSummary &x = a.yearly[m].years[y], &z = b.yearly[m].years[y];
      EXPECT_EQ(x.mean, z.mean);
      EXPECT_EQ(x.p05, z.p05) << a.yearly[m].name << " year " << y + 1;
      EXPECT_EQ(x.p50, z.p50) << a.yearly[m].name << " year " << y + 1;
      EXPECT_EQ(x.p95, z.p95) << a.yearly[m].name << " year " << y + 1;
    }
  }
  EXPECT_EQ(a.shares.size(), b.shares.size());
}

// From kWindowsFrom paths on, a run keeps its yearly values in windows around their
// quantiles and gives the quantiles of every value, bit for bit, on any thread count. Windows
// 1e-6 standard deviations wide (2 ranks of the pilot either side) miss the quantiles of all the
// paths, and the run is repeated keeping every value, with the same digits.
TEST(Windows, GiveTheYearlyQuantilesOfEveryValue) {
  const LognormalWalkModel model(0.1, 0.4, 3);
  RunSettings settings{.paths = kWindowsFrom + 777, .seed = 17, .threads = 1};
  settings.windowSigmas = 0.0;
  const RunResult every = simulate(model, {}, settings);
  EXPECT_FALSE(every.statistics.windowed());
  const Summary expected = summarize(every.statistics);
  for (unsigned threads : {1u, 3u}) {
    settings.threads = threads;
    settings.windowSigmas = 7.0;
    const RunResult windowed = simulate(model, {}, settings);
    EXPECT_TRUE(windowed.statistics.windowed());
    expectSameYearly(expected, summarize(windowed.statistics));
  }
  settings.windowSigmas = 1e-6;
  const RunResult missed = simulate(model, {}, settings);
  EXPECT_FALSE(missed.statistics.windowed());
  expectSameYearly(expected, summarize(missed.statistics));
  // The walk W_y ~ N(0, y): its median within 6 standard errors of 0, sd(median) ~
  // sqrt(y pi / (2 n)).
  const auto n = static_cast<double>(settings.paths);
  for (std::size_t y = 0; y < 3; ++y) {
    const double se = std::sqrt(static_cast<double>(y + 1) * std::numbers::pi / (2.0 * n));
    EXPECT_NEAR(expected.yearly[0].years[y].p50, 0.0, 6.0 * se);
  }
}

void expectSameOutputs(const Summary& a, const Summary& b) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (std::size_t k = 0; k < a.outputs.size(); ++k) {
    const MetricSummary &x = a.outputs[k], &z = b.outputs[k];
    EXPECT_EQ(x.mean, z.mean);
    EXPECT_EQ(x.min, z.min);
    EXPECT_EQ(x.max, z.max);
    for (std::size_t q = 0; q < kReportedProbabilities.size(); ++q) {
      EXPECT_EQ(x.quantiles[q], z.quantiles[q]) << a.outputNames[k] << " quantile " << q;
      EXPECT_EQ(x.quantileIntervals[q].lo, z.quantileIntervals[q].lo) << a.outputNames[k];
      EXPECT_EQ(x.quantileIntervals[q].hi, z.quantileIntervals[q].hi) << a.outputNames[k];
    }
  }
}

// The outputs the caller does not read whole go to windows too: every quantile and interval
// bound of a continuous output, an indicator (two values shared by many paths) and a constant
// comes out as with every value kept, on 1 and 3 threads, and from the repeated run when the
// windows miss. The outputs kept whole (keptOutputs; all of them by default) keep every value.
TEST(Windows, GiveTheOutputQuantilesOfEveryValue) {
  const MixedOutputsModel model(0.1, 0.4, 2);
  RunSettings settings{.paths = kWindowsFrom + 4321, .seed = 23, .threads = 1};
  settings.windowSigmas = 0.0;
  const RunResult every = simulate(model, {}, settings);
  const Summary expected = summarize(every.statistics);

  settings.windowSigmas = 6.0;
  const RunResult byDefault = simulate(model, {}, settings);
  EXPECT_TRUE(byDefault.statistics.windowed());
  for (std::size_t k = 0; k < 3; ++k) EXPECT_TRUE(byDefault.statistics.storesOutputValues(k));
  expectSameOutputs(expected, summarize(byDefault.statistics));

  for (unsigned threads : {1u, 3u}) {
    settings.threads = threads;
    settings.keptOutputs = std::vector<std::size_t>{};
    const RunResult windowed = simulate(model, {}, settings);
    EXPECT_TRUE(windowed.statistics.windowed());
    EXPECT_FALSE(windowed.statistics.storesOutputValues(0));
    EXPECT_THROW(static_cast<void>(windowed.statistics.outputValues(0)), std::logic_error);
    expectSameOutputs(expected, summarize(windowed.statistics, threads));

    settings.keptOutputs = std::vector<std::size_t>{1};
    const RunResult kept = simulate(model, {}, settings);
    EXPECT_FALSE(kept.statistics.storesOutputValues(0));
    ASSERT_TRUE(kept.statistics.storesOutputValues(1));
    const auto values = kept.statistics.outputValues(1), all = every.statistics.outputValues(1);
    EXPECT_TRUE(std::equal(values.begin(), values.end(), all.begin(), all.end()));
    expectSameOutputs(expected, summarize(kept.statistics, threads));
  }
  settings.keptOutputs = std::vector<std::size_t>{};
  settings.windowSigmas = 1e-6;
  const RunResult missed = simulate(model, {}, settings);
  EXPECT_FALSE(missed.statistics.windowed());
  expectSameOutputs(expected, summarize(missed.statistics));
  // The indicator's share of ones is P(X > 1) = 1 - Phi(-mu / sigma), within 6 binomial
  // standard errors; its P50 is 1 since that share is above one half.
  const double p = 1.0 - boost::math::cdf(boost::math::normal(0.1, 0.4), 0.0);
  const auto n = static_cast<double>(settings.paths);
  EXPECT_NEAR(expected.outputs[1].mean, p, 6.0 * std::sqrt(p * (1.0 - p) / n));
  EXPECT_EQ(expected.outputs[1].quantiles[4], 1.0);
  EXPECT_EQ(expected.outputs[2].quantiles[0], 2.5);
}

TEST(Thresholds, ProbabilityMatchesTheLognormalTail) {
  const double mu = 0.2, sigma = 0.6, c = 1.5;
  const LognormalWalkModel model(mu, sigma, 1);
  RunSettings settings = settingsFor(200000, 6, SamplerKind::mc);
  settings.thresholds = {parseThreshold("x>1.5", model.layout()),
                         parseThreshold("x <= 1.5", model.layout())};
  const Summary summary = summarize(simulate(model, {}, settings).statistics);
  const double p = 1 - boost::math::cdf(boost::math::normal(mu, sigma), std::log(c));
  const double sd = std::sqrt(p * (1 - p) / 200000);
  ASSERT_EQ(summary.probabilities.size(), 2u);
  EXPECT_NEAR(summary.probabilities[0].probability, p, 6 * sd);
  EXPECT_NEAR(summary.probabilities[0].stderror / sd, 1.0, 0.02);
  EXPECT_DOUBLE_EQ(summary.probabilities[0].probability + summary.probabilities[1].probability,
                   1.0);
  EXPECT_THROW(parseThreshold("y>1", model.layout()), std::invalid_argument);
  EXPECT_THROW(parseThreshold("x>abc", model.layout()), std::invalid_argument);
  EXPECT_THROW(parseThreshold("x=1", model.layout()), std::invalid_argument);
}

}  // namespace
}  // namespace spinval
