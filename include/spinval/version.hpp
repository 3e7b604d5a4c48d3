// The version spinval reports in --version and in every summary, and how the binary was built
// (for run manifests).
#pragma once

namespace spinval {

const char* version();       // "0.1.0"
const char* gitRevision();   // short git revision of the build, or "unknown"
const char* buildType();     // CMAKE_BUILD_TYPE: "Release", ...
const char* compiler();      // "GNU 12.2.0"
const char* compileFlags();  // the C++ flags of the build type, with -std and the warnings
bool mpiBuild();             // built with -DSPINVAL_MPI=ON

}  // namespace spinval
