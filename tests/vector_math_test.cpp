#include "spinval/vector_math.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

namespace spinval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// |got - exact| in units of the last place of the double nearest the exact value.
double ulpError(double got, long double exact) {
  const double nearest = static_cast<double>(exact);
  const double ulp = std::nextafter(std::fabs(nearest), kInf) - std::fabs(nearest);
  return static_cast<double>(std::fabs(static_cast<long double>(got) - exact) / ulp);
}

std::vector<double> uniformValues(double low, double high, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> draw(low, high);
  std::vector<double> x(n);
  for (double& v : x) v = draw(engine);
  return x;
}

// Every positive normal double is as likely as any other: all binary exponents alike.
std::vector<double> positiveNormals(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<std::uint64_t> bits(0x0010000000000000, 0x7fefffffffffffff);
  std::vector<double> x(n);
  for (double& v : x) v = std::bit_cast<double>(bits(engine));
  return x;
}

// The largest ulpError of inPlace over x against `exact` in long double.
template <class InPlace, class Exact>
double worstError(const std::vector<double>& x, InPlace inPlace, Exact exact) {
  std::vector<double> y = x;
  inPlace(y.data(), y.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, ulpError(y[i], exact(static_cast<long double>(x[i]))));
  }
  return worst;
}

double worstExp(const std::vector<double>& x) {
  return worstError(
      x, [](double* v, std::size_t n) { expInPlace(v, n); },
      [](long double v) { return std::exp(v); });
}

double worstLog(const std::vector<double>& x) {
  return worstError(
      x, [](double* v, std::size_t n) { logInPlace(v, n); },
      [](long double v) { return std::log(v); });
}

// fdlibm's bound for both functions is below 1 ulp; long double carries 11 more bits, so the
// reference itself is off by far less than the margin.
TEST(VectorMath, ExpIsWithinAnUlpOverItsWholeRange) {
  EXPECT_LT(worstExp(uniformValues(-707.0, 709.0, 1 << 20, 1)), 1.0);
  EXPECT_LT(worstExp(uniformValues(-2.0, 2.0, 1 << 20, 2)), 1.0);
  EXPECT_LT(worstExp(uniformValues(-1e-6, 1e-6, 1 << 16, 3)), 1.0);
}

TEST(VectorMath, LogIsWithinAnUlpOverItsWholeRange) {
  EXPECT_LT(worstLog(positiveNormals(1 << 20, 4)), 1.0);
  EXPECT_LT(worstLog(uniformValues(0.5, 2.0, 1 << 20, 5)), 1.0);
  EXPECT_LT(worstLog(uniformValues(1.0 - 1e-9, 1.0 + 1e-9, 1 << 16, 6)), 1.0);
}

// fdlibm's rationals for erfc: below 3 ulp for |x| < 1.25 (glibc's erfc, the same algorithm,
// reaches about 4 near |x| = 1.25) and below 4 in the tails to |x| = 6, where two exp of under
// an ulp each and a division add up; beyond |x| = 6 the value is std::erfc's.
TEST(VectorMath, ErfcIsWithinAFewUlpsAndLibmsBeyond) {
  for (auto [low, high, seed, bound] :
       {std::tuple{-1.25, 1.25, 8, 3.0}, std::tuple{-0.3, 0.3, 9, 3.0},
        std::tuple{1.25, 6.0, 10, 4.0}, std::tuple{-6.0, -1.25, 11, 4.0}}) {
    const std::vector<double> x =
        uniformValues(low, high, 1 << 20, static_cast<std::uint64_t>(seed));
    const double worst = worstError(
        x, [](double* v, std::size_t n) { erfcInPlace(v, n); },
        [](long double v) { return std::erfc(v); });
    EXPECT_LT(worst, bound) << "on [" << low << ", " << high << "]";
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x = {6.0, -6.0, 6.5, -7.0, 27.0, 40.0, -40.0, kInf, -kInf};
  std::vector<double> y = x;
  erfcInPlace(y.data(), y.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(y[i]), std::bit_cast<std::uint64_t>(std::erfc(x[i])))
        << "erfc(" << x[i] << ")";
  }
  EXPECT_TRUE(std::isnan(fastErfc(nan)));
  EXPECT_EQ(fastErfc(0.0), 1.0);
}

TEST(VectorMath, ExactCasesAreExact) {
  std::vector<double> x = {0.0, -0.0, 1.0, 2.0, 0.5, 1024.0};
  std::vector<double> e = {x[0], x[1]};
  expInPlace(e.data(), e.size());
  EXPECT_EQ(e[0], 1.0);
  EXPECT_EQ(e[1], 1.0);
  logInPlace(x.data(), x.size());
  EXPECT_EQ(x[2], 0.0);
  EXPECT_EQ(x[3], std::log(2.0));
  EXPECT_EQ(x[4], -std::log(2.0));
  EXPECT_EQ(x[5], 10.0 * std::log(2.0));
}

