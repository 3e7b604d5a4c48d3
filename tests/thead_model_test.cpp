// Tests of the T-Head model against the equations of docs/model.md section 3: a 3-year case
// worked by hand (every figure derived in the comments), capacity, share-cap and regime cases,
// a statistical case with a lognormal answer, and the layout other code relies on.
#include "spinval/thead_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "spinval/scenario_loader.hpp"
#include "spinval/vector_math.hpp"
#include "test_support.hpp"

namespace spinval {
namespace {

Distribution constant(double value) {
  return Distribution::constant(value);
}

// The hand-derived scenario: H = 3 years from base year 2025, every sigma 0, one regime state.
//
//   market    M0 = 1,500,000; g1 = ln 4, gH = 0, so the year's log-growth
//             g1 + (gH - g1) lambda_y with lambda = 0, 1/2, 1 is ln 4, ln 2, 0
//   company   Q0 = 150,000 (s0 = Q0 / M0 = 0.1); s_max = 0.5; kappa = ln 2, so
//             exp(-kappa y) = 2^-y and s_max / s0 - 1 = 4; C0 = 1e9, gC = 0 (never binds);
//             c1 = 0.5, cH = 0.1 (c2 = 0.3); mu_c = 0.2
//   regime    one state "restricted", phi = 1, pi = 0.1
//   pricing   P0 = 10,000; d = 0.1; r0 = 0.8; mu_r = ln 1.25; delta = 0.25
//   cost      K_H = 5,000; a = 0.4, so K_H (1 - a) = 3,000; LR = 0.5, so b = -log2(0.5) = 1
//   other     O0 = 1e8; gO = 0.5; gmO = 0.4
//   opex      o1 = 0.5, oH = 0.1 (o2 = 0.3); F = 1e8
//   finance   theta = 0.2; rho = 0.1; net_cash = 5e8
//   peers     m_inf = 4; h = 1; A: m0 = 16, weight 1; B: m0 = 4, weight 3; beta = sigma = 0
//   valuation eta = 0.2; omega = 0.5; W = 0.1; g_inf = 0.02
//   ipo       year 2026 (tau = 1); p = 1; d_o = 0.1; d_p = 0.3; raise 1e9; f = 0.2; e = 0.1
//   parent    2e9 ADS
Scenario handScenario() {
  Scenario s;
  s.name = "hand";
  s.baseYear = 2025;
  s.horizonYears = 3;

  s.market.unitsBase = constant(1.5e6);
  s.market.growthStart = constant(std::log(4.0));
  s.market.growthEnd = constant(0.0);
  s.market.growthSigma = 0.0;

  s.company.shipmentsBase = constant(150000.0);
  s.company.shareCeiling = constant(0.5);
  s.company.adoptionSpeed = constant(std::numbers::ln2);
  s.company.executionSigma = 0.0;
  s.company.capacityBase = constant(1e9);
  s.company.capacityGrowth = constant(0.0);
  s.company.captiveShareStart = constant(0.5);
  s.company.captiveShareEnd = constant(0.1);
  s.company.captiveMarkup = constant(0.2);

  s.regime.states = {"restricted"};
  s.regime.initial = 0;
  s.regime.transition = {{1.0}};
  s.regime.shareMultiplier = {1.0};
  s.regime.pricePremium = {0.1};

  s.pricing.h20PriceBase = constant(10000.0);
  s.pricing.h20PriceDecline = constant(0.1);
  s.pricing.perfRatioBase = constant(0.8);
  s.pricing.perfDrift = constant(std::log(1.25));
  s.pricing.perfSigma = 0.0;
  s.pricing.entrantDiscount = constant(0.25);

  s.cost.h20UnitCost = constant(5000.0);
  s.cost.advantage = constant(0.4);
  s.cost.learningRate = constant(0.5);

  s.otherRevenue.base = constant(1e8);
  s.otherRevenue.growth = constant(0.5);
  s.otherRevenue.grossMargin = constant(0.4);

  s.opex.ratioStart = constant(0.5);
  s.opex.ratioEnd = constant(0.1);
  s.opex.fixed = constant(1e8);

  s.finance.taxRate = constant(0.2);
  s.finance.reinvestmentRate = constant(0.1);
  s.finance.netCash = constant(5e8);

  s.peers.longRunEvSales = constant(4.0);
  s.peers.halfLifeYears = constant(1.0);
  s.peers.list = {Peer{"A", constant(16.0), 0.0, 0.0, 1.0},
                  Peer{"B", constant(4.0), 0.0, 0.0, 3.0}};

  s.valuation.multipleHaircut = constant(0.2);
  s.valuation.relativeWeight = 0.5;
  s.valuation.wacc = constant(0.1);
  s.valuation.terminalGrowth = constant(0.02);

  s.ipo.year = constant(2026.0);
  s.ipo.probability = 1.0;
  s.ipo.offerDiscount = constant(0.1);
  s.ipo.privateDiscount = constant(0.3);
  s.ipo.primaryRaise = constant(1e9);
  s.ipo.floatShare = constant(0.2);
  s.ipo.employeePool = constant(0.1);

  s.parent.adsOutstanding = 2e9;
  return s;
}

// Uniforms in (0, 1) that vary by path and column; with every sigma 0 only the regime, listing
// and discrete IPO-year columns can matter, and tests that use those set them explicitly.
Eigen::MatrixXd arbitraryUniforms(const Layout& layout, Eigen::Index paths) {
  Eigen::MatrixXd u(paths, static_cast<Eigen::Index>(layout.dimensions()));
  for (Eigen::Index d = 0; d < u.cols(); ++d) {
    for (Eigen::Index i = 0; i < paths; ++i) u(i, d) = (1 + (7 * i + 13 * d) % 97) / 98.0;
  }
  return u;
}

BlockOutput evaluate(const TheadModel& model, const Eigen::MatrixXd& u) {
  BlockOutput out;
  out.resize(model.layout(), u.rows());
  model.evaluate(u, out);
  return out;
}

Eigen::Index staticColumn(const Layout& layout, const std::string& name) {
  auto index = layout.staticIndex(name);
  if (!index) throw std::logic_error("no static input " + name);
  return static_cast<Eigen::Index>(*index);
}

double output(const TheadModel& model, const BlockOutput& out, Eigen::Index path,
              const std::string& name) {
  auto index = model.layout().outputIndex(name);
  if (!index) throw std::logic_error("no output " + name);
  return out.outputs(path, static_cast<Eigen::Index>(*index));
}

double yearly(const TheadModel& model, const BlockOutput& out, Eigen::Index path,
              const std::string& name, int year) {
  auto index = model.layout().yearlyOutputIndex(name);
  if (!index) throw std::logic_error("no yearly output " + name);
  return out.yearly(path, static_cast<Eigen::Index>(*index) * model.layout().years + (year - 1));
}

constexpr double kRelative = 1e-12;

void expectRelative(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, kRelative * std::abs(expected)) << what;
}

// ---------------------------------------------------------------------------------------------
// The hand-derived case. Base year (eq. 10, R_0 = restricted, pi = 0.1, c1 = 0.5):
//   Rev_0 = 150,000 (0.5 * 3,000 * 1.2 + 0.5 * 10,000 * 0.8 * 1.1 * 0.75) + 1e8
//         = 150,000 (1,800 + 3,300) + 1e8 = 765e6 + 100e6 = 865e6
//
// Year 1 (lambda = 0, c = 0.5, opex ratio 0.5):
//   M1 = 1.5e6 * exp(ln 4) = 6e6
//   s1 = 0.5 / (1 + 4 * 2^-1) = 1/6;  D1 = 6e6 * min(1, 1/6) = 1e6;  Q1 = min(1e6, 1e9) = 1e6
//   K1 = 3,000 * (U0 / U0)^-1 = 3,000;  U1 = 150,000 + 1e6 = 1.15e6
//   r1 = 0.8 * 1.25 = 1;  X1 = 10,000 * 0.9 * 1 * 1.1 * 0.75 = 7,425
//   Rc1 = 1e6 (0.5 * 3,000 * 1.2 + 0.5 * 7,425) = 1e6 (1,800 + 3,712.5) = 5.5125e9; ASP1 = 5,512.5
//   Gc1 = 5.5125e9 - 1e6 * 3,000 = 2.5125e9
//   Ro1 = 1e8 * 1.5 = 1.5e8;  Go1 = 0.4 * 1.5e8 = 6e7
//   Rev1 = 5.5125e9 + 1.5e8 = 5.6625e9;  GM1 = (2.5125e9 + 6e7) / 5.6625e9 = 2.5725 / 5.6625
//   Opex1 = 0.5 * 5.6625e9 + 1e8 = 2.93125e9;  EBIT1 = 2.5725e9 - 2.93125e9 = -3.5875e8 (a loss)
//   B1 = 0;  Tax1 = 0.2 max(0 - 0, 0) = 0;  N1 = 0 - 0 + 3.5875e8 = 3.5875e8
//   FCF1 = -3.5875e8 - 0 - 0.1 (5.6625e9 - 8.65e8) = -3.5875e8 - 4.7975e8 = -8.385e8
//
// Year 2 (lambda = 1/2, c = 0.3, opex ratio 0.3); fractions over 23 are exact:
//   M2 = 6e6 * exp(ln 2) = 12e6;  s2 = 0.5 / (1 + 4/4) = 1/4;  D2 = Q2 = 3e6;  U2 = 4.15e6
//   K2 = 3,000 * (1.15e6 / 1.5e5)^-1 = 3,000 * 3/23 = 9,000/23
//   r2 = 1.25;  X2 = 10,000 * 0.81 * 1.25 * 1.1 * 0.75 = 8,353.125
//   ASP2 = 0.3 * 1.2 * 9,000/23 + 0.7 * 8,353.125 = 3,240/23 + 5,847.1875
//   Rc2 = 3e6 * ASP2 = 413,175,937,500/23
//   Gc2 = Rc2 - 3e6 * 9,000/23 = (413,175,937,500 - 27,000,000,000)/23 = 386,175,937,500/23
//   Ro2 = 1e8 * 1.5^2 = 2.25e8 = 5,175,000,000/23;  Go2 = 9e7 = 2,070,000,000/23
//   Rev2 = (413,175,937,500 + 5,175,000,000)/23 = 418,350,937,500/23
//   GM2 = (386,175,937,500 + 2,070,000,000) / 418,350,937,500 = 388,245,937,500/418,350,937,500
//   Opex2 = 0.3 Rev2 + 1e8 = (125,505,281,250 + 2,300,000,000)/23 = 127,805,281,250/23
//   EBIT2 = (388,245,937,500 - 127,805,281,250)/23 = 260,440,656,250/23
//   B2 = EBIT2;  Tax2 = 0.2 (EBIT2 - N1) = 0.2 (260,440,656,250 - 8,251,250,000)/23
//        = 50,437,881,250/23;  N2 = N1 - min(N1, B2) + 0 = 0
//   FCF2 = EBIT2 - Tax2 - 0.1 (Rev2 - Rev1)
//        = (260,440,656,250 - 50,437,881,250 - 0.1 (418,350,937,500 - 130,237,500,000))/23
//        = (210,002,775,000 - 28,811,343,750)/23 = 181,191,431,250/23
//
// Year 3 (lambda = 1, c = 0.1, opex ratio 0.1); fractions over 83 are exact:
//   M3 = 12e6 * exp(0) = 12e6;  s3 = 0.5 / (1 + 4/8) = 1/3;  D3 = Q3 = 4e6;  U3 = 8.15e6
//   K3 = 3,000 * (4.15e6 / 1.5e5)^-1 = 3,000 * 3/83 = 9,000/83
//   r3 = 1.5625;  X3 = 10,000 * 0.729 * 1.5625 * 1.1 * 0.75 = 9,397.265625
//   ASP3 = 0.1 * 1.2 * 9,000/83 + 0.9 * 9,397.265625 = 1,080/83 + 8,457.5390625
//   Rc3 = 4e6 * ASP3 = 2,812,222,968,750/83
//   Gc3 = Rc3 - 4e6 * 9,000/83 = 2,776,222,968,750/83
//   Ro3 = 1e8 * 1.5^3 = 3.375e8 = 28,012,500,000/83;  Go3 = 1.35e8 = 11,205,000,000/83
//   Rev3 = (2,812,222,968,750 + 28,012,500,000)/83 = 2,840,235,468,750/83
//   GM3 = (2,776,222,968,750 + 11,205,000,000) / 2,840,235,468,750
//   Opex3 = 0.1 Rev3 + 1e8 = (284,023,546,875 + 8,300,000,000)/83 = 292,323,546,875/83
//   EBIT3 = (2,787,427,968,750 - 292,323,546,875)/83 = 2,495,104,421,875/83
//   Tax3 = 0.2 EBIT3 (N2 = 0) = 499,020,884,375/83
//   FCF3 = 0.8 EBIT3 - 0.1 (Rev3 - Rev2) = 42,849,692,565,625/1,909  (1,909 = 23 * 83)
//        = 22,446,145,922.276062
//
// Valuation at tau = 1:
//   peers (eq. 15): 2^(-1/1) = 1/2; m_A = exp(ln 4 + (ln 16 - ln 4)/2) = 4 * 2 = 8; m_B = 4;
//   m_peer = (1 * 8 + 3 * 4) / 4 = 5;  m_c = 5 * 0.8 = 4
//   EV_rel = 4 Rev2 = 1,673,403,750,000/23 = 72,756,684,782.608696
//   EV_dcf = FCF2 / 1.1 + FCF3 / 1.21 + FCF3 * 1.02 / 0.08 / 1.21
//          = 7,161,716,650.197628 + 18,550,533,820.062861 + 236,519,306,205.80145
//          = 262,231,556,676.06195
//   EV = 0.5 (72,756,684,782.608696 + 262,231,556,676.06195) = 167,494,120,729.33533
//   E = EV + 5e8 + 1e9 = 168,994,120,729.33533
//   V_o = 0.9 E = 152,094,708,656.40180;  L = 1 so V_m = V_o (with p = 0: V_m = 0.7 E
//   = 118,295,884,510.53473)
//   S = E * 0.9 * 0.8 = 121,675,766,925.12143;  per ADS = S / 2e9 = 60.837883462560715
namespace hand {
constexpr double kRev[] = {865e6, 5.6625e9, 418350937500.0 / 23.0, 2840235468750.0 / 83.0};
constexpr double kShipments[] = {1e6, 3e6, 4e6};
constexpr double kUnitCost[] = {3000.0, 9000.0 / 23.0, 9000.0 / 83.0};
const double kAsp[] = {5512.5, 3240.0 / 23.0 + 5847.1875, 1080.0 / 83.0 + 8457.5390625};
constexpr double kGrossMargin[] = {2.5725 / 5.6625, 388245937500.0 / 418350937500.0,
                                   (2776222968750.0 + 11205000000.0) / 2840235468750.0};
constexpr double kEbit[] = {-3.5875e8, 260440656250.0 / 23.0, 2495104421875.0 / 83.0};
constexpr double kFcf[] = {-8.385e8, 181191431250.0 / 23.0, 42849692565625.0 / 1909.0};
constexpr double kEvRel = 1673403750000.0 / 23.0;
constexpr double kEvDcf = 262231556676.06195;
constexpr double kEv = 167494120729.33533;
constexpr double kEquity = 168994120729.33533;
}  // namespace hand

TEST(TheadModelHand, YearlyFiguresMatchTheHandDerivation) {
  TheadModel model(handScenario());
  const Eigen::Index n = 4;
  BlockOutput out = evaluate(model, arbitraryUniforms(model.layout(), n));
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int y = 1; y <= 3; ++y) {
      const std::string at = "path " + std::to_string(i) + " year " + std::to_string(y);
      expectRelative(yearly(model, out, i, "shipments", y), hand::kShipments[y - 1], at);
      expectRelative(yearly(model, out, i, "asp_usd", y), hand::kAsp[y - 1], at);
      expectRelative(yearly(model, out, i, "unit_cost_usd", y), hand::kUnitCost[y - 1], at);
      expectRelative(yearly(model, out, i, "revenue_usd", y), hand::kRev[y], at);
      expectRelative(yearly(model, out, i, "gross_margin", y), hand::kGrossMargin[y - 1], at);
      expectRelative(yearly(model, out, i, "ebit_usd", y), hand::kEbit[y - 1], at);
      expectRelative(yearly(model, out, i, "fcf_usd", y), hand::kFcf[y - 1], at);
      EXPECT_EQ(yearly(model, out, i, "regime", y), 0.0) << at;
    }
  }
}

