#include "spinval/sampler.hpp"

#include <stdexcept>

#include "spinval/rng.hpp"

namespace spinval {

SamplerKind parseSampler(const std::string& name) {
  if (name == "mc") return SamplerKind::mc;
  throw std::invalid_argument("unknown sampler '" + name + "' (expected mc)");
}

std::string samplerName(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::mc:
      return "mc";
  }
  return "mc";
}

Sampler::Sampler(SamplerKind kind, std::uint64_t seed, const Layout& layout)
    : kind_(kind), seed_(seed) {
  dimensionIds_.reserve(layout.dimensions());
  for (std::size_t d = 0; d < layout.dimensions(); ++d) {
    dimensionIds_.push_back(hashName(layout.dimensionName(d)));
  }
}

void Sampler::fill(std::uint64_t block, std::uint64_t /*firstPath*/,
                   Eigen::Ref<Eigen::MatrixXd> u) const {
  const Eigen::Index paths = u.rows();
  for (Eigen::Index d = 0; d < u.cols(); ++d) {
    Engine engine = makeEngine(seed_, block, dimensionIds_[static_cast<std::size_t>(d)]);
    double* column = u.col(d).data();
    for (Eigen::Index i = 0; i < paths; ++i) column[i] = toOpenUnit(engine());
  }
}

}  // namespace spinval
