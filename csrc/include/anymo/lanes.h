// Helpers of the CPU drivers' vector-lane loops (cpu.cpp, device_cpu.cpp); host code only.
#pragma once

#include <cstdint>

namespace anymo {

// c ? a : b by bit masks: a select GCC cannot turn back into a branch (around a division, say),
// which it then does not vectorise without AVX-512 masks.
inline double pick(bool c, double a, double b) {
  const uint64_t m = 0 - (uint64_t)c;
  return __builtin_bit_cast(double, (__builtin_bit_cast(uint64_t, a) & m) | (__builtin_bit_cast(uint64_t, b) & ~m));
}

}  // namespace anymo
