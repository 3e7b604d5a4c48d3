// A parallel loop over indices for work whose items are independent and land in their own
// places, so that the results do not depend on the thread count:
//
//   parallelFor(columns, threads, [&](std::size_t k) { summarise(k); });
#pragma once

#include <cstddef>
#include <functional>

namespace spinval {

// f(0), ..., f(count - 1) on up to `threads` threads (the calling one among them), each index
// once, in any order; the first exception thrown is rethrown once all are done.
void parallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& f);

}  // namespace spinval
