#include "spinval/sensitivity.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "spinval/copula.hpp"
#include "spinval/scenario_loader.hpp"
#include "spinval/thead_model.hpp"
#include "test_models.hpp"
#include "test_support.hpp"

namespace spinval {
namespace {

constexpr double kPi = std::numbers::pi;

// Output "y" = f(x) of static inputs x_i with the given marginals; optionally one yearly shock
// per year that adds shockScale * Phi^-1(u) each year.
class ValueModel final : public Model {
 public:
  using Function = std::function<double(const std::vector<double>&)>;

  ValueModel(std::vector<Distribution> inputs, Function f, int shockYears = 0,
             double shockScale = 0.0)
      : f_(std::move(f)), shockScale_(shockScale) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      std::string name = "x";
      name += std::to_string(i + 1);
      layout_.staticInputs.push_back({name, inputs[i]});
    }
    layout_.years = std::max(shockYears, 1);
    if (shockYears > 0) layout_.yearlyShocks = {"shock"};
    layout_.outputs = {"y"};
  }

  const Layout& layout() const override { return layout_; }

  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& u, BlockOutput& out) const override {
    std::vector<double> x(layout_.staticInputs.size());
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      for (std::size_t d = 0; d < x.size(); ++d) {
        x[d] = layout_.staticInputs[d].distribution.quantile(u(i, static_cast<Eigen::Index>(d)));
      }
      double y = f_(x);
      if (!layout_.yearlyShocks.empty()) {
        for (int year = 1; year <= layout_.years; ++year) {
          y += shockScale_ *
               normalQuantile(u(i, static_cast<Eigen::Index>(layout_.yearlyDimension(year, 0))));
        }
      }
      out.outputs(i, 0) = y;
    }
  }

 private:
  Function f_;
  double shockScale_;
  Layout layout_;
};

SensitivitySettings sobolOnly(std::uint64_t paths) {
  SensitivitySettings s;
  s.metric = "y";
  s.tornado = s.rank = false;
  s.paths = paths;
  s.seed = 7;
  return s;
}

const SobolRow& sobolRow(const SensitivityResult& r, const std::string& name) {
  for (const SobolRow& row : r.sobol) {
    if (row.input == name) return row;
  }
  std::string message = "no row ";
  message += name;
  throw std::runtime_error(message);
}

// |estimate - exact| <= k sd with k = 5 (a normal estimator fails that about once in 1.7
// million), and the bootstrap sd itself is bounded so the check cannot pass vacuously.
void expectIndices(const SensitivityResult& r, const std::vector<double>& first,
                   const std::vector<double>& total, double maxSd) {
  constexpr double k = 5.0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    std::string name = "x";
    name += std::to_string(i + 1);
    const SobolRow& row = sobolRow(r, name);
    EXPECT_LE(row.firstSd, maxSd) << name;
    EXPECT_LE(row.totalSd, maxSd) << name;
    EXPECT_NEAR(row.first, first[i], k * row.firstSd + 1e-12) << name << " S1";
    EXPECT_NEAR(row.total, total[i], k * row.totalSd + 1e-12) << name << " ST";
    EXPECT_LE(row.firstLo, row.first + 1e-12) << name;
    EXPECT_GE(row.firstHi, row.first - 1e-12) << name;
  }
}

TEST(Sensitivity, IshigamiMatchesClosedForm) {
  // f = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i ~ U(-pi, pi), a = 7, b = 0.1. Closed forms:
  //   V1 = (1 + b pi^4 / 5)^2 / 2, V2 = a^2 / 8, V3 = 0,
  //   V13 = b^2 pi^8 (1/18 - 1/50) = 8 b^2 pi^8 / 225,
  //   V = V1 + V2 + V13 = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2,
  //   S_i = V_i / V, ST1 = (V1 + V13) / V, ST2 = V2 / V, ST3 = V13 / V,
  // which give S1 = 0.3139, S2 = 0.4424, S3 = 0, ST1 = 0.5576, ST2 = 0.4424, ST3 = 0.2437.
  const double a = 7.0, b = 0.1;
  const double pi4 = std::pow(kPi, 4), pi8 = std::pow(kPi, 8);
  const double v1 = 0.5 * std::pow(1 + b * pi4 / 5, 2), v2 = a * a / 8, v13 = 8 * b * b * pi8 / 225;
  const double v = v1 + v2 + v13;
  EXPECT_NEAR(v1 / v, 0.3139, 1e-4);
  EXPECT_NEAR(v2 / v, 0.4424, 1e-4);
  EXPECT_NEAR((v1 + v13) / v, 0.5576, 1e-4);
  EXPECT_NEAR(v13 / v, 0.2437, 1e-4);

  const Distribution u(Uniform{-kPi, kPi});
  ValueModel model({u, u, u}, [a, b](const std::vector<double>& x) {
    return std::sin(x[0]) + a * std::pow(std::sin(x[1]), 2) +
           b * std::pow(x[2], 4) * std::sin(x[0]);
  });
  const SensitivityResult r = analyseSensitivity(model, Copula(), sobolOnly(1 << 15));
  EXPECT_EQ(r.sobolEvaluations, (1u << 15) * 5u);
  EXPECT_EQ(r.bootstrap, 200);
  expectIndices(r, {v1 / v, v2 / v, 0.0}, {(v1 + v13) / v, v2 / v, v13 / v}, 0.02);
  // Ranked by total index: x1, x2, x3.
  EXPECT_EQ(r.sobol[0].input, "x1");
  EXPECT_EQ(r.sobol[2].input, "x3");
}

