// Dataset packing (pack.h): per block of placements, transpose into a thread's float32 scratch
// (rows of the output, contiguous), then cast that contiguous range in one sweep.
#include "anymo/pack.h"

#include <cstring>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ANYMO_X86 1
#endif

namespace anymo {

namespace {
constexpr int64_t kPackBlock = 32;  // placements per block

// rows[(p - pa) * N * 6 + n * 6 + c] for p in [pa, pe)
void transpose_block(const float* accel, const float* gyro, int64_t N, int64_t P, int64_t pa, int64_t pe,
                     float* rows) {
  for (int64_t n = 0; n < N; ++n) {
    const float* a = accel + (n * P + pa) * 3;
    const float* g = gyro + (n * P + pa) * 3;
    for (int64_t p = 0; p < pe - pa; ++p) {
      float* r = rows + (p * N + n) * 6;
      r[0] = a[p * 3]; r[1] = a[p * 3 + 1]; r[2] = a[p * 3 + 2];
      r[3] = g[p * 3]; r[4] = g[p * 3 + 1]; r[5] = g[p * 3 + 2];
    }
  }
}

#ifdef ANYMO_X86
__attribute__((target("avx,f16c"))) void cast_f16c(const float* in, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i*)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) out[i] = half_bits(in[i]);
}

bool has_f16c() {
  static const bool yes = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return yes;
}
#endif

void cast_portable(const float* in, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = half_bits(in[i]);
}
}  // namespace

uint16_t half_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return (uint16_t)(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u | ((ax >> 13) & 0x3FFu) : 0u));
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (ax < 0x38800000u) {  // below 2^-14: a subnormal half or zero
    if (ax < 0x33000000u) return (uint16_t)sign;  // below 2^-25: rounds to 0
    const int e = (int)(ax >> 23);
    const uint32_t m = (ax & 0x7FFFFFu) | 0x800000u, shift = (uint32_t)(126 - e);  // 14..24
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return (uint16_t)(sign | h);
  }
  uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax >> 13) & 0x3FFu);
  const uint32_t rem = ax & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return (uint16_t)(sign | h);
}

void pack_f16(const float* accel, const float* gyro, int64_t N, int64_t P, uint16_t* out, bool hardware) {
#pragma omp parallel
  {
    std::vector<float> rows(kPackBlock * N * 6);
#pragma omp for schedule(dynamic, 1)
    for (int64_t pa = 0; pa < P; pa += kPackBlock) {
      const int64_t pe = pa + kPackBlock < P ? pa + kPackBlock : P;
      transpose_block(accel, gyro, N, P, pa, pe, rows.data());
      const int64_t n = (pe - pa) * N * 6;
#ifdef ANYMO_X86
      if (hardware && has_f16c()) {
        cast_f16c(rows.data(), n, out + pa * N * 6);
        continue;
      }
#endif
      (void)hardware;
      cast_portable(rows.data(), n, out + pa * N * 6);
    }
  }
}

void pack_f32(const float* accel, const float* gyro, int64_t N, int64_t P, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t pa = 0; pa < P; pa += kPackBlock) {
    const int64_t pe = pa + kPackBlock < P ? pa + kPackBlock : P;
    transpose_block(accel, gyro, N, P, pa, pe, out + pa * N * 6);
  }
}

}  // namespace anymo
