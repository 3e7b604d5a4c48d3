// A validated T-Head scenario as plain structs: what the loader produces and the model reads.
// Fields marked [D] in docs/model.md are Distributions (a constant is a Distribution too);
// [C] fields are plain numbers. Every value here has passed the checks of docs/model.md.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "spinval/distribution.hpp"

namespace spinval {

struct SimulationDefaults {
  std::uint64_t paths = 100000;
  std::uint64_t seed = 1;
  std::string sampler = "mc";
};

struct MarketInputs {
  Distribution unitsBase, growthStart, growthEnd;
  double growthSigma = 0.0;
};

struct CompanyInputs {
  Distribution shipmentsBase, shareCeiling, adoptionSpeed;
  double executionSigma = 0.0;
  Distribution capacityBase, capacityGrowth, captiveShareStart, captiveShareEnd, captiveMarkup;
};

struct RegimeInputs {
  std::vector<std::string> states;
  int initial = 0;                              // index into states
  std::vector<std::vector<double>> transition;  // rows and columns in state order
  std::vector<double> shareMultiplier;          // phi, in state order
  std::vector<double> pricePremium;             // pi, in state order
};

struct PricingInputs {
  Distribution h20PriceBase, h20PriceDecline, perfRatioBase, perfDrift;
  double perfSigma = 0.0;
  Distribution entrantDiscount;
};

struct CostInputs {
  Distribution h20UnitCost, advantage, learningRate;
};

struct OtherRevenueInputs {
  Distribution base, growth, grossMargin;
};

struct OpexInputs {
  Distribution ratioStart, ratioEnd, fixed;
};

struct FinanceInputs {
  Distribution taxRate, reinvestmentRate, netCash;
};

struct Peer {
  std::string name;
  Distribution evSales;
  double beta = 0.0, sigma = 0.0, weight = 1.0;
};

struct PeerInputs {
  Distribution longRunEvSales, halfLifeYears;
  std::vector<Peer> list;
};

struct ValuationInputs {
  Distribution multipleHaircut;
  double relativeWeight = 0.5;
  Distribution wacc, terminalGrowth;
};

struct IpoInputs {
  Distribution year;  // calendar year, constant or discrete
  double probability = 1.0;
  Distribution offerDiscount, privateDiscount, primaryRaise, floatShare, employeePool;
};

struct ParentInputs {
  double adsOutstanding = 1.0;
};

// The options of the `correlation` mapping (docs/model.md section 2.2).
enum class CopulaFamily { gaussian, studentT };
enum class CorrelationKind { pearson, spearman };
enum class CorrelationRepair { error, nearest };

// A coefficient that `repair: nearest` changed, in the scenario's kind (a Spearman coefficient
// for kind spearman). `given` is 0 for a pair the scenario does not list.
struct RepairedCorrelation {
  std::string first, second;
  double given = 0.0, repaired = 0.0;
};

// The copula's target over named inputs (dotted [D] keys or "peers.sentiment"). `matrix` is
// the copula's correlation parameter: the scenario's coefficients (pairs not listed are 0),
// converted from Spearman when kind is spearman and repaired when repair is nearest. It is
// symmetric positive definite with a unit diagonal.
struct CorrelationInputs {
  std::vector<std::string> keys;
  Eigen::MatrixXd matrix;
  CopulaFamily method = CopulaFamily::gaussian;
  double dof = 0.0;  // degrees of freedom of the t copula; 0 for the Gaussian copula
  CorrelationKind kind = CorrelationKind::pearson;
  CorrelationRepair repair = CorrelationRepair::error;
  // When the matrix was repaired: the smallest eigenvalue before the repair, the iterations
  // the repair took, and every coefficient that changed, in matrix order.
  std::vector<RepairedCorrelation> repaired;
  double unrepairedEigenvalue = 0.0;
  int repairIterations = 0;

  bool empty() const { return keys.empty(); }
};

struct Scenario {
  std::string name;
  std::string description;
  std::string file;    // the file that was loaded (before extends)
  std::string sha256;  // of the merged scenario after --set, see scenario_loader.hpp
  int baseYear = 2025;
  int horizonYears = 10;
  SimulationDefaults simulation;

  MarketInputs market;
  CompanyInputs company;
  RegimeInputs regime;
  PricingInputs pricing;
  CostInputs cost;
  OtherRevenueInputs otherRevenue;
  OpexInputs opex;
  FinanceInputs finance;
  PeerInputs peers;
  ValuationInputs valuation;
  IpoInputs ipo;
  ParentInputs parent;
  CorrelationInputs correlations;
};

}  // namespace spinval
