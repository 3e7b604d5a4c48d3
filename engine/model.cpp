#include "spinval/model.hpp"

namespace spinval {

std::string Layout::dimensionName(std::size_t dimension) const {
  if (dimension < staticInputs.size()) return staticInputs[dimension].name;
  if (dimension >= modelDimensions()) return engineDimensions.at(dimension - modelDimensions());
  std::size_t k = dimension - staticInputs.size();
  std::size_t year = k / yearlyShocks.size() + 1;
  return yearlyShocks[k % yearlyShocks.size()] + "[" + std::to_string(year) + "]";
}

namespace {

template <class Range, class NameOf>
std::optional<std::size_t> indexOf(const Range& range, const std::string& name, NameOf nameOf) {
  for (std::size_t i = 0; i < range.size(); ++i) {
    if (nameOf(range[i]) == name) return i;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::size_t> Layout::staticIndex(const std::string& name) const {
  return indexOf(staticInputs, name, [](const StaticInput& s) { return s.name; });
}

std::optional<std::size_t> Layout::outputIndex(const std::string& name) const {
  return indexOf(outputs, name, [](const std::string& s) { return s; });
}

std::optional<std::size_t> Layout::yearlyOutputIndex(const std::string& name) const {
  return indexOf(yearlyOutputs, name, [](const YearlyOutput& s) { return s.name; });
}

void BlockOutput::resize(const Layout& layout, Eigen::Index paths) {
  outputs.resize(paths, static_cast<Eigen::Index>(layout.outputs.size()));
  yearly.resize(paths, static_cast<Eigen::Index>(layout.yearlyOutputs.size()) * layout.years);
}

}  // namespace spinval
