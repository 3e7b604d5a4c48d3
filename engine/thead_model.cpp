#include "spinval/thead_model.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <numbers>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "simd_lanes.hpp"
#include "spinval/vector_math.hpp"

// The yearly loop's vectors stay inside functions compiled for their width (see simd_lanes.hpp).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace spinval {

namespace {

// Static dimensions of the [D] leaves before the peer list, in layout order.
enum Leaf : std::size_t {
  kUnitsBase,
  kGrowthStart,
  kGrowthEnd,
  kShipmentsBase,
  kShareCeiling,
  kAdoptionSpeed,
  kCapacityBase,
  kCapacityGrowth,
  kCaptiveShareStart,
  kCaptiveShareEnd,
  kCaptiveMarkup,
  kH20PriceBase,
  kH20PriceDecline,
  kPerfRatioBase,
  kPerfDrift,
  kEntrantDiscount,
  kH20UnitCost,
  kAdvantage,
  kLearningRate,
  kOtherBase,
  kOtherGrowth,
  kOtherGrossMargin,
  kOpexRatioStart,
  kOpexRatioEnd,
  kOpexFixed,
  kTaxRate,
  kReinvestmentRate,
  kNetCash,
  kLongRunEvSales,
  kHalfLifeYears,
  kLeavesBeforePeers
};

// Static dimensions after the peers' ev_sales, counted from the first of them.
enum TailLeaf : std::size_t {
  kMultipleHaircut,
  kWacc,
  kTerminalGrowth,
  kIpoYear,
  kOfferDiscount,
  kPrivateDiscount,
  kPrimaryRaise,
  kFloat,
  kEmployeePool,
  kTailLeaves
};

// Yearly shocks, in layout order.
enum Shock : std::size_t { kMarketShock, kExecutionShock, kPerfShock, kRegimeTransition, kShocks };

// Per-path outputs, in layout order.
enum Output : Eigen::Index {
  kEv,
  kEvRelative,
  kEvDcf,
  kEquity,
  kOfferValue,
  kMarkValue,
  kParentStake,
  kParentPerAds,
  kListed,
  kPeerMultiple,
  kCompanyMultiple
};

// Yearly outputs, in layout order.
enum YearlyOutputIndex : Eigen::Index {
  kShipments,
  kAsp,
  kUnitCost,
  kRevenue,
  kGrossMargin,
  kEbit,
  kFcf,
  kRegime
};

constexpr double kLn2 = std::numbers::ln2;

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument("TheadModel: " + message);
}

// e^x and ln x of a whole array through spinval/vector_math.hpp: a few lanes at a time, under
// an ulp, and the same bits on any processor.
template <class E>
Eigen::ArrayXd expOf(const Eigen::ArrayBase<E>& x) {
  Eigen::ArrayXd y = x;
  expInPlace(y.data(), static_cast<std::size_t>(y.size()));
  return y;
}
template <class E>
Eigen::ArrayXd logOf(const Eigen::ArrayBase<E>& x) {
  Eigen::ArrayXd y = x;
  logInPlace(y.data(), static_cast<std::size_t>(y.size()));
  return y;
}

// What the yearly loop (equations 1-13 and 16-17) reads and writes. Each pointer is to n doubles,
// one per path, but for the per-year tables, which hold year y's n values from y n on (column
// y of an n x H matrix; eps* are empty where their sigma is 0), and `yearly`, BlockOutput's
// n x (8 H) matrix, of which the loop writes every output but the regime.
struct YearlyLoop {
  std::size_t n;
  int years;
  double sigmaM, sigmaQ, sigmaR;
  const double *logM0, *g1, *gH, *sMax, *s0, *adoption, *C0, *gC, *costBase, *b, *Q0, *r0, *muR, *d,
      *P0, *delta, *c1, *cH, *muC, *O0, *gO, *gmO, *o1, *oH, *F, *theta, *rho, *rev0, *tau,
      *onePlusW;
  const double *epsM, *epsQ, *epsR, *phi, *pi;
  double* yearly;
  double *fcf, *dcf, *revForward, *discount;  // FCF_H, the DCF sum, Rev_{tau+1}, (1 + W)^-(H - tau)
};

template <int kWidth>
using Lanes = typename simd::Vector<kWidth>::Lanes;

// Paths i .. i + count - 1 of a block, one to a lane: all kWidth lanes, or the first `count`
// (Partial) with the others loaded as 1 and never stored.
template <int kWidth, bool Partial>
struct Chunk {
  std::size_t i, count;

