// Random streams that depend only on what they are for, never on which thread draws them.
// A stream is keyed by (seed, block index, dimension id); the dimension id is a hash of the
// dimension's name, so two scenarios that share an input draw the same numbers for it
// (common random numbers) even when their layouts differ.
//
// The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; the generator Java's SplittableRandom uses, and the one that seeds
// xoshiro): draw i of the stream with state s is mix64(s + i * golden gamma). It passes BigCrush,
// costs two multiplications per draw, and any draw of a stream is computed directly from its
// index, which is what a block of paths needs.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

namespace spinval {

inline constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// SplitMix64's step and finaliser: a bijective 64-bit mix with full avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// SplitMix64 as a standard uniform random bit generator.
class SplitMix64 {
 public:
  using result_type = std::uint64_t;
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  constexpr result_type operator()() {
    const std::uint64_t x = mix64(state_);
    state_ += kGoldenGamma;
    return x;
  }
  // Draw i of the stream that starts at `seed`, without stepping through the ones before it.
  static constexpr result_type at(std::uint64_t seed, std::uint64_t i) {
    return mix64(seed + i * kGoldenGamma);
  }

 private:
  std::uint64_t state_;
};

using Engine = SplitMix64;

// FNV-1a, 64 bits: a stable id for a dimension name.
constexpr std::uint64_t hashName(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr std::uint64_t streamKey(std::uint64_t seed, std::uint64_t block, std::uint64_t id) {
  return mix64(mix64(mix64(seed) ^ block) ^ id);
}

inline Engine makeEngine(std::uint64_t seed, std::uint64_t block, std::uint64_t id) {
  return Engine(streamKey(seed, block, id));
}

// The top 52 bits k of a 64-bit draw as the double (k + 1/2) / 2^52, exactly representable and
// strictly inside (0, 1): from 2^-53 to 1 - 2^-53. (With 53 bits the largest value would round
// to 1.)
constexpr double toOpenUnit(std::uint64_t bits) {
  // k below 2^52 is the mantissa of 2^52 + k: k as a double without a conversion instruction,
  // which vectorises where a 64-bit integer conversion has none.
  const double k = std::bit_cast<double>((bits >> 12) | 0x4330000000000000ULL) - 0x1.0p52;
  return (k + 0.5) * 0x1.0p-52;
}

}  // namespace spinval
