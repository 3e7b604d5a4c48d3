// A world of ranks made of threads in one process, to test the multi-rank paths of the engine
// (and run them under the sanitizers) without MPI. Each rank is a thread with its own
// Communicator; gather and broadcast meet at a barrier.
//
//   ThreadWorld world(3);
//   world.run([&](const Communicator& rank) { simulate(model, copula, settings, rank); });
#pragma once

#include <barrier>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "spinval/cluster.hpp"

namespace spinval::testing {

class ThreadWorld {
 public:
  explicit ThreadWorld(int size)
      : size_(size), slots_(static_cast<std::size_t>(size)), sync_(size) {}

  // Runs body on every rank at once; returns each rank's exception (or null), in rank order.
  std::vector<std::exception_ptr> run(const std::function<void(const Communicator&)>& body) {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size_));
    std::vector<std::thread> threads;
    for (int r = 0; r < size_; ++r) {
      threads.emplace_back([&, r] {
        const Rank rank(*this, r);
        try {
          body(rank);
        } catch (...) {
          errors[static_cast<std::size_t>(r)] = std::current_exception();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    return errors;
  }

 private:
  class Rank final : public Communicator {
   public:
    Rank(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return world_.size_; }
    std::vector<std::string> gather(const std::string& bytes) const override {
      world_.slots_[static_cast<std::size_t>(rank_)] = bytes;
      world_.sync_.arrive_and_wait();
      std::vector<std::string> all;
      if (rank_ == 0) all = world_.slots_;
      world_.sync_.arrive_and_wait();
      return all;
    }
    std::string broadcast(const std::string& bytes) const override {
      if (rank_ == 0) world_.slots_[0] = bytes;
      world_.sync_.arrive_and_wait();
      std::string result = world_.slots_[0];
      world_.sync_.arrive_and_wait();
      return result;
    }
    void abort(int) const override { std::terminate(); }

   private:
    ThreadWorld& world_;
    int rank_;
  };

  int size_;
  std::vector<std::string> slots_;
  std::barrier<> sync_;
};

}  // namespace spinval::testing
