#include "spinval/sensitivity.hpp"

#include <algorithm>
#include <atomic>
#include <boost/random/uniform_int_distribution.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <span>
#include <stdexcept>

#include "spinval/error.hpp"
#include "spinval/parallel.hpp"
#include "spinval/rng.hpp"
#include "spinval/sampler.hpp"
#include "spinval/simulation.hpp"
#include "spinval/statistics.hpp"

namespace spinval {

std::vector<SensitivityFactor> sensitivityFactors(const Layout& layout) {
  std::vector<SensitivityFactor> factors;
  for (std::size_t d = 0; d < layout.staticInputs.size(); ++d) {
    if (layout.staticInputs[d].distribution.isConstant()) continue;
    factors.push_back({layout.staticInputs[d].name, {d}, false});
  }
  if (!layout.yearlyShocks.empty() && layout.years > 0) {
    SensitivityFactor shocks{kYearlyShocksGroup, {}, true};
    for (std::size_t d = layout.staticInputs.size(); d < layout.modelDimensions(); ++d) {
      shocks.dimensions.push_back(d);
    }
    factors.push_back(std::move(shocks));
  }
  return factors;
}

double spearmanCorrelation(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("samples of different lengths");
  const std::size_t n = x.size();
  // Ranks 1..n, a run of ties sharing the mean of its ranks.
  auto ranks = [n](const std::vector<double>& v) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&v](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
      const double mean = 0.5 * static_cast<double>(i + j) + 1.0;
      for (std::size_t t = i; t <= j; ++t) r[order[t]] = mean;
      i = j + 1;
    }
    return r;
  };
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  // Pearson's correlation of the ranks; 0 when either sample is constant.
  const double mean = 0.5 * static_cast<double>(n + 1);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx <= 0 || syy <= 0) return 0.0;
  return sxy / std::sqrt(sxx * syy);
}

namespace {

double meanOf(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.add(x);
  return m.mean();
}

double medianOf(std::vector<double> v) {
  const double half[] = {0.5};
  return quantilesOf(v, half)[0];
}

// The uniform columns of one block and the metric of each variant, written at path indices.
struct Storage {
  std::vector<double> base;                     // f(A): the base run
  std::vector<std::vector<double>> score;       // [factor][path], for rank
  std::vector<std::vector<double>> low, high;   // [factor][path], tornado
  std::vector<double> fromB;                    // f(B)
  std::vector<std::vector<double>> pickFreeze;  // [factor][path]: f(A_B^(i))
};

// Sobol estimates from stored values at the given rows (all rows, or a bootstrap resample).
//   V    = variance of f over the rows of A and B together
//   S_i  = mean f(B) (f(A_B^i) - f(A)) / V                  (Saltelli et al. 2010, table 2 (b))
//   ST_i = mean (f(A) - f(A_B^i))^2 / (2 V)                  (Jansen 1999; Saltelli 2010, table 2
//   (f))
struct SobolEstimate {
  double variance = 0;
  std::vector<double> first, total;
};

SobolEstimate estimateSobol(const Storage& s, std::span<const std::size_t> rows) {
  SobolEstimate e;
  Moments all;
  for (std::size_t r : rows) {
    all.add(s.base[r]);
    all.add(s.fromB[r]);
  }
  e.variance = all.variance();
  const double n = static_cast<double>(rows.size());
  for (const auto& ab : s.pickFreeze) {
    double first = 0, total = 0;
    for (std::size_t r : rows) {
      first += s.fromB[r] * (ab[r] - s.base[r]);
      const double d = s.base[r] - ab[r];
      total += d * d;
    }
    const bool flat = !(e.variance > 0);
    e.first.push_back(flat ? 0.0 : first / n / e.variance);
    e.total.push_back(flat ? 0.0 : total / n / (2.0 * e.variance));
  }
  return e;
}

}  // namespace

