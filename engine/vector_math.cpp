#include "spinval/vector_math.hpp"

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

template <Function F>
void inPlaceSse2(double* x, std::size_t n) {
  inPlace<F, 2>(x, n);
}

template <Function F>
[[gnu::target("avx2")]] void inPlaceAvx2(double* x, std::size_t n) {
  inPlace<F, 4>(x, n);
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
