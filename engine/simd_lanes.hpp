// The lane functions behind spinval/vector_math.hpp, for code that keeps its values in vector
// registers (the model's yearly loop): e^x, ln x and erfc x over kWidth doubles at once, each
// lane doing the same IEEE operations whatever kWidth is.
//
//   using Lanes = simd::Vector<4>::Lanes;       // inside a function compiled for AVX2
//   Lanes y = simd::evaluate<simd::Function::kExp, 4>(x);
//
// Only for functions inlined into code compiled for the width (always_inline), so vectors never
// cross an ABI boundary.
#pragma once

#include <cmath>
#include <cstdint>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace spinval::simd {

// kWidth doubles, and their bits, in one register; arithmetic acts lane by lane.
template <int kWidth>
struct Vector;
template <>
struct Vector<2> {
  using Lanes = double __attribute__((vector_size(16)));
  using Bits = std::uint64_t __attribute__((vector_size(16)));
};
template <>
struct Vector<4> {
  using Lanes = double __attribute__((vector_size(32)));
  using Bits = std::uint64_t __attribute__((vector_size(32)));
};

// Adding 1.5 2^52 rounds |v| < 2^51 to the nearest integer k and leaves k in the low bits.
constexpr double kRound = 0x1.8p52;
constexpr std::uint64_t kRoundBits = 0x4338000000000000;
constexpr double kInvLn2 = 0x1.71547652b82fep+0;
// ln 2 = kLn2Hi + kLn2Lo, kLn2Hi with 21 trailing zero bits, so k kLn2Hi is exact for |k| < 2^21.
constexpr double kLn2Hi = 0x1.62e42feep-1;
constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;

// exp: x = k ln 2 + r with |r| <= ln 2 / 2 and e^x = 2^k e^r, where
//   e^r = 1 + 2r / (2 - R(r)),  R(r) = r - r^2 (P1 + r^2 (P2 + ... + r^2 P5)) ~ r coth(r/2) - 2
// is written 1 - ((lo - r c / (2 - c)) - hi) with r = hi - lo to keep the bits of the reduction.
constexpr double kP1 = 0x1.555555555553ep-3;
constexpr double kP2 = -0x1.6c16c16bebd93p-9;
constexpr double kP3 = 0x1.1566aaf25de2cp-14;
constexpr double kP4 = -0x1.bbd41c5d26bf1p-20;
constexpr double kP5 = 0x1.6376972bea4d0p-25;
// Where 2^k e^r is a normal double and k can be added to its exponent field.
constexpr double kExpLow = -707.0;
constexpr double kExpHigh = 709.0;

template <int kWidth, class Lanes = typename Vector<kWidth>::Lanes>
[[gnu::always_inline]] inline Lanes expLanes(Lanes x) {
  using Bits = typename Vector<kWidth>::Bits;
  const Lanes shifted = x * kInvLn2 + kRound;
  const Lanes k = shifted - kRound;
  const Lanes hi = x - k * kLn2Hi;
  const Lanes lo = k * kLn2Lo;
  const Lanes r = hi - lo;
  const Lanes t = r * r;
  const Lanes c = r - t * (kP1 + t * (kP2 + t * (kP3 + t * (kP4 + t * kP5))));
  const Lanes y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
  // The low 12 bits of k, moved to the sign and exponent field, add k to y's exponent.
  return reinterpret_cast<Lanes>(reinterpret_cast<Bits>(y) +
                                 (reinterpret_cast<Bits>(shifted) << 52));
}

// log: x = 2^k m with sqrt(2)/2 <= m < sqrt(2), f = m - 1, s = f / (2 + f), and
//   ln m = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R(s^2))),
// R a polynomial in s^2 (Lg1 .. Lg7) split in even and odd powers of s^4.
constexpr double kLg1 = 0x1.5555555555593p-1;
constexpr double kLg2 = 0x1.999999997fa04p-2;
constexpr double kLg3 = 0x1.2492494229359p-2;
constexpr double kLg4 = 0x1.c71c51d8e78afp-3;
constexpr double kLg5 = 0x1.7466496cb03dep-3;
constexpr double kLg6 = 0x1.39a09d078c69fp-3;
constexpr double kLg7 = 0x1.2f112df3e5244p-3;
constexpr double kLogLow = 0x1p-1022;  // the smallest normal double
constexpr double kLogHigh = 0x1.fffffffffffffp+1023;

