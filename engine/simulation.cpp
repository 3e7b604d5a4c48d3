#include "spinval/simulation.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "spinval/error.hpp"

namespace spinval {

unsigned resolveThreads(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

// The first non-finite output of a block in path order, if any: (row, output name, value).
struct NonFinite {
  Eigen::Index row;
  std::string output;
  double value;
};

std::optional<NonFinite> firstNonFinite(const Layout& layout, const BlockOutput& out) {
  if (out.outputs.allFinite() && out.yearly.allFinite()) return std::nullopt;
  std::optional<NonFinite> first;
  auto scan = [&](const Eigen::MatrixXd& matrix, auto nameOf) {
    for (Eigen::Index c = 0; c < matrix.cols(); ++c) {
      for (Eigen::Index i = 0; i < matrix.rows(); ++i) {
        if (std::isfinite(matrix(i, c))) continue;
        if (!first || i < first->row) first = NonFinite{i, nameOf(c), matrix(i, c)};
        break;
      }
    }
  };
  scan(out.outputs, [&](Eigen::Index c) { return layout.outputs[static_cast<std::size_t>(c)]; });
  scan(out.yearly, [&](Eigen::Index c) {
    const auto years = static_cast<Eigen::Index>(layout.years);
    return layout.yearlyOutputs[static_cast<std::size_t>(c / years)].name + "[" +
           std::to_string(layout.firstYear + c % years) + "]";
  });
  return first;
}

// Merges block statistics strictly in block order, whatever order the blocks finish in.
class OrderedMerge {
 public:
  OrderedMerge(RunStatistics& statistics, const RunSettings& settings, std::uint64_t blocks)
      : statistics_(statistics), settings_(settings), blocks_(blocks) {}

  void add(std::uint64_t block, BlockStatistics stats) {
    std::lock_guard lock(mutex_);
    pending_.emplace(block, std::move(stats));
    bool merged = false;
    for (auto it = pending_.begin(); it != pending_.end() && it->first == next_;
         it = pending_.erase(it)) {
      statistics_.merge(it->second);
      ++next_;
      merged = true;
    }
    if (merged && settings_.progress) {
      settings_.progress(std::min(next_ * kBlockSize, settings_.paths), settings_.paths);
    }
  }

  bool complete() const { return next_ == blocks_; }

 private:
  RunStatistics& statistics_;
  const RunSettings& settings_;
  std::uint64_t blocks_;
  std::mutex mutex_;
  std::map<std::uint64_t, BlockStatistics> pending_;
  std::uint64_t next_ = 0;
};

}  // namespace

RunResult simulate(const Model& model, const GaussianCopula& copula, const RunSettings& settings) {
  const Layout& layout = model.layout();
  const std::uint64_t blocks = (settings.paths + kBlockSize - 1) / kBlockSize;
  const unsigned threads =
      static_cast<unsigned>(std::min<std::uint64_t>(resolveThreads(settings.threads), blocks));
  const Sampler sampler(settings.sampler, settings.seed, layout);

  RunResult result{RunStatistics(layout, settings.paths), 0.0, std::max(1u, threads)};
  OrderedMerge merge(result.statistics, settings, blocks);

  // A block that fails stops the run at that block; blocks before it still run, so the error
  // reported is always that of the lowest failing path, whatever the thread count.
  std::atomic<std::uint64_t> nextBlock{0};
  std::atomic<std::uint64_t> failedBlock{blocks};
  std::mutex errorMutex;
  std::map<std::uint64_t, std::exception_ptr> errors;

  auto worker = [&] {
    Eigen::MatrixXd uniforms(static_cast<Eigen::Index>(kBlockSize),
                             static_cast<Eigen::Index>(layout.dimensions()));
    BlockOutput out;
    for (;;) {
      const std::uint64_t block = nextBlock.fetch_add(1);
      if (block >= blocks || block > failedBlock.load()) return;
      const std::uint64_t first = block * kBlockSize;
      const auto rows = static_cast<Eigen::Index>(std::min(kBlockSize, settings.paths - first));
      try {
        auto u = uniforms.topRows(rows);
        sampler.fill(block, first, u);
        copula.apply(u);
        out.resize(layout, rows);
        model.evaluate(u, out);
        if (auto bad = firstNonFinite(layout, out)) {
          throw SimulationError(first + static_cast<std::uint64_t>(bad->row), settings.seed,
                                bad->output, bad->value);
        }
        result.statistics.store(first, out);
        merge.add(block, blockStatistics(layout, out));
      } catch (...) {
        std::lock_guard lock(errorMutex);
        errors.emplace(block, std::current_exception());
        std::uint64_t seen = failedBlock.load();
        while (block < seen && !failedBlock.compare_exchange_weak(seen, block)) {
        }
      }
    }
  };

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < result.threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!errors.empty()) std::rethrow_exception(errors.begin()->second);
  return result;
}

}  // namespace spinval
