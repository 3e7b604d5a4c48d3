#include "spinval/sampler.hpp"

#include <bit>
#include <boost/random/sobol.hpp>
#include <cmath>
#include <stdexcept>

#include "spinval/rng.hpp"

namespace spinval {

namespace {

const std::vector<std::string> kNames = {"mc", "antithetic", "lhs", "sobol"};

// Stream ids of the sampler's own randomisation, kept apart from dimension-name hashes.
constexpr std::uint64_t kLhsKey = hashName("sampler.lhs.permutation");
constexpr std::uint64_t kSobolShiftKey = hashName("sampler.sobol.shift");

}  // namespace

SamplerKind parseSampler(const std::string& name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<SamplerKind>(i);
  }
  throw std::invalid_argument("unknown sampler '" + name +
                              "' (expected mc, antithetic, lhs or sobol)");
}

std::string samplerName(SamplerKind kind) {
  return kNames.at(static_cast<std::size_t>(kind));
}

const std::vector<std::string>& samplerNames() {
  return kNames;
}

std::uint64_t admissiblePaths(SamplerKind kind, std::uint64_t paths) {
  switch (kind) {
    case SamplerKind::antithetic:
      return paths + (paths % 2);
    case SamplerKind::sobol:
      return std::bit_ceil(std::max<std::uint64_t>(paths, 2 * kSobolReplicates));
    case SamplerKind::mc:
    case SamplerKind::lhs:
      break;
  }
  return paths;
}

// The lattice of direction numbers, built once; each fill copies the engine and jumps to its
// first point. Shifts: one 64-bit XOR per replicate and dimension.
struct Sampler::SobolState {
  using Engine = boost::random::sobol_engine<std::uint64_t, 64>;
  Engine engine;
  std::vector<std::uint64_t> shifts;  // [replicate * dimensions + d]

  SobolState(std::size_t dimensions, std::uint64_t seed) : engine(dimensions) {
    shifts.resize(kSobolReplicates * dimensions);
    for (std::uint64_t r = 0; r < kSobolReplicates; ++r) {
      spinval::Engine stream = makeEngine(seed, r, kSobolShiftKey);
      for (std::size_t d = 0; d < dimensions; ++d) shifts[r * dimensions + d] = stream();
    }
  }
};

Sampler::Sampler(SamplerKind kind, std::uint64_t seed, const Layout& layout)
    : kind_(kind), seed_(seed) {
  dimensionIds_.reserve(layout.dimensions());
  for (std::size_t d = 0; d < layout.dimensions(); ++d) {
    dimensionIds_.push_back(hashName(layout.dimensionName(d)));
  }
  if (kind_ == SamplerKind::sobol) {
    sobol_ = std::make_unique<SobolState>(layout.dimensions(), seed);
  }
}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;

void Sampler::fill(std::uint64_t block, std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u,
                   const Round& round) const {
  switch (kind_) {
    case SamplerKind::mc:
      return fillMc(block, u);
    case SamplerKind::antithetic:
      return fillAntithetic(block, u);
    case SamplerKind::lhs:
      return fillLhs(block, firstPath, u, round);
    case SamplerKind::sobol:
      return fillSobol(firstPath, u);
  }
}

// Draw i of each stream computed from i (SplitMix64::at), so that the compiler vectorises the
// loop; compiled for AVX-512 and AVX2 as well as the baseline, the integer arithmetic giving the
// same bits on each.
[[gnu::target_clones("arch=x86-64-v4", "avx2", "default")]] void Sampler::fillMc(
    std::uint64_t block, Eigen::Ref<Eigen::MatrixXd> u) const {
  const Eigen::Index paths = u.rows();
  for (Eigen::Index d = 0; d < u.cols(); ++d) {
    const std::uint64_t key = streamKey(seed_, block, dimensionIds_[static_cast<std::size_t>(d)]);
    double* column = u.col(d).data();
    for (Eigen::Index i = 0; i < paths; ++i) {
      column[i] = toOpenUnit(SplitMix64::at(key, static_cast<std::uint64_t>(i)));
    }
  }
}

