#include "spinval/parallel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace spinval {
namespace {

// The thread each index of onThreads(threads, ...) ran on.
std::vector<std::thread::id> threadsOf(unsigned threads) {
  std::vector<std::thread::id> ids(threads);
  onThreads(threads, [&ids](unsigned t) { ids[t] = std::this_thread::get_id(); });
  return ids;
}

TEST(OnThreads, EachIndexOnItsOwnThreadTheFirstOnTheCaller) {
  for (unsigned threads : {1u, 2u, 4u}) {
    SCOPED_TRACE(threads);
    const std::vector<std::thread::id> ids = threadsOf(threads);
    EXPECT_EQ(ids[0], std::this_thread::get_id());
    EXPECT_EQ(std::set<std::thread::id>(ids.begin(), ids.end()).size(), threads);
  }
}

TEST(OnThreads, WorkersAreKeptBetweenCalls) {
  prepareThreads(3);
  const std::vector<std::thread::id> first = threadsOf(3), second = threadsOf(3);
  EXPECT_EQ(first, second);
  // A call with fewer threads uses the first of them.
  EXPECT_EQ(threadsOf(2)[1], first[1]);
}

TEST(OnThreads, RethrowsOnceAllReturnedAndStaysUsable) {
  std::atomic<int> finished{0};
  EXPECT_THROW(onThreads(3,
                         [&finished](unsigned t) {
                           if (t == 1) throw std::runtime_error("worker 1");
                           std::this_thread::sleep_for(std::chrono::milliseconds(20));
                           ++finished;
                         }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 2);
  EXPECT_THROW(onThreads(2,
                         [](unsigned t) {
                           if (t == 0) throw std::logic_error("caller");
                         }),
               std::logic_error);
  EXPECT_EQ(threadsOf(3).size(), 3u);
}

// Exit ends the workers, spinning or asleep, and the process exits with its status.
TEST(OnThreads, ExitsWithWorkersSpinningOrAsleep) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        onThreads(3, [](unsigned) {});
        std::exit(3);
      },
      testing::ExitedWithCode(3), "");
  EXPECT_EXIT(
      {
        onThreads(2, [](unsigned) {});
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the spin: asleep
        std::exit(4);
      },
      testing::ExitedWithCode(4), "");
}

TEST(ParallelFor, EachIndexOnce) {
  for (std::size_t count : {0u, 1u, 5u, 1000u}) {
    for (unsigned threads : {0u, 1u, 2u, 3u, 8u}) {
      SCOPED_TRACE(testing::Message() << count << " items, " << threads << " threads");
      std::vector<std::atomic<int>> hits(count);
      parallelFor(count, threads, [&hits](std::size_t i) { ++hits[i]; });
      for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
    }
  }
}

TEST(ParallelFor, RunsTheOtherItemsAndRethrowsTheFirstError) {
  std::atomic<int> done{0};
  EXPECT_THROW(parallelFor(100, 2,
                           [&done](std::size_t i) {
                             if (i == 3) throw std::invalid_argument("item 3");
                             ++done;
                           }),
               std::invalid_argument);
  EXPECT_EQ(done.load(), 99);
}

// A call from inside another's work, or from another thread while one runs, gets threads of
// its own instead of waiting for the workers.
TEST(ParallelFor, NestedAndConcurrentCalls) {
  std::vector<std::atomic<int>> hits(4 * 50);
  onThreads(4, [&hits](unsigned t) {
    parallelFor(50, 2, [&hits, t](std::size_t i) { ++hits[t * 50 + i]; });
  });
  for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << i;

  std::vector<std::atomic<int>> a(2000), b(2000);
  std::thread other([&b] {
    for (int round = 0; round < 20; ++round) {
      parallelFor(100, 2, [&b, round](std::size_t i) { ++b[round * 100 + i]; });
    }
  });
  for (int round = 0; round < 20; ++round) {
    parallelFor(100, 2, [&a, round](std::size_t i) { ++a[round * 100 + i]; });
  }
  other.join();
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].load(), 1) << i;
    ASSERT_EQ(b[i].load(), 1) << i;
  }
}

}  // namespace
}  // namespace spinval
