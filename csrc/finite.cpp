// all_finite (finite.h): the exponent bits of every value, or-reduced in integer vector lanes
// (a float reduction would not vectorise without reassociation).
#include "anymo/finite.h"

#include <cstring>

namespace anymo {

namespace {
template <class F, class U, U kExp>
bool all_finite(const F* x, int64_t n) {
  int bad = 0;
#pragma omp parallel for simd schedule(static) reduction(| : bad)
  for (int64_t i = 0; i < n; ++i) {
    U b;
    std::memcpy(&b, x + i, sizeof b);
    bad |= (b & kExp) == kExp;  // all exponent bits set: inf or NaN
  }
  return !bad;
}
}  // namespace

bool all_finite_f32(const float* x, int64_t n) { return all_finite<float, uint32_t, 0x7F800000u>(x, n); }
bool all_finite_f64(const double* x, int64_t n) {
  return all_finite<double, uint64_t, 0x7FF0000000000000ull>(x, n);
}

}  // namespace anymo
