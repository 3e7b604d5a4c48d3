// Placeholder: being implemented.
#include "spinval/distribution.hpp"
