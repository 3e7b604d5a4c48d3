#include "spinval/distribution.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/quadrature/tanh_sinh.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <numeric>
#include <type_traits>

#include "spinval/quantile_table.hpp"
#include "spinval/vector_math.hpp"

namespace spinval {

// ---------------------------------------------------------------------------------------------
// Standard normal

namespace {

// c[0] + c[1] x + ... + c[N-1] x^(N-1) by Horner's rule.
template <std::size_t N>
double polynomial(const std::array<double, N>& c, double x) {
  double y = c[N - 1];
  for (std::size_t i = N - 1; i-- > 0;) y = y * x + c[i];
  return y;
}

// Wichura, "Algorithm AS 241: The percentage points of the normal distribution", Applied
// Statistics 37 (1988) 477-484, PPND16. With q = u - 1/2:
//   |q| <= 0.425:  z = q A(r) / B(r),  r = 0.180625 - q^2
//   otherwise:     r = sqrt(-ln min(u, 1 - u)),
//                  z = C(r - 1.6) / D(r - 1.6) for r <= 5, E(r - 5) / F(r - 5) beyond,
//                  negated for u < 1/2.
// clang-format off
constexpr std::array<double, 8> kA = {
    3.3871328727963666080e+0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
    1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
    3.3430575583588128105e+4, 2.5090809287301226727e+3};
constexpr std::array<double, 8> kB = {
    1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
    5.3941960214247511077e+3, 2.1213794301586595867e+4, 3.9307895800092710610e+4,
    2.8729085735721942674e+4, 5.2264952788528545610e+3};
constexpr std::array<double, 8> kC = {
    1.42343711074968357734e+0, 4.63033784615654529590e+0, 5.76949722146069140550e+0,
    3.64784832476320460504e+0, 1.27045825245236838258e+0, 2.41780725177450611770e-1,
    2.27238449892691845833e-2, 7.74545014278341407640e-4};
constexpr std::array<double, 8> kD = {
    1.0, 2.05319162663775882187e+0, 1.67638483018380384940e+0,
    6.89767334985100004550e-1, 1.48103976427480074590e-1, 1.51986665636164571966e-2,
    5.47593808499534494600e-4, 1.05075007164441684324e-9};
constexpr std::array<double, 8> kE = {
    6.65790464350110377720e+0, 5.46378491116411436990e+0, 1.78482653991729133580e+0,
    2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
    2.71155556874348757815e-5, 2.01033439929228813265e-7};
constexpr std::array<double, 8> kF = {
    1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
    1.48753612908506148525e-2, 7.86869131145613259100e-4, 1.84631831751005468180e-5,
    1.42151175831644588870e-7, 2.04426310338993978564e-15};
// clang-format on

// The pieces of AS241 that normalQuantile and normalQuantiles share, so that both give the same
// bits: the central rational in q, and the first tail rational in r <= 5.
double centralNormalQuantile(double q) {
  const double r = 0.180625 - q * q;
  return q * polynomial(kA, r) / polynomial(kB, r);
}

double tailNormalQuantile(double r) {
  return polynomial(kC, r - 1.6) / polynomial(kD, r - 1.6);
}

}  // namespace

// Relative error about 1e-16 in both tails (1 - u is exact for u >= 1/2) down to u ~ 1e-300.
double normalQuantile(double u) {
  if (!(u > 0.0)) return u == 0.0 ? -kInfinity : std::numeric_limits<double>::quiet_NaN();
  if (!(u < 1.0)) return u == 1.0 ? kInfinity : std::numeric_limits<double>::quiet_NaN();
  const double q = u - 0.5;
  if (std::fabs(q) <= 0.425) return centralNormalQuantile(q);
  const double r = std::sqrt(-fastLog(q < 0.0 ? u : 1.0 - u));
  const double z =
      r <= 5.0 ? tailNormalQuantile(r) : polynomial(kE, r - 5.0) / polynomial(kF, r - 5.0);
  return q < 0.0 ? -z : z;
}

// In blocks of 256, in passes without branches on the data (but for the rare one in the last):
//   1. gathers the positions and values of the uniforms outside the central region (15% of them,
//      and 0, 1 and NaN);
//   2. evaluates the central rational for every element, vectorised by the compiler (two doubles
//      per SSE2 register, four per AVX2 one, eight per AVX-512 one: the function is compiled for
//      each, and the processor picks);
//   3. takes -ln min(u, 1 - u) of the gathered values (logInPlace, a few at a time);
//   4. and 5. take its square root (Eigen's, vectorised: sqrtpd rounds correctly, as std::sqrt
//      does) and the first tail rational with its sign, vectorised;
//   6. writes those to their positions, or normalQuantile(u) itself where r > 5 (u < 1.4e-11 or
//      u > 1 - 1.4e-11) or r is not a number (u outside (0, 1)).
// The same operations in the same order as normalQuantile, so the same bits. The gathered values
// are copied before pass 2 writes out, so out may equal u.
[[gnu::target_clones("arch=x86-64-v4", "avx2", "default")]] void normalQuantiles(const double* u,
                                                                                 double* out,
                                                                                 std::size_t n) {
  constexpr std::size_t kBlock = 256;
  std::array<std::uint32_t, kBlock> tailAt;
  std::array<double, kBlock> tailU, tailR, tailZ;
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t size = std::min(kBlock, n - start);
    const double* ub = u + start;
    double* ob = out + start;
    std::size_t tails = 0;
    for (std::size_t i = 0; i < size; ++i) {
      tailAt[tails] = static_cast<std::uint32_t>(i);
      tailU[tails] = ub[i];
      tails += std::fabs(ub[i] - 0.5) <= 0.425 ? 0 : 1;
    }
    for (std::size_t i = 0; i < size; ++i) ob[i] = centralNormalQuantile(ub[i] - 0.5);
    for (std::size_t j = 0; j < tails; ++j) {
      const double v = tailU[j];
      tailR[j] = v - 0.5 < 0.0 ? v : 1.0 - v;
    }
    logInPlace(tailR.data(), tails);
    Eigen::Map<Eigen::ArrayXd> r(tailR.data(), static_cast<Eigen::Index>(tails));
    r = (-r).sqrt();
    for (std::size_t j = 0; j < tails; ++j) {
      const double z = tailNormalQuantile(tailR[j]);
      tailZ[j] = tailU[j] - 0.5 < 0.0 ? -z : z;
    }
    for (std::size_t j = 0; j < tails; ++j) {
      ob[tailAt[j]] = tailR[j] <= 5.0 ? tailZ[j] : normalQuantile(tailU[j]);
    }
  }
}

// Phi(z) = erfc(-z / sqrt 2) / 2: erfc keeps its relative precision deep in the lower tail, and
// Phi(-z) gives the upper tail 1 - Phi(z) without cancellation.
double normalCdf(double z) {
  return 0.5 * fastErfc(-z / std::numbers::sqrt2);
}

void normalCdfs(const double* z, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = -z[i] / std::numbers::sqrt2;
  erfcInPlace(out, n);
  for (std::size_t i = 0; i < n; ++i) out[i] *= 0.5;
}

namespace {

double normalPdf(double z) {
  return std::exp(-0.5 * z * z) * (std::numbers::inv_sqrtpi / std::numbers::sqrt2);
}

// P(lo < Z < hi) for a standard normal Z, as a difference of the two smaller tail areas.
double normalInterval(double lo, double hi) {
  if (lo >= 0.0) return normalCdf(-lo) - normalCdf(-hi);
  if (hi <= 0.0) return normalCdf(hi) - normalCdf(lo);
  return 1.0 - normalCdf(lo) - normalCdf(-hi);
}

// ---------------------------------------------------------------------------------------------
// Messages and checks

// %g with 7 significant digits: "0.1", "2500000", "1e+10", "inf".
std::string num(double x, int digits = 7) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, x);
  return buffer;
}

[[noreturn]] void fail(const std::string& parameter, const std::string& message) {
  throw ParameterError(parameter, message);
}

void requireFinite(const std::string& name, double value) {
  if (!std::isfinite(value)) fail(name, name + " must be a finite number, got " + num(value));
}

void requirePositive(const std::string& name, double value) {
  requireFinite(name, value);
  if (!(value > 0.0)) fail(name, name + " must be > 0, got " + num(value));
}

void requireOrdered(double min, double max) {
  requireFinite("min", min);
  requireFinite("max", max);
  if (!(min < max)) fail("max", "min must be < max, got min " + num(min) + ", max " + num(max));
}

void requireMode(double min, double mode, double max) {
  requireFinite("mode", mode);
  if (mode < min || mode > max) {
    fail("mode", "mode " + num(mode) + " is outside [min " + num(min) + ", max " + num(max) + "]");
  }
}

struct Support {
  double lower, upper;
};

struct Moments {
  double mean, variance;
};

