#include "spinval/vector_math.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simd_lanes.hpp"

// The four-lane functions are inlined into functions compiled for AVX2 only, so passing their
// vectors by value never crosses an ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace spinval {

namespace {

using simd::evaluate;
using simd::Function;
using simd::Vector;

// x[i] = f(x[i]), kWidth at a time; the last n % kWidth values are padded with 1.
template <Function F, int kWidth>
[[gnu::always_inline]] inline void inPlace(double* x, std::size_t n) {
  using Lanes = typename Vector<kWidth>::Lanes;
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    Lanes v;
    std::memcpy(&v, x + i, sizeof v);
    v = evaluate<F, kWidth>(v);
    std::memcpy(x + i, &v, sizeof v);
  }
  if (i < n) {
    Lanes v = Lanes{} + 1.0;
    std::memcpy(&v, x + i, (n - i) * sizeof(double));
    v = evaluate<F, kWidth>(v);
    std::memcpy(x + i, &v, (n - i) * sizeof(double));
  }
}

// erfc in place, in blocks of 256: every value through the rational of |x| < 0.84375 (four in
// five of the copula's), kWidth at a time without a branch, while the positions of the others are
// gathered; then those, kWidth at a time, through evaluate() (the second rational below 1.25, the
// tail formula below 6, libm beyond). The same bits as evaluate() on each value.
template <int kWidth>
[[gnu::always_inline]] inline void erfcInPlace(double* x, std::size_t n) {
  using Lanes = typename Vector<kWidth>::Lanes;
  constexpr std::size_t kBlock = 256;
  std::array<std::uint32_t, kBlock> at;
  std::array<double, kBlock + kWidth> tail;
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t size = std::min(kBlock, n - start);
    double* xb = x + start;
    std::size_t tails = 0;
    for (std::size_t i = 0; i < size; ++i) {
      at[tails] = static_cast<std::uint32_t>(i);
      tail[tails] = xb[i];
      tails += std::fabs(xb[i]) < simd::kErfcCentral ? 0 : 1;
    }
    std::size_t i = 0;
    for (; i + kWidth <= size; i += kWidth) {
      Lanes v;
      std::memcpy(&v, xb + i, sizeof v);
      v = simd::erfcCentralLanes<kWidth>(v);
      std::memcpy(xb + i, &v, sizeof v);
    }
    if (i < size) {
      Lanes v = Lanes{};
      std::memcpy(&v, xb + i, (size - i) * sizeof(double));
      v = simd::erfcCentralLanes<kWidth>(v);
      std::memcpy(xb + i, &v, (size - i) * sizeof(double));
    }
    std::fill_n(tail.begin() + static_cast<std::ptrdiff_t>(tails), kWidth, simd::kErfcHigh);
    for (std::size_t j = 0; j < tails; j += kWidth) {
      Lanes v;
      std::memcpy(&v, tail.data() + j, sizeof v);
      v = evaluate<Function::kErfc, kWidth>(v);
      for (std::size_t k = 0; k < kWidth && j + k < tails; ++k) xb[at[j + k]] = v[k];
    }
  }
}

template <Function F>
void inPlaceSse2(double* x, std::size_t n) {
  if constexpr (F == Function::kErfc) {
    erfcInPlace<2>(x, n);
  } else {
    inPlace<F, 2>(x, n);
  }
}

template <Function F>
[[gnu::target("avx2")]] void inPlaceAvx2(double* x, std::size_t n) {
  if constexpr (F == Function::kErfc) {
    erfcInPlace<4>(x, n);
  } else {
    inPlace<F, 4>(x, n);
  }
}

const int kBestLanes = __builtin_cpu_supports("avx2") ? 4 : 2;

template <Function F>
void dispatch(double* x, std::size_t n, int lanes) {
  if (lanes == 4) {
    inPlaceAvx2<F>(x, n);
  } else {
    inPlaceSse2<F>(x, n);
  }
}

}  // namespace

int vectorLanes() {
  return kBestLanes;
}

void expInPlace(double* x, std::size_t n, int lanes) {
  dispatch<Function::kExp>(x, n, lanes);
}
void logInPlace(double* x, std::size_t n, int lanes) {
  dispatch<Function::kLog>(x, n, lanes);
}
void erfcInPlace(double* x, std::size_t n, int lanes) {
  dispatch<Function::kErfc>(x, n, lanes);
}
void expInPlace(double* x, std::size_t n) {
  expInPlace(x, n, kBestLanes);
}
void erfcInPlace(double* x, std::size_t n) {
  erfcInPlace(x, n, kBestLanes);
}
void logInPlace(double* x, std::size_t n) {
  logInPlace(x, n, kBestLanes);
}

double fastExp(double x) {
  return evaluate<Function::kExp, 2>(Vector<2>::Lanes{x, 1.0})[0];
}

double fastErfc(double x) {
  return evaluate<Function::kErfc, 2>(Vector<2>::Lanes{x, 1.0})[0];
}

double fastLog(double x) {
  return evaluate<Function::kLog, 2>(Vector<2>::Lanes{x, 1.0})[0];
}

}  // namespace spinval