TEST(Sensitivity, SobolGFunctionMatchesClosedForm) {
  // g = prod_i (|4 x_i - 2| + a_i) / (1 + a_i), x_i ~ U(0, 1):
  //   V_i = 1 / (3 (1 + a_i)^2), V = prod (1 + V_i) - 1,
  //   S_i = V_i / V, ST_i = V_i prod_{j != i} (1 + V_j) / V.
  const std::vector<double> a = {0, 1, 4.5, 9, 99};
  std::vector<double> vi;
  double prod = 1;
  for (double ai : a) {
    vi.push_back(1.0 / (3.0 * (1 + ai) * (1 + ai)));
    prod *= 1 + vi.back();
  }
  const double v = prod - 1;
  std::vector<double> first, total;
  for (double x : vi) {
    first.push_back(x / v);
    total.push_back(x * prod / (1 + x) / v);
  }
  const Distribution u(Uniform{0.0, 1.0});
  ValueModel model({u, u, u, u, u}, [a](const std::vector<double>& x) {
    double g = 1;
    for (std::size_t i = 0; i < x.size(); ++i) g *= (std::fabs(4 * x[i] - 2) + a[i]) / (1 + a[i]);
    return g;
  });
  const SensitivityResult r = analyseSensitivity(model, Copula(), sobolOnly(1 << 15));
  EXPECT_EQ(r.sobolEvaluations, (1u << 15) * 7u);
  expectIndices(r, first, total, 0.02);
}

TEST(Sensitivity, ProductOfTwoInputsMatchesClosedForm) {
  // y = X1 X2, X1 ~ U(1, 3), X2 ~ U(2, 5), independent:
  //   Var y = E[X1^2] E[X2^2] - (E X1 E X2)^2,
  //   S1 = Var(E[y | X1]) / Var y = (E X2)^2 Var X1 / Var y, S2 = (E X1)^2 Var X2 / Var y,
  //   ST1 = 1 - Var(E[y | X2]) / Var y = 1 - S2, ST2 = 1 - S1.
  // A test model stands in for a T-Head scenario reduced to two varying inputs: pinning every
  // other T-Head input by --set is long and ties the test to the model's equations, while the
  // estimators only see f(A), f(B) and f(A_B^(i)), the same for either model.
  const double m1 = 2, v1 = 4.0 / 12, m2 = 3.5, v2 = 9.0 / 12;
  const double var = (v1 + m1 * m1) * (v2 + m2 * m2) - m1 * m1 * m2 * m2;
  const double s1 = m2 * m2 * v1 / var, s2 = m1 * m1 * v2 / var;
  ValueModel model({Distribution(Uniform{1, 3}), Distribution(Uniform{2, 5})},
                   [](const std::vector<double>& x) { return x[0] * x[1]; });
  const SensitivityResult r = analyseSensitivity(model, Copula(), sobolOnly(1 << 15));
  EXPECT_NEAR(r.sobolVariance, var, 0.05 * var);
  expectIndices(r, {s1, s2}, {1 - s2, 1 - s1}, 0.03);
}

