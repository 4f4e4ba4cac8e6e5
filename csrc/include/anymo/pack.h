// Packing of device readings into the dataset's layout (dataset/generate.py): accel and gyro
// (N, P, 3) float32 each -> (P, N, 6) float16 or float32, the transpose and the cast in one
// pass over memory, on all cores, without the GIL. The float16 cast is IEEE round to nearest
// even, the bytes numpy's astype(float16) gives (F16C instructions where the CPU has them).
#pragma once

#include <cstdint>

namespace anymo {

// float32 -> float16 bits, round to nearest even (overflow to inf, subnormals kept).
uint16_t half_bits(float f);

// out (P, N, 6): channels 0-2 accel, 3-5 gyro; `hardware` false forces the portable cast
// (tests compare both with numpy).
void pack_f16(const float* accel, const float* gyro, int64_t N, int64_t P, uint16_t* out, bool hardware = true);
void pack_f32(const float* accel, const float* gyro, int64_t N, int64_t P, float* out);

}  // namespace anymo
