// Input validation on all cores: are all values of a host array finite? (validate.py asks
// before it looks for the first bad index, which only a failing input pays for.)
#pragma once

#include <cstdint>

namespace anymo {

bool all_finite_f32(const float* x, int64_t n);
bool all_finite_f64(const double* x, int64_t n);

}  // namespace anymo
