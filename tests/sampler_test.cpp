#include "spinval/sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "spinval/rng.hpp"

namespace spinval {
namespace {

Layout threeDimensionLayout() {
  Layout layout;
  layout.staticInputs = {{"a", Distribution(Uniform{0, 1})}, {"b", Distribution(Uniform{0, 1})}};
  layout.yearlyShocks = {"e"};
  layout.years = 1;
  return layout;
}

// SplitMix64 against the published reference: from state 0 the first draws are
// 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4 and 0x06c45d188009454f (the reference C code,
// splitmix64.c by Sebastiano Vigna); `at` gives draw i directly.
TEST(McSampler, SplitMix64MatchesTheReferenceOutput) {
  SplitMix64 engine(0);
  EXPECT_EQ(engine(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(engine(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(engine(), 0x06c45d188009454fULL);
  SplitMix64 stream(12345);
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_EQ(SplitMix64::at(12345, i), stream());
}

// The documented stream of mc: column d of block b is SplitMix64 from state
// streamKey(seed, b, FNV-1a(name of d)), each draw's top 52 bits mapped to (k + 1/2) / 2^52.
TEST(McSampler, ColumnsAreTheDocumentedStreams) {
  const Layout layout = threeDimensionLayout();
  EXPECT_EQ(layout.dimensionName(2), "e[1]");
  const Sampler sampler(SamplerKind::mc, 7, layout);
  Eigen::MatrixXd u(100, 3);
  sampler.fill(5, 5 * 100, u, {});
  const char* names[] = {"a", "b", "e[1]"};
  for (int d = 0; d < 3; ++d) {
    SplitMix64 engine(streamKey(7, 5, hashName(names[d])));
    for (int i = 0; i < 100; ++i) {
      const double expected = (static_cast<double>(engine() >> 12) + 0.5) / 4503599627370496.0;
      ASSERT_EQ(u(i, d), expected) << "dimension " << d << " row " << i;
    }
  }
}

TEST(McSampler, UniformsAreStrictlyInsideTheUnitInterval) {
  EXPECT_GT(toOpenUnit(0), 0.0);
  EXPECT_LT(toOpenUnit(~0ULL), 1.0);
  EXPECT_EQ(toOpenUnit(0), 0x1.0p-53);
  EXPECT_EQ(toOpenUnit(~0ULL), 1.0 - 0x1.0p-53);
}

TEST(McSampler, BlocksAndSeedsGiveDifferentStreams) {
  const Layout layout = threeDimensionLayout();
  Eigen::MatrixXd a(64, 3), b(64, 3), c(64, 3);
  Sampler(SamplerKind::mc, 1, layout).fill(0, 0, a, {});
  Sampler(SamplerKind::mc, 1, layout).fill(1, 64, b, {});
  Sampler(SamplerKind::mc, 2, layout).fill(0, 0, c, {});
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a.col(0), a.col(1));
}

// The same dimension name draws the same numbers whatever its position in the layout: the
// basis of common random numbers between scenarios.
TEST(McSampler, StreamsFollowDimensionNamesNotPositions) {
  Layout first = threeDimensionLayout();
  Layout swapped = first;
  std::swap(swapped.staticInputs[0], swapped.staticInputs[1]);
  Eigen::MatrixXd a(32, 3), b(32, 3);
  Sampler(SamplerKind::mc, 3, first).fill(2, 64, a, {});
  Sampler(SamplerKind::mc, 3, swapped).fill(2, 64, b, {});
  EXPECT_EQ(a.col(0), b.col(1));
  EXPECT_EQ(a.col(1), b.col(0));
  EXPECT_EQ(a.col(2), b.col(2));
}

TEST(Sampler, ParsesNames) {
  for (const auto& name : samplerNames()) EXPECT_EQ(samplerName(parseSampler(name)), name);
  EXPECT_EQ(parseSampler("sobol"), SamplerKind::sobol);
  EXPECT_THROW(parseSampler("quasi"), std::invalid_argument);
}

TEST(Sampler, AdmissiblePathCounts) {
  EXPECT_EQ(admissiblePaths(SamplerKind::mc, 1001), 1001u);
  EXPECT_EQ(admissiblePaths(SamplerKind::lhs, 1001), 1001u);
  EXPECT_EQ(admissiblePaths(SamplerKind::antithetic, 1001), 1002u);
  EXPECT_EQ(admissiblePaths(SamplerKind::antithetic, 1000), 1000u);
  EXPECT_EQ(admissiblePaths(SamplerKind::sobol, 1000), 1024u);
  EXPECT_EQ(admissiblePaths(SamplerKind::sobol, 1024), 1024u);
  EXPECT_EQ(admissiblePaths(SamplerKind::sobol, 3), 2 * kSobolReplicates);
}

TEST(AntitheticSampler, PairsMirrorEachOther) {
  const Layout layout = threeDimensionLayout();
  Eigen::MatrixXd u(101, 3);
  Sampler(SamplerKind::antithetic, 4, layout).fill(3, 3 * 1024, u, {});
  for (Eigen::Index i = 0; i + 1 < u.rows(); i += 2) {
    for (Eigen::Index d = 0; d < 3; ++d) ASSERT_EQ(u(i + 1, d), 1.0 - u(i, d));
  }
  // The first of each pair is the mc stream's k-th draw.
  Eigen::MatrixXd mc(51, 3);
  Sampler(SamplerKind::mc, 4, layout).fill(3, 3 * 1024, mc, {});
  for (Eigen::Index k = 0; k < 51; ++k) EXPECT_EQ(u(2 * k, 0), mc(k, 0));
}

TEST(Permutation, IsABijectionForManySizes) {
  for (std::uint64_t n : {1ull, 2ull, 3ull, 5ull, 16ull, 17ull, 1000ull, 4097ull, 65536ull}) {
    const Permutation pi(n, 12345 + n);
    std::vector<char> seen(n, 0);
    for (std::uint64_t x = 0; x < n; ++x) {
      const std::uint64_t y = pi(x);
      ASSERT_LT(y, n);
      ASSERT_FALSE(seen[y]) << "n " << n << " repeats " << y;
      seen[y] = 1;
    }
  }
}

// Each dimension of a Latin hypercube of N paths hits each of its N strata exactly once,
// across blocks, for a round that is the whole run and for a later round.
TEST(LhsSampler, EachDimensionHitsEachStratumOnce) {
  const Layout layout = threeDimensionLayout();
  const Sampler sampler(SamplerKind::lhs, 8, layout);
  for (const Round round : {Round{0, 0, 5000}, Round{3, 6144, 3072}}) {
    const std::uint64_t end = round.firstPath + round.paths;
    std::vector<std::vector<char>> hit(3, std::vector<char>(round.paths, 0));
    for (std::uint64_t first = round.firstPath; first < end; first += 1024) {
      const auto rows = static_cast<Eigen::Index>(std::min<std::uint64_t>(1024, end - first));
      Eigen::MatrixXd u(rows, 3);
      sampler.fill(first / 1024, first, u, round);
      for (Eigen::Index d = 0; d < 3; ++d) {
        for (Eigen::Index i = 0; i < rows; ++i) {
          ASSERT_GT(u(i, d), 0.0);
          ASSERT_LT(u(i, d), 1.0);
          const auto stratum =
              static_cast<std::uint64_t>(std::floor(u(i, d) * static_cast<double>(round.paths)));
          ASSERT_LT(stratum, round.paths);
          ASSERT_FALSE(hit[d][stratum]) << "dimension " << d << " stratum " << stratum;
          hit[d][stratum] = 1;
        }
      }
    }
    for (const auto& dimension : hit) {
      EXPECT_EQ(std::count(dimension.begin(), dimension.end(), 1),
                static_cast<std::ptrdiff_t>(round.paths));
    }
  }
}

// A digital shift keeps the Sobol sequence's net property: the first 2^m points of each
// replicate put exactly one point in each interval [j / 2^m, (j + 1) / 2^m) of every
// dimension.
TEST(SobolSampler, EachReplicateIsStratifiedInEveryDimension) {
  const Layout layout = threeDimensionLayout();
  const Sampler sampler(SamplerKind::sobol, 21, layout);
  const Eigen::Index points = 64, rows = points * static_cast<Eigen::Index>(kSobolReplicates);
  Eigen::MatrixXd u(rows, 3);
  sampler.fill(0, 0, u, {});
  for (std::uint64_t r = 0; r < kSobolReplicates; ++r) {
    for (Eigen::Index d = 0; d < 3; ++d) {
      std::vector<int> count(points, 0);
      for (Eigen::Index k = 0; k < points; ++k) {
        const double x =
            u(k * static_cast<Eigen::Index>(kSobolReplicates) + static_cast<Eigen::Index>(r), d);
        ++count[static_cast<std::size_t>(std::floor(x * points))];
      }
      EXPECT_EQ(*std::min_element(count.begin(), count.end()), 1) << "replicate " << r;
      EXPECT_EQ(*std::max_element(count.begin(), count.end()), 1) << "replicate " << r;
    }
  }
  // Replicates differ (their shifts do), and blocks continue the sequence.
  EXPECT_NE(u(0, 0), u(1, 0));
  Eigen::MatrixXd tail(16 * static_cast<Eigen::Index>(kSobolReplicates), 3);
  sampler.fill(0, 48 * kSobolReplicates, tail, {});
  EXPECT_EQ(tail, u.bottomRows(tail.rows()));
}

}  // namespace
}  // namespace spinval
