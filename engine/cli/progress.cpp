#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace spinval::cli {

namespace {

constexpr double kQuietSeconds = 1.0;
constexpr double kRedrawSeconds = 0.1;

int terminalColumns() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

std::string duration(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

}  // namespace

bool ProgressBar::wanted(bool quiet) {
  return !quiet && ::isatty(STDERR_FILENO) == 1;
}

ProgressBar::ProgressBar(bool enabled)
    : enabled_(enabled), start_(Clock::now()), lastDraw_(start_) {}

void ProgressBar::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_ || total == 0) return;
  Clock::time_point now = Clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  if (elapsed < kQuietSeconds) return;
  if (drawn_ && std::chrono::duration<double>(now - lastDraw_).count() < kRedrawSeconds) return;
  lastDraw_ = now;
  draw(done, total, elapsed);
}

void ProgressBar::draw(std::uint64_t done, std::uint64_t total, double elapsed) {
  double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  std::string tail = " ";
  tail += std::to_string(static_cast<int>(fraction * 100.0));
  tail += "%  ";
  tail += std::to_string(done);
  tail += '/';
  tail += std::to_string(total);
  tail += " paths";
  if (fraction > 0.0 && fraction < 1.0) {
    tail += "  ETA ";
    tail += duration(elapsed * (1.0 - fraction) / fraction);
  }
  int width = std::clamp(terminalColumns() - static_cast<int>(tail.size()) - 4, 10, 50);
  int filled = static_cast<int>(fraction * width);
  std::string line = "\r[" + std::string(static_cast<std::size_t>(filled), '#') +
                     std::string(static_cast<std::size_t>(width - filled), '-') + "]" + tail +
                     "\033[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  enabled_ = false;
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace spinval::cli
