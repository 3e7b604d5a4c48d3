// Binary encoding of the pieces of a run, for shard files and messages between MPI ranks:
// fixed-width little-endian integers, IEEE doubles bit for bit, length-prefixed strings.
// Private to the engine.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace spinval {

static_assert(std::endian::native == std::endian::little,
              "spinval's binary files are little-endian");

class ByteWriter {
 public:
  void u8(std::uint8_t x) { out_.push_back(static_cast<char>(x)); }
  void u64(std::uint64_t x) { raw(&x, sizeof x); }
  void f64(double x) { raw(&x, sizeof x); }
  void f64s(const double* x, std::size_t n) {
    u64(n);
    raw(x, n * sizeof(double));
  }
  void bytes(std::string_view x) {
    u64(x.size());
    out_.append(x);
  }
  std::string take() { return std::move(out_); }

 private:
  void raw(const void* p, std::size_t n) {
    if (n > 0) out_.append(static_cast<const char*>(p), n);
  }
  std::string out_;
};

// Reads what a ByteWriter wrote; throws std::runtime_error at the end of the input.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint64_t u64() { return scalar<std::uint64_t>(); }
  double f64() { return scalar<double>(); }
  // A count of doubles followed by them; `expected` is checked when given.
  void f64s(double* to, std::size_t expected) {
    const std::uint64_t n = u64();
    if (n != expected) throw std::runtime_error("unexpected array length in binary data");
    const std::string_view bytes = take(n * sizeof(double));
    if (n > 0) std::memcpy(to, bytes.data(), bytes.size());  // `to` may be null when n is 0
  }
  std::string bytes() {
    const std::uint64_t n = u64();
    return std::string(take(n));
  }
  std::string_view view() {
    const std::uint64_t n = u64();
    return take(n);
  }
  bool done() const { return at_ == in_.size(); }

 private:
  template <class T>
  T scalar() {
    T x;
    std::memcpy(&x, take(sizeof x).data(), sizeof x);
    return x;
  }
  std::string_view take(std::uint64_t n) {
    if (n > in_.size() - at_) throw std::runtime_error("binary data ends early");
    const std::string_view part = in_.substr(at_, n);
    at_ += n;
    return part;
  }

  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace spinval
