// The inverse of the regularised incomplete beta function I_x(alpha, beta), tabulated once per
// shape so that a beta or PERT draw costs a quintic instead of a root search: about 3 ns a draw
// in batch (scaledQuantiles) and 9 ns one at a time, against 1.7 microseconds for Boost's
// ibeta_inv (bench/distribution_bench.cpp):
//
//   const BetaQuantileTable table(1.4, 4.6);  // about 0.6 ms to build; const afterwards
//   double x = table.quantile(0.3);           // I_x(1.4, 4.6) = 0.3
//
// Accuracy. The constructor refines each octave of p until the table is within kTolerance
// (3e-14, relative) of the exact quantile at the midpoint of every interval: the root of Boost's
// ibeta in double, solved for by Halley steps from the interpolant to within ibeta's rounding
// (closer than ibeta_inv in double, which stops its own steps sooner: over the test's shapes with
// alpha, beta in [1, 50] the nodes are within 1.5e-15 of Boost in long double, ibeta_inv 2.5e-14).
// The error is relative to x for p <= 1/2 and to 1 - x above (complementQuantile), so both tails
// keep their precision. Against Boost in long double on dense grids down to p = 1e-19, the
// largest relative error is 2.8e-14 for PERT shapes (alpha, beta in [1, 5]), 3.8e-14 over 60
// random alpha, beta (log-uniform in [0.1, 50]), 2.9e-14 at alpha = beta = 50 and 2.7e-14 at
// 100; in absolute terms it stays under 2.3e-14 on [0, 1]. Octaves that neither 64 intervals in
// p nor 128 in w bring within the tolerance (much larger shapes, or quantiles that underflow) are
// answered by ibeta_inv itself, as is p < 2^-65 for shapes whose deepest octave would need more
// than 8 intervals.
//
// Draws are non-decreasing in p across intervals, octaves and the split at 1/2 (each is clamped
// between its interval's end values, ibeta_inv's answers between their octave's); inside an
// interval no step back between adjacent doubles showed in 1.2 10^7 random pairs over 12 shapes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace spinval {

class BetaQuantileTable {
 public:
  static constexpr double kTolerance = 3e-14;  // relative, at every interval's midpoint
  static constexpr int kOctaves = 64;          // tabulated: 2^-65 <= p <= 1/2 in each half
  static constexpr int kOctavesInP = 8;        // tabulated in p where they can: 2^-9 <= p <= 1/2
  static constexpr int kIntervalsInP = 64;     // in each octave tabulated in p
  static constexpr int kMaxIntervals = 128;    // in each octave tabulated in w
  static constexpr int kMaxDeepIntervals = 8;  // below 2^-65

  // Throws std::invalid_argument unless alpha and beta are finite and > 0.
  BetaQuantileTable(double alpha, double beta);

  double alpha() const { return lower_.a(); }
  double beta() const { return upper_.a(); }

  // x in [0, 1] with I_x(alpha, beta) = p, for p in [0, 1].
  double quantile(double p) const {
    return p <= 0.5 ? lower_.quantile(p) : std::max(1.0 - upper_.quantile(1.0 - p), lower_.top());
  }
  // 1 - x where I_x(alpha, beta) = 1 - q: the quantile of 1 - X ~ Beta(beta, alpha) at q, which
  // keeps its relative precision where x is close to 1.
  double complementQuantile(double q) const {
    return q <= 0.5 ? upper_.quantile(q) : std::max(1.0 - lower_.quantile(1.0 - q), upper_.top());
  }

