// The one point of variation between the engine and a valuation model. A Model declares the
// uniforms one path consumes (its Layout) and evaluates a block of paths from them into
// per-path and per-path-per-year outputs. The sampler, copula, statistics and simulation loop
// know nothing else about the model, so tests plug in small analytic models the same way the
// T-Head model plugs in.
//
// Dimension layout of one path (the columns of the uniform block):
//   [0, S)                        static inputs, in Layout::staticInputs order
//   S + (y - 1) * K + k           yearly shock k of year y (1-based), K = yearlyShocks.size()
//   S + H * K + e                 engine dimension e, H = years: uniforms the engine draws for
//                                 itself after the model's ("copula.chi2", the t copula's
//                                 chi-square draw; see copula.hpp)
// A model's own layout has no engine dimensions; the simulation appends them to a copy for the
// sampler and hands the model only the leading columns, its own.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "spinval/distribution.hpp"

namespace spinval {

// A dimension drawn once per path: its dotted name and its marginal distribution (the model
// applies `distribution.quantile` to the dimension's uniform). The engine uses the marginal to
// pin an input at a quantile, or to report it, without knowing what it means.
struct StaticInput {
  std::string name;
  Distribution distribution;
};

// An output per path and year. A categorical output (a regime) holds category indices and is
// summarised by the share of paths in each category rather than by quantiles.
struct YearlyOutput {
  std::string name;
  std::vector<std::string> categories;
  bool categorical() const { return !categories.empty(); }
};

struct Layout {
  std::vector<StaticInput> staticInputs;
  std::vector<std::string> yearlyShocks;  // one uniform per year each
  int years = 0;
  std::vector<std::string> engineDimensions;  // after the yearly shocks, by name
  int firstYear = 1;  // calendar year of year 1, for labelling yearly outputs

  std::vector<std::string> outputs;  // per-path outputs
  std::vector<YearlyOutput> yearlyOutputs;

  std::size_t dimensions() const { return modelDimensions() + engineDimensions.size(); }
  // The dimensions the model reads: static inputs and yearly shocks.
  std::size_t modelDimensions() const {
    return staticInputs.size() + yearlyShocks.size() * static_cast<std::size_t>(years);
  }
  std::size_t yearlyDimension(int year, std::size_t shock) const {
    return staticInputs.size() + static_cast<std::size_t>(year - 1) * yearlyShocks.size() + shock;
  }
  // Name of any dimension: a static input's name, "shock[year]" for a yearly shock, or an
  // engine dimension's name.
  std::string dimensionName(std::size_t dimension) const;
  std::optional<std::size_t> staticIndex(const std::string& name) const;
  std::optional<std::size_t> outputIndex(const std::string& name) const;
  std::optional<std::size_t> yearlyOutputIndex(const std::string& name) const;
};

// A block's outputs, structure of arrays: row i is path i of the block.
//   outputs(i, k)                       per-path output k
//   yearly(i, m * years + (y - 1))      yearly output m in year y (1-based)
struct BlockOutput {
  Eigen::MatrixXd outputs;
  Eigen::MatrixXd yearly;

  void resize(const Layout& layout, Eigen::Index paths);
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const Layout& layout() const = 0;
  // uniforms: paths x layout().dimensions() (the model's own columns, see the dimension layout
  // above), each entry in (0, 1), already through the copula.
  // Fills `out`, which the caller has sized with out.resize(layout(), paths). Must be callable
  // from several threads at once.
  virtual void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& uniforms,
                        BlockOutput& out) const = 0;
};

}  // namespace spinval
