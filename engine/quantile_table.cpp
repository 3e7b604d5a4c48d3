#include "spinval/quantile_table.hpp"

#include <immintrin.h>
#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <limits>
#include <stdexcept>
#include <string>

#include "spinval/vector_math.hpp"

namespace spinval {

namespace {

namespace policies = boost::math::policies;

// Boost in double (as in distribution.cpp); the density may overflow next to an infinite end,
// which node() then treats as a point it cannot tabulate.
constexpr policies::policy<policies::promote_double<false>> kPolicy;
constexpr policies::policy<policies::promote_double<false>,
                           policies::overflow_error<policies::ignore_error>>
    kDensityPolicy;

using Coefficients = std::array<double, 6>;

// The quintic on s in [0, 1] with values y0, y1, first derivatives d0, d1 and second derivatives
// e0, e1 at its ends (derivatives already scaled to s, that is multiplied by h and h^2):
//   y0 + d0 s + e0/2 s^2 + c3 s^3 + c4 s^4 + c5 s^5 with, for dy = y1 - y0,
//   c3 = 10 dy - 6 d0 - 4 d1 - (3 e0 - e1) / 2
//   c4 = -15 dy + 8 d0 + 7 d1 + (3 e0 - 2 e1) / 2
//   c5 = 6 dy - 3 d0 - 3 d1 - (e0 - e1) / 2.
Coefficients hermite(double y0, double d0, double e0, double y1, double d1, double e1) {
  const double dy = y1 - y0;
  return {y0,
          d0,
          0.5 * e0,
          10.0 * dy - 6.0 * d0 - 4.0 * d1 - 0.5 * (3.0 * e0 - e1),
          -15.0 * dy + 8.0 * d0 + 7.0 * d1 + 0.5 * (3.0 * e0 - 2.0 * e1),
          6.0 * dy - 3.0 * d0 - 3.0 * d1 - 0.5 * (e0 - e1)};
}

double polynomial(const Coefficients& c, double s) {
  return c[0] + s * (c[1] + s * (c[2] + s * (c[3] + s * (c[4] + s * c[5]))));
}

}  // namespace

// x at one point with its first two derivatives in both variables, p and w = p^(1/a). With f the
// beta density and f'/f = (a - 1) / x - (b - 1) / (1 - x),
//   dx/dp = 1 / f(x),  d2x/dp2 = -(f'(x) / f(x)) (dx/dp)^2,
// and in w, with p = w^a,
//   x' = dx/dw = (dp/dw) / f(x) = a p / (w f(x))
//   x'' = x' ((a - 1) D / w + x' (b - 1) / (1 - x)),  D = 1 - a p / (x f(x)) = 1 - w x' / x,
// from d ln x' / dw = (a - 1) / w - x' f'(x) / f(x). D is O(x) as x -> 0, and for a < 1 an
// octave spans many orders of magnitude of w, so there D comes from its series instead of the
// difference:
//   a p / (x f) = (1 - x) 2F1(1, a + b; a + 1; x)  (Euler's transformation), hence
//   D = (1 - b) x sum_n t_n x^n / (a + 1 + n),  t_0 = 1, t_(n+1) = t_n (a + b + n) / (a + 1 + n).
// Deep in the tail, where Boost's inversion can give up, the series in w (see series()) is
// exact to rounding and takes over.
struct BetaQuantileTable::Half::Point {
  double v = 0.0, d1 = 0.0, d2 = 0.0;  // the variable, dx/dv and d2x/dv2
  bool usable() const { return std::isfinite(d1) && std::isfinite(d2); }
};

struct BetaQuantileTable::Half::Node {
  double x = 0.0;
  Point p, w;
  bool ok = false;  // x is a normal double; a variable's derivatives may still be unusable
};

// x with I_x(a, b) = p by Halley steps on I_x(a, b) - p from a guess, with the density there:
// from a good guess one evaluation of ibeta and ibeta_derivative, where ibeta_inv takes several
// after its own first guess. With phi = f'/f and lambda = max(|a - 1|, 1) / x + |b - 1| / y,
// which bounds |phi| and |f''/f|^(1/2), a step from an error e leaves about lambda^2 e^3 / 4, so a
// step with |delta| lambda <= 1e-6 ends within 1e-18 x of the root (plus ibeta's own rounding).
// The density there is f (1 - phi delta) + O((lambda delta)^2) for the f at the step's start.
// Returns NaN where the steps leave (0, 1) or do not settle, and where ibeta_inv is a closed form
// and cheaper (a or b = 1, a = b = 1/2): node() then asks ibeta_inv.
BetaQuantileTable::Half::Root BetaQuantileTable::Half::solve(double p, double guess) const {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (a_ == 1.0 || b_ == 1.0 || (a_ == 0.5 && b_ == 0.5)) return {kNaN, kNaN};
  double x = guess;
  for (int i = 0; i < 8; ++i) {
    if (!(x >= std::numeric_limits<double>::min() && x < 1.0)) break;
    const double y = 1.0 - x;
    const double f = boost::math::ibeta_derivative(a_, b_, x, kDensityPolicy);
    if (!(f > 0.0) || !std::isfinite(f)) break;
    const double newton = (boost::math::ibeta(a_, b_, x, kPolicy) - p) / f;
    const double phi = (a_ - 1.0) / x - (b_ - 1.0) / y;
    // Halley's step, or Newton's where the curvature would dominate it.
    const double delta =
        std::fabs(newton * phi) < 1.0 ? newton / (1.0 - 0.5 * newton * phi) : newton;
    const double step =
        std::fabs(delta) * (std::max(std::fabs(a_ - 1.0), 1.0) / x + std::fabs(b_ - 1.0) / y);
    x -= delta;
    if (step <= 1e-9) return {x, f * (1.0 - phi * delta)};
    if (step <= 1e-6) {
      if (!(x >= std::numeric_limits<double>::min() && x < 1.0)) break;
      return {x, boost::math::ibeta_derivative(a_, b_, x, kDensityPolicy)};
    }
  }
  return {kNaN, kNaN};
}

BetaQuantileTable::Half::Node BetaQuantileTable::Half::node(double w, double p,
                                                            double guess) const {
  if (std::max(std::fabs(k_), 1.0) * c_ * w <= 1e-6) return series(w, p);
  Node n;
  n.p.v = p;
  n.w.v = w;
  double x = 0.0, y = 0.0, f = 0.0;  // x, 1 - x and the density at x
  const Root root = solve(p, guess);
  if (root.x == root.x) {
    x = root.x;
    y = 1.0 - x;
    f = root.f;
  } else {
    try {
      x = boost::math::ibeta_inv(a_, b_, p, &y, kPolicy);
      f = boost::math::ibeta_derivative(a_, b_, x, kDensityPolicy);
    } catch (const std::exception&) {
      return n;
    }
  }
  if (!(w > 0.0) || !(x >= std::numeric_limits<double>::min()) || !(y > 0.0) || !(f > 0.0) ||
      !std::isfinite(f)) {
    return n;
  }
  const double d1 = a_ * p / (w * f);
  double d = 0.0;
  if (a_ < 1.0 && x <= 0.5) {
    double t = 1.0, sum = 0.0;
    for (int k = 0; k < 100000; ++k) {
      const double term = t / (a_ + 1.0 + k);
      sum += term;
      if (k > 2 && term <= 1e-17 * sum) break;
      t *= (a_ + b_ + k) / (a_ + 1.0 + k) * x;
    }
    d = (1.0 - b_) * x * sum;
  } else {
    d = 1.0 - a_ * p / (x * f);
  }
  n.x = x;
  n.w.d1 = d1;
  n.w.d2 = d1 * ((a_ - 1.0) * d / w + d1 * (b_ - 1.0) / y);
  n.p.d1 = 1.0 / f;
  n.p.d2 = -(((a_ - 1.0) / x - (b_ - 1.0) / y) * n.p.d1) * n.p.d1;
  n.ok = true;
  return n;
}

// The tail series. With c = (a B(a, b))^(1/a),
//   I_x(a, b) = x^a / (a B) (1 - (b - 1) a x / (a + 1) + (b - 1)(b - 2) a x^2 / (2 (a + 2)) - ...)
// so w = p^(1/a) = (x / c) (1 - k x + m x^2 + O(x^3)) with
//   k = (b - 1) / (a + 1),  m = (b - 1)(b - 2) / (2 (a + 2)) + (1 - a)(b - 1)^2 / (2 (a + 1)^2),
// and inverting, with v = c w,
//   x = v (1 + k v + (2 k^2 - m) v^2 + O(v^3)).
// Its relative error is about (max(|k|, 1) v)^3, below 1e-17 where node() uses it. The
// derivatives in p follow by the chain rule, with dw/dp = w / (a p) and
// d2w/dp2 = (1/a - 1) (dw/dp) / p (undefined at p = 0, which only the deepest octave reaches).
BetaQuantileTable::Half::Node BetaQuantileTable::Half::series(double w, double p) const {
  Node n;
  const double v = c_ * w, q = 2.0 * k_ * k_ - m_;
  n.x = v * (1.0 + v * (k_ + v * q));
  n.w = {w, c_ * (1.0 + v * (2.0 * k_ + 3.0 * v * q)), c_ * c_ * (2.0 * k_ + 6.0 * v * q)};
  const double wp = w / (a_ * p), wpp = (inverseA_ - 1.0) * wp / p;
  n.p = {p, n.w.d1 * wp, n.w.d2 * wp * wp + n.w.d1 * wpp};
  if (!(p > 0.0)) n.p.d1 = n.p.d2 = std::numeric_limits<double>::quiet_NaN();
  n.ok = c_ > 0.0 && (w == 0.0 || n.x >= std::numeric_limits<double>::min());
  return n;
}

// Halves the intervals of an octave until there are at least minIntervals and the interpolant is
// within kTolerance (relative) of the exact quantile at every interval's midpoint, solved for from
// the interpolant there; the midpoints then serve as the next level's nodes, so m intervals cost
// 2m + 1 roots in all, most of them one evaluation of ibeta. An octave that does not get there
// within maxIntervals is left to the caller.
bool BetaQuantileTable::Half::tabulate(Octave& octave, const Node& low, const Node& high,
                                       bool overW, int minIntervals, int maxIntervals) {
  const auto at = [overW](const Node& n) -> const Point& { return overW ? n.w : n.p; };
  octave = {at(low).v, 0.0, 0.0, 1.0, static_cast<std::uint32_t>(coefficients_.size()), 0, overW};
  const auto usable = [&](const Node& n) { return n.ok && at(n).usable(); };
  if (!usable(low) || !usable(high) || !(at(high).v > at(low).v)) return false;
  std::vector<Node> nodes = {low, high}, next;
  std::vector<Coefficients> pieces;
  for (std::size_t m = 1; m <= static_cast<std::size_t>(maxIntervals); m *= 2) {
    pieces.clear();
    next.clear();
    bool within = true;
    for (std::size_t i = 0; i < m; ++i) {
      const Node& l = nodes[i];
      const Node& r = nodes[i + 1];
      const Point &lv = at(l), &rv = at(r);
      const double h = rv.v - lv.v;
      pieces.push_back(hermite(l.x, h * lv.d1, h * h * lv.d2, r.x, h * rv.d1, h * h * rv.d2));
      const double v = 0.5 * (lv.v + rv.v);
      const double guess = polynomial(pieces.back(), 0.5);
      const Node mid =
          overW ? node(v, a_ == 1.0 ? v : std::pow(v, a_), guess) : node(wOf(v), v, guess);
      if (!usable(mid)) return false;
      within = within && std::fabs(guess - mid.x) <= kTolerance * mid.x;
      next.push_back(l);
      next.push_back(mid);
    }
    if (within && m >= static_cast<std::size_t>(minIntervals)) {
      octave.inverseStep = static_cast<double>(m) / (at(high).v - at(low).v);
      octave.count = static_cast<std::uint32_t>(m);
      coefficients_.insert(coefficients_.end(), pieces.begin(), pieces.end());
      return true;
    }
    next.push_back(high);
    std::swap(nodes, next);
  }
  return false;
}

// Built from the deepest octave up, so that the entry after an octave's last interval is the
// next octave's first (its value at the shared end) or, where that octave is not tabulated, an
// entry holding only that value. Octave k runs from p = 2^-(k+2) to 2^-(k+1), with w = wOf(p)
// exactly as quantile() computes it; its high end is solved for from the quadratic in w at its
// low end. Probabilities below 2^-65 are never drawn from uniforms, so the deepest octave gets
// only a few intervals; shapes that need more leave it to ibeta_inv.
BetaQuantileTable::Half::Half(double a, double b)
    : a_(a),
      b_(b),
      inverseA_(1.0 / a),
      k_((b - 1.0) / (a + 1.0)),
      m_((b - 1.0) * (b - 2.0) / (2.0 * (a + 2.0)) +
         (1.0 - a) * (b - 1.0) * (b - 1.0) / (2.0 * (a + 1.0) * (a + 1.0))) {
  // a B(a, b) directly where it is a normal double (it is close to 1 for small a, whose 1/a
  // power would magnify the cancellation in a sum of log-gammas), from log-gammas where B
  // underflows (large shapes, where the 1/a power shrinks their rounding).
  const double beta = boost::math::beta(a, b, kPolicy);
  const double logAB = beta >= std::numeric_limits<double>::min() && std::isfinite(beta)
                           ? std::log(a * beta)
                           : boost::math::lgamma(a + 1.0, kPolicy) +
                                 boost::math::lgamma(b, kPolicy) -
                                 boost::math::lgamma(a + b, kPolicy);
  c_ = std::exp(logAB / a);
  Node low = series(0.0, 0.0);
  bool previous = false;  // whether the octave below was tabulated
  for (int k = kOctaves; k >= 0; --k) {
    const double p = std::ldexp(1.0, -(k + 1));
    const double w = wOf(p), dw = w - low.w.v;
    const Node high = node(w, p, low.x + dw * (low.w.d1 + 0.5 * dw * low.w.d2));
    const std::size_t size = coefficients_.size();
    Octave& octave = octaves_[static_cast<std::size_t>(k)];
    const bool tabulated =
        (k < kOctavesInP && tabulate(octave, low, high, false, kIntervalsInP, kIntervalsInP)) ||
        tabulate(octave, low, high, true, 1, k == kOctaves ? kMaxDeepIntervals : kMaxIntervals);
    if (low.ok) octave.lowX = low.x;
    if (high.ok) octave.highX = high.x;
    if (previous && !tabulated) coefficients_.insert(coefficients_.begin() + size, {low.x});
    previous = tabulated;
    low = high;
  }
  if (low.ok) {
    top_ = low.x;
  } else {
    try {
      top_ = exact(0.5);
    } catch (const std::exception&) {
      top_ = 0.0;  // no lower bound for the other half's draws
    }
  }
  if (previous) coefficients_.push_back({top_});
  // The run: built deepest first like the rest, octave n - 1's intervals come first.
  int n = 0;
  while (n < kOctavesInP && octaves_[static_cast<std::size_t>(n)].count > 0 &&
         !octaves_[static_cast<std::size_t>(n)].overW) {
    ++n;
  }
  if (n > 0) {
    runBase_ = std::bit_cast<std::uint64_t>(std::ldexp(1.0, -(n + 1))) >> kRunShift;
    runCount_ = static_cast<std::uint64_t>(n) * kIntervalsInP;
    runFirst_ = octaves_[static_cast<std::size_t>(n - 1)].first;
  }
}

std::size_t BetaQuantileTable::Half::intervals() const {
  std::size_t n = 0;
  for (const Octave& o : octaves_) n += o.count;
  return n;
}

int BetaQuantileTable::Half::exactOctaves() const {
  return static_cast<int>(std::count_if(octaves_.begin(), octaves_.end(),
                                        [](const Octave& o) { return o.count == 0; }));
}

int BetaQuantileTable::Half::octavesInP() const {
  return static_cast<int>(std::count_if(octaves_.begin(), octaves_.end(),
                                        [](const Octave& o) { return o.count > 0 && !o.overW; }));
}

// The loop of scaledQuantile() with the half chosen by index rather than by a branch (u <= 1/2
// goes either way half the time, so a branch would mispredict on every other draw): min(u, 1 - u)
// is u in the lower half and 1 - u in the upper one, and max - width y is written
// max + (-width) y, the same double. Probabilities outside the run (about 1 in 256, and 1/2 and
// NaN) take the scalar path. With 4 lanes, scaledQuantilesAvx2 does the same four at a time and
// this loop the last n mod 4.
void BetaQuantileTable::scaledQuantiles(const double* p, double* out, std::size_t n, double min,
                                        double max, int lanes) const {
  struct Side {
    Half::Run run;
    double base, scale;
  };
  const double width = max - min;
  const std::array<Side, 2> sides = {Side{lower_.run(), min, width},
                                     Side{upper_.run(), max, -width}};
  const bool vectors = lanes == 4 && sides[0].run.count > 0 && sides[1].run.count > 0;
  for (std::size_t i = vectors ? scaledQuantilesAvx2(p, out, n, min, max) : 0; i < n; ++i) {
    const double u = p[i];
    const Side& side = sides[u <= 0.5 ? 0 : 1];
    const double q = std::min(u, 1.0 - u);  // u <= 1/2 <= 1 - u in the lower half; NaN stays
    const std::uint64_t j = side.run.interval(q);
    if (!(j < side.run.count)) {
      out[i] = scaledQuantile(u, min, max);
      continue;
    }
    const double y = side.run.interpolate(j, q);
    out[i] = std::min(std::max(side.base + side.scale * y, min), max);
  }
}

void BetaQuantileTable::scaledQuantiles(const double* p, double* out, std::size_t n, double min,
                                        double max) const {
  static const int lanes = vectorLanes();
  scaledQuantiles(p, out, n, min, max, lanes);
}

namespace {

// Four lanes holding the bits of v.
[[gnu::target("avx2"), gnu::always_inline]] inline __m256d doublesWithBits(std::uint64_t v) {
  return _mm256_castsi256_pd(_mm256_set1_epi64x(static_cast<long long>(v)));
}

// The pair of doubles at offset k of lanes (0, 2) and of lanes (1, 3), interleaved: the four
// lanes' doubles k and k + 1.
[[gnu::target("avx2"), gnu::always_inline]] inline void interleavedPairs(const double* const* c,
                                                                         std::size_t k,
                                                                         __m256d& first,
                                                                         __m256d& second) {
  const __m256d even = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(c[0] + k)),
                                            _mm_loadu_pd(c[2] + k), 1);
  const __m256d odd = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(c[1] + k)),
                                           _mm_loadu_pd(c[3] + k), 1);
  first = _mm256_unpacklo_pd(even, odd);
  second = _mm256_unpackhi_pd(even, odd);
}

}  // namespace