// ---------------------------------------------------------------------------------------------
// One Ops<D> per distribution, all with the same static members:
//   name, discrete      the YAML `dist` name; constant, discrete and bernoulli are discrete
//   ownBounds           its own parameters are called min and max (describe() then names a
//                       truncation differently)
//   prepare(d)          validates (throws ParameterError) and normalises the parameters
//   params(d)           "key value, ..." for describe()
//   support(d)          the untruncated support
//   moments(d)          the untruncated mean and variance
//   quantile(d, u)      continuous: x with CDF(x) = u; discrete: the smallest x with CDF(x) >= u
//   cdf(d, x)
// and continuous ones also
//   sf(d, x)            the survival function 1 - CDF, accurate in the upper tail
//   cquantile(d, q)     x with 1 - CDF(x) = q, accurate for small q
// A new distribution joins the variant and adds its Ops; truncation, describe() and the
// moments of a truncated distribution then follow from the generic code below.

template <class D>
struct Ops;

template <>
struct Ops<Constant> {
  static constexpr const char* name = "constant";
  static constexpr bool discrete = true, ownBounds = false;
  static void prepare(Constant& d) { requireFinite("value", d.value); }
  static std::string params(const Constant& d) { return "value " + num(d.value); }
  static Support support(const Constant& d) { return {d.value, d.value}; }
  static Moments moments(const Constant& d) { return {d.value, 0.0}; }
  static double quantile(const Constant& d, double) { return d.value; }
  static double cdf(const Constant& d, double x) { return x < d.value ? 0.0 : 1.0; }
};

template <>
struct Ops<Uniform> {
  static constexpr const char* name = "uniform";
  static constexpr bool discrete = false, ownBounds = true;
  static void prepare(Uniform& d) { requireOrdered(d.min, d.max); }
  static std::string params(const Uniform& d) {
    return "min " + num(d.min) + ", max " + num(d.max);
  }
  static Support support(const Uniform& d) { return {d.min, d.max}; }
  static Moments moments(const Uniform& d) {
    const double w = d.max - d.min;
    return {d.min + 0.5 * w, w * w / 12.0};
  }
  static double quantile(const Uniform& d, double p) { return p * (d.max - d.min) + d.min; }
  static double cquantile(const Uniform& d, double q) { return d.max - q * (d.max - d.min); }
  static double cdf(const Uniform& d, double x) {
    return std::clamp((x - d.min) / (d.max - d.min), 0.0, 1.0);
  }
  static double sf(const Uniform& d, double x) {
    return std::clamp((d.max - x) / (d.max - d.min), 0.0, 1.0);
  }
};

// Triangular on [a, b] with mode c, w = b - a:
//   F(x) = (x - a)^2 / (w (c - a))      for a <= x <= c, so F(c) = (c - a) / w
//   S(x) = (b - x)^2 / (w (b - c))      for c <= x <= b
// and the quantiles invert whichever branch holds the probability.
template <>
struct Ops<Triangular> {
  static constexpr const char* name = "triangular";
  static constexpr bool discrete = false, ownBounds = true;
  static void prepare(Triangular& d) {
    requireOrdered(d.min, d.max);
    requireMode(d.min, d.mode, d.max);
  }
  static std::string params(const Triangular& d) {
    return "min " + num(d.min) + ", mode " + num(d.mode) + ", max " + num(d.max);
  }
  static Support support(const Triangular& d) { return {d.min, d.max}; }
  static Moments moments(const Triangular& d) {
    // Var = (a^2 + b^2 + c^2 - ab - ac - bc) / 18 = (w^2 + m^2 - w m) / 18 with m = c - a.
    const double w = d.max - d.min, m = d.mode - d.min;
    return {(d.min + d.mode + d.max) / 3.0, (w * w + m * m - w * m) / 18.0};
  }
  static double quantile(const Triangular& d, double p) {
    const double w = d.max - d.min;
    if (p * w <= d.mode - d.min) return d.min + std::sqrt(p * w * (d.mode - d.min));
    return d.max - std::sqrt((1.0 - p) * w * (d.max - d.mode));
  }
  static double cquantile(const Triangular& d, double q) {
    const double w = d.max - d.min;
    if (q * w <= d.max - d.mode) return d.max - std::sqrt(q * w * (d.max - d.mode));
    return d.min + std::sqrt((1.0 - q) * w * (d.mode - d.min));
  }
  static double cdf(const Triangular& d, double x) {
    if (x <= d.min) return 0.0;
    if (x >= d.max) return 1.0;
    const double w = d.max - d.min;
    if (x <= d.mode) return (x - d.min) * (x - d.min) / (w * (d.mode - d.min));
    return 1.0 - (d.max - x) * (d.max - x) / (w * (d.max - d.mode));
  }
  static double sf(const Triangular& d, double x) {
    if (x <= d.min) return 1.0;
    if (x >= d.max) return 0.0;
    const double w = d.max - d.min;
    if (x >= d.mode) return (d.max - x) * (d.max - x) / (w * (d.max - d.mode));
    return 1.0 - (x - d.min) * (x - d.min) / (w * (d.mode - d.min));
  }
};

// Boost evaluates double arguments in long double by default. Kept in double its incomplete beta
// functions run 5 to 7 times faster and stay within about 3e-15 relative of the long double
// results, far inside what a draw needs. An inverse still costs 1 to 6 microseconds, by far the
// most expensive quantile here.
constexpr boost::math::policies::policy<boost::math::policies::promote_double<false>> kDoublePolicy;

// Beta(alpha, beta) scaled to [min, max]: X = min + (max - min) Y. Since 1 - Y ~ Beta(beta,
// alpha), the complements are the same incomplete beta functions with the shapes swapped, and X
// is built from whichever of Y and 1 - Y is smaller so that both ends keep their precision.
template <>
struct Ops<Beta> {
  static constexpr const char* name = "beta";
  static constexpr bool discrete = false, ownBounds = true;
  static void prepare(Beta& d) {
    requirePositive("alpha", d.alpha);
    requirePositive("beta", d.beta);
    requireOrdered(d.min, d.max);
  }
  static std::string params(const Beta& d) {
    return "alpha " + num(d.alpha) + ", beta " + num(d.beta) + ", min " + num(d.min) + ", max " +
           num(d.max);
  }
  static Support support(const Beta& d) { return {d.min, d.max}; }
  static Moments moments(const Beta& d) {
    // E Y = alpha / s, Var Y = alpha beta / (s^2 (s + 1)), s = alpha + beta.
    const double w = d.max - d.min, s = d.alpha + d.beta;
    return {d.min + w * (d.alpha / s), w * w * (d.alpha * d.beta / (s * s * (s + 1.0)))};
  }
  static double quantile(const Beta& d, double p) {
    double oneMinusY = 0.0;
    const double y = boost::math::ibeta_inv(d.alpha, d.beta, p, &oneMinusY, kDoublePolicy);
    return scale(d, y, oneMinusY);
  }
  static double cquantile(const Beta& d, double q) {
    double y = 0.0;
    const double oneMinusY = boost::math::ibeta_inv(d.beta, d.alpha, q, &y, kDoublePolicy);
    return scale(d, y, oneMinusY);
  }
  static double cdf(const Beta& d, double x) {
    const double w = d.max - d.min, y = (x - d.min) / w;
    if (!(y > 0.0)) return 0.0;
    if (y >= 1.0) return 1.0;
    if (y <= 0.5) return boost::math::ibeta(d.alpha, d.beta, y, kDoublePolicy);
    return boost::math::ibetac(d.beta, d.alpha, (d.max - x) / w, kDoublePolicy);
  }
  static double sf(const Beta& d, double x) {
    const double w = d.max - d.min, y = (x - d.min) / w;
    if (!(y > 0.0)) return 1.0;
    if (y >= 1.0) return 0.0;
    if (y <= 0.5) return boost::math::ibetac(d.alpha, d.beta, y, kDoublePolicy);
    return boost::math::ibeta(d.beta, d.alpha, (d.max - x) / w, kDoublePolicy);
  }
  static double scale(const Beta& d, double y, double oneMinusY) {
    const double w = d.max - d.min;
    return y <= 0.5 ? d.min + w * y : d.max - w * oneMinusY;
  }
};

// PERT: the beta above with alpha = 1 + lambda (mode - min) / (max - min) and
// beta = 1 + lambda (max - mode) / (max - min).
template <>
struct Ops<Pert> {
  static constexpr const char* name = "pert";
  static constexpr bool discrete = false, ownBounds = true;
  static Beta asBeta(const Pert& d) {
    const double w = d.max - d.min;
    return {1.0 + d.lambda * (d.mode - d.min) / w, 1.0 + d.lambda * (d.max - d.mode) / w, d.min,
            d.max};
  }
  static void prepare(Pert& d) {
    requireOrdered(d.min, d.max);
    requireMode(d.min, d.mode, d.max);
    requirePositive("lambda", d.lambda);
  }
  static std::string params(const Pert& d) {
    return "min " + num(d.min) + ", mode " + num(d.mode) + ", max " + num(d.max) + ", lambda " +
           num(d.lambda);
  }
  static Support support(const Pert& d) { return {d.min, d.max}; }
  static Moments moments(const Pert& d) { return Ops<Beta>::moments(asBeta(d)); }
  static double quantile(const Pert& d, double p) { return Ops<Beta>::quantile(asBeta(d), p); }
  static double cquantile(const Pert& d, double q) { return Ops<Beta>::cquantile(asBeta(d), q); }
  static double cdf(const Pert& d, double x) { return Ops<Beta>::cdf(asBeta(d), x); }
  static double sf(const Pert& d, double x) { return Ops<Beta>::sf(asBeta(d), x); }
};