TEST(TheadModelHand, ValuationMatchesTheHandDerivation) {
  TheadModel model(handScenario());
  const Eigen::Index n = 4;
  BlockOutput out = evaluate(model, arbitraryUniforms(model.layout(), n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::string at = "path " + std::to_string(i);
    expectRelative(output(model, out, i, "peer_multiple"), 5.0, at);
    expectRelative(output(model, out, i, "company_multiple"), 4.0, at);
    expectRelative(output(model, out, i, "ev_relative_usd"), hand::kEvRel, at);
    expectRelative(output(model, out, i, "ev_dcf_usd"), hand::kEvDcf, at);
    expectRelative(output(model, out, i, "ev_usd"), hand::kEv, at);
    expectRelative(output(model, out, i, "equity_usd"), hand::kEquity, at);
    expectRelative(output(model, out, i, "offer_value_usd"), 152094708656.40180, at);
    EXPECT_EQ(output(model, out, i, "listed"), 1.0) << at;
    expectRelative(output(model, out, i, "mark_value_usd"), 152094708656.40180, at);
    expectRelative(output(model, out, i, "parent_stake_usd"), 121675766925.12143, at);
    expectRelative(output(model, out, i, "parent_per_ads_usd"), 60.837883462560715, at);
  }
}

TEST(TheadModelHand, UnlistedPathsAreMarkedAtThePrivateDiscount) {
  Scenario s = handScenario();
  s.ipo.probability = 0.0;
  TheadModel model(s);
  BlockOutput out = evaluate(model, arbitraryUniforms(model.layout(), 3));
  for (Eigen::Index i = 0; i < 3; ++i) {
    EXPECT_EQ(output(model, out, i, "listed"), 0.0);
    // V_m = E (1 - d_p) = 0.7 * 168,994,120,729.33533; the offer value is still 0.9 E.
    expectRelative(output(model, out, i, "mark_value_usd"), 118295884510.53473, "mark");
    expectRelative(output(model, out, i, "offer_value_usd"), 152094708656.40180, "offer");
    expectRelative(output(model, out, i, "parent_stake_usd"), 121675766925.12143, "stake");
  }
}

// The IPO year and the listing drawn per path. ipo.year is discrete on {2026, 2027} with
// probabilities 1/2 each (u <= 0.5 gives 2026); L ~ Bernoulli(0.5) (u <= 0.5 gives 0).
// For tau = 2 (listing at the end of 2027), from the yearly figures above:
//   2^(-2/1) = 1/4; m_A = 4 * (16/4)^(1/4) = 4 sqrt 2; m_B = 4; m_peer = (4 sqrt 2 + 12)/4
//   = 3 + sqrt 2;  m_c = 0.8 (3 + sqrt 2)
//   EV_rel = m_c Rev3 (forward revenue is year 3)
//   EV_dcf = FCF3 / 1.1 + FCF3 * 1.02 / 0.08 / 1.1 = FCF3 * 13.75 / 1.1 = 12.5 FCF3
//          = 12.5 * 42,849,692,565,625/1,909 = 280,576,824,028.45074
TEST(TheadModelHand, IpoYearAndListingVaryByPath) {
  Scenario s = handScenario();
  s.ipo.year = Distribution(Discrete{{2026.0, 2027.0}, {0.5, 0.5}});
  s.ipo.probability = 0.5;
  TheadModel model(s);
  const Layout& layout = model.layout();
  Eigen::MatrixXd u = arbitraryUniforms(layout, 4);
  const Eigen::Index year = staticColumn(layout, "ipo.year");
  const Eigen::Index listed = staticColumn(layout, "ipo.listed");
  u.col(year) << 0.3, 0.8, 0.7, 0.1;    // tau = 1, 2, 2, 1
  u.col(listed) << 0.9, 0.2, 0.6, 0.4;  // L = 1, 0, 1, 0
  BlockOutput out = evaluate(model, u);

  const double rev3 = 2840235468750.0 / 83.0;
  const double fcf3 = 42849692565625.0 / 1909.0;
  const double mPeer2 = 3.0 + std::sqrt(2.0);
  const double evRel2 = 0.8 * mPeer2 * rev3;
  const double evDcf2 = 12.5 * fcf3;
  const double ev2 = 0.5 * (evRel2 + evDcf2);
  const double equity2 = ev2 + 1.5e9;
  const double expectedTau[] = {1, 2, 2, 1};
  const double expectedListed[] = {1, 0, 1, 0};
  for (Eigen::Index i = 0; i < 4; ++i) {
    const std::string at = "path " + std::to_string(i);
    const bool late = expectedTau[i] == 2;
    const double equity = late ? equity2 : hand::kEquity;
    expectRelative(output(model, out, i, "peer_multiple"), late ? mPeer2 : 5.0, at);
    expectRelative(output(model, out, i, "ev_relative_usd"), late ? evRel2 : hand::kEvRel, at);
    expectRelative(output(model, out, i, "ev_dcf_usd"), late ? evDcf2 : hand::kEvDcf, at);
    expectRelative(output(model, out, i, "ev_usd"), late ? ev2 : hand::kEv, at);
    expectRelative(output(model, out, i, "equity_usd"), equity, at);
    EXPECT_EQ(output(model, out, i, "listed"), expectedListed[i]) << at;
    const double mark = expectedListed[i] == 1.0 ? 0.9 * equity : 0.7 * equity;
    expectRelative(output(model, out, i, "mark_value_usd"), mark, at);
    // The yearly figures do not depend on the IPO year.
    expectRelative(yearly(model, out, i, "fcf_usd", 3), hand::kFcf[2], at);
  }
  expectRelative(evDcf2, 280576824028.45074, "tau 2 DCF");
}

// ---------------------------------------------------------------------------------------------
// Capacity binds: C0 = 400,000, gC = 0.5, so capacity is 600,000, 900,000, 1,350,000 against
// demand 1e6, 3e6, 4e6 (the hand case), and shipments are the capacity.
//   U1 = 150,000 + 600,000 = 750,000;  U2 = 750,000 + 900,000 = 1,650,000
//   K1 = 3,000;  K2 = 3,000 * 150,000 / 750,000 = 600;  K3 = 3,000 * 150,000 / 1,650,000
//   = 3,000/11
//   Rev1 = 600,000 (1,800 + 3,712.5) + 1.5e8 = 3.3075e9 + 1.5e8 = 3.4575e9
//   Rev2 = 900,000 (0.3 * 1.2 * 600 + 0.7 * 8,353.125) + 2.25e8
//        = 900,000 (216 + 5,847.1875) + 2.25e8 = 5,456,868,750 + 225,000,000 = 5,681,868,750
//   ASP3 = 0.1 * 1.2 * 3,000/11 + 0.9 * 9,397.265625 = 360/11 + 8,457.5390625
TEST(TheadModelCases, CapacityBindsShipments) {
  Scenario s = handScenario();
  s.company.capacityBase = constant(400000.0);
  s.company.capacityGrowth = constant(0.5);
  TheadModel model(s);
  BlockOutput out = evaluate(model, arbitraryUniforms(model.layout(), 2));
  const double shipments[] = {600000.0, 900000.0, 1350000.0};
  const double unitCost[] = {3000.0, 600.0, 3000.0 / 11.0};
  for (int y = 1; y <= 3; ++y) {
    const std::string at = "year " + std::to_string(y);
    expectRelative(yearly(model, out, 1, "shipments", y), shipments[y - 1], at);
    expectRelative(yearly(model, out, 1, "unit_cost_usd", y), unitCost[y - 1], at);
  }
  expectRelative(yearly(model, out, 1, "revenue_usd", 1), 3.4575e9, "Rev1");
  expectRelative(yearly(model, out, 1, "revenue_usd", 2), 5681868750.0, "Rev2");
  expectRelative(yearly(model, out, 1, "asp_usd", 3), 360.0 / 11.0 + 8457.5390625, "ASP3");
}

// Share capped at 1: phi = 4 in the single state, so s_y phi = 2/3, 1, 4/3 and
// D = 6e6 * 2/3, 12e6 * min(1, 1), 12e6 * min(1, 4/3) = 4e6, 12e6, 12e6.
TEST(TheadModelCases, ShareTimesMultiplierIsCappedAtOne) {
  Scenario s = handScenario();
  s.regime.shareMultiplier = {4.0};
  TheadModel model(s);
  BlockOutput out = evaluate(model, arbitraryUniforms(model.layout(), 2));
  const double shipments[] = {4e6, 12e6, 12e6};
  for (int y = 1; y <= 3; ++y) {
    expectRelative(yearly(model, out, 0, "shipments", y), shipments[y - 1],
                   "year " + std::to_string(y));
  }
}

// Two states that alternate (rows [0, 1] and [1, 0]) from R_0 = open: R = restricted, open,
// restricted. open: phi = 0.5, pi = -0.1; restricted: phi = 4, pi = 0.2.
//   D1 = 6e6 * min(1, 1/6 * 4) = 4e6;  D2 = 12e6 * min(1, 1/4 * 0.5) = 1.5e6;
//   D3 = 12e6 * min(1, 1/3 * 4) = 12e6
//   U0..U2 = 150,000, 4,150,000, 5,650,000;  K = 3,000, 3,000 * 3/83 = 9,000/83,
//   3,000 * 150,000 / 5,650,000 = 9,000/113
//   X1 = 10,000 * 0.9 * 1 * 1.2 * 0.75 = 8,100;  X2 = 10,000 * 0.81 * 1.25 * 0.9 * 0.75
//   = 6,834.375;  X3 = 10,000 * 0.729 * 1.5625 * 1.2 * 0.75 = 10,251.5625
//   ASP1 = 0.5 * 1.2 * 3,000 + 0.5 * 8,100 = 1,800 + 4,050 = 5,850
//   ASP2 = 0.3 * 1.2 * 9,000/83 + 0.7 * 6,834.375 = 3,240/83 + 4,784.0625
//   ASP3 = 0.1 * 1.2 * 9,000/113 + 0.9 * 10,251.5625 = 1,080/113 + 9,226.40625
//   Rev_0 (pi(open) = -0.1) = 150,000 (1,800 + 0.5 * 10,000 * 0.8 * 0.9 * 0.75) + 1e8
//         = 150,000 * 4,500 + 1e8 = 775e6
//   Rev1 = 4e6 * 5,850 + 1.5e8 = 23.55e9, so FCF1 sees rho (23.55e9 - 775e6) = 2.2775e9
TEST(TheadModelCases, RegimesAlternateAndScaleShareAndPrice) {
  Scenario s = handScenario();
  s.regime.states = {"open", "restricted"};
  s.regime.initial = 0;
  s.regime.transition = {{0.0, 1.0}, {1.0, 0.0}};
  s.regime.shareMultiplier = {0.5, 4.0};
  s.regime.pricePremium = {-0.1, 0.2};
  TheadModel model(s);
  const Layout& layout = model.layout();
  ASSERT_EQ(layout.yearlyOutputs.back().categories,
            (std::vector<std::string>{"open", "restricted"}));
  BlockOutput out = evaluate(model, arbitraryUniforms(layout, 5));
  const double regimes[] = {1, 0, 1};
  const double shipments[] = {4e6, 1.5e6, 12e6};
  const double unitCost[] = {3000.0, 9000.0 / 83.0, 9000.0 / 113.0};
  const double asp[] = {5850.0, 3240.0 / 83.0 + 4784.0625, 1080.0 / 113.0 + 9226.40625};
  for (Eigen::Index i = 0; i < 5; ++i) {
    for (int y = 1; y <= 3; ++y) {
      const std::string at = "path " + std::to_string(i) + " year " + std::to_string(y);
      EXPECT_EQ(yearly(model, out, i, "regime", y), regimes[y - 1]) << at;
      expectRelative(yearly(model, out, i, "shipments", y), shipments[y - 1], at);
      expectRelative(yearly(model, out, i, "unit_cost_usd", y), unitCost[y - 1], at);
      expectRelative(yearly(model, out, i, "asp_usd", y), asp[y - 1], at);
    }
    expectRelative(yearly(model, out, i, "revenue_usd", 1), 23.55e9, "Rev1");
    // EBIT1 = Gc1 + Go1 - Opex1 = (23.4e9 - 12e9) + 6e7 - (0.5 * 23.55e9 + 1e8) = -415e6,
    // so no tax; FCF1 = -415e6 - 0.1 (23.55e9 - 775e6) = -415e6 - 2,277.5e6 = -2,692.5e6.
    expectRelative(yearly(model, out, i, "fcf_usd", 1), -2692.5e6, "FCF1");
  }
}

// The regime uniform picks R_y by the inverse CDF of the row of R_{y-1}: the smallest k with
// cumulative probability >= u. From R_0 = 0 with row [0.25, 0.5, 0.25] (cumulative 0.25, 0.75,
// 1, all exact in binary): u = 0.1 -> 0, 0.25 -> 0, 0.3 -> 1, 0.75 -> 1, 0.76 -> 2, 0.99 -> 2.
TEST(TheadModelCases, RegimeDrawIsTheInverseCdfOfTheRow) {
  Scenario s = handScenario();
  s.regime.states = {"open", "restricted", "banned"};
  s.regime.initial = 0;
  s.regime.transition = {{0.25, 0.5, 0.25}, {0.0, 1.0, 0.0}, {0.0, 0.0, 1.0}};
  s.regime.shareMultiplier = {1.0, 1.0, 1.0};
  s.regime.pricePremium = {0.1, 0.1, 0.1};
  TheadModel model(s);
  const Layout& layout = model.layout();
  Eigen::MatrixXd u = arbitraryUniforms(layout, 6);
  const auto column = static_cast<Eigen::Index>(layout.yearlyDimension(1, 3));
  ASSERT_EQ(layout.dimensionName(static_cast<std::size_t>(column)), "regime.transition[1]");
  u.col(column) << 0.1, 0.25, 0.3, 0.75, 0.76, 0.99;
  BlockOutput out = evaluate(model, u);
  const double expected[] = {0, 0, 1, 1, 2, 2};
  for (Eigen::Index i = 0; i < 6; ++i) {
    EXPECT_EQ(yearly(model, out, i, "regime", 1), expected[i]) << "path " << i;
    // States 1 and 2 are absorbing.
    if (expected[i] > 0.0) {
      EXPECT_EQ(yearly(model, out, i, "regime", 3), expected[i]) << "path " << i;
    }
  }
}

// The chain over chains of 1, 2, 3, 5, 8 and 9 states (9 goes path by path, the others in
// lanes), on 2 and 4 lanes, against the inverse CDF written out here: R_y is the smallest k
// whose cumulative row probability (the row's running sum over its total) is >= u, capped at
// the row's last state of positive probability. Most rows end in zeros (states they cannot
// reach), and some uniforms sit exactly on a cumulative sum.
TEST(TheadModelCases, RegimeChainOfAnyNumberOfStates) {
  boost::random::mt19937_64 engine(11);
  for (std::size_t states : {1u, 2u, 3u, 5u, 8u, 9u}) {
    Scenario s = handScenario();
    s.regime.states.clear();
    s.regime.transition.clear();
    s.regime.shareMultiplier.clear();
    s.regime.pricePremium.clear();
    for (std::size_t k = 0; k < states; ++k) {
      s.regime.states.push_back("s" + std::to_string(k));
      std::vector<double> row(states, 0.0);
      // Row k reaches states 0 .. max(k, states - 2) with weights 1, 2, 3, ...
      for (std::size_t j = 0; j <= std::max<std::size_t>(k, states > 1 ? states - 2 : 0); ++j) {
        row[j] = static_cast<double>(j + 1);
      }
      s.regime.transition.push_back(row);
      s.regime.shareMultiplier.push_back(1.0);
      s.regime.pricePremium.push_back(0.0);
    }
    s.regime.initial = static_cast<int>(states / 2);
    TheadModel model(s);
    const Layout& layout = model.layout();
    const Eigen::Index paths = 37;
    Eigen::MatrixXd u = arbitraryUniforms(layout, paths);
    std::vector<std::vector<double>> cumulative;
    for (const auto& row : s.regime.transition) {
      double total = 0.0, sum = 0.0;
      for (double p : row) total += p;
      cumulative.emplace_back();
      for (double p : row) cumulative.back().push_back((sum += p) / total);
    }
    for (int y = 1; y <= s.horizonYears; ++y) {
      const auto column = static_cast<Eigen::Index>(layout.yearlyDimension(y, 3));
      for (Eigen::Index i = 0; i < paths; ++i) {
        u(i, column) = (static_cast<double>(engine() >> 11) + 0.5) * 0x1.0p-53;
      }
      u(static_cast<Eigen::Index>(y) % paths, column) = cumulative[0][0];
    }
    std::vector<int> widths = {2};
    if (vectorLanes() == 4) widths.push_back(4);
    for (int lanes : widths) {
      BlockOutput out;
      out.resize(layout, paths);
      model.evaluate(u, out, lanes);
      for (Eigen::Index i = 0; i < paths; ++i) {
        auto state = static_cast<std::size_t>(s.regime.initial);
        for (int y = 1; y <= s.horizonYears; ++y) {
          const double draw = u(i, static_cast<Eigen::Index>(layout.yearlyDimension(y, 3)));
          const auto& row = s.regime.transition[state];
          std::size_t k = 0;
          while (k + 1 < states && cumulative[state][k] < draw) ++k;
          std::size_t reachable = states - 1;
          while (row[reachable] == 0.0) --reachable;
          state = std::min(k, reachable);
          ASSERT_EQ(yearly(model, out, i, "regime", y), static_cast<double>(state))
              << states << " states, " << lanes << " lanes, path " << i << ", year " << y;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A statistical case with an exact answer. The hand scenario with one peer, m_inf = 10,
// h = 1, beta = sigma = 0, ev_sales lognormal with median 40 and log sd 0.8, and omega = 1.
// At tau = 1, 2^(-1) = 1/2 and ln m = (ln 10 + ln m0)/2 ~ N(ln 20, 0.4^2), so
//   ev_usd = (1 - eta) m Rev2 = 0.8 m Rev2 is lognormal with mu = ln(16 Rev2), s = 0.4:
//   median = 16 Rev2;  mean = median exp(s^2/2) = median e^0.08;
//   variance = mean^2 (e^(s^2) - 1) = mean^2 (e^0.16 - 1)
// with Rev2 = 418,350,937,500/23 from the hand derivation.
//
// Bounds, for n = 200,000 paths: the sample mean within k = 5 standard errors
// sqrt(variance / n) (two-sided normal tail 2(1 - Phi(5)) = 5.7e-7), the sample median within
// k = 5 asymptotic standard errors of the median, sqrt(p (1 - p) / (n f(q)^2)) with p = 1/2 and
// the lognormal density at the median f(q) = 1 / (q s sqrt(2 pi)), that is
// q s sqrt(2 pi) / (2 sqrt n) (again 5.7e-7). A correct build fails one of the two about
// 1.1e-6 of the time over seeds; the seed here is fixed. The sample standard deviation is
// checked within 5% of the exact one (its relative standard error is
// sqrt((kurtosis - 1) / (4 n)) = 0.0026 here, with kurtosis 6.26, so 5% is 19 of them).
TEST(TheadModelStatistics, EvIsLognormalWhenOnlyAPeerMultipleVaries) {
  Scenario s = handScenario();
  s.peers.longRunEvSales = constant(10.0);
  s.peers.list = {Peer{"Solo", Distribution(lognormalFromMedian(40.0, 0.8)), 0.0, 0.0, 2.0}};
  s.valuation.relativeWeight = 1.0;
  TheadModel model(s);
  const Layout& layout = model.layout();
  const auto dims = static_cast<Eigen::Index>(layout.dimensions());
  const Eigen::Index ev = static_cast<Eigen::Index>(*layout.outputIndex("ev_usd"));

  const std::int64_t n = 200000;
  const Eigen::Index block = 1024;
  boost::random::mt19937_64 engine(20260122);
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(n));
  Eigen::MatrixXd u;
  BlockOutput out;
  for (std::int64_t first = 0; first < n; first += block) {
    const Eigen::Index paths = static_cast<Eigen::Index>(std::min<std::int64_t>(block, n - first));
    u.resize(paths, dims);
    for (Eigen::Index d = 0; d < dims; ++d) {
      for (Eigen::Index i = 0; i < paths; ++i) {
        u(i, d) = (static_cast<double>(engine() >> 11) + 0.5) * 0x1.0p-53;
      }
    }
    out.resize(layout, paths);
    model.evaluate(u, out);
    for (Eigen::Index i = 0; i < paths; ++i) values.push_back(out.outputs(i, ev));
  }

  const double sigma = 0.4;
  const double median = 16.0 * 418350937500.0 / 23.0;
  const double mean = median * std::exp(sigma * sigma / 2.0);
  const double sd = mean * std::sqrt(std::expm1(sigma * sigma));
  const double root = std::sqrt(static_cast<double>(n));

  double sum = 0.0;
  for (double v : values) sum += v;
  const double sampleMean = sum / static_cast<double>(n);
  double squares = 0.0;
  for (double v : values) squares += (v - sampleMean) * (v - sampleMean);
  const double sampleSd = std::sqrt(squares / static_cast<double>(n - 1));
  EXPECT_NEAR(sampleMean, mean, 5.0 * sd / root);
  EXPECT_NEAR(sampleSd, sd, 0.05 * sd);

  // n is even: the sample median is the mean of the two middle order statistics.
  auto middle = values.begin() + n / 2;
  std::nth_element(values.begin(), middle, values.end());
  const double upper = *middle;
  const double lower = *std::max_element(values.begin(), middle);
  const double sampleMedian = 0.5 * (lower + upper);
  const double medianSe = median * sigma * std::sqrt(2.0 * std::numbers::pi) / (2.0 * root);
  EXPECT_NEAR(sampleMedian, median, 5.0 * medianSe);
}

// ---------------------------------------------------------------------------------------------
// The layout for two peers and H = 3: 30 leaves before the peers, 2 peer multiples, 9 leaves
// after them, the sector factor, 2 peer shocks and the listing: 45 static dimensions, plus
// 4 shocks x 3 years = 57.
TEST(TheadModelLayout, NamesAndSizesForTwoPeers) {
  TheadModel model(handScenario());
  const Layout& layout = model.layout();
  const std::vector<std::string> statics = {"market.units_base",
                                            "market.growth_start",
                                            "market.growth_end",
                                            "company.shipments_base",
                                            "company.share_ceiling",
                                            "company.adoption_speed",
                                            "company.capacity_base",
                                            "company.capacity_growth",
                                            "company.captive_share_start",
                                            "company.captive_share_end",
                                            "company.captive_markup",
                                            "pricing.h20_price_base",
                                            "pricing.h20_price_decline",
                                            "pricing.perf_ratio_base",
                                            "pricing.perf_drift",
                                            "pricing.entrant_discount",
                                            "cost.h20_unit_cost",
                                            "cost.advantage",
                                            "cost.learning_rate",
                                            "other_revenue.base",
                                            "other_revenue.growth",
                                            "other_revenue.gross_margin",
                                            "opex.ratio_start",
                                            "opex.ratio_end",
                                            "opex.fixed",
                                            "finance.tax_rate",
                                            "finance.reinvestment_rate",
                                            "finance.net_cash",
                                            "peers.long_run_ev_sales",
                                            "peers.half_life_years",
                                            "peers.list.A.ev_sales",
                                            "peers.list.B.ev_sales",
                                            "valuation.multiple_haircut",
                                            "valuation.wacc",
                                            "valuation.terminal_growth",
                                            "ipo.year",
                                            "ipo.offer_discount",
                                            "ipo.private_discount",
                                            "ipo.primary_raise",
                                            "ipo.float",
                                            "ipo.employee_pool",
                                            "peers.sentiment",
                                            "peers.list.A.shock",
                                            "peers.list.B.shock",
                                            "ipo.listed"};
  ASSERT_EQ(layout.staticInputs.size(), 45u);
  for (std::size_t d = 0; d < statics.size(); ++d) {
    EXPECT_EQ(layout.staticInputs[d].name, statics[d]) << "dimension " << d;
  }
  EXPECT_EQ(layout.yearlyShocks,
            (std::vector<std::string>{"market.shock", "company.execution_shock",
                                      "pricing.perf_shock", "regime.transition"}));
  EXPECT_EQ(layout.years, 3);
  EXPECT_EQ(layout.firstYear, 2026);
  EXPECT_EQ(layout.dimensions(), 57u);
  EXPECT_EQ(layout.dimensionName(45), "market.shock[1]");
  EXPECT_EQ(layout.dimensionName(56), "regime.transition[3]");

  // The extra dimensions' marginals; the [D] leaves carry the scenario's distributions.
  for (const char* name : {"peers.sentiment", "peers.list.A.shock", "peers.list.B.shock"}) {
    const auto& kind = layout.staticInputs[*layout.staticIndex(name)].distribution.kind();
    ASSERT_TRUE(std::holds_alternative<Normal>(kind)) << name;
    EXPECT_EQ(std::get<Normal>(kind).mean, 0.0);
    EXPECT_EQ(std::get<Normal>(kind).sd, 1.0);
  }
  const auto& listed = layout.staticInputs[*layout.staticIndex("ipo.listed")].distribution.kind();
  ASSERT_TRUE(std::holds_alternative<Bernoulli>(listed));
  EXPECT_EQ(std::get<Bernoulli>(listed).p, 1.0);
  const auto& peerA =
      layout.staticInputs[*layout.staticIndex("peers.list.A.ev_sales")].distribution.kind();
  ASSERT_TRUE(std::holds_alternative<Constant>(peerA));
  EXPECT_EQ(std::get<Constant>(peerA).value, 16.0);

  EXPECT_EQ(layout.outputs,
            (std::vector<std::string>{"ev_usd", "ev_relative_usd", "ev_dcf_usd", "equity_usd",
                                      "offer_value_usd", "mark_value_usd", "parent_stake_usd",
                                      "parent_per_ads_usd", "listed", "peer_multiple",
                                      "company_multiple"}));
  const std::vector<std::string> yearlyNames = {"shipments",   "asp_usd",      "unit_cost_usd",
                                                "revenue_usd", "gross_margin", "ebit_usd",
                                                "fcf_usd",     "regime"};
  ASSERT_EQ(layout.yearlyOutputs.size(), yearlyNames.size());
  for (std::size_t m = 0; m < yearlyNames.size(); ++m) {
    EXPECT_EQ(layout.yearlyOutputs[m].name, yearlyNames[m]);
    EXPECT_EQ(layout.yearlyOutputs[m].categorical(), m + 1 == yearlyNames.size());
  }
  EXPECT_EQ(layout.yearlyOutputs.back().categories, (std::vector<std::string>{"restricted"}));
}

TEST(TheadModelLayout, DimensionsDependOnlyOnPeersAndHorizon) {
  Scenario s = handScenario();
  s.market.growthStart = Distribution(Normal{0.3, 0.1});
  s.cost.advantage = Distribution(Uniform{0.3, 0.5});
  EXPECT_EQ(TheadModel(s).layout().dimensions(), 57u);
  s.horizonYears = 10;
  EXPECT_EQ(TheadModel(s).layout().dimensions(), 45u + 40u);
  s.peers.list.push_back(Peer{"C", constant(8.0), 0.5, 0.2, 1.0});
  EXPECT_EQ(TheadModel(s).layout().dimensions(), 47u + 40u);
}

TEST(TheadModelLayout, RejectsAnIpoYearOutsideTheHorizon) {
  Scenario s = handScenario();
  s.ipo.year = constant(2028.0);  // tau = 3 = H
  EXPECT_THROW(TheadModel{s}, std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// The yearly loop runs a few paths at a time in vector registers. Its outputs must not depend on
// the width (2 or 4 lanes) nor on where a path falls in the block: the base scenario's 21
// paths, whose last chunk is partial at either width, give the same bits as the same paths in a
// block of 64, and every output is finite.
TEST(TheadModelLanes, OutputsDoNotDependOnWidthOrPlaceInTheBlock) {
  const TheadModel model(loadScenario(testing::sourcePath("scenarios/thead-base.yaml")));
  const Layout& layout = model.layout();
  const auto dims = static_cast<Eigen::Index>(layout.dimensions());
  boost::random::mt19937_64 engine(7);
  Eigen::MatrixXd u(64, dims);
  for (Eigen::Index d = 0; d < dims; ++d) {
    for (Eigen::Index i = 0; i < 64; ++i) {
      u(i, d) = (static_cast<double>(engine() >> 11) + 0.5) * 0x1.0p-53;
    }
  }
  BlockOutput whole;
  whole.resize(layout, 64);
  model.evaluate(u, whole, 2);
  ASSERT_TRUE(whole.outputs.allFinite());
  ASSERT_TRUE(whole.yearly.allFinite());

  std::vector<int> widths = {2};
  if (vectorLanes() == 4) widths.push_back(4);
  for (int lanes : widths) {
    BlockOutput full, part;
    full.resize(layout, 64);
    model.evaluate(u, full, lanes);
    EXPECT_TRUE((full.outputs.array() == whole.outputs.array()).all()) << lanes << " lanes";
    EXPECT_TRUE((full.yearly.array() == whole.yearly.array()).all()) << lanes << " lanes";

    const Eigen::MatrixXd first = u.topRows(21);
    part.resize(layout, 21);
    model.evaluate(first, part, lanes);
    EXPECT_TRUE((part.outputs.array() == whole.outputs.topRows(21).array()).all())
        << lanes << " lanes";
    EXPECT_TRUE((part.yearly.array() == whole.yearly.topRows(21).array()).all())
        << lanes << " lanes";
  }
}

}  // namespace
}  // namespace spinval