  [[gnu::always_inline]] Lanes<kWidth> in(const double* column) const {
    Lanes<kWidth> v = Lanes<kWidth>{} + 1.0;
    std::memcpy(&v, column + i, (Partial ? count : kWidth) * sizeof(double));
    return v;
  }
  [[gnu::always_inline]] void put(double* column, Lanes<kWidth> v) const {
    std::memcpy(column + i, &v, (Partial ? count : kWidth) * sizeof(double));
  }
};

template <int kWidth>
[[gnu::always_inline]] inline Lanes<kWidth> laneExp(Lanes<kWidth> x) {
  return simd::evaluate<simd::Function::kExp, kWidth>(x);
}
template <int kWidth>
[[gnu::always_inline]] inline Lanes<kWidth> laneLog(Lanes<kWidth> x) {
  return simd::evaluate<simd::Function::kLog, kWidth>(x);
}

// std::min and std::max lane by lane, as Eigen's min() and max() of arrays take them (the first
// argument where the comparison is false, so a NaN there stays).
template <class V>
[[gnu::always_inline]] inline V minOf(V a, V b) {
  return b < a ? b : a;
}
template <class V>
[[gnu::always_inline]] inline V maxOf(V a, V b) {
  return a < b ? b : a;
}

// Every year of paths i .. i + count - 1 (count <= kWidth; all kWidth unless Partial), one path
// to a lane: the carried state stays in registers and only the outputs are written. The same
// IEEE operations in the same order as the equations' array form in docs/model.md, lane by lane,
// so the bits do not depend on kWidth.
template <int kWidth, bool Partial>
[[gnu::always_inline]] inline void years(const YearlyLoop& p, Chunk<kWidth, Partial> chunk) {
  using L = Lanes<kWidth>;
  const L zero = L{}, one = zero + 1.0;
  const std::size_t n = p.n;
  const int H = p.years;

  const L g1 = chunk.in(p.g1), gSpan = chunk.in(p.gH) - g1;
  const L sMax = chunk.in(p.sMax), shareGap = sMax / chunk.in(p.s0) - 1.0,
          adoption = chunk.in(p.adoption);
  const L C0 = chunk.in(p.C0), onePlusGC = 1.0 + chunk.in(p.gC);
  const L costBase = chunk.in(p.costBase), minusB = -chunk.in(p.b), Q0 = chunk.in(p.Q0);
  const L muR = chunk.in(p.muR), oneMinusD = 1.0 - chunk.in(p.d), P0 = chunk.in(p.P0);
  const L oneMinusDelta = 1.0 - chunk.in(p.delta);
  const L c1 = chunk.in(p.c1), cSpan = chunk.in(p.cH) - c1, onePlusMuC = 1.0 + chunk.in(p.muC);
  const L O0 = chunk.in(p.O0), onePlusGO = 1.0 + chunk.in(p.gO), gmO = chunk.in(p.gmO);
  const L o1 = chunk.in(p.o1), oSpan = chunk.in(p.oH) - o1, F = chunk.in(p.F);
  const L theta = chunk.in(p.theta), rho = chunk.in(p.rho), tau = chunk.in(p.tau),
          onePlusW = chunk.in(p.onePlusW);
  const double halfVarianceQ = 0.5 * p.sigmaQ * p.sigmaQ;

  // State carried from year to year.
  L logM = chunk.in(p.logM0);    // ln M_{y-1}
  L U = Q0;                      // U_{y-1}
  L r = chunk.in(p.r0);          // r_{y-1}
  L N = zero;                    // N_{y-1}, loss carried forward
  L revPrev = chunk.in(p.rev0);  // Rev_{y-1}
  L capacityGrowth = one;        // (1 + gC)^y
  L priceDecline = one;          // (1 - d)^y
  L otherGrowth = one;           // (1 + gO)^y
  L adoptionPower = one;         // exp(-kappa y), a running product
  L discount = one;              // (1 + W)^-(y - tau) once y > tau, else 1
  L dcf = zero;                  // 17. the sum over y = tau+1..y so far
  L revForward = zero;           // Rev_{tau+1}
  L fcf = zero;

  for (int y = 1; y <= H; ++y) {
    const double lambda = static_cast<double>(y - 1) / static_cast<double>(H - 1);
    const double yd = static_cast<double>(y);
    const std::size_t at = static_cast<std::size_t>(y - 1) * n;  // this year's in a table
    auto column = [&](std::size_t m) {
      return p.yearly + (m * static_cast<std::size_t>(H) + static_cast<std::size_t>(y - 1)) * n;
    };

    // 1. Market, kept as ln M_y: M_y itself only enters demand, through one exponential.
    L logGrowth = g1 + gSpan * lambda;
    if (p.sigmaM != 0.0) logGrowth += p.sigmaM * chunk.in(p.epsM + at);
    logM += logGrowth;

    // 2. Logistic share.
    adoptionPower *= adoption;
    const L share = sMax / (1.0 + shareGap * adoptionPower);

    // 4. Demand: M_y exp(sigma_Q eps - sigma_Q^2 / 2) as one exponential, at the
    // regime's share multiplier.
    const L logDemand =
        p.sigmaQ != 0.0 ? logM + (p.sigmaQ * chunk.in(p.epsQ + at) - halfVarianceQ) : logM;
    const L demand = laneExp<kWidth>(logDemand) * minOf(share * chunk.in(p.phi + at), one);

    // 5. Shipments against capacity.
    capacityGrowth *= onePlusGC;
    const L Q = minOf(demand, C0 * capacityGrowth);

    // 6. Unit cost on the cumulative units before this year; then U_y.
    const L K = costBase * laneExp<kWidth>(minusB * laneLog<kWidth>(U / Q0));
    U += Q;

    // 7. External price, at the regime's premium.
    r *= laneExp<kWidth>(p.sigmaR != 0.0 ? muR + p.sigmaR * chunk.in(p.epsR + at) : muR);
    priceDecline *= oneMinusD;
    const L X = P0 * priceDecline * r * (1.0 + chunk.in(p.pi + at)) * oneMinusDelta;

    // 8. Chip revenue and gross profit at captive share c_y.
    const L c = c1 + cSpan * lambda;
    const L Rc = Q * (c * K * onePlusMuC + (1.0 - c) * X);
    const L Gc = Rc - Q * K;

    // 9. Other revenue.
    otherGrowth *= onePlusGO;
    const L Ro = O0 * otherGrowth;
    const L Go = gmO * Ro;

    // 10. Revenue.
    const L rev = Rc + Ro;

    // 11. Operating expenses and EBIT.
    const L ebit = Gc + Go - ((o1 + oSpan * lambda) * rev + F);

    // 12. Tax with loss carry-forward.
    const L B = maxOf(ebit, zero);
    const L tax = theta * maxOf(B - N, zero);
    N = N - minOf(N, B) + maxOf(-ebit, zero);

    // 13. Free cash flow.
    fcf = ebit - tax - rho * maxOf(rev - revPrev, zero);
    revPrev = rev;

    // 16-17. Forward revenue and the discounted cash flows after the IPO.
    revForward += tau == yd - 1.0 ? rev : zero;
    const auto after = tau < yd;
    discount = after ? discount / onePlusW : discount;
    dcf += after ? fcf * discount : zero;

    // 8. ASP = Rc / Q, defined as 0 when nothing ships (only possible when demand underflows).
    chunk.put(column(kShipments), Q);
    chunk.put(column(kAsp), Q > 0.0 ? Rc / Q : zero);
    chunk.put(column(kUnitCost), K);
    chunk.put(column(kRevenue), rev);
    chunk.put(column(kGrossMargin), (Gc + Go) / rev);  // 10. GM_y
    chunk.put(column(kEbit), ebit);
    chunk.put(column(kFcf), fcf);
  }
  chunk.put(p.fcf, fcf);
  chunk.put(p.dcf, dcf);
  chunk.put(p.revForward, revForward);
  chunk.put(p.discount, discount);
}