// Beta and PERT draws go through the Distribution's BetaQuantileTable (within 3e-14 relative of
// Boost's inverse, see quantile_table.hpp) instead of inverting the incomplete beta each time;
// their CDFs, moments and truncation windows stay exact. Only the quantiles are needed, so
// drawOf and upperDrawOf see this as one more continuous distribution.
struct TabulatedBeta {
  const BetaQuantileTable* table;
  double min, max;
};

template <>
struct Ops<TabulatedBeta> {
  static constexpr bool discrete = false;
  static double quantile(const TabulatedBeta& d, double p) {
    return d.table->scaledQuantile(p, d.min, d.max);
  }
  static double cquantile(const TabulatedBeta& d, double q) {
    const double w = d.max - d.min;
    return q <= 0.5 ? d.max - w * d.table->complementQuantile(q)
                    : d.min + w * d.table->quantile(1.0 - q);
  }
};

// What a draw from d evaluates: the tabulated beta for Beta and PERT, d itself otherwise.
template <class D>
decltype(auto) drawable(const D& d, const BetaQuantileTable* table) {
  if constexpr (std::is_same_v<D, Beta> || std::is_same_v<D, Pert>) {
    return TabulatedBeta{table, d.min, d.max};
  } else {
    return (d);
  }
}

template <>
struct Ops<Normal> {
  static constexpr const char* name = "normal";
  static constexpr bool discrete = false, ownBounds = false;
  static void prepare(Normal& d) {
    requireFinite("mean", d.mean);
    requirePositive("sd", d.sd);
  }
  static std::string params(const Normal& d) { return "mean " + num(d.mean) + ", sd " + num(d.sd); }
  static Support support(const Normal&) { return {-kInfinity, kInfinity}; }
  static Moments moments(const Normal& d) { return {d.mean, d.sd * d.sd}; }
  static double quantile(const Normal& d, double p) { return d.mean + d.sd * normalQuantile(p); }
  static double cquantile(const Normal& d, double q) { return d.mean - d.sd * normalQuantile(q); }
  static double cdf(const Normal& d, double x) { return normalCdf((x - d.mean) / d.sd); }
  static double sf(const Normal& d, double x) { return normalCdf((d.mean - x) / d.sd); }
};

// ln X ~ Normal(mu, sigma); described by its median exp(mu), as the YAML can give it.
template <>
struct Ops<Lognormal> {
  static constexpr const char* name = "lognormal";
  static constexpr bool discrete = false, ownBounds = false;
  static void prepare(Lognormal& d) {
    requireFinite("mu", d.mu);
    requirePositive("sigma", d.sigma);
  }
  static std::string params(const Lognormal& d) {
    return "median " + num(std::exp(d.mu)) + ", sigma " + num(d.sigma);
  }
  static Support support(const Lognormal&) { return {0.0, kInfinity}; }
  static Moments moments(const Lognormal& d) {
    // E X = exp(mu + sigma^2 / 2), Var X = (exp(sigma^2) - 1) exp(2 mu + sigma^2).
    const double s2 = d.sigma * d.sigma;
    return {std::exp(d.mu + 0.5 * s2), std::expm1(s2) * std::exp(2.0 * d.mu + s2)};
  }
  static double quantile(const Lognormal& d, double p) {
    return fastExp(d.mu + d.sigma * normalQuantile(p));
  }
  static double cquantile(const Lognormal& d, double q) {
    return fastExp(d.mu - d.sigma * normalQuantile(q));
  }
  static double cdf(const Lognormal& d, double x) {
    return x > 0.0 ? normalCdf((std::log(x) - d.mu) / d.sigma) : 0.0;
  }
  static double sf(const Lognormal& d, double x) {
    return x > 0.0 ? normalCdf((d.mu - std::log(x)) / d.sigma) : 1.0;
  }
};

// Values sorted ascending with their probabilities, rescaled to sum 1. The quantile walks the
// cumulative sum (discrete inputs have a handful of values) and cdf() adds the same terms in the
// same order, so cdf(quantile(u)) >= u holds exactly.
template <>
struct Ops<Discrete> {
  static constexpr const char* name = "discrete";
  static constexpr bool discrete = true, ownBounds = false;
  static void prepare(Discrete& d) {
    if (d.values.empty()) fail("values", "values must list at least one value");
    if (d.probs.size() != d.values.size()) {
      fail("probs", "probs has " + std::to_string(d.probs.size()) + " entries but values has " +
                        std::to_string(d.values.size()) + "; give one probability per value");
    }
    for (std::size_t i = 0; i < d.values.size(); ++i) {
      std::string at = "[";
      at += std::to_string(i);
      at += ']';
      if (!std::isfinite(d.values[i])) {
        fail("values", "values" + at + " must be a finite number, got " + num(d.values[i]));
      }
      if (!std::isfinite(d.probs[i]) || !(d.probs[i] > 0.0)) {
        fail("probs", "probs" + at + " must be > 0, got " + num(d.probs[i]));
      }
    }
    const double sum = std::accumulate(d.probs.begin(), d.probs.end(), 0.0);
    if (!(std::fabs(sum - 1.0) <= 1e-9)) {
      fail("probs", "probs sum to " + num(sum, 12) + ", expected 1 (+-1e-9)");
    }
    std::vector<std::size_t> order(d.values.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return d.values[a] < d.values[b]; });
    std::vector<double> values(order.size()), probs(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      values[i] = d.values[order[i]];
      probs[i] = d.probs[order[i]] / sum;
      if (i > 0 && values[i] == values[i - 1]) {
        fail("values", "value " + num(values[i]) + " appears more than once; list each value once");
      }
    }
    d.values = std::move(values);
    d.probs = std::move(probs);
  }
  static std::string params(const Discrete& d) {
    std::string values = "values [", probs = "probs [";
    for (std::size_t i = 0; i < d.values.size(); ++i) {
      if (i > 0) {
        values += ", ";
        probs += ", ";
      }
      values += num(d.values[i]);
      probs += num(d.probs[i]);
    }
    return values + "], " + probs + "]";
  }
  static Support support(const Discrete& d) { return {d.values.front(), d.values.back()}; }
  static Moments moments(const Discrete& d) {
    double mean = 0.0, variance = 0.0;
    for (std::size_t i = 0; i < d.values.size(); ++i) mean += d.probs[i] * d.values[i];
    for (std::size_t i = 0; i < d.values.size(); ++i) {
      variance += d.probs[i] * (d.values[i] - mean) * (d.values[i] - mean);
    }
    return {mean, variance};
  }
  static double quantile(const Discrete& d, double u) {
    const std::size_t last = d.values.size() - 1;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < last; ++i) {
      cumulative += d.probs[i];
      if (u <= cumulative) return d.values[i];
    }
    return d.values[last];
  }
  static double cdf(const Discrete& d, double x) {
    if (x >= d.values.back()) return 1.0;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < d.values.size() && d.values[i] <= x; ++i) {
      cumulative += d.probs[i];
    }
    return cumulative;
  }
};

// F(0) = 1 - p, so the smallest x with F(x) >= u is 0 for u <= 1 - p and 1 above: a draw is 1
// with probability p and non-decreasing in u. The support is {0, 1}, narrowed to the one value
// drawn when p is 0 or 1.
template <>
struct Ops<Bernoulli> {
  static constexpr const char* name = "bernoulli";
  static constexpr bool discrete = true, ownBounds = false;
  static void prepare(Bernoulli& d) {
    if (!(d.p >= 0.0 && d.p <= 1.0)) fail("p", "p must be in [0, 1], got " + num(d.p));
  }
  static std::string params(const Bernoulli& d) { return "p " + num(d.p); }
  static Support support(const Bernoulli& d) {
    return {d.p == 1.0 ? 1.0 : 0.0, d.p == 0.0 ? 0.0 : 1.0};
  }
  static Moments moments(const Bernoulli& d) { return {d.p, d.p * (1.0 - d.p)}; }
  static double quantile(const Bernoulli& d, double u) { return u > 1.0 - d.p ? 1.0 : 0.0; }
  static double cdf(const Bernoulli& d, double x) {
    if (x < 0.0) return 0.0;
    return x < 1.0 ? 1.0 - d.p : 1.0;
  }
};

