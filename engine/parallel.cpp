#include "spinval/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace spinval {

namespace {

// How long a waiting thread spins before it sleeps.
constexpr auto kSpin = std::chrono::milliseconds(1);

void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The value of `value` once it differs from `old`: spins for up to kSpin, then sleeps on it.
template <class T>
T awaitChange(const std::atomic<T>& value, T old) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    const T now = value.load(std::memory_order_acquire);
    if (now != old) return now;
    if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline) break;
    pause();
  }
  for (;;) {
    value.wait(old, std::memory_order_acquire);
    const T now = value.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

// The first exception of a call, from whichever thread threw it.
class FirstError {
 public:
  void record(std::exception_ptr e) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(e);
  }
  // The exception recorded, if any, and no more.
  std::exception_ptr take() {
    std::lock_guard lock(mutex_);
    return std::exchange(error_, nullptr);
  }
  void rethrow() {
    if (std::exception_ptr e = take()) std::rethrow_exception(e);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

// The process's workers: helper k runs f(k + 1) of each call that has that many threads. Each
// helper waits on its own count of calls, so a call writes only the slots of the helpers it
// wakes, and those are idle until it does.
class Workers {
 public:
  // Never destroyed: the helpers serve until stop() ends them at exit.
  static Workers& process() {
    static Workers& workers = *new Workers;
    return workers;
  }

  // false, without running anything, while another call holds the workers.
  bool run(unsigned threads, const std::function<void(unsigned)>& f) {
    if (!acquire()) return false;
    try {
      ensureHelpers(threads - 1);
    } catch (...) {
      busy_.store(false, std::memory_order_release);
      throw;
    }
    running_.store(threads - 1, std::memory_order_relaxed);
    for (unsigned t = 1; t < threads; ++t) {
      Helper& helper = *helpers_[t - 1];
      helper.f = &f;
      helper.calls.fetch_add(1, std::memory_order_release);
      helper.calls.notify_one();
    }
    try {
      f(0);
    } catch (...) {
      error_.record(std::current_exception());
    }
    for (unsigned left = threads - 1; left != 0;) left = awaitChange(running_, left);
    const std::exception_ptr error = error_.take();
    busy_.store(false, std::memory_order_release);
    if (error) std::rethrow_exception(error);
    return true;
  }

  void prepare(unsigned helpers) {
    if (!acquire()) return;
    try {
      ensureHelpers(helpers);
    } catch (...) {
      // Not fatal: run() makes them, or falls back to threads of its own.
    }
    busy_.store(false, std::memory_order_release);
  }

 private:
  struct Helper {
    std::atomic<std::uint64_t> calls{0};
    const std::function<void(unsigned)>* f = nullptr;
  };

  bool acquire() {
    bool expected = false;
    return busy_.compare_exchange_strong(expected, true, std::memory_order_acquire);
  }

  void ensureHelpers(unsigned count) {
    if (helpers_.empty() && count > 0) std::atexit([] { process().stop(); });
    while (helpers_.size() < count) {
      auto helper = std::make_unique<Helper>();
      live_.fetch_add(1, std::memory_order_relaxed);
      std::thread(&Workers::serve, this, std::ref(*helper),
                  static_cast<unsigned>(helpers_.size()) + 1)
          .detach();
      helpers_.push_back(std::move(helper));
    }
  }

  void serve(Helper& helper, unsigned index) {
    std::uint64_t seen = 0;
    for (;;) {
      seen = awaitChange(helper.calls, seen);
      if (helper.f == nullptr) break;  // stop()
      try {
        (*helper.f)(index);
      } catch (...) {
        error_.record(std::current_exception());
      }
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) running_.notify_one();
    }
    if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1) live_.notify_one();
  }

  // Ends the helpers and keeps the workers busy for good, so that later calls make threads of
  // their own. At exit: the kernel would otherwise wake a sleeping helper only to end it, which
  // made the exit of a 2-thread run 0.7 ms longer.
  void stop() {
    if (!acquire()) return;  // a call still running: the kernel ends its threads
    for (const auto& helper : helpers_) {
      helper->f = nullptr;
      helper->calls.fetch_add(1, std::memory_order_release);
      helper->calls.notify_one();
    }
    for (unsigned live = live_.load(std::memory_order_acquire); live != 0;) {
      live = awaitChange(live_, live);
    }
  }

  std::atomic<bool> busy_{false};
  std::vector<std::unique_ptr<Helper>> helpers_;  // written only by the holder of busy_
  std::atomic<unsigned> running_{0};              // helpers still in the current call
  std::atomic<unsigned> live_{0};                 // helpers not stopped
  FirstError error_;
};

}  // namespace

void onThreads(unsigned threads, const std::function<void(unsigned)>& f) {
  if (threads <= 1) {
    f(0);
    return;
  }
  if (Workers::process().run(threads, f)) return;
  FirstError error;
  const auto guarded = [&](unsigned t) {
    try {
      f(t);
    } catch (...) {
      error.record(std::current_exception());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(guarded, t);
  guarded(0);
  for (auto& thread : pool) thread.join();
  error.rethrow();
}

void prepareThreads(unsigned threads) {
  if (threads > 1) Workers::process().prepare(threads - 1);
}

void parallelFor(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& f) {
  std::atomic<std::size_t> next{0};
  FirstError error;
  const auto used = static_cast<unsigned>(std::clamp<std::size_t>(count, 1, std::max(threads, 1u)));
  onThreads(used, [&](unsigned) {
    for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      try {
        f(i);
      } catch (...) {
        error.record(std::current_exception());
      }
    }
  });
  error.rethrow();
}

}  // namespace spinval