template <int kWidth>
[[gnu::always_inline]] inline void yearsOfBlock(const YearlyLoop& p) {
  std::size_t i = 0;
  for (; i + kWidth <= p.n; i += kWidth) years(p, Chunk<kWidth, false>{i, kWidth});
  if (i < p.n) years(p, Chunk<kWidth, true>{i, p.n - i});
}

void yearsSse2(const YearlyLoop& p) {
  yearsOfBlock<2>(p);
}

[[gnu::target("avx2")]] void yearsAvx2(const YearlyLoop& p) {
  yearsOfBlock<4>(p);
}

// The regime chain of equation 3 over a block: R_y is the smallest state k whose cumulative
// transition probability from R_{y-1} is >= u, that is the number of the row's first states - 1
// entries below u, capped at the row's last reachable state. States are held as doubles (exact
// small integers), so that lanes can choose a row's entries by comparison instead of by index.
struct RegimeLoop {
  std::size_t n;
  int years;
  std::size_t states;
  double initial;
  const double *cumulative, *lastReachable;      // [from * states + k]; [from]
  const double *shareMultiplier, *pricePremium;  // [k]
  const double* const* u;                        // the transition uniforms of each year
  double *state, *phi, *pi;                      // columns of n for years 1 .. H in turn
};

// Rows are chosen by comparing with each state in turn: up to this many states.
constexpr std::size_t kMaxLaneStates = 8;

