// Samplers produce the independent uniforms of a block of paths: paths x dimensions, every
// entry in (0, 1). A block's uniforms depend only on (seed, block index, the round it belongs
// to), so any thread, rank or shard that computes block b computes the same numbers.
//
//   mc          column d of block b is the stream makeEngine(seed, b, hashName(dimension name d)).
//   antithetic  rows 2k and 2k + 1 of a block are u and 1 - u, u from the mc stream; runs use an
//               even number of paths.
//   lhs         Latin hypercube over every dimension of a round of N paths (the whole run
//               unless a precision target adds rounds): path p of the round gets
//               u = (pi_d(p) + v) / N, pi_d a random permutation of 0..N-1 keyed by (seed,
//               round, dimension name) and v the mc draw, so floor(u N) = pi_d(p) and each
//               dimension hits each of its N strata exactly once.
//   sobol       Boost.Random's Sobol sequence over all dimensions, in kSobolReplicates
//               interleaved replicates: path p is point p / R of replicate r = p mod R, each
//               replicate randomised by its own digital shift (a 64-bit XOR per dimension)
//               derived from the seed. Replicate means give the error estimate. Path counts
//               are powers of two.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "spinval/model.hpp"

namespace spinval {

enum class SamplerKind { mc, antithetic, lhs, sobol };

// Number of interleaved, independently shifted replicates of the sobol sampler.
inline constexpr std::uint64_t kSobolReplicates = 16;

SamplerKind parseSampler(const std::string& name);  // throws std::invalid_argument
std::string samplerName(SamplerKind kind);
const std::vector<std::string>& samplerNames();

// The smallest path count >= `paths` the sampler accepts: even for antithetic, a power of two
// (at least 2 kSobolReplicates) for sobol, `paths` otherwise.
std::uint64_t admissiblePaths(SamplerKind kind, std::uint64_t paths);

// A contiguous range of paths that forms one Latin hypercube (for lhs; the other samplers
// ignore it). A run without a precision target is one round.
struct Round {
  std::uint64_t index = 0;
  std::uint64_t firstPath = 0;
  std::uint64_t paths = 0;
};

class Sampler {
 public:
  Sampler(SamplerKind kind, std::uint64_t seed, const Layout& layout);
  ~Sampler();
  Sampler(Sampler&&) noexcept;

  // Fills `u` (paths x dimensions) for the block that starts at global path `firstPath`,
  // which lies inside `round`.
  void fill(std::uint64_t block, std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u,
            const Round& round) const;

  SamplerKind kind() const { return kind_; }

 private:
  struct SobolState;

  void fillMc(std::uint64_t block, Eigen::Ref<Eigen::MatrixXd> u) const;
  void fillAntithetic(std::uint64_t block, Eigen::Ref<Eigen::MatrixXd> u) const;
  void fillLhs(std::uint64_t block, std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u,
               const Round& round) const;
  void fillSobol(std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u) const;

  SamplerKind kind_;
  std::uint64_t seed_;
  std::vector<std::uint64_t> dimensionIds_;
  std::unique_ptr<SobolState> sobol_;
};

// A keyed pseudo-random permutation of 0..n-1 evaluated one element at a time (a Feistel
// network on the next even power of two, cycle-walked into range), for Latin hypercubes.
class Permutation {
 public:
  Permutation(std::uint64_t n, std::uint64_t key);
  std::uint64_t operator()(std::uint64_t x) const;

 private:
  std::uint64_t encrypt(std::uint64_t x) const;

  std::uint64_t n_;
  unsigned halfBits_;
  std::uint64_t halfMask_;
  std::uint64_t keys_[6];
};

}  // namespace spinval
