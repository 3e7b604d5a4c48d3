// Placeholder: being implemented.
#include "spinval/copula.hpp"