// Boost's overflow is reported as infinity instead of thrown: a quantile of a heavy tail at an
// extreme u (a t with dof 0.01 at u = 1e-300) is then an infinite draw, which the window clamps
// and the model reports, never an exception out of a sampler.
constexpr boost::math::policies::policy<
    boost::math::policies::promote_double<false>,
    boost::math::policies::overflow_error<boost::math::policies::ignore_error>>
    kTailPolicy;
using StudentsT = boost::math::students_t_distribution<double, std::decay_t<decltype(kTailPolicy)>>;
using StudentsTLong = boost::math::students_t_distribution<
    double, boost::math::policies::policy<
                boost::math::policies::overflow_error<boost::math::policies::ignore_error>>>;

// location + scale T. T is symmetric, so S(x) = F(2 location - x) and the complement quantile is
// location - scale Q_T(q), both without cancellation.
template <>
struct Ops<StudentT> {
  static constexpr const char* name = "student_t";
  static constexpr bool discrete = false, ownBounds = false;
  static void prepare(StudentT& d) {
    requireFinite("location", d.location);
    requirePositive("scale", d.scale);
    requirePositive("dof", d.dof);
  }
  static std::string params(const StudentT& d) {
    return "location " + num(d.location) + ", scale " + num(d.scale) + ", dof " + num(d.dof);
  }
  static Support support(const StudentT&) { return {-kInfinity, kInfinity}; }
  static Moments moments(const StudentT& d) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (!(d.dof > 1.0)) return {nan, nan};
    if (!(d.dof > 2.0)) return {d.location, kInfinity};
    return {d.location, d.scale * d.scale * (d.dof / (d.dof - 2.0))};
  }
  // Q_T(p). Boost's inverse kept in double agrees with its long double evaluation within 1e-14
  // wherever |Q_T| < 1e50, but can be off by a factor 2 or overflow beyond (dof 3 at p = 1e-200);
  // those far-tail points, reached only through truncation windows, are recomputed in long double
  // at about 7 times the cost.
  static double standard(double dof, double p) {
    const double t = boost::math::quantile(StudentsT(dof), p);
    return std::fabs(t) <= 1e30 ? t : boost::math::quantile(StudentsTLong(dof), p);
  }
  static double quantile(const StudentT& d, double p) {
    return d.location + d.scale * standard(d.dof, p);
  }
  static double cquantile(const StudentT& d, double q) {
    return d.location - d.scale * standard(d.dof, q);
  }
  static double cdf(const StudentT& d, double x) {
    return boost::math::cdf(StudentsT(d.dof), (x - d.location) / d.scale);
  }
  static double sf(const StudentT& d, double x) {
    return boost::math::cdf(StudentsT(d.dof), (d.location - x) / d.scale);
  }
};

// Gamma(k, theta) = theta G with G ~ Gamma(k, 1): F(x) = P(k, x / theta) and S(x) = Q(k, x /
// theta), the regularised incomplete gamma functions, inverted by Boost's gamma_p_inv and
// gamma_q_inv.
template <>
struct Ops<Gamma> {
  static constexpr const char* name = "gamma";
  static constexpr bool discrete = false, ownBounds = false;
  static void prepare(Gamma& d) {
    requirePositive("shape", d.shape);
    requirePositive("scale", d.scale);
  }
  static std::string params(const Gamma& d) {
    return "shape " + num(d.shape) + ", scale " + num(d.scale);
  }
  static Support support(const Gamma&) { return {0.0, kInfinity}; }
  static Moments moments(const Gamma& d) {
    return {d.shape * d.scale, d.shape * d.scale * d.scale};
  }
  static double quantile(const Gamma& d, double p) {
    return d.scale * boost::math::gamma_p_inv(d.shape, p, kTailPolicy);
  }
  static double cquantile(const Gamma& d, double q) {
    return d.scale * boost::math::gamma_q_inv(d.shape, q, kTailPolicy);
  }
  static double cdf(const Gamma& d, double x) {
    return x > 0.0 ? boost::math::gamma_p(d.shape, x / d.scale, kTailPolicy) : 0.0;
  }
  static double sf(const Gamma& d, double x) {
    return x > 0.0 ? boost::math::gamma_q(d.shape, x / d.scale, kTailPolicy) : 1.0;
  }
};

// ln X uniform on [ln a, ln b], L = ln(b / a): F(x) = ln(x / a) / L, Q(p) = a exp(p L),
// E X = (b - a) / L, E X^2 = (b^2 - a^2) / (2 L).
template <>
struct Ops<Loguniform> {
  static constexpr const char* name = "loguniform";
  static constexpr bool discrete = false, ownBounds = true;
  static void prepare(Loguniform& d) {
    requirePositive("min", d.min);
    requireOrdered(d.min, d.max);
  }
  static std::string params(const Loguniform& d) {
    return "min " + num(d.min) + ", max " + num(d.max);
  }
  static Support support(const Loguniform& d) { return {d.min, d.max}; }
  static double span(const Loguniform& d) { return std::log(d.max / d.min); }
  static Moments moments(const Loguniform& d) {
    const double l = span(d), w = d.max - d.min;
    const double mean = w / l;
    // Var = (b - a)((b + a) L - 2 (b - a)) / (2 L^2).
    return {mean, std::max(w * ((d.max + d.min) * l - 2.0 * w) / (2.0 * l * l), 0.0)};
  }
  static double quantile(const Loguniform& d, double p) { return d.min * std::exp(p * span(d)); }
  static double cquantile(const Loguniform& d, double q) { return d.max * std::exp(-q * span(d)); }
  static double cdf(const Loguniform& d, double x) {
    if (x <= d.min) return 0.0;
    return x >= d.max ? 1.0 : std::log(x / d.min) / span(d);
  }
  static double sf(const Loguniform& d, double x) {
    if (x <= d.min) return 1.0;
    return x >= d.max ? 0.0 : std::log(d.max / x) / span(d);
  }
};