// The T-Head model reduced to two varying inputs. With every shock's sigma 0, a regime that
// stays restricted, ipo.year constant, relative_weight 1, peers with beta 0 and sigma 0 and a
// half-life so short that 2^(-tau / h) underflows, equations 15-18 give
//   ev_usd = EV_rel = m_inf (1 - eta) Rev_{tau+1},
// with Rev_{tau+1} the same on every path. So ev_usd = c X1 Y2 with X1 = m_inf ~ U(8, 12) and
// Y2 = 1 - eta ~ U(0.5, 0.8) independent, and the product's closed form applies:
// S1 = (E Y2)^2 Var X1 / V, S2 = (E X1)^2 Var Y2 / V, ST1 = 1 - S2, ST2 = 1 - S1 with
// V = E[X1^2] E[Y2^2] - (E X1 E Y2)^2 (the constant c cancels). Every other factor has no
// effect on ev_usd, so its total index must be 0 (within its bootstrap error).
TEST(Sensitivity, TheadScenarioWithTwoVaryingInputsMatchesTheProductClosedForm) {
  const std::vector<std::string> overrides = {
      "market.growth_start=0.3",
      "market.growth_sigma=0",
      "company.execution_sigma=0",
      "pricing.perf_sigma=0",
      "regime.transition.restricted=[0, 1, 0]",
      "cost.advantage=0.4",
      "peers.half_life_years=0.001",
      "peers.long_run_ev_sales={dist: uniform, min: 8, max: 12}",
      "peers.list.Cambricon.ev_sales=30",
      "peers.list.Cambricon.beta=0",
      "peers.list.Cambricon.sigma=0",
      "peers.list.Moore Threads.beta=0",
      "peers.list.Moore Threads.sigma=0",
      "valuation.relative_weight=1",
      "valuation.multiple_haircut={dist: uniform, min: 0.2, max: 0.5}",
      "ipo.year=2026",
      "correlations=[]",
  };
  const TheadModel model(loadScenario(spinval::testing::dataPath("valid/minimal.yaml"), overrides));
  SensitivitySettings settings = sobolOnly(1 << 16);
  settings.metric = "ev_usd";
  const SensitivityResult r = analyseSensitivity(model, Copula(), settings);

  const double m1 = 10, v1 = 16.0 / 12, m2 = 0.65, v2 = 0.09 / 12;
  const double var = (v1 + m1 * m1) * (v2 + m2 * m2) - m1 * m1 * m2 * m2;
  const double s1 = m2 * m2 * v1 / var, s2 = m1 * m1 * v2 / var;
  constexpr double k = 5.0;
  const SobolRow& x1 = sobolRow(r, "peers.long_run_ev_sales");
  const SobolRow& y2 = sobolRow(r, "valuation.multiple_haircut");
  for (const auto& [row, first, total] :
       {std::tuple{&x1, s1, 1 - s2}, std::tuple{&y2, s2, 1 - s1}}) {
    EXPECT_LE(row->firstSd, 0.03) << row->input;
    EXPECT_NEAR(row->first, first, k * row->firstSd + 1e-12) << row->input;
    EXPECT_NEAR(row->total, total, k * row->totalSd + 1e-12) << row->input;
  }
  for (const SobolRow& row : r.sobol) {
    if (&row == &x1 || &row == &y2) continue;
    EXPECT_NEAR(row.total, 0.0, k * row.totalSd + 1e-9) << row.input;
  }
}

TEST(Sensitivity, TornadoOnLinearModelIsExact) {
  // y = sum c_i x_i. With common random numbers the pinned runs differ path by path by exactly
  // c_i (q90_i - q10_i), so the median and the mean both shift by that amount.
  const std::vector<double> c = {2.0, -5.0, 1.5};
  const std::vector<Distribution> inputs = {
      Distribution(Normal{1, 2}), Distribution(Normal{-3, 0.5}), Distribution(Uniform{0, 4})};
  ValueModel model(inputs, [c](const std::vector<double>& x) {
    return c[0] * x[0] + c[1] * x[1] + c[2] * x[2];
  });
  SensitivitySettings settings;
  settings.metric = "y";
  settings.rank = settings.sobol = false;
  settings.paths = 3000;
  const SensitivityResult r = analyseSensitivity(model, Copula(), settings);
  ASSERT_EQ(r.tornado.size(), 3u);
  EXPECT_EQ(r.tornadoEvaluations, 3000u * 7u);
  for (const TornadoRow& row : r.tornado) {
    const std::size_t i = static_cast<std::size_t>(row.input[1] - '1');
    const double shift = c[i] * (inputs[i].quantile(0.9) - inputs[i].quantile(0.1));
    EXPECT_DOUBLE_EQ(row.lowValue, inputs[i].quantile(0.1));
    EXPECT_NEAR(row.swing, std::fabs(shift), 1e-9) << row.input;
    EXPECT_NEAR(row.medianHigh - row.medianLow, shift, 1e-9) << row.input;
    EXPECT_NEAR(row.meanHigh - row.meanLow, shift, 1e-9) << row.input;
  }
  // Sorted by swing: |c| (q90 - q10) is 2 * 5.13, 5 * 1.28, 1.5 * 3.2.
  EXPECT_EQ(r.tornado[0].input, "x1");
  EXPECT_EQ(r.tornado[1].input, "x2");
  EXPECT_EQ(r.tornado[2].input, "x3");
}

