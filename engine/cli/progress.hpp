// A progress bar on stderr for long runs. It stays silent for the first second (short runs
// print nothing), redraws at most ten times a second, and clears its line when done:
//
//   ProgressBar bar(ProgressBar::wanted(quiet));
//   settings.progress = [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total);
//   };
//   ... simulate ...
//   bar.finish();
#pragma once

#include <chrono>
#include <cstdint>

namespace spinval::cli {

class ProgressBar {
 public:
  // Whether to draw at all: stderr is a terminal and the user did not ask for quiet.
  static bool wanted(bool quiet);

  explicit ProgressBar(bool enabled);
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(std::uint64_t done, std::uint64_t total);
  // Clears the bar's line if anything was drawn.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;

  void draw(std::uint64_t done, std::uint64_t total, double elapsed);

  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_;
  Clock::time_point lastDraw_;
};

}  // namespace spinval::cli