// Four draws of scaledQuantiles() at a time, as long as four remain; returns how many it drew.
// Both halves have a run. Each lane takes its interval's seven doubles (the quintic and the next
// interval's first, the clamp's upper end) in pairs: a pair of lanes 0 and 2 and one of lanes 1
// and 3, interleaved, give the four lanes' first and second doubles. Lanes outside the run read
// the run's first interval and are then drawn by scaledQuantile. Operation for operation the
// scalar loop (min and max operands in the order that gives std::min and std::max, no fused
// multiply-add), so the same bits.
[[gnu::target("avx2")]] std::size_t BetaQuantileTable::scaledQuantilesAvx2(
    const double* p, double* out, std::size_t n, double min, double max) const {
  const Half::Run runs[2] = {lower_.run(), upper_.run()};
  const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0);
  const __m256d minimum = _mm256_set1_pd(min), maximum = _mm256_set1_pd(max);
  const __m256d lowBase = minimum, highBase = maximum;
  const __m256d lowScale = _mm256_set1_pd(max - min), highScale = _mm256_set1_pd(-(max - min));
  const __m256d lowRunBase = doublesWithBits(runs[0].base),
                highRunBase = doublesWithBits(runs[1].base);
  const __m256d lowCount = doublesWithBits(runs[0].count),
                highCount = doublesWithBits(runs[1].count);
  const __m256i mantissa = _mm256_set1_epi64x((std::int64_t{1} << 52) - 1);
  const __m256i oneBits = _mm256_castpd_si256(one);
  const __m256i none = _mm256_set1_epi64x(-1);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d u = _mm256_loadu_pd(p + i);
    const __m256d lower = _mm256_cmp_pd(u, half, _CMP_LE_OQ);   // NaN: the upper half, as u <= 0.5
    const __m256d q = _mm256_min_pd(_mm256_sub_pd(one, u), u);  // std::min(u, 1 - u)
    const __m256i bits = _mm256_castpd_si256(q);
    const __m256i j =
        _mm256_sub_epi64(_mm256_srli_epi64(bits, Half::kRunShift),
                         _mm256_castpd_si256(_mm256_blendv_pd(highRunBase, lowRunBase, lower)));
    const __m256i count = _mm256_castpd_si256(_mm256_blendv_pd(highCount, lowCount, lower));
    // 0 <= j < count, signed: j is the difference of two 18-bit numbers.
    const __m256i inRun =
        _mm256_and_si256(_mm256_cmpgt_epi64(count, j), _mm256_cmpgt_epi64(j, none));
    alignas(32) std::int64_t interval[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(interval), _mm256_and_si256(j, inRun));
    const int lowerLanes = _mm256_movemask_pd(lower);
    const double* c[4];
    for (int k = 0; k < 4; ++k) {
      c[k] = (runs[(lowerLanes >> k & 1) == 0 ? 1 : 0].first + interval[k])->data();
    }
    const __m256i rest = _mm256_and_si256(_mm256_slli_epi64(bits, 52 - Half::kRunShift), mantissa);
    const __m256d s = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(rest, oneBits)), one);
    __m256d d0, d1, d2, d3, d4, d5, d5again, next;  // next: the next interval's first
    interleavedPairs(c, 0, d0, d1);
    interleavedPairs(c, 2, d2, d3);
    interleavedPairs(c, 4, d4, d5);
    interleavedPairs(c, 5, d5again, next);
    __m256d x = _mm256_add_pd(d4, _mm256_mul_pd(s, d5));
    x = _mm256_add_pd(d3, _mm256_mul_pd(s, x));
    x = _mm256_add_pd(d2, _mm256_mul_pd(s, x));
    x = _mm256_add_pd(d1, _mm256_mul_pd(s, x));
    x = _mm256_add_pd(d0, _mm256_mul_pd(s, x));
    const __m256d y = _mm256_min_pd(next, _mm256_max_pd(d0, x));
    const __m256d base = _mm256_blendv_pd(highBase, lowBase, lower);
    const __m256d scale = _mm256_blendv_pd(highScale, lowScale, lower);
    const __m256d v = _mm256_add_pd(base, _mm256_mul_pd(scale, y));
    const __m256d drawn = _mm256_min_pd(maximum, _mm256_max_pd(minimum, v));
    alignas(32) double us[4];
    _mm256_store_pd(us, u);
    _mm256_storeu_pd(out + i, drawn);
    const int outside = ~_mm256_movemask_pd(_mm256_castsi256_pd(inRun)) & 0xF;
    if (outside != 0) {
      for (int k = 0; k < 4; ++k) {
        if ((outside >> k & 1) != 0) {
          out[i + static_cast<std::size_t>(k)] = scaledQuantile(us[k], min, max);
        }
      }
    }
  }
  return i;
}

// Below 2^-(kOctaves+1): the deepest octave, down to p = 0. NaN and negative p go to ibeta_inv,
// which throws.
double BetaQuantileTable::Half::deepTail(double p) const {
  if (!(p >= 0.0)) return exact(p);
  return evaluate(octaves_[kOctaves], p);
}

double BetaQuantileTable::Half::exact(double p) const {
  return boost::math::ibeta_inv(a_, b_, p, kPolicy);
}

namespace {

double checkedShape(const char* name, double value) {
  if (!std::isfinite(value) || !(value > 0.0)) {
    std::string message = name;
    message += " must be a finite number > 0, got ";
    message += std::to_string(value);
    throw std::invalid_argument(message);
  }
  return value;
}

}  // namespace

BetaQuantileTable::BetaQuantileTable(double alpha, double beta)
    : lower_(checkedShape("alpha", alpha), checkedShape("beta", beta)), upper_(beta, alpha) {}

}  // namespace spinval