TEST(Sensitivity, RankOnLinearGaussianModelMatchesCoefficients) {
  // y = sum c_i x_i with independent normals: (x_i, y) is bivariate normal with Pearson
  // rho_i = c_i sd_i / sd(y) and Spearman (6 / pi) asin(rho_i / 2). Fisher's z of Spearman's rho
  // has variance about 1.06 / (n - 3); the check is k = 5 of those standard errors.
  const std::vector<double> c = {2.0, -5.0, 1.5}, sd = {2.0, 0.5, 1.0};
  ValueModel model(
      {Distribution(Normal{1, sd[0]}), Distribution(Normal{-3, sd[1]}),
       Distribution(Normal{0, sd[2]})},
      [c](const std::vector<double>& x) { return c[0] * x[0] + c[1] * x[1] + c[2] * x[2]; });
  SensitivitySettings settings;
  settings.metric = "y";
  settings.tornado = settings.sobol = false;
  settings.paths = 16384;
  const SensitivityResult r = analyseSensitivity(model, Copula(), settings);
  double sy = 0;
  for (std::size_t i = 0; i < 3; ++i) sy += c[i] * c[i] * sd[i] * sd[i];
  sy = std::sqrt(sy);
  const double zError = std::sqrt(1.06 / (16384.0 - 3.0));
  double shares = 0;
  for (const RankRow& row : r.rank) {
    const std::size_t i = static_cast<std::size_t>(row.input[1] - '1');
    const double expected = gaussianSpearman(c[i] * sd[i] / sy);
    EXPECT_NEAR(std::atanh(row.spearman), std::atanh(expected), 5 * zError) << row.input;
    shares += row.share;
  }
  EXPECT_NEAR(shares, 1.0, 1e-12);
  EXPECT_EQ(r.rank[0].input, "x1");
}

TEST(Sensitivity, FactorsSkipConstantsAndGroupYearlyShocks) {
  ValueModel model(
      {Distribution(Normal{0, 1}), Distribution::constant(3.0)},
      [](const std::vector<double>& x) { return x[0] * x[1]; }, 4, 1.0);
  const auto factors = sensitivityFactors(model.layout());
  ASSERT_EQ(factors.size(), 2u);
  EXPECT_EQ(factors[0].name, "x1");
  EXPECT_FALSE(factors[0].group);
  EXPECT_EQ(factors[1].name, kYearlyShocksGroup);
  EXPECT_TRUE(factors[1].group);
  EXPECT_EQ(factors[1].dimensions.size(), 4u);

  // y = 3 x1 + sum of 4 unit shocks: S(x1) = 9 / 13, S(shocks) = 4 / 13, additive.
  const SensitivityResult r = analyseSensitivity(model, Copula(), sobolOnly(1 << 14));
  EXPECT_NEAR(sobolRow(r, "x1").first, 9.0 / 13, 5 * sobolRow(r, "x1").firstSd);
  EXPECT_NEAR(sobolRow(r, kYearlyShocksGroup).total, 4.0 / 13,
              5 * sobolRow(r, kYearlyShocksGroup).totalSd);
}

TEST(Sensitivity, SameNumbersOnAnyThreadCount) {
  const Distribution u(Uniform{-kPi, kPi});
  ValueModel model({u, u, u}, [](const std::vector<double>& x) {
    return std::sin(x[0]) + 7 * std::pow(std::sin(x[1]), 2) +
           0.1 * std::pow(x[2], 4) * std::sin(x[0]);
  });
  Eigen::MatrixXd p(2, 2);
  p << 1, 0.5, 0.5, 1;
  const Copula copula({0, 2}, p);
  SensitivitySettings settings;
  settings.metric = "y";
  settings.paths = 5000;  // not a whole number of blocks
  settings.threads = 1;
  const SensitivityResult one = analyseSensitivity(model, copula, settings);
  settings.threads = 3;
  const SensitivityResult three = analyseSensitivity(model, copula, settings);
  EXPECT_TRUE(one.correlated);
  EXPECT_EQ(one.baseMedian, three.baseMedian);
  ASSERT_EQ(one.tornado.size(), three.tornado.size());
  for (std::size_t i = 0; i < one.tornado.size(); ++i) {
    EXPECT_EQ(one.tornado[i].input, three.tornado[i].input);
    EXPECT_EQ(one.tornado[i].medianLow, three.tornado[i].medianLow);
    EXPECT_EQ(one.tornado[i].meanHigh, three.tornado[i].meanHigh);
    EXPECT_EQ(one.rank[i].spearman, three.rank[i].spearman);
    EXPECT_EQ(one.sobol[i].first, three.sobol[i].first);
    EXPECT_EQ(one.sobol[i].totalLo, three.sobol[i].totalLo);
  }
}

