// Placeholder: being implemented.
#include "spinval/scenario_loader.hpp"
