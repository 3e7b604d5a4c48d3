// The version spinval reports in --version and in every summary.
#pragma once

namespace spinval {

const char* version();      // "0.1.0"
const char* gitRevision();  // short git revision of the build, or "unknown"

}  // namespace spinval
