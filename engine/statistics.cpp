// Placeholder: being implemented.
#include "spinval/statistics.hpp"