template <int kWidth, class Lanes = typename Vector<kWidth>::Lanes>
[[gnu::always_inline]] inline Lanes logLanes(Lanes x) {
  using Bits = typename Vector<kWidth>::Bits;
  const Bits bits = reinterpret_cast<Bits>(x);
  const Bits high = bits >> 32;
  // Set where the mantissa is at least sqrt(2)'s: then m is halved and k raised by one.
  const Bits half = ((high & 0xfffff) + 0x95f64) & 0x100000;
  const Bits k = (high >> 20) - 1023 + (half >> 20);
  const Lanes m =
      reinterpret_cast<Lanes>((bits & 0x000fffffffffffff) | ((half ^ 0x3ff00000) << 32));
  const Lanes dk = reinterpret_cast<Lanes>(k + kRoundBits) - kRound;
  const Lanes f = m - 1.0;
  const Lanes s = f / (2.0 + f);
  const Lanes z = s * s;
  const Lanes w = z * z;
  const Lanes even = w * (kLg2 + w * (kLg4 + w * kLg6));
  const Lanes odd = z * (kLg1 + w * (kLg3 + w * (kLg5 + w * kLg7)));
  const Lanes r = odd + even;
  const Lanes halfSquare = 0.5 * f * f;
  return dk * kLn2Hi - ((halfSquare - (s * (halfSquare + r) + dk * kLn2Lo)) - f);
}

// erfc for |x| < 1.25 (nine in ten normal scores, as Phi(z) = erfc(-z / sqrt 2) / 2), fdlibm's
// two rationals:
//   |x| < 0.84375: erfc(x) = 1 - erf(x), erf(x) = x + x P(x^2) / Q(x^2), written 1 - (x + x y)
//     below 1/4 and 1/2 - (x y + (x - 1/2)) above, where cancellation would cost bits;
//   0.84375 <= |x| < 1.25: erf(x) = sign(x) (c + P(s) / Q(s)), s = |x| - 1, c = 0.84506291151
//     rounded to float.
// Both are evaluated and the lane takes its own.
constexpr double kPp0 = 0x1.06eba8214db68p-3;
constexpr double kPp1 = -0x1.4cd7d691cb913p-2;
constexpr double kPp2 = -0x1.d2a51dbd7194fp-6;
constexpr double kPp3 = -0x1.7a291236668e4p-8;
constexpr double kPp4 = -0x1.8ead6120016acp-16;
constexpr double kQq1 = 0x1.97779cddadc09p-2;
constexpr double kQq2 = 0x1.0a54c5536cebap-4;
constexpr double kQq3 = 0x1.4d022c4d36b0fp-8;
constexpr double kQq4 = 0x1.15dc9221c1a10p-13;
constexpr double kQq5 = -0x1.09c4342a26120p-18;
constexpr double kPa0 = -0x1.359b8bef77538p-9;
constexpr double kPa1 = 0x1.a8d00ad92b34dp-2;
constexpr double kPa2 = -0x1.7d240fbb8c3f1p-2;
constexpr double kPa3 = 0x1.45fca805120e4p-2;
constexpr double kPa4 = -0x1.c63983d3e28ecp-4;
constexpr double kPa5 = 0x1.22a36599795ebp-5;
constexpr double kPa6 = -0x1.1bf380a96073fp-9;
constexpr double kQa1 = 0x1.b3e6618eee323p-4;
constexpr double kQa2 = 0x1.14af092eb6f33p-1;
constexpr double kQa3 = 0x1.2635cd99fe9a7p-4;
constexpr double kQa4 = 0x1.02660e763351fp-3;
constexpr double kQa5 = 0x1.bedc26b51dd1cp-7;
constexpr double kQa6 = 0x1.88b545735151dp-7;
constexpr double kErx = 0x1.b0ac16p-1;
constexpr double kErfcCentral = 0.84375;  // the first rational below it, the second above
constexpr double kErfcHigh = 1.25;        // |x| from here on: erfcTailLanes

