// Placeholder: being implemented.
#include "spinval/report.hpp"
