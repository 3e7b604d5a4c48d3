// Shards, pieces and ranks: the split of a run is fixed by its blocks, and putting the pieces
// back together gives the digits of one process, bit for bit.
#include "spinval/partial.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "spinval/error.hpp"
#include "spinval/simulation.hpp"
#include "test_models.hpp"
#include "thread_world.hpp"

namespace spinval {
namespace {

using testing::LognormalWalkModel;
using testing::ThreadWorld;
using testing::ThresholdNanModel;

// Everything a summary is made of, compared bit for bit.
void expectSameStatistics(const RunStatistics& a, const RunStatistics& b) {
  ASSERT_EQ(a.merged(), b.merged());
  ASSERT_EQ(a.storesValues(), b.storesValues());
  const Layout& layout = a.layout();
  for (std::size_t k = 0; k < layout.outputs.size(); ++k) {
    const Moments &x = a.totals().outputs[k], &y = b.totals().outputs[k];
    EXPECT_EQ(x.count(), y.count());
    EXPECT_EQ(x.mean(), y.mean());
    EXPECT_EQ(x.m2(), y.m2());
    EXPECT_EQ(x.min(), y.min());
    EXPECT_EQ(x.max(), y.max());
    EXPECT_EQ(a.meanStderror(k), b.meanStderror(k));
    for (double p : {0.01, 0.5, 0.99}) {
      EXPECT_EQ(a.outputQuantile(k, p), b.outputQuantile(k, p));
    }
    if (a.storesValues()) {
      const auto u = a.outputValues(k), v = b.outputValues(k);
      EXPECT_TRUE(std::equal(u.begin(), u.end(), v.begin(), v.end()));
    }
  }
  for (std::size_t k = 0; k < a.totals().yearly.size(); ++k) {
    EXPECT_EQ(a.totals().yearly[k].mean(), b.totals().yearly[k].mean());
    EXPECT_EQ(a.totals().yearly[k].m2(), b.totals().yearly[k].m2());
  }
  EXPECT_EQ(a.totals().categoryCounts, b.totals().categoryCounts);
  ASSERT_EQ(a.totals().thresholds.size(), b.totals().thresholds.size());
  for (std::size_t t = 0; t < a.totals().thresholds.size(); ++t) {
    EXPECT_EQ(a.totals().thresholds[t].all.mean(), b.totals().thresholds[t].all.mean());
  }
}

// 98 blocks (100000 paths) make 7 chunks: [0,16) [16,32) ... [96,98). Five shards take chunks
// floor(7 i / 5) for i = 0..5: 0, 1, 2, 4, 5, 7.
TEST(ShardBlocks, FollowTheDocumentedSplit) {
  const std::vector<BlockRange> expected = {{0, 16}, {16, 32}, {32, 64}, {64, 80}, {80, 98}};
  for (std::uint64_t k = 1; k <= 5; ++k) {
    const BlockRange r = shardBlocks(0, 100000, {k, 5});
    EXPECT_EQ(r.first, expected[k - 1].first) << "shard " << k;
    EXPECT_EQ(r.last, expected[k - 1].last) << "shard " << k;
  }
  // A round that starts later counts its chunks from its own first block.
  const BlockRange later = shardBlocks(40 * kBlockSize, 20 * kBlockSize, {2, 2});
  EXPECT_EQ(later.first, 40 + kChunkBlocks);
  EXPECT_EQ(later.last, 60u);
  EXPECT_THROW(shardBlocks(0, 1000, {0, 3}), std::invalid_argument);
  EXPECT_THROW(shardBlocks(0, 1000, {4, 3}), std::invalid_argument);
  EXPECT_THROW(shardBlocks(100, 1000, {1, 3}), std::invalid_argument);
}

TEST(ShardBlocks, CoverEveryBlockOnceInWholeChunks) {
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 500; ++trial) {
    const std::uint64_t paths = 1 + random() % 3'000'000;
    const std::uint64_t count = 1 + random() % 40;
    const std::uint64_t blocks = (paths + kBlockSize - 1) / kBlockSize;
    const std::uint64_t chunks = (blocks + kChunkBlocks - 1) / kChunkBlocks;
    std::uint64_t next = 0, least = chunks, most = 0;
    for (std::uint64_t k = 1; k <= count; ++k) {
      const BlockRange r = shardBlocks(0, paths, {k, count});
      ASSERT_EQ(r.first, next);
      ASSERT_LE(r.first, r.last);
      ASSERT_TRUE(r.first % kChunkBlocks == 0 || r.first == blocks);
      const std::uint64_t size = (r.size() + kChunkBlocks - 1) / kChunkBlocks;
      least = std::min(least, size);
      most = std::max(most, size);
      next = r.last;
    }
    ASSERT_EQ(next, blocks) << paths << " paths, " << count << " shards";
    EXPECT_LE(most - least, 1u) << paths << " paths, " << count << " shards";
  }
}

RunSettings settingsFor(SamplerKind sampler, bool sketch) {
  RunSettings settings;
  settings.paths = 50000 + 123;  // 49 blocks, 4 chunks, the last block short
  settings.seed = 31;
  settings.sampler = sampler;
  settings.threads = 2;
  settings.sketch = sketch;
  return settings;
}

class EverySampler : public ::testing::TestWithParam<std::tuple<SamplerKind, bool>> {};

TEST_P(EverySampler, ShardsMergeToTheDigitsOfOneProcess) {
  const auto [sampler, sketch] = GetParam();
  const LognormalWalkModel model(0.2, 0.5, 4);
  RunSettings settings = settingsFor(sampler, sketch);
  const Layout& layout = model.layout();
  settings.thresholds = {parseThreshold("x>1.5", layout)};
  const RunResult whole = simulate(model, {}, settings);
  for (std::uint64_t count : {1u, 2u, 5u, 9u}) {  // 9 shards of 4 chunks: five are empty
    std::vector<RunPiece> pieces;
    for (std::uint64_t k = 1; k <= count; ++k) {
      settings.threads = static_cast<unsigned>(1 + k % 3);
      const RunPiece piece = simulatePiece(model, {}, settings, {k, count});
      // Through the binary encoding, as a shard file or an MPI message carries it.
      pieces.push_back(decodePiece(encodePiece(piece), layout, statisticsOptions(settings)));
    }
    std::vector<const RunPiece*> order;
    for (const RunPiece& piece : pieces) order.push_back(&piece);
    const RunStatistics merged =
        mergePieces(layout, statisticsOptions(settings), whole.statistics.paths(), order);
    SCOPED_TRACE(std::to_string(count) + " shards");
    expectSameStatistics(whole.statistics, merged);
  }
}

TEST_P(EverySampler, RanksGiveTheDigitsOfOneProcess) {
  const auto [sampler, sketch] = GetParam();
  const LognormalWalkModel model(0.2, 0.5, 4);
  const RunSettings settings = settingsFor(sampler, sketch);
  const RunResult whole = simulate(model, {}, settings);
  for (int ranks : {2, 3, 6}) {
    ThreadWorld world(ranks);
    std::optional<RunResult> root;
    const auto errors = world.run([&](const Communicator& rank) {
      RunResult r = simulate(model, {}, settings, rank);
      if (rank.root()) root.emplace(std::move(r));
    });
    for (const auto& e : errors) ASSERT_FALSE(e);
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    expectSameStatistics(whole.statistics, root->statistics);
    ASSERT_EQ(root->processes.size(), static_cast<std::size_t>(ranks));
    std::uint64_t paths = 0;
    for (const ProcessInfo& p : root->processes) paths += p.paths;
    EXPECT_EQ(paths, whole.statistics.merged());
  }
}

INSTANTIATE_TEST_SUITE_P(Samplers, EverySampler,
                         ::testing::Combine(::testing::Values(SamplerKind::mc,
                                                              SamplerKind::antithetic,
                                                              SamplerKind::lhs, SamplerKind::sobol),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return samplerName(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_sketch" : "_exact");
                         });

// A precision run under several ranks takes the same rounds and stops at the same check, and
// it moves to sketches at the same point when it outgrows the memory budget.
TEST(Ranks, PrecisionRunsTakeTheSameRounds) {
  const LognormalWalkModel model(0.0, 1.0, 2);
  RunSettings settings;
  settings.paths = 2048;
  settings.seed = 5;
  settings.threads = 2;
  settings.precision = PrecisionTarget{0.004, "x", PrecisionTarget::Stat::p50, 400000};
  settings.memoryBudget = 150000 * exactBytesPerPath(model.layout());
  const RunResult whole = simulate(model, {}, settings);
  ASSERT_GE(whole.convergence->checks.size(), 3u);
  ASSERT_FALSE(whole.statistics.storesValues());  // the budget was outgrown on the way
  ThreadWorld world(3);
  std::optional<RunResult> root;
  const auto errors = world.run([&](const Communicator& rank) {
    RunResult r = simulate(model, {}, settings, rank);
    if (rank.root()) root.emplace(std::move(r));
  });
  for (const auto& e : errors) ASSERT_FALSE(e);
  expectSameStatistics(whole.statistics, root->statistics);
  ASSERT_EQ(root->convergence->checks.size(), whole.convergence->checks.size());
  for (std::size_t i = 0; i < whole.convergence->checks.size(); ++i) {
    EXPECT_EQ(root->convergence->checks[i].paths, whole.convergence->checks[i].paths);
    EXPECT_EQ(root->convergence->checks[i].halfWidth, whole.convergence->checks[i].halfWidth);
  }
  EXPECT_EQ(root->convergence->reached, whole.convergence->reached);
}

// The first non-finite path of the run, found by one process, is reported by rank 0 with the
// rank whose blocks hold it; the other ranks stop quietly.
TEST(Ranks, AFailingRankIsNamed) {
  const ThresholdNanModel model(2e-5);
  RunSettings settings;
  settings.paths = 200000;
  settings.seed = 3;
  settings.threads = 2;
  std::string expected;
  std::uint64_t path = 0;
  try {
    simulate(model, {}, settings);
    FAIL() << "expected a non-finite path";
  } catch (const SimulationError& e) {
    expected = e.what();
    path = e.path();
  }
  const int ranks = 4;
  int failing = 0;
  for (int r = 0; r < ranks; ++r) {
    const BlockRange range = shardBlocks(0, settings.paths, {std::uint64_t(r) + 1, ranks});
    if (path >= range.first * kBlockSize && path < range.last * kBlockSize) failing = r;
  }
  ThreadWorld world(ranks);
  const auto errors =
      world.run([&](const Communicator& rank) { (void)simulate(model, {}, settings, rank); });
  try {
    std::rethrow_exception(errors[0]);
  } catch (const RankFailure& e) {
    EXPECT_EQ(std::string(e.what()), "rank " + std::to_string(failing) + ": " + expected);
  }
  for (int r = 1; r < ranks; ++r) {
    EXPECT_THROW(std::rethrow_exception(errors[static_cast<std::size_t>(r)]), StoppedByRoot);
  }
}

TEST(Pieces, RefuseAPrecisionTarget) {
  const LognormalWalkModel model(0.0, 1.0, 1);
  RunSettings settings;
  settings.precision = PrecisionTarget{};
  EXPECT_THROW(simulatePiece(model, {}, settings, {1, 2}), std::invalid_argument);
}

TEST(Pieces, DecodingChecksTheBytes) {
  const LognormalWalkModel model(0.0, 1.0, 2);
  RunSettings settings;
  settings.paths = 5000;
  const RunPiece piece = simulatePiece(model, {}, settings, {1, 1});
  const std::string bytes = encodePiece(piece);
  const auto options = statisticsOptions(settings);
  EXPECT_THROW(decodePiece(bytes.substr(0, bytes.size() - 1), model.layout(), options),
               std::runtime_error);
  EXPECT_THROW(decodePiece(bytes + "x", model.layout(), options), std::runtime_error);
  EXPECT_THROW(decodePiece("not a piece", model.layout(), options), std::runtime_error);
  const LognormalWalkModel longer(0.0, 1.0, 3);  // other yearly columns
  EXPECT_THROW(decodePiece(bytes, longer.layout(), options), std::runtime_error);
  auto sketch = options;
  sketch.sketch = true;
  EXPECT_THROW(decodePiece(bytes, model.layout(), sketch), std::runtime_error);
}

TEST(Pieces, MergeNeedsEveryBlockInOrder) {
  const LognormalWalkModel model(0.0, 1.0, 1);
  RunSettings settings;
  settings.paths = 40000;
  const auto options = statisticsOptions(settings);
  const RunPiece a = simulatePiece(model, {}, settings, {1, 2});
  const RunPiece b = simulatePiece(model, {}, settings, {2, 2});
  EXPECT_NO_THROW(mergePieces(model.layout(), options, 40000, {&a, &b}));
  EXPECT_THROW(mergePieces(model.layout(), options, 40000, {&b, &a}), std::invalid_argument);
  EXPECT_THROW(mergePieces(model.layout(), options, 40000, {&a}), std::invalid_argument);
  EXPECT_THROW(mergePieces(model.layout(), options, 40000, {&a, &a}), std::invalid_argument);
}

}  // namespace
}  // namespace spinval
