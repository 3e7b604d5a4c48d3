// Placeholder: being implemented.
#include "spinval/sampler.hpp"