SensitivityResult analyseSensitivity(const Model& model, const Copula& copula,
                                     const SensitivitySettings& settings) {
  const Layout& layout = model.layout();
  const auto metric = layout.outputIndex(settings.metric);
  if (!metric) throw std::invalid_argument("unknown metric '" + settings.metric + "'");
  if (settings.paths == 0) throw std::invalid_argument("a sensitivity run needs at least one path");
  const std::vector<SensitivityFactor> factors = sensitivityFactors(layout);
  if (factors.empty()) throw std::invalid_argument("the model has no input that varies");

  const auto start = std::chrono::steady_clock::now();
  const std::size_t k = factors.size();
  const std::uint64_t n = settings.paths;
  const Layout sampled = copula.samplingLayout(layout);
  const auto columns = static_cast<Eigen::Index>(sampled.dimensions());
  const auto modelColumns = static_cast<Eigen::Index>(layout.dimensions());
  // A is the base run's stream; B an independent one from a seed derived from the run's.
  const Sampler samplerA(SamplerKind::mc, settings.seed, sampled);
  const Sampler samplerB(SamplerKind::mc, streamKey(settings.seed, 0, hashName("sensitivity.B")),
                         sampled);
  const Round round{0, 0, n};

  Storage s;
  s.base.resize(n);
  if (settings.rank) s.score.assign(k, std::vector<double>(n));
  if (settings.tornado) {
    s.low.assign(k, std::vector<double>(n));
    s.high.assign(k, std::vector<double>(n));
  }
  if (settings.sobol) {
    s.fromB.resize(n);
    s.pickFreeze.assign(k, std::vector<double>(n));
  }

  const std::uint64_t blocks = (n + kBlockSize - 1) / kBlockSize;
  const unsigned threads =
      static_cast<unsigned>(std::clamp<std::uint64_t>(blocks, 1, resolveThreads(settings.threads)));
  std::atomic<std::uint64_t> nextBlock{0};
  std::atomic<std::uint64_t> failedBlock{blocks};
  std::mutex mutex;
  std::map<std::uint64_t, std::exception_ptr> errors;
  std::uint64_t done = 0;

  auto worker = [&] {
    Eigen::MatrixXd a(static_cast<Eigen::Index>(kBlockSize), columns);
    Eigen::MatrixXd b(static_cast<Eigen::Index>(kBlockSize), columns);
    Eigen::MatrixXd correlated(static_cast<Eigen::Index>(kBlockSize), columns);
    Eigen::MatrixXd work(static_cast<Eigen::Index>(kBlockSize), columns);
    BlockOutput out;
    for (;;) {
      const std::uint64_t block = nextBlock.fetch_add(1);
      if (block >= blocks || block > failedBlock.load()) break;
      const std::uint64_t first = block * kBlockSize;
      const auto rows = static_cast<Eigen::Index>(std::min(kBlockSize, n - first));
      // The model's metric for the correlated uniforms `u`, written to dest[first + i].
      auto evaluate = [&](const Eigen::Ref<const Eigen::MatrixXd>& u, std::vector<double>& dest) {
        out.resize(layout, rows);
        model.evaluate(u.leftCols(modelColumns), out);
        for (Eigen::Index i = 0; i < rows; ++i) {
          const double value = out.outputs(i, static_cast<Eigen::Index>(*metric));
          if (!std::isfinite(value)) {
            throw SimulationError(first + static_cast<std::uint64_t>(i), settings.seed,
                                  settings.metric, value);
          }
          dest[first + static_cast<std::uint64_t>(i)] = value;
        }
      };
      try {
        auto ua = a.topRows(rows);
        auto ub = b.topRows(rows);
        auto uc = correlated.topRows(rows);
        auto uw = work.topRows(rows);
        samplerA.fill(block, first, ua, round);
        uc = ua;
        copula.apply(uc);
        evaluate(uc, s.base);
        for (std::size_t f = 0; f < k; ++f) {
          const auto& dims = factors[f].dimensions;
          if (settings.rank) {
            // A static input's uniform orders its values; a group is ordered by the sum of its
            // shocks' normal scores.
            for (Eigen::Index i = 0; i < rows; ++i) {
              double score = 0;
              if (factors[f].group) {
                for (std::size_t d : dims) {
                  score += normalQuantile(uc(i, static_cast<Eigen::Index>(d)));
                }
              } else {
                score = uc(i, static_cast<Eigen::Index>(dims[0]));
              }
              s.score[f][first + static_cast<std::uint64_t>(i)] = score;
            }
          }
          if (settings.tornado) {
            for (int side = 0; side < 2; ++side) {
              uw = uc;
              for (std::size_t d : dims) {
                uw.col(static_cast<Eigen::Index>(d)).setConstant(side == 0 ? 0.1 : 0.9);
              }
              evaluate(uw, side == 0 ? s.low[f] : s.high[f]);
            }
          }
        }
        if (settings.sobol) {
          samplerB.fill(block, first, ub, round);
          uw = ub;
          copula.apply(uw);
          evaluate(uw, s.fromB);
          // A_B^(i): A with factor i's independent uniforms taken from B, then the copula.
          for (std::size_t f = 0; f < k; ++f) {
            uw = ua;
            for (std::size_t d : factors[f].dimensions) {
              uw.col(static_cast<Eigen::Index>(d)) = ub.col(static_cast<Eigen::Index>(d));
            }
            copula.apply(uw);
            evaluate(uw, s.pickFreeze[f]);
          }
        }
        if (settings.progress) {
          std::lock_guard lock(mutex);
          settings.progress(++done, blocks);
        }
      } catch (...) {
        std::lock_guard lock(mutex);
        errors.emplace(block, std::current_exception());
        std::uint64_t seen = failedBlock.load();
        while (block < seen && !failedBlock.compare_exchange_weak(seen, block)) {
        }
      }
    }
  };
  onThreads(threads, [&worker](unsigned) { worker(); });
  if (!errors.empty()) std::rethrow_exception(errors.begin()->second);

  SensitivityResult result;
  result.metric = settings.metric;
  result.paths = n;
  result.seed = settings.seed;
  result.correlated = !copula.empty();
  result.threads = threads;
  result.baseMean = meanOf(s.base);
  result.baseMedian = medianOf(s.base);

  if (settings.tornado) {
    for (std::size_t f = 0; f < k; ++f) {
      TornadoRow row;
      row.input = factors[f].name;
      row.group = factors[f].group;
      if (row.group) {
        row.lowValue = row.highValue = std::numeric_limits<double>::quiet_NaN();
      } else {
        const Distribution& d = layout.staticInputs[factors[f].dimensions[0]].distribution;
        row.lowValue = d.quantile(0.1);
        row.highValue = d.quantile(0.9);
      }
      row.medianLow = medianOf(s.low[f]);
      row.medianHigh = medianOf(s.high[f]);
      row.meanLow = meanOf(s.low[f]);
      row.meanHigh = meanOf(s.high[f]);
      row.swing = std::fabs(row.medianHigh - row.medianLow);
      result.tornado.push_back(row);
    }
    std::stable_sort(result.tornado.begin(), result.tornado.end(),
                     [](const TornadoRow& x, const TornadoRow& y) { return x.swing > y.swing; });
    result.tornadoEvaluations = n * (2 * k + 1);
  }

  if (settings.rank) {
    double sum = 0;
    for (std::size_t f = 0; f < k; ++f) {
      const double rho = spearmanCorrelation(s.score[f], s.base);
      result.rank.push_back({factors[f].name, factors[f].group, rho, 0.0});
      sum += rho * rho;
    }
    for (RankRow& row : result.rank) row.share = sum > 0 ? row.spearman * row.spearman / sum : 0.0;
    std::stable_sort(result.rank.begin(), result.rank.end(),
                     [](const RankRow& x, const RankRow& y) {
                       return std::fabs(x.spearman) > std::fabs(y.spearman);
                     });
  }

  if (settings.sobol) {
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), std::size_t{0});
    const SobolEstimate point = estimateSobol(s, rows);
    result.sobolVariance = point.variance;
    result.sobolEvaluations = n * (k + 2);
    result.bootstrap = std::max(settings.bootstrap, 0);
    result.bootstrapSeed = streamKey(settings.seed, 0, hashName("sensitivity.bootstrap"));
    // Resample the rows of A, B and every A_B^(i) together, with replacement.
    std::vector<std::vector<double>> firsts(k), totals(k);
    Engine engine(result.bootstrapSeed);
    boost::random::uniform_int_distribution<std::size_t> pick(0, n - 1);
    for (int r = 0; r < result.bootstrap; ++r) {
      for (auto& row : rows) row = pick(engine);
      const SobolEstimate e = estimateSobol(s, rows);
      for (std::size_t f = 0; f < k; ++f) {
        firsts[f].push_back(e.first[f]);
        totals[f].push_back(e.total[f]);
      }
    }
    const double tails[] = {0.025, 0.975};
    for (std::size_t f = 0; f < k; ++f) {
      SobolRow row;
      row.input = factors[f].name;
      row.group = factors[f].group;
      row.first = point.first[f];
      row.total = point.total[f];
      row.firstLo = row.firstHi = row.first;
      row.totalLo = row.totalHi = row.total;
      if (result.bootstrap >= 2) {
        Moments mf, mt;
        for (double x : firsts[f]) mf.add(x);
        for (double x : totals[f]) mt.add(x);
        row.firstSd = mf.stddev();
        row.totalSd = mt.stddev();
        const auto fq = quantilesOf(firsts[f], tails);
        const auto tq = quantilesOf(totals[f], tails);
        row.firstLo = fq[0];
        row.firstHi = fq[1];
        row.totalLo = tq[0];
        row.totalHi = tq[1];
      }
      result.sobol.push_back(row);
    }
    std::stable_sort(result.sobol.begin(), result.sobol.end(),
                     [](const SobolRow& x, const SobolRow& y) { return x.total > y.total; });
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace spinval