// The first rational alone, for |x| < 0.84375.
template <int kWidth, class Lanes = typename Vector<kWidth>::Lanes>
[[gnu::always_inline]] inline Lanes erfcCentralLanes(Lanes x) {
  const Lanes z = x * x;
  const Lanes r = kPp0 + z * (kPp1 + z * (kPp2 + z * (kPp3 + z * kPp4)));
  const Lanes s = 1.0 + z * (kQq1 + z * (kQq2 + z * (kQq3 + z * (kQq4 + z * kQq5))));
  const Lanes y = r / s;
  const Lanes xy = x * y;
  return x < 0.25 ? 1.0 - (x + xy) : 0.5 - (xy + (x - 0.5));
}

template <int kWidth, class Lanes = typename Vector<kWidth>::Lanes>
[[gnu::always_inline]] inline Lanes erfcLanes(Lanes x) {
  const Lanes central = erfcCentralLanes<kWidth>(x);
  const Lanes ax = x < 0.0 ? -x : x;
  const Lanes t = ax - 1.0;
  const Lanes p = kPa0 + t * (kPa1 + t * (kPa2 + t * (kPa3 + t * (kPa4 + t * (kPa5 + t * kPa6)))));
  const Lanes q = 1.0 + t * (kQa1 + t * (kQa2 + t * (kQa3 + t * (kQa4 + t * (kQa5 + t * kQa6)))));
  const Lanes pq = p / q;
  const Lanes shoulder = x < 0.0 ? 1.0 + (kErx + pq) : (1.0 - kErx) - pq;
  return ax < kErfcCentral ? central : shoulder;
}

// erfc for 1.25 <= |x| < 6 (the tails of the copula's normal scores, |z| > 1.77), fdlibm's
// rationals in s = 1 / x^2, one for |x| < 1 / 0.35 and one above (both are evaluated and the lane
// takes its own), in
//   erfc(|x|) = exp(-w^2 - 0.5625) exp((w - |x|)(w + |x|) + R(s) / S(s)) / |x|,
// w being |x| with its low 32 bits cleared, so that w^2 is exact; erfc(x) = 2 - erfc(|x|) for
// x < 0. Both exponents lie in exp's normal range.
constexpr double kRa0 = -0x1.43412600d6435p-7;
constexpr double kRa1 = -0x1.63416e4ba7360p-1;
constexpr double kRa2 = -0x1.51e0441b0e726p+3;
constexpr double kRa3 = -0x1.f300ae4cba38dp+5;
constexpr double kRa4 = -0x1.44cb184282266p+7;
constexpr double kRa5 = -0x1.7135cebccabb2p+7;
constexpr double kRa6 = -0x1.4526557e4d2f2p+6;
constexpr double kRa7 = -0x1.3a0efc69ac25cp+3;
constexpr double kSa1 = 0x1.3a6b9bd707687p+4;
constexpr double kSa2 = 0x1.1350c526ae721p+7;
constexpr double kSa3 = 0x1.b290dd58a1a71p+8;
constexpr double kSa4 = 0x1.42b1921ec2868p+9;
constexpr double kSa5 = 0x1.ad02157700314p+8;
constexpr double kSa6 = 0x1.b28a3ee48ae2cp+6;
constexpr double kSa7 = 0x1.a47ef8e484a93p+2;
constexpr double kSa8 = -0x1.eeff2ee749a62p-5;
constexpr double kRb0 = -0x1.4341239e86f4ap-7;
constexpr double kRb1 = -0x1.993ba70c285dep-1;
constexpr double kRb2 = -0x1.1c209555f995ap+4;
constexpr double kRb3 = -0x1.4145d43c5ed98p+7;
constexpr double kRb4 = -0x1.3ec881375f228p+9;
constexpr double kRb5 = -0x1.004616a2e5992p+10;
constexpr double kRb6 = -0x1.e384e9bdc383fp+8;
constexpr double kSb1 = 0x1.e568b261d5190p+4;
constexpr double kSb2 = 0x1.45cae221b9f0ap+8;
constexpr double kSb3 = 0x1.802eb189d5118p+10;
constexpr double kSb4 = 0x1.8ffb7688c246ap+11;
constexpr double kSb5 = 0x1.3f219cedf3be6p+11;
constexpr double kSb6 = 0x1.da874e79fe763p+8;
constexpr double kSb7 = -0x1.670e242712d62p+4;
constexpr double kErfcFar = 1.0 / 0.35;  // the second rational from here on
constexpr double kErfcTail = 6.0;        // |x| from here on: std::erfc

