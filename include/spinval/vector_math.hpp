// exp and log over arrays of doubles, two lanes to an SSE2 register, for the model's per-block
// work (a block of paths makes 40 or more calls per path):
//
//   expInPlace(x.data(), n);  // x[i] = e^x[i]
//   logInPlace(x.data(), n);  // x[i] = ln x[i]
//
// The algorithms are fdlibm's e_exp.c and e_log.c (a rational approximation after reducing by
// powers of 2, error below 1 ulp), with their branches replaced by the one formula that serves
// the whole range. Each lane does the same IEEE operations whatever the register width or the
// position of the value in the array (an odd last value is padded into a full register), so the
// bits depend on the value alone. Arguments whose result would leave the normal range (exp below
// -707 or above 709, log of a non-positive, subnormal, infinite or NaN value) are answered by
// libm's std::exp and std::log, which handle overflow, underflow and NaN.
#pragma once

#include <cstddef>

namespace spinval {

void expInPlace(double* x, std::size_t n);
void logInPlace(double* x, std::size_t n);
// x[i] = erfc(x[i]): fdlibm's rationals for |x| < 1.25 (nine in ten normal scores, as
// Phi(z) = erfc(-z / sqrt 2) / 2) and its tail formula for |x| < 6, a few lanes at a time, and
// std::erfc for the rest.
void erfcInPlace(double* x, std::size_t n);

// The lanes to a register the functions above use: 4 where the processor has AVX2, else 2.
int vectorLanes();
// The same with the width forced (2, or 4 where vectorLanes() is 4), to check that the bits
// do not depend on it.
void expInPlace(double* x, std::size_t n, int lanes);
void logInPlace(double* x, std::size_t n, int lanes);
void erfcInPlace(double* x, std::size_t n, int lanes);

// One value, the same bits as the array versions.
double fastExp(double x);
double fastLog(double x);
double fastErfc(double x);

}  // namespace spinval
