// The distributions a scenario's [D] inputs may follow. Every draw is an inverse CDF of a
// uniform in (0, 1), so the samplers and the copula only ever produce uniforms:
//
//   Distribution d(Normal{0.1, 0.05}, /*min=*/0.0);  // a normal truncated below at 0
//   double x = d.quantile(0.3);
//
// A closed set of small structs in a std::variant; each knows its quantile, CDF and support.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace spinval {

class BetaQuantileTable;

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Parameters that make no sense (min >= max, sd <= 0, probabilities not summing to 1, ...).
// `parameter` names the offending parameter ("sd", "probs") so callers can point at it.
class ParameterError : public std::invalid_argument {
 public:
  ParameterError(std::string parameter, const std::string& message)
      : std::invalid_argument(message), parameter_(std::move(parameter)) {}
  const std::string& parameter() const { return parameter_; }

 private:
  std::string parameter_;
};

struct Constant {
  double value;
};
struct Uniform {
  double min, max;
};
struct Triangular {
  double min, mode, max;
};
// Beta(1 + lambda (mode - min) / (max - min), 1 + lambda (max - mode) / (max - min)) on [min, max].
struct Pert {
  double min, mode, max, lambda = 4.0;
};
struct Beta {
  double alpha, beta, min = 0.0, max = 1.0;
};
struct Normal {
  double mean, sd;
};
// ln X ~ Normal(mu, sigma). Build from the median (mu = ln median) or from the mean and sd of X
// with lognormalFromMoments.
struct Lognormal {
  double mu, sigma;
};
// The constructor sorts the values (each with its probability) and rescales probs to sum 1.
struct Discrete {
  std::vector<double> values;
  std::vector<double> probs;
};
// 1 with probability p, else 0: quantile(u) = (u > 1 - p) ? 1 : 0, non-decreasing in u.
struct Bernoulli {
  double p;
};
// location + scale T with T Student's t with dof degrees of freedom (any dof > 0). The mean
// exists for dof > 1, the variance scale^2 dof / (dof - 2) for dof > 2.
struct StudentT {
  double location, scale, dof;
};
// Gamma with shape k and scale theta (a rate is 1 / theta): density x^(k-1) e^(-x/theta).
struct Gamma {
  double shape, scale;
};
// ln X uniform on [ln min, ln max], 0 < min < max.
struct Loguniform {
  double min, max;
};
// A distribution read off data, uniform between consecutive knots (linear CDF). Give either
//   values: observations x_(0) <= ... <= x_(n-1), n >= 2 (sorted by the constructor), whose
//           quantile is type 7: Q(u) = x_(i) + (h - i)(x_(i+1) - x_(i)), h = (n - 1) u,
//           i = floor(h); a value repeated r > 1 times is an atom of probability (r-1)/(n-1);
//   bins and weights: edges e_0 < ... < e_k and k weights >= 0 (rescaled to sum 1), the
//           histogram: bin j holds probability w_j spread uniformly over [e_j, e_(j+1)].
// `cumulative` and `complement` are set by the constructor for bins: the histogram's CDF and
// survival function at each edge.
struct Empirical {
  std::vector<double> values{};
  std::vector<double> bins{}, weights{};
  std::vector<double> cumulative{}, complement{};
};

class Distribution;
// F(x) = sum_k weights[k] F_k(x). The weights are > 0 and sum to 1 (+-1e-9; the constructor
// rescales them). A draw is the smallest x with F(x) >= u, solved between the components'
// quantiles at u, so each draw is still one inverse CDF of one uniform.
struct Mixture {
  std::vector<double> weights;
  std::vector<Distribution> components;
};

Lognormal lognormalFromMedian(double median, double sigma);
Lognormal lognormalFromMoments(double mean, double sd);

using DistributionKind =
    std::variant<Constant, Uniform, Triangular, Pert, Beta, Normal, Lognormal, Discrete, Bernoulli,
                 StudentT, Gamma, Loguniform, Empirical, Mixture>;

class Distribution {
 public:
  Distribution() : Distribution(Constant{0.0}) {}
  // Validates the parameters (throws ParameterError). `min`/`max` truncate a continuous
  // distribution to [min, max]; they must leave positive probability.
  explicit Distribution(DistributionKind kind, double min = -kInfinity, double max = kInfinity);
  static Distribution constant(double value) { return Distribution(Constant{value}); }

  // Inverse CDF; u in (0, 1). For discrete distributions the smallest x with F(x) >= u.
  double quantile(double u) const;
  // out[i] = quantile(u[i]) for i < n, with the dispatch done once.
  void quantiles(const double* u, double* out, std::size_t n) const;
  double cdf(double x) const;
  // 1 - cdf(x) and quantile(1 - q), each accurate in the upper tail (small results, small q).
  double sf(double x) const;
  double cquantile(double q) const;

  // Support after truncation: every draw lies in [lower(), upper()].
  double lower() const { return lower_; }
  double upper() const { return upper_; }
  bool isConstant() const;
  bool isDiscrete() const;  // constant, discrete, bernoulli and mixtures of those

  // Mean and variance after truncation (closed forms where they exist, otherwise numerical).
  // Where a moment does not exist the result is NaN (a Student t's mean for dof <= 1, its
  // variance for dof <= 1) or +-inf (its variance for 1 < dof <= 2, and the moments of a t
  // truncated on one side only when dof is that small).
  double mean() const;
  double variance() const;

  const DistributionKind& kind() const { return kind_; }
  // Builds what draws need before the first one: a beta or PERT distribution's quantile table
  // (about 0.6 ms), so that a run can build all of them on its threads. Copies, and other beta
  // or PERT distributions of the same shape, share it; draws before prepare() build it
  // themselves. Safe to call from several threads.
  void prepare() const;
  // What prepare() does for all of `distributions`, as items to run in any order on any threads:
  // one per table they use, so that a table several of them share is built by one item while
  // the others go on with other work.
  static std::vector<std::function<void()>> preparations(
      std::span<const Distribution* const> distributions);
  std::string name() const;      // "normal"
  std::string describe() const;  // "normal(mean 0.1, sd 0.1)", with min/max when truncated

 private:
  DistributionKind kind_;
  double truncMin_ = -kInfinity, truncMax_ = kInfinity;
  // Where [min, max] lies in the untruncated distribution: its CDF (u) and survival function
  // (s = 1 - CDF, evaluated directly so a window in the upper tail keeps its precision) at min
  // and max, and the probability between them.
  double uLow_ = 0.0, uHigh_ = 1.0;
  double sLow_ = 1.0, sHigh_ = 0.0;
  double mass_ = 1.0;
  double lower_ = -kInfinity, upper_ = kInfinity;
  // Beta and PERT only: their quantile, tabulated once (by prepare() or the first draw) and
  // shared by copies.
  struct BetaTable;
  std::shared_ptr<BetaTable> betaTable_;
  const BetaQuantileTable* table() const;
};

// Standard normal inverse CDF (Wichura's AS241, relative error below 1e-15) and CDF.
double normalQuantile(double u);
double normalCdf(double z);
// out[i] = normalCdf(z[i]) for i < n, bit for bit, most of them a few at a time.
void normalCdfs(const double* z, double* out, std::size_t n);
// out[i] = normalQuantile(u[i]) for i < n, bit for bit, with the central region vectorised.
// out may equal u.
void normalQuantiles(const double* u, double* out, std::size_t n);

}  // namespace spinval