template <int kWidth, class Lanes = typename Vector<kWidth>::Lanes>
[[gnu::always_inline]] inline Lanes erfcTailLanes(Lanes x) {
  using Bits = typename Vector<kWidth>::Bits;
  const Lanes ax = x < 0.0 ? -x : x;
  const Lanes s = 1.0 / (ax * ax);
  const Lanes ra =
      kRa0 + s * (kRa1 + s * (kRa2 + s * (kRa3 + s * (kRa4 + s * (kRa5 + s * (kRa6 + s * kRa7))))));
  const Lanes sa =
      1.0 +
      s * (kSa1 +
           s * (kSa2 + s * (kSa3 + s * (kSa4 + s * (kSa5 + s * (kSa6 + s * (kSa7 + s * kSa8)))))));
  const Lanes rb = kRb0 + s * (kRb1 + s * (kRb2 + s * (kRb3 + s * (kRb4 + s * (kRb5 + s * kRb6)))));
  const Lanes sb =
      1.0 + s * (kSb1 + s * (kSb2 + s * (kSb3 + s * (kSb4 + s * (kSb5 + s * (kSb6 + s * kSb7))))));
  const auto near = ax < kErfcFar;
  const Lanes r = near ? ra : rb;
  const Lanes q = near ? sa : sb;
  const Lanes w = reinterpret_cast<Lanes>(reinterpret_cast<Bits>(ax) & 0xffffffff00000000);
  const Lanes e = expLanes<kWidth>(-w * w - 0.5625) * expLanes<kWidth>((w - ax) * (w + ax) + r / q);
  const Lanes y = e / ax;
  return x < 0.0 ? 2.0 - y : y;
}

enum class Function { kExp, kLog, kErfc };

// f(x) lane by lane, where the lanes outside the fast formulas' range (and NaN) come from libm.
template <Function F, int kWidth, class Lanes = typename Vector<kWidth>::Lanes>
[[gnu::always_inline]] inline Lanes evaluate(Lanes x) {
  Lanes y;
  decltype(x < x) inside;
  if constexpr (F == Function::kExp) {
    y = expLanes<kWidth>(x);
    inside = (x >= kExpLow) & (x <= kExpHigh);
  } else if constexpr (F == Function::kLog) {
    y = logLanes<kWidth>(x);
    inside = (x >= kLogLow) & (x <= kLogHigh);
  } else {
    y = erfcLanes<kWidth>(x);
    inside = (x > -kErfcHigh) & (x < kErfcHigh);
  }
  bool all = true;
  for (int lane = 0; lane < kWidth; ++lane) all = all && inside[lane] != 0;
  if (all) [[likely]] {
    return y;
  }
  if constexpr (F == Function::kErfc) {
    const Lanes ax = x < 0.0 ? -x : x;
    const auto tail = (ax >= kErfcHigh) & (ax < kErfcTail);
    y = tail ? erfcTailLanes<kWidth>(tail ? x : kErfcHigh) : y;
    inside |= tail;
  }
  for (int lane = 0; lane < kWidth; ++lane) {
    if (inside[lane]) continue;
    if constexpr (F == Function::kExp) {
      y[lane] = std::exp(x[lane]);
    } else if constexpr (F == Function::kLog) {
      y[lane] = std::log(x[lane]);
    } else {
      y[lane] = std::erfc(x[lane]);
    }
  }
  return y;
}

}  // namespace spinval::simd

#pragma GCC diagnostic pop