// Both forms are piecewise linear in the quantile: between knots t_j < t_(j+1) of probability,
// Q runs linearly from x_j to x_(j+1). For observations the knots are t_i = i / (n - 1) at the
// sorted values (type 7, evaluated directly by its index formula); for a histogram they are the
// cumulative weights at the bin edges, found by binary search. The complement quantile and the
// survival function count from the top so that the upper tail keeps its digits.
template <>
struct Ops<Empirical> {
  static constexpr const char* name = "empirical";
  static constexpr bool discrete = false, ownBounds = false;
  static bool isHistogram(const Empirical& d) { return d.values.empty(); }
  static std::string at(std::size_t i) {
    std::string s = "[";
    s += std::to_string(i);
    s += ']';
    return s;
  }
  static void prepare(Empirical& d) {
    if (!d.values.empty()) {
      if (!d.bins.empty() || !d.weights.empty()) {
        fail("bins", "give either values (observations) or bins with weights, not both");
      }
      if (d.values.size() < 2) {
        fail("values",
             "values must list at least 2 observations, got " + std::to_string(d.values.size()));
      }
      for (std::size_t i = 0; i < d.values.size(); ++i) {
        if (!std::isfinite(d.values[i])) {
          fail("values", "values" + at(i) + " must be a finite number, got " + num(d.values[i]));
        }
      }
      std::sort(d.values.begin(), d.values.end());
      if (!(d.values.front() < d.values.back())) {
        fail("values", "values must not all be equal (all are " + num(d.values.front()) + ")");
      }
      d.cumulative.clear();
      d.complement.clear();
      return;
    }
    if (d.bins.size() < 2) {
      fail("bins", "bins must list at least 2 edges (or give values), got " +
                       std::to_string(d.bins.size()));
    }
    for (std::size_t i = 0; i < d.bins.size(); ++i) {
      if (!std::isfinite(d.bins[i])) {
        fail("bins", "bins" + at(i) + " must be a finite number, got " + num(d.bins[i]));
      }
      if (i > 0 && !(d.bins[i] > d.bins[i - 1])) {
        fail("bins", "bins must be strictly increasing, got bins" + at(i) + " = " + num(d.bins[i]) +
                         " after " + num(d.bins[i - 1]));
      }
    }
    const std::size_t k = d.bins.size() - 1;
    if (d.weights.size() != k) {
      fail("weights", "weights has " + std::to_string(d.weights.size()) + " entries but bins has " +
                          std::to_string(k) + " bins; give one weight per bin");
    }
    double sum = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      if (!std::isfinite(d.weights[i]) || !(d.weights[i] >= 0.0)) {
        fail("weights", "weights" + at(i) + " must be >= 0, got " + num(d.weights[i]));
      }
      sum += d.weights[i];
    }
    if (!(sum > 0.0)) fail("weights", "weights must not all be 0");
    d.cumulative.assign(k + 1, 0.0);
    d.complement.assign(k + 1, 0.0);
    for (std::size_t j = 0; j < k; ++j) d.cumulative[j + 1] = d.cumulative[j] + d.weights[j] / sum;
    for (std::size_t j = k; j-- > 0;) d.complement[j] = d.complement[j + 1] + d.weights[j] / sum;
    d.cumulative[k] = 1.0;
    d.complement[0] = 1.0;
  }
  static std::string params(const Empirical& d) {
    if (!isHistogram(d)) {
      return std::to_string(d.values.size()) + " values in [" + num(d.values.front()) + ", " +
             num(d.values.back()) + "]";
    }
    return std::to_string(d.weights.size()) + " bins in [" + num(d.bins.front()) + ", " +
           num(d.bins.back()) + "]";
  }
  static Support support(const Empirical& d) {
    if (!isHistogram(d)) return {d.values.front(), d.values.back()};
    // Empty bins at either end are outside the support.
    std::size_t first = 0, last = d.weights.size();
    while (d.weights[first] == 0.0) ++first;
    while (d.weights[last - 1] == 0.0) --last;
    return {d.bins[first], d.bins[last]};
  }
  // Calls piece(t0, t1, x0, x1) for each linear piece of the quantile, in order.
  template <class F>
  static void forEachPiece(const Empirical& d, F piece) {
    if (!isHistogram(d)) {
      const double n1 = static_cast<double>(d.values.size() - 1);
      for (std::size_t i = 0; i + 1 < d.values.size(); ++i) {
        piece(static_cast<double>(i) / n1, static_cast<double>(i + 1) / n1, d.values[i],
              d.values[i + 1]);
      }
      return;
    }
    for (std::size_t j = 0; j < d.weights.size(); ++j) {
      piece(d.cumulative[j], d.cumulative[j + 1], d.bins[j], d.bins[j + 1]);
    }
  }
  // Mean and variance of Q over probabilities [t0, t1]: on a piece where Q is linear from a to b
  // over a length l of probability, int Q = l (a + b) / 2 and int (Q - m)^2 = l (a'^2 + a' b' +
  // b'^2) / 3 with a' = a - m, b' = b - m.
  static Moments momentsBetween(const Empirical& d, double t0, double t1, double lower,
                                double upper) {
    const auto clip = [&](const auto& use) {
      forEachPiece(d, [&](double s0, double s1, double x0, double x1) {
        const double a = std::max(s0, t0), b = std::min(s1, t1);
        if (!(b > a)) return;
        const double slope = (x1 - x0) / (s1 - s0);
        use(b - a, std::clamp(x0 + (a - s0) * slope, lower, upper),
            std::clamp(x0 + (b - s0) * slope, lower, upper));
      });
    };
    double mass = 0.0, sum = 0.0;
    clip([&](double l, double a, double b) {
      mass += l;
      sum += l * 0.5 * (a + b);
    });
    const double mean = sum / mass;
    double squares = 0.0;
    clip([&](double l, double a, double b) {
      a -= mean;
      b -= mean;
      squares += l * (a * a + a * b + b * b) / 3.0;
    });
    return {mean, squares / mass};
  }
  static Moments moments(const Empirical& d) {
    const Support s = support(d);
    return momentsBetween(d, 0.0, 1.0, s.lower, s.upper);
  }
  static double quantile(const Empirical& d, double p) {
    if (!isHistogram(d)) {
      const std::size_t last = d.values.size() - 2;
      const double h = static_cast<double>(d.values.size() - 1) * p;
      const std::size_t i = h > 0.0 ? std::min(static_cast<std::size_t>(h), last) : 0;
      return d.values[i] + (h - static_cast<double>(i)) * (d.values[i + 1] - d.values[i]);
    }
    // The bin b with cumulative[b] < p <= cumulative[b + 1]; empty bins are never chosen.
    if (!(p > 0.0)) return support(d).lower;
    const auto c = d.cumulative.begin();
    const std::size_t j = static_cast<std::size_t>(
        std::partition_point(c + 1, d.cumulative.end(), [p](double v) { return v < p; }) - c);
    if (j >= d.cumulative.size()) return support(d).upper;
    const std::size_t b = j - 1;
    const double t = (p - d.cumulative[b]) / (d.cumulative[j] - d.cumulative[b]);
    return d.bins[b] + std::clamp(t, 0.0, 1.0) * (d.bins[j] - d.bins[b]);
  }
  static double cquantile(const Empirical& d, double q) {
    if (!isHistogram(d)) {
      const std::size_t n = d.values.size(), last = n - 2;
      const double h = static_cast<double>(n - 1) * q;
      const std::size_t j = h > 0.0 ? std::min(static_cast<std::size_t>(h), last) : 0;
      const double top = d.values[n - 1 - j], below = d.values[n - 2 - j];
      return top - (h - static_cast<double>(j)) * (top - below);
    }
    // The bin b with complement[b + 1] < q <= complement[b].
    if (!(q > 0.0)) return support(d).upper;
    const auto s = d.complement.begin();
    const std::size_t j = static_cast<std::size_t>(
        std::partition_point(s + 1, d.complement.end(), [q](double v) { return v >= q; }) - s);
    if (j >= d.complement.size()) return support(d).lower;
    const std::size_t b = j - 1;
    const double t = (q - d.complement[j]) / (d.complement[b] - d.complement[j]);
    return d.bins[j] - std::clamp(t, 0.0, 1.0) * (d.bins[j] - d.bins[b]);
  }
  // The piece [x_i, x_(i+1)) holding x, with x_i <= x < x_(i+1), and the fraction of it below x.
  static std::pair<std::size_t, double> locate(const std::vector<double>& knots, double x) {
    const std::size_t i = static_cast<std::size_t>(std::upper_bound(knots.begin(), knots.end(), x) -
                                                   knots.begin() - 1);
    return {i, (x - knots[i]) / (knots[i + 1] - knots[i])};
  }
  static double cdf(const Empirical& d, double x) {
    const std::vector<double>& knots = isHistogram(d) ? d.bins : d.values;
    if (x < knots.front()) return 0.0;
    if (x >= knots.back()) return 1.0;
    const auto [i, f] = locate(knots, x);
    if (!isHistogram(d)) {
      return (static_cast<double>(i) + f) / static_cast<double>(knots.size() - 1);
    }
    return d.cumulative[i] + f * (d.cumulative[i + 1] - d.cumulative[i]);
  }
  static double sf(const Empirical& d, double x) {
    const std::vector<double>& knots = isHistogram(d) ? d.bins : d.values;
    if (x < knots.front()) return 1.0;
    if (x >= knots.back()) return 0.0;
    const auto [i, f] = locate(knots, x);
    if (!isHistogram(d)) {
      const std::size_t n1 = knots.size() - 1;
      return (static_cast<double>(n1 - 1 - i) + (1.0 - f)) / static_cast<double>(n1);
    }
    return d.complement[i + 1] + (1.0 - f) * (d.complement[i] - d.complement[i + 1]);
  }
};

// ---------------------------------------------------------------------------------------------
// Mixtures
//
// F = sum_k w_k F_k. Every F_k(x) < p for x < min_k Q_k(p), and F_k(x) >= p at max_k Q_k(p), so
// the components' own quantiles at p bracket the smallest x with F(x) >= p. Brent's method
// (inverse quadratic interpolation guarded by bisection; Brent, "Algorithms for Minimization
// without Derivatives", 1973, ch. 4) narrows the bracket to 4 ulps of its larger end; in the
// upper half it solves S(x) = q with the components' complement quantiles and survival functions
// instead, so that both tails keep their relative precision. Where the root is a jump of a
// discrete component, the bracket closes on that atom, which is returned exactly.

struct MixtureRoot {
  const Mixture& d;
  bool upper;  // solve S(x) <= q rather than F(x) >= p
  double p;

  // Non-decreasing in x; the answer is the smallest x where it is >= 0.
  double operator()(double x) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < d.components.size(); ++k) {
      sum += d.weights[k] * (upper ? d.components[k].sf(x) : d.components[k].cdf(x));
    }
    return upper ? p - sum : sum - p;
  }
};