  // The quantile of min + (max - min) X at p, clamped to [min, max]: min + (max - min) x for
  // p <= 1/2 and max - (max - min) (1 - x) above, so that each end keeps the precision of its
  // tail. As quantile(), NaN gives NaN and p outside [0, 1] throws (from ibeta_inv).
  double scaledQuantile(double p, double min, double max) const {
    const double width = max - min;
    const double x =
        p <= 0.5 ? min + width * lower_.quantile(p) : max - width * upper_.quantile(1.0 - p);
    return std::min(std::max(x, min), max);
  }
  // out[i] = scaledQuantile(p[i], min, max) for i < n, bit for bit, at a few nanoseconds each:
  // the half is chosen without a branch, four draws at a time where the processor has AVX2, and
  // only p in no octave tabulated in p (below 2^-9 on either side for most shapes) goes through
  // scaledQuantile. out may equal p.
  void scaledQuantiles(const double* p, double* out, std::size_t n, double min, double max) const;
  // The same with the width forced: 1, or 4 where vectorLanes() is 4 (to check that both give
  // the same bits).
  void scaledQuantiles(const double* p, double* out, std::size_t n, double min, double max,
                       int lanes) const;

  // Polynomial pieces held in both halves, and octaves answered by ibeta_inv instead.
  std::size_t intervals() const { return lower_.intervals() + upper_.intervals(); }
  int exactOctaves() const { return lower_.exactOctaves() + upper_.exactOctaves(); }
  // Octaves (of the 2 (kOctaves + 1)) tabulated in p rather than in w.
  int octavesInP() const { return lower_.octavesInP() + upper_.octavesInP(); }

 private:
  // The quantile x(p) of Beta(a, b) for p in [0, 1/2].
  //
  // Octave k < kOctaves holds 2^-(k+2) <= p <= 2^-(k+1), found from p's binary exponent, and
  // octave kOctaves the rest, 0 <= p <= 2^-(kOctaves+1). Each splits the range of its variable
  // into `count` equal intervals; on each, x is the quintic Hermite interpolant of x and its
  // first two derivatives in that variable at the two ends (error O(h^6)), stored as
  // coefficients of s in [0, 1]. The variable is
  //   p itself in octaves k < kOctavesInP, where draws fall 255 times in 256. x is analytic in p
  //     inside an octave (its singularity, p = 0, is an octave's width away), but it follows
  //     x ~ p^(1/a) there, so these octaves take kIntervalsInP intervals each (what that needs
  //     for 1/a up to 3 or so). Those from octave 0 down then form one run of intervals indexed
  //     by the top bits of p, its exponent and the first 6 bits of its mantissa, with s the
  //     remaining 46 bits: a draw costs a shift, a mask and one quintic, and no pow;
  //   w = p^(1/a) in deeper octaves, and where p would need more intervals (a below about 0.3).
  //     Near 0, I_x(a, b) = x^a / (a B(a, b)) (1 + O(x)), so x is an analytic function of w
  //     with x'(0) = (a B(a, b))^(1/a) > 0, even where the density is 0 or infinite at x = 0:
  //     x is nearly linear in w, and deep octaves need one or two intervals.
  // The entry after an interval starts with the value at its right end, and a draw is clamped
  // between the two end values: the quantile is increasing, so the clamp only removes rounding
  // and makes the draws non-decreasing across intervals, octaves and the split at p = 1/2.
  class Half {
   public:
    Half(double a, double b);
    double a() const { return a_; }
    double top() const { return top_; }  // the quantile at p = 1/2
    std::size_t intervals() const;
    int exactOctaves() const;
    int octavesInP() const;

    double quantile(double p) const {
      const Run r = run();
      const std::uint64_t j = r.interval(p);
      if (j < r.count) return r.interpolate(j, p);
      if (!(p >= kSmallest)) return deepTail(p);
      return evaluate(octaves_[octaveOf(p)], p);
    }

   private:
    friend class BetaQuantileTable;               // scaledQuantiles() reads the run directly
    static constexpr double kSmallest = 0x1p-65;  // 2^-(kOctaves+1)
    static constexpr int kRunShift = 46;          // 52 - log2(kIntervalsInP)
    static_assert(kIntervalsInP == 1 << (52 - kRunShift));
    using Coefficients = std::array<double, 6>;
    struct Octave {
      double low = 0.0, inverseStep = 0.0;  // the variable at the octave's low end; 1 / step
      double lowX = 0.0, highX = 1.0;       // the quantile at its ends, bounds for ibeta_inv's
      std::uint32_t first = 0, count = 0;   // count 0: answered by ibeta_inv
      bool overW = false;                   // variable w = p^(1/a), else p
    };
    struct Point;
    struct Node;
    struct Root {
      double x, f;  // the quantile and the density there
    };

