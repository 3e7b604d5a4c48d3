// The T-Head valuation model of docs/model.md section 3 behind the Model interface: chip
// shipments against an export-control regime, pricing against H20-class parity, Wright's-law
// costs, a DCF and a peer-multiple valuation, and the IPO mechanics.
#pragma once

#include "spinval/model.hpp"
#include "spinval/scenario.hpp"

namespace spinval {

class TheadModel final : public Model {
 public:
  explicit TheadModel(Scenario scenario);

  const Layout& layout() const override { return layout_; }
  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& uniforms, BlockOutput& out) const override;
  // The same with the yearly loop's vector width forced (2, or 4 where vectorLanes() is 4 in
  // spinval/vector_math.hpp): the outputs' bits do not depend on it.
  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& uniforms, BlockOutput& out,
                int lanes) const;

  const Scenario& scenario() const { return scenario_; }

 private:
  Scenario scenario_;
  Layout layout_;
};

}  // namespace spinval