double solveMixture(const Mixture& d, double p, bool upper) {
  const MixtureRoot g{d, upper, p};
  double lo = kInfinity, hi = -kInfinity;
  for (const Distribution& c : d.components) {
    const double x = upper ? c.cquantile(p) : c.quantile(p);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (!(lo < hi)) return lo;
  // A component quantile that overflowed leaves the bracket open; +-1e300 stands in for it, so
  // that the root search below stays finite.
  lo = std::max(lo, -1e300);
  hi = std::min(hi, 1e300);
  double a = lo, b = hi, fa = g(a), fb = g(b);
  // The bracket holds mathematically; a computed value on the wrong side is rounding at an end.
  if (fa >= 0.0) return a;
  if (fb < 0.0) return b;
  const double eps = std::numeric_limits<double>::epsilon();
  const double xtol = 2.0 * eps * std::max(std::fabs(lo), std::fabs(hi));
  double c = a, fc = fa, step = b - a, previous = step;
  for (int iteration = 0; iteration < 200; ++iteration) {
    if ((fb >= 0.0) == (fc >= 0.0)) {
      c = a;
      fc = fa;
      step = previous = b - a;
    }
    if (std::fabs(fc) < std::fabs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const double tol = 2.0 * eps * std::fabs(b) + 0.5 * xtol;
    const double half = 0.5 * (c - b);
    if (std::fabs(half) <= tol || fb == 0.0) break;
    if (std::fabs(previous) >= tol && std::fabs(fa) > std::fabs(fb)) {
      // Secant (a == c) or inverse quadratic interpolation, accepted when it stays well inside.
      const double s = fb / fa;
      double pn = 0.0, pd = 0.0;
      if (a == c) {
        pn = 2.0 * half * s;
        pd = 1.0 - s;
      } else {
        const double r = fb / fc, t = fa / fc;
        pn = s * (2.0 * half * t * (t - r) - (b - a) * (r - 1.0));
        pd = (t - 1.0) * (r - 1.0) * (s - 1.0);
      }
      if (pn > 0.0) {
        pd = -pd;
      } else {
        pn = -pn;
      }
      if (2.0 * pn < std::min(3.0 * half * pd - std::fabs(tol * pd), std::fabs(previous * pd))) {
        previous = step;
        step = pn / pd;
      } else {
        step = half;
        previous = step;
      }
    } else {
      step = half;
      previous = step;
    }
    a = b;
    fa = fb;
    b += std::fabs(step) > tol ? step : (half > 0.0 ? tol : -tol);
    fb = g(b);
  }
  // b and c bracket the answer; snap to an atom of a discrete component inside (missed, reached].
  const double reached = fb >= 0.0 ? b : c, missed = fb >= 0.0 ? c : b;
  double atom = kInfinity;
  for (const Distribution& comp : d.components) {
    if (!comp.isDiscrete()) continue;
    const double f = comp.cdf(reached);
    if (!(f > 0.0)) continue;
    const double v = comp.quantile(f);  // the largest atom at or below `reached`
    if (v > missed && v <= reached && v < atom && g(v) >= 0.0) atom = v;
  }
  return atom != kInfinity ? atom : b;
}

template <>
struct Ops<Mixture> {
  static constexpr const char* name = "mixture";
  static constexpr bool discrete = false, ownBounds = false;
  static void prepare(Mixture& d) {
    if (d.components.empty()) fail("components", "components must list at least one distribution");
    if (d.weights.size() != d.components.size()) {
      fail("weights", "weights has " + std::to_string(d.weights.size()) +
                          " entries but components has " + std::to_string(d.components.size()) +
                          "; give one weight per component");
    }
    double sum = 0.0;
    for (std::size_t i = 0; i < d.weights.size(); ++i) {
      if (!std::isfinite(d.weights[i]) || !(d.weights[i] > 0.0)) {
        fail("weights",
             "weights" + Ops<Empirical>::at(i) + " must be > 0, got " + num(d.weights[i]));
      }
      sum += d.weights[i];
    }
    if (!(std::fabs(sum - 1.0) <= 1e-9)) {
      fail("weights", "weights sum to " + num(sum, 12) + ", expected 1 (+-1e-9)");
    }
    for (double& w : d.weights) w /= sum;
  }
  static bool hasDiscrete(const Mixture& d) {
    return std::any_of(d.components.begin(), d.components.end(),
                       [](const Distribution& c) { return c.isDiscrete(); });
  }
  // A jump in F would make the truncated window's probabilities ambiguous at its ends.
  static void checkTruncation(const Mixture& d, bool hasMin, bool hasMax) {
    if ((hasMin || hasMax) && hasDiscrete(d)) {
      fail(hasMin ? "min" : "max",
           "a mixture with a discrete component cannot be truncated; give the components min "
           "and max instead");
    }
  }
  static std::string params(const Mixture& d) {
    std::string weights = "weights [", components = "components [";
    for (std::size_t i = 0; i < d.weights.size(); ++i) {
      if (i > 0) {
        weights += ", ";
        components += ", ";
      }
      weights += num(d.weights[i]);
      components += d.components[i].describe();
    }
    return weights + "], " + components + "]";
  }
  static Support support(const Mixture& d) {
    Support s{kInfinity, -kInfinity};
    for (const Distribution& c : d.components) {
      s.lower = std::min(s.lower, c.lower());
      s.upper = std::max(s.upper, c.upper());
    }
    return s;
  }
  // E X = sum w_k m_k, Var X = sum w_k (v_k + (m_k - E X)^2).
  static Moments moments(const Mixture& d) {
    double mean = 0.0, variance = 0.0;
    for (std::size_t k = 0; k < d.weights.size(); ++k)
      mean += d.weights[k] * d.components[k].mean();
    for (std::size_t k = 0; k < d.weights.size(); ++k) {
      const double e = d.components[k].mean() - mean;
      variance += d.weights[k] * (d.components[k].variance() + e * e);
    }
    return {mean, variance};
  }
  static double quantile(const Mixture& d, double p) {
    return p <= 0.5 ? solveMixture(d, p, false) : solveMixture(d, 1.0 - p, true);
  }
  static double cquantile(const Mixture& d, double q) {
    return q <= 0.5 ? solveMixture(d, q, true) : solveMixture(d, 1.0 - q, false);
  }
  static double cdf(const Mixture& d, double x) {
    double sum = 0.0;
    for (std::size_t k = 0; k < d.weights.size(); ++k) sum += d.weights[k] * d.components[k].cdf(x);
    return std::clamp(sum, 0.0, 1.0);
  }
  static double sf(const Mixture& d, double x) {
    double sum = 0.0;
    for (std::size_t k = 0; k < d.weights.size(); ++k) sum += d.weights[k] * d.components[k].sf(x);
    return std::clamp(sum, 0.0, 1.0);
  }
};

// ---------------------------------------------------------------------------------------------
// Truncation to [min, max]
//
// With F and S = 1 - F of the untruncated distribution, uLow = F(min), sHigh = S(max) and
// mass = F(max) - F(min), the truncated quantile is F^-1(uLow + u mass). Where that probability
// exceeds 1/2 it is evaluated as S^-1(sHigh + (1 - u) mass) instead, so every probability handed
// to a base quantile is at most about 1/2 and keeps full relative precision: a window deep in
// either tail (a normal truncated to [5 sd, inf), say) loses nothing to rounding of 1 - F.

struct Window {
  double lower, upper;  // support after truncation
  double uLow, uHigh, sLow, sHigh, mass;
  bool truncated() const { return uLow != 0.0 || sHigh != 0.0; }
};

double clampTo(double x, double lower, double upper) {
  return x < lower ? lower : (x > upper ? upper : x);
}

template <class D>
double drawOf(const D& d, const Window& w, double u) {
  using O = Ops<D>;
  if constexpr (O::discrete) {
    return O::quantile(d, u);
  } else {
    if (!w.truncated()) return clampTo(O::quantile(d, u), w.lower, w.upper);
    const double p = w.uLow + u * w.mass;
    const double x = p <= 0.5 ? O::quantile(d, p) : O::cquantile(d, w.sHigh + (1.0 - u) * w.mass);
    return clampTo(x, w.lower, w.upper);
  }
}

// out[i] = drawOf(d, w, u[i]) for i < n. Untruncated beta, PERT, normal and lognormal draws,
// the ones scenarios make by the million, go through the batch quantiles, which give the same
// bits at a few nanoseconds each: scaledQuantiles clamps to [min, max], the untruncated window,
// and the exp of a lognormal is the array exp that quantile()'s fastExp matches. Discrete draws
// count the cumulative sums below u instead of leaving the walk at the first one above.
template <class D>
void drawsOf(const D& d, const Window& w, const BetaQuantileTable* table, const double* u,
             double* out, std::size_t n) {
  if (!w.truncated()) {
    if constexpr (std::is_same_v<D, Beta> || std::is_same_v<D, Pert>) {
      table->scaledQuantiles(u, out, n, d.min, d.max);
      return;
    } else if constexpr (std::is_same_v<D, Normal>) {
      normalQuantiles(u, out, n);
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = clampTo(d.mean + d.sd * out[i], w.lower, w.upper);
      }
      return;
    } else if constexpr (std::is_same_v<D, Lognormal>) {
      normalQuantiles(u, out, n);
      for (std::size_t i = 0; i < n; ++i) out[i] = d.mu + d.sigma * out[i];
      expInPlace(out, n);
      for (std::size_t i = 0; i < n; ++i) out[i] = clampTo(out[i], w.lower, w.upper);
      return;
    }
  }
  if constexpr (std::is_same_v<D, Discrete>) {
    // The first value whose cumulative probability is >= u: the number of cumulative sums
    // (before the last value's) below u, counted without a branch per sum. NaN is below none
    // of them and lands on the last value, as in quantile().
    const std::size_t last = d.values.size() - 1;
    std::vector<double> cumulative(last);
    double sum = 0.0;
    for (std::size_t k = 0; k < last; ++k) cumulative[k] = sum += d.probs[k];
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t k = 0;
      for (double c : cumulative) k += u[i] <= c ? 0 : 1;
      out[i] = d.values[k];
    }
    return;
  }
  const auto& drawn = drawable(d, table);
  for (std::size_t i = 0; i < n; ++i) out[i] = drawOf(drawn, w, u[i]);
}