void Sampler::fillAntithetic(std::uint64_t block, Eigen::Ref<Eigen::MatrixXd> u) const {
  const Eigen::Index paths = u.rows();
  for (Eigen::Index d = 0; d < u.cols(); ++d) {
    Engine engine = makeEngine(seed_, block, dimensionIds_[static_cast<std::size_t>(d)]);
    double* column = u.col(d).data();
    for (Eigen::Index i = 0; i < paths; i += 2) {
      // (k + 1/2) / 2^52 and its mirror 1 - (k + 1/2) / 2^52 are both exact.
      column[i] = toOpenUnit(engine());
      if (i + 1 < paths) column[i + 1] = 1.0 - column[i];
    }
  }
}

void Sampler::fillLhs(std::uint64_t block, std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u,
                      const Round& round) const {
  if (firstPath < round.firstPath ||
      firstPath + static_cast<std::uint64_t>(u.rows()) > round.firstPath + round.paths) {
    throw std::logic_error("lhs block outside its round");
  }
  fillMc(block, u);  // the jitter v within each stratum
  const double n = static_cast<double>(round.paths);
  for (Eigen::Index d = 0; d < u.cols(); ++d) {
    const Permutation stratum(
        round.paths,
        streamKey(seed_, round.index, dimensionIds_[static_cast<std::size_t>(d)] ^ kLhsKey));
    double* column = u.col(d).data();
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      const std::uint64_t s = stratum(firstPath - round.firstPath + static_cast<std::uint64_t>(i));
      const double target = static_cast<double>(s);
      double x = (target + column[i]) / n;
      // Rounding may carry (s + v) / n across a stratum edge; step back inside so that
      // floor(x n) == s holds exactly.
      while (std::floor(x * n) > target) x = std::nextafter(x, 0.0);
      while (std::floor(x * n) < target) x = std::nextafter(x, 1.0);
      column[i] = x;
    }
  }
}

void Sampler::fillSobol(std::uint64_t firstPath, Eigen::Ref<Eigen::MatrixXd> u) const {
  const auto dims = static_cast<std::size_t>(u.cols());
  const std::uint64_t rows = static_cast<std::uint64_t>(u.rows());
  SobolState::Engine engine = sobol_->engine;
  // Paths firstPath .. firstPath + rows - 1 use points firstPath / R onwards, one per replicate
  // in turn; blocks start at multiples of R.
  if (firstPath % kSobolReplicates != 0) throw std::logic_error("sobol block not aligned");
  // Boost's engine seeded with j yields point j + 1 onwards; point 0 is the origin, which the
  // sequence's net property needs.
  const std::uint64_t firstPoint = firstPath / kSobolReplicates;
  if (firstPoint > 0) engine.seed(firstPoint - 1);
  std::vector<std::uint64_t> point(dims);
  for (std::uint64_t k = 0; k * kSobolReplicates < rows; ++k) {
    for (std::size_t d = 0; d < dims; ++d) point[d] = firstPoint + k == 0 ? 0 : engine();
    for (std::uint64_t r = 0; r < kSobolReplicates && k * kSobolReplicates + r < rows; ++r) {
      const auto row = static_cast<Eigen::Index>(k * kSobolReplicates + r);
      const std::uint64_t* shift = &sobol_->shifts[r * dims];
      for (std::size_t d = 0; d < dims; ++d) {
        u(row, static_cast<Eigen::Index>(d)) = toOpenUnit(point[d] ^ shift[d]);
      }
    }
  }
}

Permutation::Permutation(std::uint64_t n, std::uint64_t key) : n_(n) {
  unsigned bits = 2;
  while (bits < 64 && (std::uint64_t{1} << bits) < n) bits += 2;
  halfBits_ = bits / 2;
  halfMask_ = (std::uint64_t{1} << halfBits_) - 1;
  for (std::uint64_t i = 0; i < 6; ++i) keys_[i] = mix64(key ^ (i * 0x9e3779b97f4a7c15ULL));
}

std::uint64_t Permutation::encrypt(std::uint64_t x) const {
  std::uint64_t left = x >> halfBits_, right = x & halfMask_;
  for (std::uint64_t k : keys_) {
    const std::uint64_t next = left ^ (mix64(right ^ k) & halfMask_);
    left = right;
    right = next;
  }
  return (left << halfBits_) | right;
}

std::uint64_t Permutation::operator()(std::uint64_t x) const {
  // A bijection of [0, 4^halfBits) restricted to [0, n) by walking its cycles: every start
  // below n reaches a value below n, and distinct starts reach distinct values.
  std::uint64_t y = encrypt(x);
  while (y >= n_) y = encrypt(y);
  return y;
}

}  // namespace spinval
