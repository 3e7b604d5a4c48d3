// Samplers produce the independent uniforms of a block of paths: paths x dimensions, every
// entry in (0, 1). A block's uniforms depend only on (seed, block index, first path), so any
// thread, rank or shard that computes block b computes the same numbers.
//
//   mc: column d of block b is the stream makeEngine(seed, b, hashName(layout.dimensionName(d))).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "spinval/model.hpp"

namespace spinval {

enum class SamplerKind { mc };

SamplerKind parseSampler(const std::string& name);  // throws std::invalid_argument
std::string samplerName(SamplerKind kind);

class Sampler {
 public:
  Sampler(SamplerKind kind, std::uint64_t seed, const Layout& layout);

  // Fills `u` (paths x dimensions) for the block that starts at global path `firstPath`.
  void fill(std::uint64_t block, std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u) const;

  SamplerKind kind() const { return kind_; }

 private:
  SamplerKind kind_;
  std::uint64_t seed_;
  std::vector<std::uint64_t> dimensionIds_;
};

}  // namespace spinval