template <class D>
double cdfIn(const D& d, const Window& w, double x) {
  using O = Ops<D>;
  if constexpr (O::discrete) {
    return O::cdf(d, x);
  } else {
    if (x < w.lower) return 0.0;
    if (x >= w.upper) return 1.0;
    if (!w.truncated()) return O::cdf(d, x);
    const double f = O::cdf(d, x);
    if (f <= 0.5) return std::clamp((f - w.uLow) / w.mass, 0.0, 1.0);
    // In the upper half: (S(min) - S(x)) / mass is accurate while small, 1 - (S(x) - S(max)) /
    // mass once large.
    const double s = O::sf(d, x);
    const double below = (w.sLow - s) / w.mass;
    return std::clamp(below <= 0.5 ? below : 1.0 - (s - w.sHigh) / w.mass, 0.0, 1.0);
  }
}

// The mirror images of drawOf and cdfIn: the truncated quantile at 1 - q is S^-1(sHigh + q mass),
// or F^-1(uLow + (1 - q) mass) where that probability of S would exceed 1/2; the truncated
// survival function is (S(x) - sHigh) / mass, or its complement through F where S(x) > 1/2.
template <class D>
double upperDrawOf(const D& d, const Window& w, double q) {
  using O = Ops<D>;
  if constexpr (O::discrete) {
    return O::quantile(d, 1.0 - q);
  } else {
    if (!w.truncated()) return clampTo(O::cquantile(d, q), w.lower, w.upper);
    const double s = w.sHigh + q * w.mass;
    const double x = s <= 0.5 ? O::cquantile(d, s) : O::quantile(d, w.uLow + (1.0 - q) * w.mass);
    return clampTo(x, w.lower, w.upper);
  }
}

template <class D>
double sfIn(const D& d, const Window& w, double x) {
  using O = Ops<D>;
  if constexpr (O::discrete) {
    return 1.0 - O::cdf(d, x);
  } else {
    if (x < w.lower) return 1.0;
    if (x >= w.upper) return 0.0;
    if (!w.truncated()) return O::sf(d, x);
    const double s = O::sf(d, x);
    if (s <= 0.5) return std::clamp((s - w.sHigh) / w.mass, 0.0, 1.0);
    const double f = O::cdf(d, x);
    const double above = (w.uHigh - f) / w.mass;
    return std::clamp(above <= 0.5 ? above : 1.0 - (f - w.uLow) / w.mass, 0.0, 1.0);
  }
}

std::string describeTruncation(bool ownBounds, double min, double max) {
  const bool hasMin = min != -kInfinity, hasMax = max != kInfinity;
  if (!hasMin && !hasMax) return "";
  if (ownBounds) return ", truncated to [" + num(min) + ", " + num(max) + "]";
  return (hasMin ? ", min " + num(min) : "") + (hasMax ? ", max " + num(max) : "");
}

template <class D>
std::string describeOf(const D& d, double min, double max) {
  using O = Ops<D>;
  return std::string(O::name) + "(" + O::params(d) + describeTruncation(O::ownBounds, min, max) +
         ")";
}

template <class D>
Window windowOf(const D& d, double min, double max) {
  using O = Ops<D>;
  const Support s = O::support(d);
  const bool hasMin = min != -kInfinity, hasMax = max != kInfinity;
  if constexpr (O::discrete) {
    if (hasMin || hasMax) {
      fail(hasMin ? "min" : "max",
           std::string(O::name) +
               " is not continuous; min/max truncation applies to continuous distributions only");
    }
    return {s.lower, s.upper, 0.0, 1.0, 1.0, 0.0, 1.0};
  } else {
    if constexpr (requires { O::checkTruncation(d, true, true); }) {
      O::checkTruncation(d, hasMin, hasMax);
    }
    if (std::isnan(min)) fail("min", "min must be a number, got nan");
    if (std::isnan(max)) fail("max", "max must be a number, got nan");
    if (!(min < max)) fail("max", "min must be < max, got min " + num(min) + ", max " + num(max));
    Window w{std::max(s.lower, min), std::min(s.upper, max), 0.0, 1.0, 1.0, 0.0, 1.0};
    // Bounds that do not cut the support keep the exact 0 and 1, so the distribution draws
    // exactly as without them.
    if (min > s.lower) {
      w.uLow = O::cdf(d, min);
      w.sLow = O::sf(d, min);
    }
    if (max < s.upper) {
      w.uHigh = O::cdf(d, max);
      w.sHigh = O::sf(d, max);
    }
    if (w.uLow >= 0.5) {
      w.mass = w.sLow - w.sHigh;
    } else if (w.sHigh >= 0.5) {
      w.mass = w.uHigh - w.uLow;
    } else {
      w.mass = 1.0 - w.uLow - w.sHigh;
    }
    if (!(w.mass >= std::numeric_limits<double>::min()) || !(w.lower < w.upper)) {
      fail(w.uLow >= 0.5 ? "min" : "max",
           "truncation to [" + num(min) + ", " + num(max) +
               "] leaves no probability: " + describeOf(d, -kInfinity, kInfinity) +
               " has support [" + num(s.lower) + ", " + num(s.upper) + "]");
    }
    return w;
  }
}

// Truncated normal, a = (min - mean) / sd, b = (max - mean) / sd, Z = Phi(b) - Phi(a):
//   E X = mean + sd (phi(a) - phi(b)) / Z
//   Var X = sd^2 (1 + (a phi(a) - b phi(b)) / Z - ((phi(a) - phi(b)) / Z)^2).
// The variance cancels for windows far in a tail: relative error about 1e-16 a^2 (1e-13 at
// a = 30 sd).
Moments truncatedMoments(const Normal& d, const Window& w) {
  const double a = (w.lower - d.mean) / d.sd, b = (w.upper - d.mean) / d.sd;
  const double pa = std::isfinite(a) ? normalPdf(a) : 0.0;
  const double pb = std::isfinite(b) ? normalPdf(b) : 0.0;
  const double apa = std::isfinite(a) ? a * pa : 0.0;
  const double bpb = std::isfinite(b) ? b * pb : 0.0;
  const double lambda = (pa - pb) / w.mass;
  const double variance = d.sd * d.sd * (1.0 + (apa - bpb) / w.mass - lambda * lambda);
  return {d.mean + d.sd * lambda, std::max(variance, 0.0)};
}

// Truncated lognormal, a = (ln min - mu) / sigma, b = (ln max - mu) / sigma:
//   E[X^k; min < X < max] = exp(k mu + k^2 sigma^2 / 2) P(a - k sigma < Z < b - k sigma),
// divided by the window's probability; Var = E X^2 - (E X)^2, whose relative error is about
// 1e-16 (E X)^2 / Var (narrow windows lose digits).
Moments truncatedMoments(const Lognormal& d, const Window& w) {
  const double a = w.lower > 0.0 ? (std::log(w.lower) - d.mu) / d.sigma : -kInfinity;
  const double b = (std::log(w.upper) - d.mu) / d.sigma;
  const double s = d.sigma;
  const double m1 = std::exp(d.mu + 0.5 * s * s) * normalInterval(a - s, b - s) / w.mass;
  const double m2 =
      std::exp(2.0 * d.mu + 2.0 * s * s) * normalInterval(a - 2.0 * s, b - 2.0 * s) / w.mass;
  return {m1, std::max(m2 - m1 * m1, 0.0)};
}

// Any other truncated distribution: E X = int_0^1 Q(t) dt and Var X = int_0^1 (Q(t) - E X)^2 dt
// over its truncated quantile Q, by tanh-sinh quadrature, which copes with the endpoint
// singularities of Q' (beta shapes, the triangular's square roots). Relative error about 1e-12.
template <class D>
Moments truncatedMoments(const D& d, const Window& w) {
  // Not const: Boost 1.74 declares integrate() without the qualifier. Its tables grow under
  // Boost's own lock, so one shared integrator is safe across threads.
  static boost::math::quadrature::tanh_sinh<double> integrator;
  constexpr double kTolerance = 1e-11;
  const auto q = [&](double t) { return drawOf(d, w, t); };
  const double mean = integrator.integrate(q, 0.0, 1.0, kTolerance);
  const auto square = [&](double t) {
    const double e = q(t) - mean;
    return e * e;
  };
  return {mean, integrator.integrate(square, 0.0, 1.0, kTolerance)};
}