    // The octaves from 0 down to n - 1 when they are all tabulated in p (n <= kOctavesInP), as
    // one run of count = 64 n intervals from `first` on (count 0: no run), indexed by the top
    // bits of p: its exponent and the first 6 bits of its mantissa grow with it.
    struct Run {
      const Coefficients* first;
      std::uint64_t base, count;  // base: the top bits of p = 2^-(n+1), the run's low end

      // p's interval, counted from the run's low end, or count and beyond where p is outside
      // the run (below it, 1/2 itself, negative or NaN).
      std::uint64_t interval(double p) const {
        return (std::bit_cast<std::uint64_t>(p) >> kRunShift) - base;
      }
      // With p = 2^(e-1023) (1 + f), interval j holds the p whose f starts with j's last 6
      // bits, and s, p's position in it, is exactly the rest of f (its last 46 bits).
      double interpolate(std::uint64_t j, double p) const {
        constexpr std::uint64_t kMantissa = (std::uint64_t{1} << 52) - 1;
        const std::uint64_t rest =
            (std::bit_cast<std::uint64_t>(p) << (52 - kRunShift)) & kMantissa;
        const double s = std::bit_cast<double>(rest | std::bit_cast<std::uint64_t>(1.0)) - 1.0;
        return polynomialAt(first + j, s);
      }
    };
    Run run() const { return {coefficients_.data() + runFirst_, runBase_, runCount_}; }

    // p in [2^(e-1023), 2^(e-1022)) for the biased exponent e; p = 1/2 joins octave 0.
    static std::size_t octaveOf(double p) {
      const int e = static_cast<int>(std::bit_cast<std::uint64_t>(p) >> 52);
      return static_cast<std::size_t>(std::max(1021 - e, 0));
    }

    double evaluate(const Octave& o, double p) const {
      // ibeta_inv's answers are clamped like the pieces, to the nodes' more precise values.
      if (o.count == 0) return std::min(std::max(exact(p), o.lowX), o.highX);
      // w rounded below the octave's low end counts as the low end.
      const double t = ((o.overW ? std::max(wOf(p), o.low) : p) - o.low) * o.inverseStep;
      const std::uint32_t i = std::min(static_cast<std::uint32_t>(t), o.count - 1);
      return polynomialAt(coefficients_.data() + o.first + i, t - i);
    }
    // The piece at c for s in [0, 1], clamped between its end values; c[1][0] is the right one.
    static double polynomialAt(const Coefficients* c, double s) {
      const Coefficients& d = c[0];
      const double x = d[0] + s * (d[1] + s * (d[2] + s * (d[3] + s * (d[4] + s * d[5]))));
      return std::min(std::max(x, d[0]), c[1][0]);
    }
    double wOf(double p) const { return inverseA_ == 1.0 ? p : std::pow(p, inverseA_); }
    double deepTail(double p) const;
    double exact(double p) const;
    Root solve(double p, double guess) const;
    Node node(double w, double p, double guess) const;
    Node series(double w, double p) const;
    bool tabulate(Octave& octave, const Node& low, const Node& high, bool overW, int minIntervals,
                  int maxIntervals);

    double a_, b_, inverseA_;
    double k_, m_, c_ = 0.0;  // the tail series, see series()
    double top_ = 0.0;
    std::array<Octave, kOctaves + 1> octaves_{};
    std::vector<Coefficients> coefficients_;
    std::uint64_t runBase_ = 0, runCount_ = 0;  // see Run
    std::size_t runFirst_ = 0;
  };

  std::size_t scaledQuantilesAvx2(const double* p, double* out, std::size_t n, double min,
                                  double max) const;

  Half lower_, upper_;
};

}  // namespace spinval