// Paths `first` .. n - 1, one at a time.
void regimePaths(const RegimeLoop& c, std::size_t first) {
  for (std::size_t i = first; i < c.n; ++i) {
    auto from = static_cast<std::size_t>(c.initial);
    for (int y = 0; y < c.years; ++y) {
      const std::size_t at = static_cast<std::size_t>(y) * c.n + i;
      const double u = c.u[y][i];
      const double* row = c.cumulative + from * c.states;
      double below = 0.0;
      for (std::size_t j = 0; j + 1 < c.states; ++j) below += u > row[j] ? 1.0 : 0.0;
      from = static_cast<std::size_t>(std::min(below, c.lastReachable[from]));
      c.state[at] = static_cast<double>(from);
      c.phi[at] = c.shareMultiplier[from];
      c.pi[at] = c.pricePremium[from];
    }
  }
}

// tables[k] in each lane whose state is k, for states 0 .. S - 1 (`values` holds k itself).
template <std::size_t S, class L>
[[gnu::always_inline]] inline L pick(L state, const L* values, const L* tables) {
  L v = tables[S - 1];
  for (std::size_t k = S - 1; k-- > 0;) v = state == values[k] ? tables[k] : v;
  return v;
}

// kWidth paths at a time, their states in one register, for S states: each table entry is
// picked by comparing the state with every state in turn. The same comparisons and the same
// table entries as regimePaths, so the same bits.
template <int kWidth, std::size_t S>
[[gnu::always_inline]] inline void regimeLanes(const RegimeLoop& c) {
  using L = Lanes<kWidth>;
  // The tables in registers, one entry to a register.
  L values[S], thresholds[S > 1 ? S - 1 : 1][S], last[S], multiplier[S], premium[S];
  for (std::size_t k = 0; k < S; ++k) {
    values[k] = L{} + static_cast<double>(k);
    for (std::size_t j = 0; j + 1 < S; ++j) thresholds[j][k] = L{} + c.cumulative[k * S + j];
    last[k] = L{} + c.lastReachable[k];
    multiplier[k] = L{} + c.shareMultiplier[k];
    premium[k] = L{} + c.pricePremium[k];
  }
  const L initial = L{} + c.initial;
  const std::size_t body = c.n / kWidth * kWidth;
  for (int y = 0; y < c.years; ++y) {
    // Year by year, each a pass over the paths reading the year before's states.
    for (std::size_t i = 0; i < body; i += kWidth) {
      const std::size_t at = static_cast<std::size_t>(y) * c.n + i;
      L state = initial, u;
      if (y > 0) std::memcpy(&state, c.state + at - c.n, sizeof state);
      std::memcpy(&u, c.u[y] + i, sizeof u);
      L below = L{};
      for (std::size_t j = 0; j + 1 < S; ++j) {
        below += u > pick<S>(state, values, thresholds[j]) ? 1.0 : 0.0;
      }
      state = minOf(below, pick<S>(state, values, last));
      const L phi = pick<S>(state, values, multiplier), pi = pick<S>(state, values, premium);
      std::memcpy(c.state + at, &state, sizeof state);
      std::memcpy(c.phi + at, &phi, sizeof phi);
      std::memcpy(c.pi + at, &pi, sizeof pi);
    }
  }
  regimePaths(c, body);
}

template <std::size_t S>
void regimeSse2(const RegimeLoop& c) {
  regimeLanes<2, S>(c);
}
template <std::size_t... S>
constexpr auto regimesSse2(std::index_sequence<S...>) {
  return std::array{&regimeSse2<S + 1>...};
}
template <std::size_t S>
[[gnu::target("avx2")]] void regimeAvx2(const RegimeLoop& c) {
  regimeLanes<4, S>(c);
}
template <std::size_t... S>
constexpr auto regimesAvx2(std::index_sequence<S...>) {
  return std::array{&regimeAvx2<S + 1>...};
}