// A window bounded on both sides integrates the bounded quantile as above. A window open on one
// side keeps that heavy tail, where the quadrature converges slowly, so it uses closed forms in
// the standardised bounds a, b (one infinite) of T ~ t_v with density f and mass Z:
//   t f(t) = -d/dt [(v + t^2) f(t) / (v - 1)]           so  E[T; a<T<b] = [(v + a^2) f(a) -
//                                                            (v + b^2) f(b)] / (v - 1), v > 1;
//   (v + t^2) f_v(t) = v (v - 1) / (v - 2) k f_(v-2)(k t), k = sqrt((v - 2) / v), so
//   E[T^2; a<T<b] = v (v - 1) / (v - 2) P(k a < T_(v-2) < k b) - v Z,                   v > 2.
// For v <= 1 the mean is infinite towards the open tail; for v <= 2 so is the variance.
Moments truncatedMoments(const StudentT& d, const Window& w) {
  const bool lowerTail = w.lower == -kInfinity, upperTail = w.upper == kInfinity;
  if (!(lowerTail || upperTail)) return truncatedMoments<StudentT>(d, w);
  if (!(d.dof > 1.0)) return {upperTail ? kInfinity : -kInfinity, kInfinity};
  const double v = d.dof;
  const double a = (w.lower - d.location) / d.scale, b = (w.upper - d.location) / d.scale;
  const auto weighted = [&](double t) {
    return std::isfinite(t) ? (v + t * t) * boost::math::pdf(StudentsT(v), t) : 0.0;
  };
  const double m = (weighted(a) - weighted(b)) / ((v - 1.0) * w.mass);
  if (!(v > 2.0)) return {d.location + d.scale * m, kInfinity};
  // P(lo < T < hi) for t_(v-2) as a difference of the two smaller tail areas.
  const StudentsT t2(v - 2.0);
  const double k = std::sqrt((v - 2.0) / v);
  const auto below = [&](double t) {
    return std::isinf(t) ? (t < 0.0 ? 0.0 : 1.0) : boost::math::cdf(t2, t);
  };
  const double lo = k * a, hi = k * b;
  double inside = 0.0;
  if (lo >= 0.0) {
    inside = below(-lo) - below(-hi);
  } else if (hi <= 0.0) {
    inside = below(hi) - below(lo);
  } else {
    inside = 1.0 - below(lo) - below(-hi);
  }
  const double m2 = (v * (v - 1.0) / (v - 2.0) * inside - v * w.mass) / w.mass;
  return {d.location + d.scale * m, d.scale * d.scale * std::max(m2 - m * m, 0.0)};
}

// A truncated log-uniform is the log-uniform on the window.
Moments truncatedMoments(const Loguniform&, const Window& w) {
  return Ops<Loguniform>::moments(Loguniform{w.lower, w.upper});
}

// Exact: the quantile is linear in each piece of [uLow, uHigh].
Moments truncatedMoments(const Empirical& d, const Window& w) {
  return Ops<Empirical>::momentsBetween(d, w.uLow, w.uHigh, w.lower, w.upper);
}

template <class D>
Moments momentsIn(const D& d, const Window& w) {
  using O = Ops<D>;
  if constexpr (O::discrete) {
    return O::moments(d);
  } else {
    if (!w.truncated()) return O::moments(d);
    return truncatedMoments(d, w);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lognormal parameterisations

Lognormal lognormalFromMedian(double median, double sigma) {
  requirePositive("median", median);
  requirePositive("sigma", sigma);
  return {std::log(median), sigma};
}

// sigma^2 = ln(1 + sd^2 / mean^2) and mu = ln(mean) - sigma^2 / 2 give E X = mean, sd X = sd.
Lognormal lognormalFromMoments(double mean, double sd) {
  requirePositive("mean", mean);
  requirePositive("sd", sd);
  const double ratio = sd / mean;
  double s2 = std::log1p(ratio * ratio);
  if (!std::isfinite(s2)) s2 = 2.0 * std::log(ratio) + std::log1p(1.0 / (ratio * ratio));
  if (!std::isfinite(s2)) fail("sd", "sd " + num(sd) + " is too large for mean " + num(mean));
  return {std::log(mean) - 0.5 * s2, std::sqrt(s2)};
}

// ---------------------------------------------------------------------------------------------
// Distribution

// Built by the first caller; any other waits for it.
struct Distribution::BetaTable {
  BetaTable(double a, double b) : alpha(a), beta(b) {}
  const BetaQuantileTable* get() {
    std::call_once(built,
                   [this] { table = std::make_unique<const BetaQuantileTable>(alpha, beta); });
    return table.get();
  }

  // The table of Beta(a, b), shared by every distribution of that shape alive at once: a
  // scenario's PERTs often share one (a mode halfway gives Beta(3, 3)), which then takes one
  // build and one place in the cache.
  static std::shared_ptr<BetaTable> of(double a, double b) {
    static std::mutex mutex;
    static std::map<std::pair<double, double>, std::weak_ptr<BetaTable>> tables;
    const std::scoped_lock lock(mutex);
    std::erase_if(tables, [](const auto& entry) { return entry.second.expired(); });
    std::weak_ptr<BetaTable>& entry = tables[{a, b}];
    std::shared_ptr<BetaTable> table = entry.lock();
    if (!table) {
      table = std::make_shared<BetaTable>(a, b);
      entry = table;
    }
    return table;
  }

  double alpha, beta;
  std::once_flag built;
  std::unique_ptr<const BetaQuantileTable> table;
};

Distribution::Distribution(DistributionKind kind, double min, double max)
    : kind_(std::move(kind)), truncMin_(min), truncMax_(max) {
  const Window w = std::visit(
      [&](auto& d) {
        Ops<std::decay_t<decltype(d)>>::prepare(d);
        return windowOf(d, min, max);
      },
      kind_);
  lower_ = w.lower;
  upper_ = w.upper;
  uLow_ = w.uLow;
  uHigh_ = w.uHigh;
  sLow_ = w.sLow;
  sHigh_ = w.sHigh;
  mass_ = w.mass;
  if (const auto* beta = std::get_if<Beta>(&kind_)) {
    betaTable_ = BetaTable::of(beta->alpha, beta->beta);
  } else if (const auto* pert = std::get_if<Pert>(&kind_)) {
    const Beta shape = Ops<Pert>::asBeta(*pert);
    betaTable_ = BetaTable::of(shape.alpha, shape.beta);
  }
}

const BetaQuantileTable* Distribution::table() const {
  return betaTable_ ? betaTable_->get() : nullptr;
}

void Distribution::prepare() const {
  table();
}

std::vector<std::function<void()>> Distribution::preparations(
    std::span<const Distribution* const> distributions) {
  std::vector<std::shared_ptr<BetaTable>> tables;
  for (const Distribution* d : distributions) {
    if (d->betaTable_ && std::find(tables.begin(), tables.end(), d->betaTable_) == tables.end()) {
      tables.push_back(d->betaTable_);
    }
  }
  std::vector<std::function<void()>> items;
  for (auto& table : tables) items.emplace_back([table] { table->get(); });
  return items;
}

double Distribution::quantile(double u) const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  return std::visit([&](const auto& d) { return drawOf(drawable(d, table()), w, u); }, kind_);
}

void Distribution::quantiles(const double* u, double* out, std::size_t n) const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  std::visit([&](const auto& d) { drawsOf(d, w, table(), u, out, n); }, kind_);
}

double Distribution::cdf(double x) const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  return std::visit([&](const auto& d) { return cdfIn(d, w, x); }, kind_);
}

double Distribution::sf(double x) const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  return std::visit([&](const auto& d) { return sfIn(d, w, x); }, kind_);
}

double Distribution::cquantile(double q) const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  return std::visit([&](const auto& d) { return upperDrawOf(drawable(d, table()), w, q); }, kind_);
}

double Distribution::mean() const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  return std::visit([&](const auto& d) { return momentsIn(d, w).mean; }, kind_);
}

double Distribution::variance() const {
  const Window w{lower_, upper_, uLow_, uHigh_, sLow_, sHigh_, mass_};
  return std::visit([&](const auto& d) { return momentsIn(d, w).variance; }, kind_);
}

bool Distribution::isConstant() const {
  if (std::holds_alternative<Constant>(kind_)) return true;
  const auto* discrete = std::get_if<Discrete>(&kind_);
  return discrete != nullptr && discrete->values.size() == 1;
}

bool Distribution::isDiscrete() const {
  if (const auto* mixture = std::get_if<Mixture>(&kind_)) {
    return std::all_of(mixture->components.begin(), mixture->components.end(),
                       [](const Distribution& c) { return c.isDiscrete(); });
  }
  return std::visit([](const auto& d) { return Ops<std::decay_t<decltype(d)>>::discrete; }, kind_);
}

std::string Distribution::name() const {
  return std::visit([](const auto& d) { return std::string(Ops<std::decay_t<decltype(d)>>::name); },
                    kind_);
}

std::string Distribution::describe() const {
  return std::visit([&](const auto& d) { return describeOf(d, truncMin_, truncMax_); }, kind_);
}

}  // namespace spinval