TEST(Sensitivity, RejectsUnknownMetric) {
  ValueModel model({Distribution(Normal{0, 1})}, [](const std::vector<double>& x) { return x[0]; });
  SensitivitySettings settings;
  settings.metric = "nope";
  EXPECT_THROW(analyseSensitivity(model, Copula(), settings), std::invalid_argument);
}

TEST(Sensitivity, SpearmanHandlesTies) {
  EXPECT_DOUBLE_EQ(spearmanCorrelation({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearmanCorrelation({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(spearmanCorrelation({1, 1, 1, 1}, {1, 2, 3, 4}), 0.0);
  // Ranks (1.5, 1.5, 3.5, 3.5) against (1, 2, 3, 4): 4 / sqrt(4 * 5).
  EXPECT_NEAR(spearmanCorrelation({0, 0, 1, 1}, {1, 2, 3, 4}), 4.0 / std::sqrt(20.0), 1e-15);
}

// ---- the command line

// Runs `spinval sensitivity <base scenario> <arguments>`.
testing::CommandResult sensitivityCli(const std::string& arguments) {
  std::string command = "sensitivity ";
  command += testing::sourcePath("scenarios/thead-base.yaml");
  command += ' ';
  command += arguments;
  return testing::runSpinval(command);
}

TEST(SensitivityCli, RanksTheBaseScenario) {
  const auto r = sensitivityCli("--method all --paths 4096 --quiet");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Tornado"), std::string::npos);
  EXPECT_NE(r.out.find("Rank"), std::string::npos);
  EXPECT_NE(r.out.find("Sobol"), std::string::npos);
  EXPECT_NE(r.out.find("yearly shocks"), std::string::npos);
  EXPECT_NE(r.out.find("peers.sentiment"), std::string::npos);
}

TEST(SensitivityCli, JsonIsTheSameOnAnyThreadCountAndMatchesTheTable) {
  const std::string base = "--method all --paths 2048 --quiet";
  const auto one = sensitivityCli(base + " --json --threads 1");
  const auto two = sensitivityCli(base + " --json --threads 2");
  ASSERT_EQ(one.status, 0) << one.err;
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_EQ(one.out, two.out);
  const auto json = nlohmann::json::parse(one.out);
  EXPECT_EQ(json["metric"], "ev_usd");
  EXPECT_EQ(json["paths"], 2048);
  const auto& tornado = json["tornado"]["inputs"];
  ASSERT_GE(tornado.size(), 2u);
  for (std::size_t i = 1; i < tornado.size(); ++i) {
    EXPECT_GE(tornado[i - 1]["swing"].get<double>(), tornado[i]["swing"].get<double>());
  }
  const auto& sobol = json["sobol"];
  EXPECT_EQ(sobol["evaluations"].get<std::uint64_t>(), 2048u * (sobol["inputs"].size() + 2));
  // The table lists the same inputs in the same order: the top tornado input comes first.
  const auto table = sensitivityCli(base);
  ASSERT_EQ(table.status, 0) << table.err;
  const std::string top = tornado[0]["input"].get<std::string>();
  const std::string second = tornado[1]["input"].get<std::string>();
  const auto at = table.out.find("Tornado");
  EXPECT_LT(table.out.find(top, at), table.out.find(second, at));
}

TEST(SensitivityCli, WritesJsonToOutDir) {
  const std::string dir = ::testing::TempDir() + "spinval_sensitivity_out";
  const auto r = sensitivityCli("--method rank --paths 1024 --quiet --json --out " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream file(dir + "/sensitivity.json");
  std::stringstream content;
  content << file.rdbuf();
  EXPECT_EQ(content.str(), r.out);
}

TEST(SensitivityCli, BadInputExitsTwo) {
  const auto metric = sensitivityCli("--metric nope --paths 64 --quiet");
  EXPECT_EQ(metric.status, 2);
  EXPECT_NE(metric.err.find("--metric"), std::string::npos) << metric.err;
  const auto set = sensitivityCli("--set cost.advantage=2 --paths 64 --quiet");
  EXPECT_EQ(set.status, 2);
  EXPECT_NE(set.err.find("cost.advantage"), std::string::npos) << set.err;
}

}  // namespace
}  // namespace spinval