// Outside the fast range the answer is libm's: overflow to infinity, underflow to subnormals and
// 0, the logarithm's domain errors, NaN through.
TEST(VectorMath, ValuesOutsideTheFastRangeGetLibmsAnswer) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x = {710.0, 1000.0, kInf, -708.0, -745.0, -800.0, -kInf, nan, 3.0};
  std::vector<double> y = x;
  expInPlace(y.data(), y.size());
  for (std::size_t i = 0; i + 2 < x.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(y[i]), std::bit_cast<std::uint64_t>(std::exp(x[i])))
        << "exp(" << x[i] << ")";
  }
  EXPECT_TRUE(std::isnan(y[7]));
  EXPECT_LT(ulpError(y[8], std::exp(3.0L)), 1.0);

  x = {0.0, -0.0, -1.0, 1e-310, std::numeric_limits<double>::denorm_min(), kInf, -kInf, nan, 3.0};
  y = x;
  logInPlace(y.data(), y.size());
  for (std::size_t i = 0; i + 3 < x.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(y[i]), std::bit_cast<std::uint64_t>(std::log(x[i])))
        << "log(" << x[i] << ")";
  }
  EXPECT_EQ(y[5], kInf);
  EXPECT_TRUE(std::isnan(y[6]));
  EXPECT_TRUE(std::isnan(y[7]));
  EXPECT_LT(ulpError(y[8], std::log(3.0L)), 1.0);
}

// The bits of a value's result do not depend on the array it is in, its position there (the
// tail is padded), the one-value functions, or the register width.
TEST(VectorMath, BitsDependOnTheValueAlone) {
  std::vector<double> x = uniformValues(-30.0, 30.0, 1001, 7);
  x[17] = 800.0;  // a lane that falls back to libm, beside one that does not
  std::vector<double> whole = x;
  expInPlace(whole.data(), whole.size());
  std::vector<double> logs = x;
  for (double& v : logs) v = std::fabs(v);
  std::vector<double> wholeLogs = logs;
  logInPlace(wholeLogs.data(), wholeLogs.size());
  std::vector<double> scores = x;
  for (double& v : scores) v /= 10.0;  // most inside erfc's central rationals, some in the tails
  std::vector<double> wholeErfc = scores;
  erfcInPlace(wholeErfc.data(), wholeErfc.size());
  for (int lanes : {2, vectorLanes()}) {
    for (std::size_t shift : {0, 1, 3}) {
      std::vector<double> part(x.begin() + static_cast<std::ptrdiff_t>(shift), x.end());
      expInPlace(part.data(), part.size(), lanes);
      std::vector<double> partLogs(logs.begin() + static_cast<std::ptrdiff_t>(shift), logs.end());
      logInPlace(partLogs.data(), partLogs.size(), lanes);
      std::vector<double> partErfc(scores.begin() + static_cast<std::ptrdiff_t>(shift),
                                   scores.end());
      erfcInPlace(partErfc.data(), partErfc.size(), lanes);
      for (std::size_t i = 0; i < part.size(); ++i) {
        ASSERT_EQ(std::bit_cast<std::uint64_t>(part[i]),
                  std::bit_cast<std::uint64_t>(whole[i + shift]))
            << "exp, lanes " << lanes << ", shift " << shift << ", value " << i;
        ASSERT_EQ(std::bit_cast<std::uint64_t>(partLogs[i]),
                  std::bit_cast<std::uint64_t>(wholeLogs[i + shift]))
            << "log, lanes " << lanes << ", shift " << shift << ", value " << i;
        ASSERT_EQ(std::bit_cast<std::uint64_t>(partErfc[i]),
                  std::bit_cast<std::uint64_t>(wholeErfc[i + shift]))
            << "erfc, lanes " << lanes << ", shift " << shift << ", value " << i;
      }
    }
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint64_t>(fastExp(x[i])), std::bit_cast<std::uint64_t>(whole[i]));
    ASSERT_EQ(std::bit_cast<std::uint64_t>(fastLog(logs[i])),
              std::bit_cast<std::uint64_t>(wholeLogs[i]));
    ASSERT_EQ(std::bit_cast<std::uint64_t>(fastErfc(scores[i])),
              std::bit_cast<std::uint64_t>(wholeErfc[i]));
  }
}

}  // namespace
}  // namespace spinval
