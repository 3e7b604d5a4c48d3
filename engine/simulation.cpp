// Placeholder: being implemented.
#include "spinval/simulation.hpp"
