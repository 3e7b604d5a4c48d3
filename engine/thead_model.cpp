// Placeholder: being implemented.
#include "spinval/thead_model.hpp"
