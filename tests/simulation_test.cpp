#include "spinval/simulation.hpp"

#include <gtest/gtest.h>

#include <boost/math/distributions/normal.hpp>
#include <cmath>

#include "spinval/error.hpp"
#include "test_models.hpp"

namespace spinval {
namespace {

using testing::LognormalWalkModel;
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

// The lowest path whose uniform falls under the threshold is reported, with the seed, on
// every thread count. The expected path is found by drawing the documented mc stream.
TEST(Simulate, NonFiniteOutputNamesThePathAndSeed) {
  const double threshold = 0.002;
  const ThresholdNanModel model(threshold);
  const std::uint64_t paths = 20 * kBlockSize, seed = 17;
  std::uint64_t expected = paths;
  const Sampler sampler(SamplerKind::mc, seed, model.layout());
  Eigen::MatrixXd u(kBlockSize, 1);
  for (std::uint64_t block = 0; block < 20 && expected == paths; ++block) {
    sampler.fill(block, block * kBlockSize, u);
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
      EXPECT_NE(message.find("NaN"), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace spinval
