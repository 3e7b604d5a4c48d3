// Small analytic models for engine tests, plugged in through the same Model interface as the
// T-Head model.
#pragma once

#include <cmath>
#include <limits>

#include "spinval/model.hpp"

namespace spinval::testing {

// One lognormal static input X = exp(mu + sigma Z) reported as output "x"; per year one
// standard-normal shock e_y, reported as the running sum "walk" (W_y = e_1 + ... + e_y, so
// W_y ~ N(0, y)) and the categorical "sign" (1 when e_y > 0, else 0).
class LognormalWalkModel final : public Model {
 public:
  LognormalWalkModel(double mu, double sigma, int years) {
    layout_.staticInputs.push_back({"x", Distribution(Lognormal{mu, sigma})});
    layout_.yearlyShocks = {"shock"};
    layout_.years = years;
    layout_.firstYear = 2026;
    layout_.outputs = {"x"};
    layout_.yearlyOutputs = {{"walk", {}}, {"sign", {"negative", "positive"}}};
  }

  const Layout& layout() const override { return layout_; }

  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& u, BlockOutput& out) const override {
    const auto& x = layout_.staticInputs[0].distribution;
    x.quantiles(u.col(0).data(), out.outputs.col(0).data(), static_cast<std::size_t>(u.rows()));
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      double walk = 0.0;
      for (int y = 1; y <= layout_.years; ++y) {
        const double e =
            normalQuantile(u(i, static_cast<Eigen::Index>(layout_.yearlyDimension(y, 0))));
        walk += e;
        out.yearly(i, y - 1) = walk;
        out.yearly(i, layout_.years + y - 1) = e > 0 ? 1.0 : 0.0;
      }
    }
  }

 private:
  Layout layout_;
};

// Outputs of three kinds, for the quantile windows: "x" = exp(mu + sigma Z) as in
// LognormalWalkModel, the indicator "above" (1 where x > 1, else 0: two values shared by many
// paths) and "constant" (2.5 on every path); and the yearly running sum "walk" of standard-normal
// shocks.
class MixedOutputsModel final : public Model {
 public:
  MixedOutputsModel(double mu, double sigma, int years) {
    layout_.staticInputs.push_back({"x", Distribution(Lognormal{mu, sigma})});
    layout_.yearlyShocks = {"shock"};
    layout_.years = years;
    layout_.firstYear = 2026;
    layout_.outputs = {"x", "above", "constant"};
    layout_.yearlyOutputs = {{"walk", {}}};
  }

  const Layout& layout() const override { return layout_; }

  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& u, BlockOutput& out) const override {
    const auto& x = layout_.staticInputs[0].distribution;
    x.quantiles(u.col(0).data(), out.outputs.col(0).data(), static_cast<std::size_t>(u.rows()));
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      out.outputs(i, 1) = out.outputs(i, 0) > 1.0 ? 1.0 : 0.0;
      out.outputs(i, 2) = 2.5;
      double walk = 0.0;
      for (int y = 1; y <= layout_.years; ++y) {
        walk += normalQuantile(u(i, static_cast<Eigen::Index>(layout_.yearlyDimension(y, 0))));
        out.yearly(i, y - 1) = walk;
      }
    }
  }

 private:
  Layout layout_;
};

// Output "u" is the uniform of static input "u", yearly output "y" is 2u and the categorical
// "state" is 0, except that where u < threshold one of them is not finite: "u" NaN (kOutput),
// "y" infinite (kYearly) or "state" NaN (kCategory).
class ThresholdNanModel final : public Model {
 public:
  enum Where { kOutput, kYearly, kCategory };

  explicit ThresholdNanModel(double threshold, Where where = kOutput)
      : threshold_(threshold), where_(where) {
    layout_.staticInputs.push_back({"u", Distribution(Uniform{0.0, 1.0})});
    layout_.years = 1;
    layout_.outputs = {"u"};
    layout_.yearlyOutputs = {{"y", {}}, {"state", {"a", "b"}}};
  }

  const Layout& layout() const override { return layout_; }

  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& u, BlockOutput& out) const override {
    constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      const bool bad = u(i, 0) < threshold_;
      out.outputs(i, 0) = bad && where_ == kOutput ? kNan : u(i, 0);
      out.yearly(i, 0) =
          bad && where_ == kYearly ? std::numeric_limits<double>::infinity() : 2.0 * u(i, 0);
      out.yearly(i, 1) = bad && where_ == kCategory ? kNan : 0.0;
    }
  }

 private:
  double threshold_;
  Where where_;
  Layout layout_;
};

}  // namespace spinval::testing

namespace spinval::testing {

// Output "f" = f(u) of `dimensions` independent uniforms (static inputs "u0", "u1", ...).
class FunctionModel final : public Model {
 public:
  using Function = double (*)(const double* u, int dimensions);

  FunctionModel(int dimensions, Function f) : dimensions_(dimensions), f_(f) {
    for (int d = 0; d < dimensions; ++d) {
      std::string name = "u";
      name += std::to_string(d);
      layout_.staticInputs.push_back({name, Distribution(Uniform{0.0, 1.0})});
    }
    layout_.years = 1;
    layout_.outputs = {"f"};
  }

  const Layout& layout() const override { return layout_; }

  void evaluate(const Eigen::Ref<const Eigen::MatrixXd>& u, BlockOutput& out) const override {
    double row[64];
    for (Eigen::Index i = 0; i < u.rows(); ++i) {
      for (int d = 0; d < dimensions_; ++d) row[d] = u(i, d);
      out.outputs(i, 0) = f_(row, dimensions_);
    }
  }

 private:
  int dimensions_;
  Function f_;
  Layout layout_;
};

}  // namespace spinval::testing