// The chain on `lanes` lanes (2 or 4) for up to kMaxLaneStates states, else path by path.
void regimeChain(const RegimeLoop& c, int lanes) {
  static constexpr auto kSse2 = regimesSse2(std::make_index_sequence<kMaxLaneStates>{});
  static constexpr auto kAvx2 = regimesAvx2(std::make_index_sequence<kMaxLaneStates>{});
  if (c.states == 0 || c.states > kMaxLaneStates) return regimePaths(c, 0);
  (lanes == 4 ? kAvx2 : kSse2)[c.states - 1](c);
}

}  // namespace

TheadModel::TheadModel(Scenario scenario) : scenario_(std::move(scenario)) {
  const Scenario& s = scenario_;
  const RegimeInputs& regime = s.regime;
  const std::size_t states = regime.states.size();
  require(s.horizonYears >= 2, "horizon_years must be at least 2");
  require(states >= 1, "regime.states is empty");
  require(regime.initial >= 0 && static_cast<std::size_t>(regime.initial) < states,
          "regime.initial is not a state index");
  require(regime.transition.size() == states && regime.shareMultiplier.size() == states &&
              regime.pricePremium.size() == states,
          "regime tables do not match the number of states");
  for (const auto& row : regime.transition) {
    require(row.size() == states, "a regime.transition row does not match the number of states");
  }
  require(!s.peers.list.empty(), "peers.list is empty");
  require(
      s.ipo.year.lower() >= s.baseYear + 1 && s.ipo.year.upper() <= s.baseYear + s.horizonYears - 1,
      "ipo.year must lie strictly inside the horizon");

  auto add = [this](std::string name, const Distribution& distribution) {
    layout_.staticInputs.push_back({std::move(name), distribution});
  };
  add("market.units_base", s.market.unitsBase);
  add("market.growth_start", s.market.growthStart);
  add("market.growth_end", s.market.growthEnd);
  add("company.shipments_base", s.company.shipmentsBase);
  add("company.share_ceiling", s.company.shareCeiling);
  add("company.adoption_speed", s.company.adoptionSpeed);
  add("company.capacity_base", s.company.capacityBase);
  add("company.capacity_growth", s.company.capacityGrowth);
  add("company.captive_share_start", s.company.captiveShareStart);
  add("company.captive_share_end", s.company.captiveShareEnd);
  add("company.captive_markup", s.company.captiveMarkup);
  add("pricing.h20_price_base", s.pricing.h20PriceBase);
  add("pricing.h20_price_decline", s.pricing.h20PriceDecline);
  add("pricing.perf_ratio_base", s.pricing.perfRatioBase);
  add("pricing.perf_drift", s.pricing.perfDrift);
  add("pricing.entrant_discount", s.pricing.entrantDiscount);
  add("cost.h20_unit_cost", s.cost.h20UnitCost);
  add("cost.advantage", s.cost.advantage);
  add("cost.learning_rate", s.cost.learningRate);
  add("other_revenue.base", s.otherRevenue.base);
  add("other_revenue.growth", s.otherRevenue.growth);
  add("other_revenue.gross_margin", s.otherRevenue.grossMargin);
  add("opex.ratio_start", s.opex.ratioStart);
  add("opex.ratio_end", s.opex.ratioEnd);
  add("opex.fixed", s.opex.fixed);
  add("finance.tax_rate", s.finance.taxRate);
  add("finance.reinvestment_rate", s.finance.reinvestmentRate);
  add("finance.net_cash", s.finance.netCash);
  add("peers.long_run_ev_sales", s.peers.longRunEvSales);
  add("peers.half_life_years", s.peers.halfLifeYears);
  for (const Peer& peer : s.peers.list) add("peers.list." + peer.name + ".ev_sales", peer.evSales);
  add("valuation.multiple_haircut", s.valuation.multipleHaircut);
  add("valuation.wacc", s.valuation.wacc);
  add("valuation.terminal_growth", s.valuation.terminalGrowth);
  add("ipo.year", s.ipo.year);
  add("ipo.offer_discount", s.ipo.offerDiscount);
  add("ipo.private_discount", s.ipo.privateDiscount);
  add("ipo.primary_raise", s.ipo.primaryRaise);
  add("ipo.float", s.ipo.floatShare);
  add("ipo.employee_pool", s.ipo.employeePool);
  add("peers.sentiment", Distribution(Normal{0.0, 1.0}));
  for (const Peer& peer : s.peers.list) {
    add("peers.list." + peer.name + ".shock", Distribution(Normal{0.0, 1.0}));
  }
  add("ipo.listed", Distribution(Bernoulli{s.ipo.probability}));

  layout_.yearlyShocks = {"market.shock", "company.execution_shock", "pricing.perf_shock",
                          "regime.transition"};
  layout_.years = s.horizonYears;
  layout_.firstYear = s.baseYear + 1;
  layout_.outputs = {"ev_usd",          "ev_relative_usd", "ev_dcf_usd",       "equity_usd",
                     "offer_value_usd", "mark_value_usd",  "parent_stake_usd", "parent_per_ads_usd",
                     "listed",          "peer_multiple",   "company_multiple"};
  layout_.yearlyOutputs = {{"shipments", {}},   {"asp_usd", {}},          {"unit_cost_usd", {}},
                           {"revenue_usd", {}}, {"gross_margin", {}},     {"ebit_usd", {}},
                           {"fcf_usd", {}},     {"regime", regime.states}};
}

