// Work on several threads, for items that are independent and land in their own places, so that
// the results do not depend on the thread count:
//
//   parallelFor(columns, threads, [&](std::size_t k) { summarise(k); });
//   onThreads(threads, [&](unsigned t) { work(t); });  // t = 0 on the calling thread
//
// Both run on the process's worker threads, which are made once and then wait between calls. A
// thread made for each call can start milliseconds late (on a virtual machine whose other core
// has just gone idle, seen at 1.9 ms), and a run hands out work seven times or so. A waiting
// worker spins for a millisecond before it sleeps, so work handed out in quick succession starts
// at once. A call made while another runs (from another thread, or from inside the work) gets
// threads of its own. The workers end when the process exits.
#pragma once

#include <cstddef>
#include <functional>

namespace spinval {

// f(0), ..., f(count - 1) on up to `threads` threads (the calling one among them), each index
// once, in any order; the first exception thrown is rethrown once all are done.
void parallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& f);

// f(0), ..., f(threads - 1) at once, each on its own thread, f(0) on the calling one; the first
// exception thrown is rethrown once all have returned.
void onThreads(unsigned threads, const std::function<void(unsigned)>& f);

// Makes the workers an onThreads(threads, ...) call will use, so that their start overlaps other
// work (loading a scenario, say).
void prepareThreads(unsigned threads);

}  // namespace spinval
