// Random streams that depend only on what they are for, never on which thread draws them.
// A stream is keyed by (seed, block index, dimension id); the dimension id is a hash of the
// dimension's name, so two scenarios that share an input draw the same numbers for it
// (common random numbers) even when their layouts differ.
#pragma once

#include <boost/random/mersenne_twister.hpp>
#include <cstdint>
#include <string_view>

namespace spinval {

using Engine = boost::random::mt19937_64;

// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

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
  return (static_cast<double>(bits >> 12) + 0.5) * 0x1.0p-52;
}

}  // namespace spinval