void TheadModel::evaluate(const Eigen::Ref<const Eigen::MatrixXd>& uniforms,
                          BlockOutput& out) const {
  evaluate(uniforms, out, vectorLanes());
}

void TheadModel::evaluate(const Eigen::Ref<const Eigen::MatrixXd>& uniforms, BlockOutput& out,
                          int lanes) const {
  using Eigen::ArrayXd;
  using Eigen::ArrayXi;
  const Scenario& s = scenario_;
  const RegimeInputs& regime = s.regime;
  const Eigen::Index n = uniforms.rows();
  const int H = s.horizonYears;
  require(static_cast<std::size_t>(uniforms.cols()) == layout_.dimensions(),
          "the uniform block does not have the layout's dimensions");
  require(out.outputs.rows() == n && out.yearly.rows() == n &&
              out.outputs.cols() == static_cast<Eigen::Index>(layout_.outputs.size()) &&
              out.yearly.cols() == static_cast<Eigen::Index>(layout_.yearlyOutputs.size()) * H,
          "the output block is not sized for the layout (call BlockOutput::resize)");
  const std::size_t peers = s.peers.list.size();
  const std::size_t statics = layout_.staticInputs.size();
  const std::size_t tail = kLeavesBeforePeers + peers;  // first static after the peers' ev_sales
  const std::size_t sentiment = tail + kTailLeaves;     // F, then eps_j, then L
  const std::size_t listedDim = sentiment + 1 + peers;

  // Every static column through its marginal's inverse CDF.
  Eigen::MatrixXd x(n, static_cast<Eigen::Index>(statics));
  for (std::size_t d = 0; d < statics; ++d) {
    const auto col = static_cast<Eigen::Index>(d);
    layout_.staticInputs[d].distribution.quantiles(uniforms.col(col).data(), x.col(col).data(),
                                                   static_cast<std::size_t>(n));
  }
  auto in = [&x](std::size_t d) { return x.col(static_cast<Eigen::Index>(d)).array(); };

  const auto M0 = in(kUnitsBase), g1 = in(kGrowthStart), gH = in(kGrowthEnd);
  const auto Q0 = in(kShipmentsBase), sMax = in(kShareCeiling), kappa = in(kAdoptionSpeed);
  const auto C0 = in(kCapacityBase), gC = in(kCapacityGrowth);
  const auto c1 = in(kCaptiveShareStart), cH = in(kCaptiveShareEnd), muC = in(kCaptiveMarkup);
  const auto P0 = in(kH20PriceBase), d = in(kH20PriceDecline), r0 = in(kPerfRatioBase);
  const auto muR = in(kPerfDrift), delta = in(kEntrantDiscount);
  const auto KH = in(kH20UnitCost), a = in(kAdvantage), LR = in(kLearningRate);
  const auto O0 = in(kOtherBase), gO = in(kOtherGrowth), gmO = in(kOtherGrossMargin);
  const auto o1 = in(kOpexRatioStart), oH = in(kOpexRatioEnd), F = in(kOpexFixed);
  const auto theta = in(kTaxRate), rho = in(kReinvestmentRate), netCash = in(kNetCash);
  const auto mInf = in(kLongRunEvSales), halfLife = in(kHalfLifeYears);
  const auto eta = in(tail + kMultipleHaircut), W = in(tail + kWacc);
  const auto gInf = in(tail + kTerminalGrowth), ipoYear = in(tail + kIpoYear);
  const auto dO = in(tail + kOfferDiscount), dP = in(tail + kPrivateDiscount);
  const auto raise = in(tail + kPrimaryRaise), floatShare = in(tail + kFloat);
  const auto pool = in(tail + kEmployeePool), listed = in(listedDim);

  const double sigmaM = s.market.growthSigma, sigmaQ = s.company.executionSigma;
  const double sigmaR = s.pricing.perfSigma;
  auto yearlyColumn = [this](int y, std::size_t shock) {
    return static_cast<Eigen::Index>(layout_.yearlyDimension(y, shock));
  };

  // Regime tables: cumulative transition rows, normalised so each ends at exactly 1 (rows sum
  // to 1 within 1e-9), and the last state of each row with positive probability, where a
  // uniform above every cumulative sum lands rather than on a state the row cannot reach.
  const std::size_t states = regime.states.size();
  std::vector<double> cumulative(states * states);
  std::vector<double> lastReachable(states, 0.0);
  for (std::size_t i = 0; i < states; ++i) {
    const auto& row = regime.transition[i];
    double total = 0.0;
    for (double p : row) total += p;
    double sum = 0.0;
    for (std::size_t k = 0; k < states; ++k) {
      sum += row[k];
      cumulative[i * states + k] = sum / total;
      if (row[k] > 0.0) lastReachable[i] = static_cast<double>(k);
    }
  }

  // 14. IPO at the end of year tau (a whole number of years; ipo.year is a calendar year).
  const ArrayXd tau = (ipoYear - static_cast<double>(s.baseYear)).round();

  // 6. Wright's-law exponent b = -log2(1 - LR).
  const ArrayXd b = -logOf(1.0 - LR) / kLn2;

  // 10. Base-year revenue, at the initial regime and the year-1 captive share.
  const double pi0 = regime.pricePremium[static_cast<std::size_t>(regime.initial)];
  const ArrayXd costBase = KH * (1.0 - a);  // K_H (1 - a), the unit cost at U = U_0
  const ArrayXd rev0 =
      Q0 * (c1 * costBase * (1.0 + muC) + (1.0 - c1) * P0 * r0 * (1.0 + pi0) * (1.0 - delta)) + O0;

  // 3. Regime: R_y is the inverse CDF of the transition row of R_{y-1} at the uniform, the
  // smallest state k whose cumulative row probability is >= u, capped at the row's last
  // reachable state. The row is non-decreasing, so k is the number of its first states - 1
  // entries below u: counted without branches, which a random u would mispredict, a few paths
  // to a register (regimeChain). The chain depends on nothing else, so it runs first, for every
  // year.
  Eigen::MatrixXd phi(n, H), pi(n, H);
  std::vector<const double*> regimeUniforms;
  for (int y = 1; y <= H; ++y) {
    regimeUniforms.push_back(uniforms.col(yearlyColumn(y, kRegimeTransition)).data());
  }
  const RegimeLoop chain{.n = static_cast<std::size_t>(n),
                         .years = H,
                         .states = states,
                         .initial = static_cast<double>(regime.initial),
                         .cumulative = cumulative.data(),
                         .lastReachable = lastReachable.data(),
                         .shareMultiplier = regime.shareMultiplier.data(),
                         .pricePremium = regime.pricePremium.data(),
                         .u = regimeUniforms.data(),
                         .state = out.yearly.col(kRegime * H).data(),
                         .phi = phi.data(),
                         .pi = pi.data()};
  regimeChain(chain, lanes);

  // The yearly shocks' normal scores, every year's at once.
  auto scores = [&](double sigma, std::size_t k) {
    Eigen::MatrixXd eps(sigma != 0.0 ? n : 0, H);
    for (int y = 1; y <= H && sigma != 0.0; ++y) {
      normalQuantiles(uniforms.col(yearlyColumn(y, k)).data(), eps.col(y - 1).data(),
                      static_cast<std::size_t>(n));
    }
    return eps;
  };
  const Eigen::MatrixXd epsM = scores(sigmaM, kMarketShock);
  const Eigen::MatrixXd epsQ = scores(sigmaQ, kExecutionShock);
  const Eigen::MatrixXd epsR = scores(sigmaR, kPerfShock);

  // 1-13, 16-17: the years, path by path in vector registers.
  const ArrayXd logM0 = logOf(M0);
  const ArrayXd s0 = Q0 / M0;              // 2. s0 = Q0 / M0
  const ArrayXd adoption = expOf(-kappa);  // exp(-kappa)
  const ArrayXd onePlusW = 1.0 + W;
  ArrayXd fcf(n), dcf(n), revForward(n), discount(n);
  const YearlyLoop loop{.n = static_cast<std::size_t>(n),
                        .years = H,
                        .sigmaM = sigmaM,
                        .sigmaQ = sigmaQ,
                        .sigmaR = sigmaR,
                        .logM0 = logM0.data(),
                        .g1 = g1.data(),
                        .gH = gH.data(),
                        .sMax = sMax.data(),
                        .s0 = s0.data(),
                        .adoption = adoption.data(),
                        .C0 = C0.data(),
                        .gC = gC.data(),
                        .costBase = costBase.data(),
                        .b = b.data(),
                        .Q0 = Q0.data(),
                        .r0 = r0.data(),
                        .muR = muR.data(),
                        .d = d.data(),
                        .P0 = P0.data(),
                        .delta = delta.data(),
                        .c1 = c1.data(),
                        .cH = cH.data(),
                        .muC = muC.data(),
                        .O0 = O0.data(),
                        .gO = gO.data(),
                        .gmO = gmO.data(),
                        .o1 = o1.data(),
                        .oH = oH.data(),
                        .F = F.data(),
                        .theta = theta.data(),
                        .rho = rho.data(),
                        .rev0 = rev0.data(),
                        .tau = tau.data(),
                        .onePlusW = onePlusW.data(),
                        .epsM = epsM.data(),
                        .epsQ = epsQ.data(),
                        .epsR = epsR.data(),
                        .phi = phi.data(),
                        .pi = pi.data(),
                        .yearly = out.yearly.data(),
                        .fcf = fcf.data(),
                        .dcf = dcf.data(),
                        .revForward = revForward.data(),
                        .discount = discount.data()};
  if (lanes == 4) {
    yearsAvx2(loop);
  } else {
    yearsSse2(loop);
  }

  // 17. Terminal value on FCF_H, discounted (1 + W)^-(H - tau) (the last `discount`).
  const ArrayXd evDcf = dcf + fcf * (1.0 + gInf) / (W - gInf) * discount;

  // 15. Peer multiples at tau: reversion to m_inf with half-life h, sector factor, own shock.
  const ArrayXd reversion = expOf(-tau / halfLife * kLn2);  // 2^(-tau / h)
  const ArrayXd logMInf = logOf(mInf);
  const auto factor = in(sentiment);
  ArrayXd weighted = ArrayXd::Zero(n);
  double totalWeight = 0.0;
  for (std::size_t j = 0; j < peers; ++j) {
    const Peer& peer = s.peers.list[j];
    const auto mJ0 = in(kLeavesBeforePeers + j);
    const auto epsJ = in(sentiment + 1 + j);
    weighted += peer.weight * expOf(logMInf + (logOf(mJ0) - logMInf) * reversion +
                                    peer.beta * factor + peer.sigma * epsJ);
    totalWeight += peer.weight;
  }
  const ArrayXd mPeer = weighted / totalWeight;
  const ArrayXd mC = mPeer * (1.0 - eta);

  // 16. Relative value on forward revenue.
  const ArrayXd evRel = mC * revForward;

  // 18. EV and equity.
  const double omega = s.valuation.relativeWeight;
  const ArrayXd ev = omega * evRel + (1.0 - omega) * evDcf;
  const ArrayXd equity = ev + netCash + raise;

  // 19. Offer value, listing and mark.
  const ArrayXd offer = equity * (1.0 - dO);

  // 20. The parent's stake after the employee pool and the float, and per ADS.
  const ArrayXd stake = equity * (1.0 - pool) * (1.0 - floatShare);

  out.outputs.col(kEv) = ev;
  out.outputs.col(kEvRelative) = evRel;
  out.outputs.col(kEvDcf) = evDcf;
  out.outputs.col(kEquity) = equity;
  out.outputs.col(kOfferValue) = offer;
  out.outputs.col(kMarkValue) = (listed > 0.5).select(offer, equity * (1.0 - dP));
  out.outputs.col(kParentStake) = stake;
  out.outputs.col(kParentPerAds) = stake / s.parent.adsOutstanding;
  out.outputs.col(kListed) = listed;
  out.outputs.col(kPeerMultiple) = mPeer;
  out.outputs.col(kCompanyMultiple) = mC;
}

}  // namespace spinval
