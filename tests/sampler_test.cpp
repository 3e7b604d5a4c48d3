#include "spinval/sampler.hpp"

#include <gtest/gtest.h>

#include <boost/random/mersenne_twister.hpp>

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

// The documented stream of mc: column d of block b is mt19937_64 seeded with
// streamKey(seed, b, FNV-1a(name of d)), each draw's top 52 bits mapped to (k + 1/2) / 2^52.
TEST(McSampler, ColumnsAreTheDocumentedStreams) {
  const Layout layout = threeDimensionLayout();
  EXPECT_EQ(layout.dimensionName(2), "e[1]");
  const Sampler sampler(SamplerKind::mc, 7, layout);
  Eigen::MatrixXd u(100, 3);
  sampler.fill(5, 5 * 100, u);
  const char* names[] = {"a", "b", "e[1]"};
  for (int d = 0; d < 3; ++d) {
    boost::random::mt19937_64 engine(streamKey(7, 5, hashName(names[d])));
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
  Sampler(SamplerKind::mc, 1, layout).fill(0, 0, a);
  Sampler(SamplerKind::mc, 1, layout).fill(1, 64, b);
  Sampler(SamplerKind::mc, 2, layout).fill(0, 0, c);
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
  Sampler(SamplerKind::mc, 3, first).fill(2, 64, a);
  Sampler(SamplerKind::mc, 3, swapped).fill(2, 64, b);
  EXPECT_EQ(a.col(0), b.col(1));
  EXPECT_EQ(a.col(1), b.col(0));
  EXPECT_EQ(a.col(2), b.col(2));
}

TEST(Sampler, ParsesNames) {
  EXPECT_EQ(parseSampler("mc"), SamplerKind::mc);
  EXPECT_EQ(samplerName(SamplerKind::mc), "mc");
  EXPECT_THROW(parseSampler("quasi"), std::invalid_argument);
}

}  // namespace
}  // namespace spinval
