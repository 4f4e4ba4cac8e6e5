// CPU driver of the device model: OpenMP over blocks of placements, each block stepping through
// time with the placements innermost so memory is read and written contiguously (the strap's
// recursion; then, sample by sample, the random numbers, the bias drift and the samples). The
// sample stage runs a block's placements in vector lanes (normal_lanes, BlockFir, BlockLanes),
// the same operations per placement as the per-element code CUDA runs; 'elementwise' runs that
// code here, and a test holds both to the same bytes.
#include <algorithm>
#include <string>
#include <vector>

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ANYMO_X86_LANES 1
#endif

#include "anymo/drivers.h"
#include "anymo/lanes.h"

namespace anymo {

namespace {
// Unroll the small fixed loops inside a loop over vector lanes (GCC gives up on inner loops).
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 9")
#elif defined(__clang__)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL
#endif
constexpr int64_t kBlock = 64;  // placements per block of the strap's recursion
constexpr int64_t kSampleBlock = 16;  // placements per block of drift and samples (one 16-lane draw)

// The normals of a block of 16 placements at sample k: Philox blocks [b0, b1) of lane l keyed by
// (k, id[l]) into z[(4 b + j) * 16 + l], normal m = 4 b + j lane-major (device.h normal_block,
// lane by lane). Philox's 32x32 -> 64-bit products need whole-vector integer code GCC does not
// write itself, so the x86-64 versions spell it out in intrinsics (16 lanes in AVX-512, 2 x 8 in
// AVX2), picked at load time; Box-Muller then runs as a float loop over the lanes, the same
// float operations as the scalar code, so every version gives the same bytes.
using Words = uint32_t[4][16];

// Box-Muller of the 16 lanes' words into rows 4 b .. 4 b + 3 of z.
__attribute__((always_inline)) inline void box_muller_lanes(const Words& w, int b, double* z) {
  float zf[4][16];
#pragma omp simd
  for (int l = 0; l < 16; ++l) {
    box_muller_f(w[0][l], w[1][l], zf[0][l], zf[1][l]);
    box_muller_f(w[2][l], w[3][l], zf[2][l], zf[3][l]);
  }
  for (int j = 0; j < 4; ++j)
#pragma omp simd
    for (int l = 0; l < 16; ++l) z[(4 * b + j) * 16 + l] = (double)zf[j][l];
}

void normal_lanes_scalar(uint64_t seed, int64_t k, int b0, int b1, const uint32_t* id, double* z) {
  for (int b = b0; b < b1; ++b)
    for (int l = 0; l < 16; ++l) {
      float zf[4];
      normal_block(seed, id[l], k, (uint32_t)b, zf);
      for (int j = 0; j < 4; ++j) z[(4 * b + j) * 16 + l] = (double)zf[j];
    }
}

#ifdef ANYMO_X86_LANES
// Philox rounds on vectors V of 32-bit lanes: mullo gives the low words of the products; the
// high words come from the 32 x 32 -> 64 multiply of the even lanes and of the odd lanes shifted
// down, blended back (odd lanes keep the upper half of their product in place).
#define ANYMO_PHILOX_ROUNDS(V, set1, mullo, mul64, srli64, blend_hi, xor_)                    \
  {                                                                                              \
    const V m0 = set1((int)0xD2511F53u), m1 = set1((int)0xCD9E8D57u);                             \
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);                                   \
    for (int r = 0; r < 10; ++r) {                                                               \
      if (r > 0) {                                                                               \
        k0 += 0x9E3779B9u;                                                                       \
        k1 += 0xBB67AE85u;                                                                       \
      }                                                                                          \
      const V h0 = blend_hi(srli64(mul64(c0, m0), 32), mul64(srli64(c0, 32), m0));                \
      const V h1 = blend_hi(srli64(mul64(c2, m1), 32), mul64(srli64(c2, 32), m1));                \
      const V l0 = mullo(c0, m0), l1 = mullo(c2, m1);                                            \
      c0 = xor_(xor_(h1, c1), set1((int)k0));                                                    \
      c2 = xor_(xor_(h0, c3), set1((int)k1));                                                    \
      c1 = l1;                                                                                   \
      c3 = l0;                                                                                   \
    }                                                                                            \
  }

__attribute__((target("avx512f"))) inline __m512i blend_odd512(__m512i even, __m512i odd) {
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

__attribute__((target("avx512f"))) void normal_lanes_avx512(uint64_t seed, int64_t k, int b0, int b1,
                                                             const uint32_t* id, double* z) {
  alignas(64) Words w;
  for (int b = b0; b < b1; ++b) {
    __m512i c0 = _mm512_set1_epi32((int)(uint32_t)k), c1 = _mm512_set1_epi32((int)(uint32_t)((uint64_t)k >> 32));
    __m512i c2 = _mm512_loadu_si512(id), c3 = _mm512_set1_epi32(b);
    ANYMO_PHILOX_ROUNDS(__m512i, _mm512_set1_epi32, _mm512_mullo_epi32, _mm512_mul_epu32, _mm512_srli_epi64,
                        blend_odd512, _mm512_xor_si512)
    _mm512_store_si512(w[0], c0);
    _mm512_store_si512(w[1], c1);
    _mm512_store_si512(w[2], c2);
    _mm512_store_si512(w[3], c3);
    box_muller_lanes(w, b, z);
  }
}

__attribute__((target("avx2"))) inline __m256i blend_odd256(__m256i even, __m256i odd) {
  return _mm256_blend_epi32(even, odd, 0xAA);
}

__attribute__((target("avx2"))) void normal_lanes_avx2(uint64_t seed, int64_t k, int b0, int b1,
                                                         const uint32_t* id, double* z) {
  alignas(32) Words w;
  for (int b = b0; b < b1; ++b) {
    for (int half = 0; half < 2; ++half) {
      __m256i c0 = _mm256_set1_epi32((int)(uint32_t)k), c1 = _mm256_set1_epi32((int)(uint32_t)((uint64_t)k >> 32));
      __m256i c2 = _mm256_loadu_si256((const __m256i*)(id + 8 * half)), c3 = _mm256_set1_epi32(b);
      ANYMO_PHILOX_ROUNDS(__m256i, _mm256_set1_epi32, _mm256_mullo_epi32, _mm256_mul_epu32, _mm256_srli_epi64,
                          blend_odd256, _mm256_xor_si256)
      _mm256_store_si256((__m256i*)(w[0] + 8 * half), c0);
      _mm256_store_si256((__m256i*)(w[1] + 8 * half), c1);
      _mm256_store_si256((__m256i*)(w[2] + 8 * half), c2);
      _mm256_store_si256((__m256i*)(w[3] + 8 * half), c3);
    }
    box_muller_lanes(w, b, z);
  }
}
#undef ANYMO_PHILOX_ROUNDS
#endif

using NormalLanes = void (*)(uint64_t, int64_t, int, int, const uint32_t*, double*);

NormalLanes pick_normal_lanes() {
#ifdef ANYMO_X86_LANES
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return normal_lanes_avx512;
  if (__builtin_cpu_supports("avx2")) return normal_lanes_avx2;
#endif
  return normal_lanes_scalar;
}

const NormalLanes normal_lanes = pick_normal_lanes();

// Resampling (device_input) of a block of placements at once, placements in vector lanes.
// The block's inputs are copied, frame by frame, into `rows` (frame, channel, lane) for a
// window of frames that slides forward with the samples. Every lane sums over the block's
// widest tap span, with weight 0 outside its own span [n0, n1]: adding 0 to a sum that
// started at +0 changes nothing, so each placement's sum is the scalar one, term by term.
struct BlockFir {
  static constexpr int L = (int)kSampleBlock;
  static constexpr int64_t kWindow = 1024;  // frames copied at once, beyond a sample's span
  std::vector<double> rows;
  int64_t f0 = 0, f1 = -1;  // frames held
  const double* strap = nullptr;  // the block's specific force after a loose strap (BlockStrap), or null
  std::vector<double> w, wt;  // tap weights (tap, lane); the AVX-512 path's (lane, tap) before the transpose

  // Copies frames [a, b] of placements [pa, pe) (lanes beyond pe: zeros).
  void load(const DeviceProblem& pb, int64_t pa, int64_t pe, int64_t a, int64_t b) {
    const int ch = 3 * pb.n_sensors;
    const int nl = (int)(pe - pa);
    rows.resize((size_t)(b - a + 1) * ch * L);
    for (int64_t n = a; n <= b; ++n) {
      double* r = rows.data() + (n - a) * ch * L;
      const int64_t j = (n * pb.P + pa) * 3;
      if (strap)
        std::copy_n(strap + n * 3 * L, 3 * L, r);
      else
        lanes_of<3>(pb.accel + j, nl, r);
      lanes_of<3>(pb.gyro + j, nl, r + 3 * L);
      if (ch == 9) lanes_of<3>(pb.mag_local + j, nl, r + 6 * L);
    }
    f0 = a;
    f1 = b;
  }

  // nl placements' rows of C values at q into r[c * L + l] as doubles, lanes nl.. zero: a
  // transpose the compiler turns into vector shuffles for a whole block (nl = L).
  template <int C, class T>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
  static void lanes_of(const T* __restrict q, int nl, double* __restrict r) {
    if (nl == L && C > 3) {  // strided loads (gathers), channel by channel: faster for 9 (strap)
      for (int c = 0; c < C; ++c)
#pragma GCC ivdep
        for (int l = 0; l < L; ++l) r[c * L + l] = (double)q[C * l + c];
      return;
    }
    if (nl == L) {
#pragma GCC ivdep
      for (int l = 0; l < L; ++l)
        UNROLL for (int c = 0; c < C; ++c) r[c * L + l] = (double)q[C * l + c];
      return;
    }
    for (int l = 0; l < L; ++l)
      for (int c = 0; c < C; ++c) r[c * L + l] = l < nl ? (double)q[C * l + c] : 0.0;
  }

  // x[(3 s + a) L + p - pa]: device_input of sample k for the block, lane-major.
  void sample(const DeviceProblem& pb, int64_t k, int64_t pa, int64_t pe, double* x) {
    Span sp;
    int64_t nlo = pb.T, nhi = -1;
    for (int l = 0; l < L; ++l) {
      sp.n0[l] = 0, sp.n1[l] = -1, sp.i0[l] = 0, sp.fr[l] = 0.0;  // empty span for lanes beyond pe
      if (pa + l < pe) {
        const double u = resample_span(pb, k, pa + l, sp.n0[l], sp.n1[l]);
        sp.fr[l] = resample_phase(pb, u, sp.n0[l], sp.i0[l]);
      }
      if (sp.n0[l] <= sp.n1[l]) {
        nlo = sp.n0[l] < nlo ? sp.n0[l] : nlo;
        nhi = sp.n1[l] > nhi ? sp.n1[l] : nhi;
      }
    }
    if (nlo < f0 || nhi > f1) {
      const int64_t b = nhi + kWindow < pb.T - 1 ? nhi + kWindow : pb.T - 1;
      load(pb, pa, pe, nlo, b);
    }
    const int64_t M = nhi - nlo + 1;
    w.resize((size_t)(M + 8) * L);
#ifdef ANYMO_X86_LANES
    if (phases) {
      wt.resize((size_t)L * (M + 16));
      weights_avx512(*phases, nlo, M, sp, wt.data(), w.data());
    } else
#endif
      weights_lanes(pb, nlo, M, sp, w.data());
    double acc[9 * L], wsum[L];
    const double* r = rows.data() + (nlo - f0) * 3 * pb.n_sensors * L;
    if (pb.n_sensors == 3)
      accumulate<9>(r, w.data(), M, acc, wsum);
    else
      accumulate<6>(r, w.data(), M, acc, wsum);
    for (int c = 0; c < 3 * pb.n_sensors; ++c)
      for (int l = 0; l < L; ++l) x[c * L + l] = (1.0 / wsum[l]) * acc[c * L + l];
  }

  // Each lane's span [n0, n1], table index i0 and fraction fr (resample_phase).
  struct Span {
    int64_t n0[L], n1[L], i0[L];
    double fr[L];
  };

  // Tap weights w[m * L + l] of frames nlo + m, m < M: resample_weight inside each lane's span, 0
  // outside.
  static void weights_lanes(const DeviceProblem& pb, int64_t nlo, int64_t M, const Span& sp, double* w) {
    for (int64_t m = 0; m < M; ++m)
      for (int l = 0; l < L; ++l) {
        const int64_t n = nlo + m;
        w[m * L + l] = n >= sp.n0[l] && n <= sp.n1[l] ? resample_weight(pb, sp.i0[l], n - sp.n0[l], sp.fr[l]) : 0.0;
      }
  }

  // The sums over the taps (acc: channel-major lanes, wsum: the weights'), frame by frame in
  // order as device_input. Cloned for AVX-512 / AVX2 (no FMA contraction in this file).
  template <int CH>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
  static void accumulate(const double* __restrict r, const double* __restrict w, int64_t M, double* __restrict acc,
                         double* __restrict wsum) {
    double a[CH * L], ws[L];
    for (int i = 0; i < CH * L; ++i) a[i] = 0.0;
    for (int l = 0; l < L; ++l) ws[l] = 0.0;
    for (int64_t m = 0; m < M; ++m, r += CH * L, w += L) {
#pragma omp simd
      for (int l = 0; l < L; ++l) ws[l] += w[l];
      UNROLL for (int c = 0; c < CH; ++c)
#pragma omp simd
        for (int l = 0; l < L; ++l) a[c * L + l] += w[l] * r[c * L + l];
    }
    for (int i = 0; i < CH * L; ++i) acc[i] = a[i];
    for (int l = 0; l < L; ++l) wsum[l] = ws[l];
  }

  // The kernel table by phase: row ph holds, for m = 0, 1, ..., the table at index
  // resample_index(ph, m) and the difference to the next entry, so a lane's taps are
  // consecutive numbers (resample_weight's, exactly). Built once per call when the CPU has
  // AVX-512 (run_device_cpu).
  struct Phases {
    int64_t per_frame = 0, row = 0;  // table_per_frame; numbers per row (8 spare at the end)
    std::vector<double> value, diff;

    void build(const DeviceProblem& pb) {
      per_frame = (int64_t)pb.table_per_frame;
      row = (pb.table_len + per_frame - 1) / per_frame + 8;
      value.resize((size_t)(per_frame * row));
      diff.resize(value.size());
      for (int64_t ph = 0; ph < per_frame; ++ph)
        for (int64_t m = 0; m < row; ++m) {
          const int64_t i = resample_index(pb, ph, m);
          value[ph * row + m] = pb.table[i];
          diff[ph * row + m] = pb.table[i + 1] - pb.table[i];
        }
    }
  };
  const Phases* phases = nullptr;

#ifdef ANYMO_X86_LANES
  // weights_lanes with AVX-512: each lane's taps come from its phase row in 8-wide loads into
  // wt (lane, tap), then 8 x 8 transposes into w (tap, lane). The same operations per weight
  // (intrinsics are not contracted into FMAs here either), so the same bytes.
  __attribute__((target("avx512f"))) static void weights_avx512(const Phases& ph, int64_t nlo, int64_t M,
                                                                 const Span& sp, double* wt, double* w) {
    const int64_t Mw = M + 16;  // a lane's row in wt: its taps from offset n0 - nlo, zeros around
    const int64_t M8 = (M + 7) / 8 * 8;
    const __m512d zero = _mm512_setzero_pd();
    for (int l = 0; l < L; ++l) {
      double* row = wt + l * Mw;
      for (int64_t m = 0; m < M8; m += 8) _mm512_storeu_pd(row + m, zero);
      const int64_t cnt = sp.n1[l] - sp.n0[l] + 1;
      if (cnt <= 0) continue;
      const int64_t off = sp.n0[l] - nlo, base = (sp.i0[l] % ph.per_frame) * ph.row + sp.i0[l] / ph.per_frame;
      const __m512d fr = _mm512_set1_pd(sp.fr[l]);
      for (int64_t j = 0; j < cnt; j += 8) {
        const __m512d v = _mm512_add_pd(_mm512_loadu_pd(ph.value.data() + base + j),
                                        _mm512_mul_pd(fr, _mm512_loadu_pd(ph.diff.data() + base + j)));
        const __mmask8 keep = cnt - j >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (cnt - j)) - 1u);
        _mm512_mask_storeu_pd(row + off + j, keep, v);
      }
    }
    // 8 x 8 transposes: lanes 8 h.. of taps m.. -> w[(m + i) L + 8 h + l]
    const __m512i lo2 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), hi2 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    const __m512i lo4 = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0), hi4 = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
    for (int h = 0; h < 2; ++h)
      for (int64_t m = 0; m < M8; m += 8) {
        __m512d a[8], b[8], c[8];
        for (int i = 0; i < 8; ++i) a[i] = _mm512_loadu_pd(wt + (8 * h + i) * Mw + m);
        for (int i = 0; i < 8; i += 2) {  // pairs of lanes, tap by tap
          b[i] = _mm512_unpacklo_pd(a[i], a[i + 1]);
          b[i + 1] = _mm512_unpackhi_pd(a[i], a[i + 1]);
        }
        for (int i = 0; i < 8; i += 4)  // quads of lanes
          for (int j = 0; j < 2; ++j) {
            c[i + j] = _mm512_permutex2var_pd(b[i + j], lo2, b[i + j + 2]);
            c[i + j + 2] = _mm512_permutex2var_pd(b[i + j], hi2, b[i + j + 2]);
          }
        for (int j = 0; j < 4; ++j) {  // all 8 lanes
          a[j] = _mm512_permutex2var_pd(c[j], lo4, c[j + 4]);
          a[j + 4] = _mm512_permutex2var_pd(c[j], hi4, c[j + 4]);
        }
        // a[j] now holds tap m + kTap[j] of the 8 lanes
        static constexpr int kTap[8] = {0, 1, 4, 5, 2, 3, 6, 7};
        for (int j = 0; j < 8; ++j)
          if (m + kTap[j] < M) _mm512_storeu_pd(w + (m + kTap[j]) * L + 8 * h, a[j]);
      }
  }
#endif
};

// The loose strap of a block of placements over all frames, lane-major (frame, axis, lane):
// per placement the steps of strap_axis_step then strap_output (device.h), so the same bytes as
// the per-element path without its (T, P, 3) buffer, and the recursion runs across lanes.
struct BlockStrap {
  static constexpr int L = (int)kSampleBlock;
  std::vector<double> rows;  // (T, 3, L)

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
  void run(const DeviceProblem& pb, int64_t pa, int64_t pe) {
    const int64_t T = pb.T, P = pb.P;
    const int nl = (int)(pe - pa);
    rows.resize((size_t)T * 3 * L);
    // rigid lanes (and lanes past pe) step a stand-in strap whose result is not used
    static constexpr double kStandIn[10] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    double kc[10 * L], e[3 * L], v[3 * L], a[3 * L], loose[L];
    for (int l = 0; l < L; ++l) {
      loose[l] = l < nl && strap_is_loose(pb, pa + l) ? 1.0 : 0.0;
      for (int c = 0; c < 10; ++c) kc[c * L + l] = loose[l] != 0.0 ? pb.strap[(pa + l) * 10 + c] : kStandIn[c];
    }
    // the current frame's rotations and ideal forces, lane-major doubles
    double R[9 * L], f[3 * L];
    BlockFir::lanes_of<9>(pb.rotations + pa * 9, nl, R);
    BlockFir::lanes_of<3>(pb.accel + pa * 3, nl, f);
#pragma omp simd
    for (int l = 0; l < L; ++l)
      UNROLL for (int i = 0; i < 3; ++i)
        strap_start<L>(kc + l, world(R, f, l, i, pb.gravity), e[i * L + l], v[i * L + l], a[i * L + l]);
    const V3 g = {pb.gravity[0], pb.gravity[1], pb.gravity[2]};
    for (int64_t t = 0; t < T; ++t) {
      double* r = rows.data() + t * 3 * L;
#pragma GCC ivdep
      for (int l = 0; l < L; ++l) {
        const V3 ad = {strap_accel<L>(kc + l, e[l], v[l]), strap_accel<L>(kc + l, e[L + l], v[L + l]),
                       strap_accel<L>(kc + l, e[2 * L + l], v[2 * L + l])};
        const V3 fs = mul_t(lane_m3(R, l), ad - g);
        r[l] = pick(loose[l] != 0.0, fs.x, f[l]);
        r[L + l] = pick(loose[l] != 0.0, fs.y, f[L + l]);
        r[2 * L + l] = pick(loose[l] != 0.0, fs.z, f[2 * L + l]);
      }
      if (t + 1 == T) break;
      BlockFir::lanes_of<9>(pb.rotations + ((t + 1) * P + pa) * 9, nl, R);
      BlockFir::lanes_of<3>(pb.accel + ((t + 1) * P + pa) * 3, nl, f);
#pragma omp simd
      for (int l = 0; l < L; ++l)
        UNROLL for (int i = 0; i < 3; ++i)
          strap_advance<L>(kc + l, world(R, f, l, i, pb.gravity), e[i * L + l], v[i * L + l], a[i * L + l]);
    }
  }

  // strap_kinematic of lane l from lane-major rotations R and forces f
  static double world(const double* R, const double* f, int l, int i, const double* g) {
    return strap_world_axis(R[(3 * i) * L + l], R[(3 * i + 1) * L + l], R[(3 * i + 2) * L + l],
                            V3{f[l], f[L + l], f[2 * L + l]}, g[i]);
  }

  // the 3 x 3 matrix of lane l of lane-major rows m[c * L + l]
  static M3 lane_m3(const double* m, int l) {
    M3 R;
    UNROLL for (int c = 0; c < 9; ++c) R.m[c] = m[c * L + l];
    return R;
  }
};

// drift_step and device_output of a block of placements at once, lane-major (coefficient c of
// lane l at [c * L + l]) so every loop over lanes vectorises: the same operations in the same
// order per placement as device.h, which test_devices.py holds to the same bytes
// (cpu-elementwise). The bias drift's state lives here for the whole walk through time.
struct BlockLanes {
  static constexpr int L = (int)kSampleBlock;
  double mount[9 * L], gs[9 * L], soft[9 * L], hard[3 * L];
  double sens[kSensors * 9 * L], bias[kSensors * 3 * L], white[kSensors * 3 * L];
  // ADC per sensor and axis: lo, hi, lsb or 1 (the divisor), rint(lo / lsb), rint(hi / lsb), lsb > 0
  double lo[kSensors * L], hi[kSensors * L], div[kSensors * L], clo[kSensors * L], chi[kSensors * L],
      quant[kSensors * L];
  double phi[kSensors * L], mq[kSensors * 3 * L], s0[kSensors * 3 * L], wq[kSensors * 3 * L];
  double st[kSensors * 6 * L];  // Markov (3) and walk (3) states

  // Lanes past pe hold lane 0's coefficients (computed, never stored).
  void load(const DeviceProblem& pb, int64_t pa, int64_t pe) {
    for (int l = 0; l < L; ++l) {
      const int64_t p = pa + l < pe ? pa + l : pa;
      for (int i = 0; i < 9; ++i) {
        mount[i * L + l] = pb.mount[p * 9 + i];
        gs[i * L + l] = pb.g_sens[p * 9 + i];
        soft[i * L + l] = pb.soft_iron ? pb.soft_iron[p * 9 + i] : 0.0;
      }
      for (int i = 0; i < 3; ++i) hard[i * L + l] = pb.hard_iron ? pb.hard_iron[p * 3 + i] : 0.0;
      for (int s = 0; s < kSensors; ++s) {
        const int64_t ps = p * kSensors + s;
        for (int i = 0; i < 9; ++i) sens[(s * 9 + i) * L + l] = pb.sens[ps * 9 + i];
        for (int a = 0; a < 3; ++a) {
          const int j = (s * 3 + a) * L + l;
          bias[j] = pb.bias[ps * 3 + a];
          white[j] = pb.white[ps * 3 + a];
          mq[j] = pb.markov_q[ps * 3 + a];
          s0[j] = pb.markov_s0[ps * 3 + a];
          wq[j] = pb.walk_q[ps * 3 + a];
        }
        const double* c = pb.clip + ps * kClip;
        lo[s * L + l] = c[0];
        hi[s * L + l] = c[1];
        div[s * L + l] = c[2] > 0.0 ? c[2] : 1.0;
        clo[s * L + l] = c[3];
        chi[s * L + l] = c[4];
        quant[s * L + l] = c[2] > 0.0 ? 1.0 : 0.0;
        phi[s * L + l] = pb.markov_phi[ps];
      }
    }
    for (double& v : st) v = 0.0;
  }

  // Sample k: drift, then device_output into the outputs for lanes [0, n). x: device_input,
  // (3 s + a) * L + l; z: the block's normals, normal m of lane l at m * L + l (normal_lanes).
  template <int NS>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
  void step(const DeviceProblem& pb, int64_t k, int64_t pa, int n, const double* x, const double* z) {
    double d[NS * 3 * L], y[NS * 3 * L];
    for (int s = 0; s < NS; ++s)
      for (int a = 0; a < 3; ++a) {
        const double* zm = z + (markov_normal(s) + a) * L;
        const double* zw = z + (walk_normal(s) + a) * L;
        double* m = st + (s * 6 + a) * L;
        double* w = st + (s * 6 + 3 + a) * L;
        const double* q = mq + (s * 3 + a) * L;
        const double* qw = wq + (s * 3 + a) * L;
        const double* sd = s0 + (s * 3 + a) * L;
        const double* ph = phi + s * L;
        double* ds = d + (s * 3 + a) * L;
        if (k == 0) {
#pragma omp simd
          for (int l = 0; l < L; ++l) {
            m[l] = sd[l] * zm[l];
            w[l] = 0.0;
            ds[l] = m[l] + w[l];
          }
        } else {
#pragma omp simd
          for (int l = 0; l < L; ++l) {
            m[l] = ph[l] * m[l] + q[l] * zm[l];
            w[l] = w[l] + qw[l] * zw[l];
            ds[l] = m[l] + w[l];
          }
        }
      }
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      double v[NS][3];
      // device axes from placement axes: mul_t(mount, x)
      UNROLL for (int s = 0; s < NS; ++s) {
        const double x0 = x[(3 * s) * L + l], x1 = x[(3 * s + 1) * L + l], x2 = x[(3 * s + 2) * L + l];
        UNROLL for (int r = 0; r < 3; ++r)
          v[s][r] = mount[r * L + l] * x0 + mount[(3 + r) * L + l] * x1 + mount[(6 + r) * L + l] * x2;
      }
      // gyro g-sensitivity: + mul(g_sens, accel)
      UNROLL for (int r = 0; r < 3; ++r)
        v[1][r] = v[1][r] + (gs[(3 * r) * L + l] * v[0][0] + gs[(3 * r + 1) * L + l] * v[0][1] +
                             gs[(3 * r + 2) * L + l] * v[0][2]);
      if (NS == 3) {  // soft and hard iron: mul(soft, mag) + hard
        const double m0 = v[2][0], m1 = v[2][1], m2 = v[2][2];
        UNROLL for (int r = 0; r < 3; ++r)
          v[2][r] = (soft[(3 * r) * L + l] * m0 + soft[(3 * r + 1) * L + l] * m1 + soft[(3 * r + 2) * L + l] * m2) +
                    hard[r * L + l];
      }
      UNROLL for (int s = 0; s < NS; ++s)
        UNROLL for (int r = 0; r < 3; ++r) {
          const double* S = sens + (s * 9 + 3 * r) * L + l;
          const double ys = S[0] * v[s][0] + S[L] * v[s][1] + S[2 * L] * v[s][2];
          const int j = (s * 3 + r) * L + l;
          const double val = ys + bias[j] + d[j] + white[j] * z[(white_normal(s) + r) * L + l];
          // adc: both branches, then a select (same values as the branch taken)
          double code = rint(val / div[s * L + l]);
          code = code < clo[s * L + l] ? clo[s * L + l] : (code > chi[s * L + l] ? chi[s * L + l] : code);
          const double clipped = val < lo[s * L + l] ? lo[s * L + l] : (val > hi[s * L + l] ? hi[s * L + l] : val);
          y[j] = pick(quant[s * L + l] != 0.0, code * div[s * L + l], clipped);
        }
    }
    float* outs[3] = {pb.out_accel, pb.out_gyro, pb.out_mag};
    for (int s = 0; s < NS; ++s) {
      float* o = outs[s] + (k * pb.P + pa) * 3;
      for (int l = 0; l < n; ++l)
        for (int a = 0; a < 3; ++a) o[l * 3 + a] = (float)y[(s * 3 + a) * L + l];
    }
  }
};
}  // namespace

bool device_normals_cpu(uint64_t seed, int64_t k, int nb, const uint32_t* ids, double* z, const char* isa) {
  const std::string want = isa;
  NormalLanes f = want.empty() ? normal_lanes : (want == "scalar" ? normal_lanes_scalar : nullptr);
#ifdef ANYMO_X86_LANES
  if (want == "avx512" && __builtin_cpu_supports("avx512f")) f = normal_lanes_avx512;
  if (want == "avx2" && __builtin_cpu_supports("avx2")) f = normal_lanes_avx2;
#endif
  if (!f) return false;
  f(seed, k, 0, nb, ids, z);
  return true;
}

void run_device_cpu(DeviceProblem pb, bool elementwise, bool portable) {
  const int64_t P = pb.P;
  // per-frame scratch kept between calls (drivers.h)
  thread_local std::vector<double> kept_strap, kept_mag;
  std::vector<double>& strap_force = kept_strap;
  std::vector<double>& mag_local = kept_mag;
  if (pb.strap && elementwise) {  // the lanes run it per block (BlockStrap)
    strap_force.resize(pb.T * P * 3);
    std::vector<double> st(P * 9, 0.0);
    double* out = strap_force.data();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < P; b += kBlock) {
      const int64_t e = b + kBlock < P ? b + kBlock : P;
      for (int64_t t = 0; t < pb.T; ++t)
        for (int64_t p = b; p < e; ++p)
          if (strap_is_loose(pb, p))
            for (int i = 0; i < 3; ++i)
              strap_axis_step(pb, p, i, t, t + 1 < pb.T ? strap_kinematic(pb, p, t + 1, i) : 0.0,
                              st.data() + p * 9 + i * 3, out);
    }
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < pb.T * P; ++j) strap_output(pb, j, out);
    pb.strap_force = out;
  }
  if (pb.n_sensors == 3) {
    mag_local.resize(pb.T * P * 3);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < pb.T * P; ++i) mag_local_frame(pb, i, mag_local.data());
    pb.mag_local = mag_local.data();
  }
  // Per block of placements, sample by sample: the block's normals in one batch, its inputs
  // (resampled), then its drift (state carried in BlockLanes) and outputs. The elementwise path
  // carries the drift in bias_state and a one-sample drift "chunk" of the thread's. The CPU
  // needs no pb.chunk.
  std::vector<double> state(elementwise ? P * kSensors * 6 : 0, 0.0);  // the lanes keep their own
  BlockFir::Phases phases;  // the AVX-512 resampler's table
#ifdef ANYMO_X86_LANES
  if (pb.resample && !elementwise && !portable && __builtin_cpu_supports("avx512f")) phases.build(pb);
#endif
  pb.bias_state = state.data();
  pb.drift_stride = kSampleBlock;
#pragma omp parallel
  {
    std::vector<double> drift(elementwise ? kSampleBlock * kSensors * 3 : 0, 0.0), z(kMaxNormals * kSampleBlock);
    uint32_t ids[kSampleBlock];
    BlockFir fir;
    fir.phases = phases.value.empty() ? nullptr : &phases;
    BlockLanes lanes;
    BlockStrap strap;
    double x[3 * kSensors * kSampleBlock] = {};  // lane-major device_input
    DeviceProblem q = pb;
    q.drift = drift.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t pa = 0; pa < P; pa += kSampleBlock) {
      const int64_t pe = pa + kSampleBlock < P ? pa + kSampleBlock : P;
      q.drift_p0 = pa;
      fir.f1 = -1;
      if (!elementwise) lanes.load(pb, pa, pe);
      if (pb.strap && !elementwise) {
        strap.run(pb, pa, pe);
        fir.strap = strap.rows.data();
      }
      for (int64_t l = 0; l < kSampleBlock; ++l) ids[l] = pb.rng_id[pa + l < pe ? pa + l : pa];  // spare lanes: any id
      bool walk = false;  // any placement of the block with a random walk
      for (int64_t j = pa * kSensors * 3; j < pe * kSensors * 3; ++j) walk |= pb.walk_q[j] != 0.0;
      for (int64_t k = 0; k < pb.N; ++k) {
        if (elementwise) {  // the CUDA kernels' per-element calls, for the tests (drivers.h)
          for (int64_t p = pa; p < pe; ++p) {
            double* zp = z.data();
            normals(q, p, k, 0, 4 * normal_blocks(pb.n_sensors), zp);  // all of them
            for (int s = 0; s < pb.n_sensors; ++s) drift_step(q, p, s, k, k, zp + markov_normal(s), zp + walk_normal(s));
            device_sample(q, k, p, k, zp);
          }
          continue;
        }
        // the blocks whose normals are read (device.h numbering): without a random walk, its
        // rows keep what an earlier block or sample left there, which its zero coefficients
        // turn into the same +0 steps the drawn normals would give
        normal_lanes(pb.seed, k, 0, 3, ids, z.data());
        if (walk)
          normal_lanes(pb.seed, k, 3, 5, ids, z.data());
        else if (pb.timestamps)
          normal_lanes(pb.seed, k, 4, 5, ids, z.data());
        if (pb.n_sensors == 3) normal_lanes(pb.seed, k, 5, walk ? 8 : 7, ids, z.data());
        if (pb.resample) {
          fir.sample(q, k, pa, pe, x);
        } else {
          for (int64_t p = pa; p < pe; ++p) {
            V3 xp[kSensors];
            device_input(q, k, p, xp);
            if (fir.strap) {
              const double* f = fir.strap + k * 3 * kSampleBlock + p - pa;
              xp[0] = V3{f[0], f[kSampleBlock], f[2 * kSampleBlock]};
            }
            for (int s = 0; s < pb.n_sensors; ++s) {
              x[(3 * s) * kSampleBlock + p - pa] = xp[s].x;
              x[(3 * s + 1) * kSampleBlock + p - pa] = xp[s].y;
              x[(3 * s + 2) * kSampleBlock + p - pa] = xp[s].z;
            }
          }
        }
        if (pb.n_sensors == 3)
          lanes.step<3>(pb, k, pa, (int)(pe - pa), x, z.data());
        else
          lanes.step<2>(pb, k, pa, (int)(pe - pa), x, z.data());
        if (pb.timestamps)
          for (int64_t p = pa; p < pe; ++p)
            pb.timestamps[k * P + p] = device_timestamp(pb, k, p, z[kJitterNormal * kSampleBlock + p - pa]);
      }
    }
  }
  release_if_large(strap_force);
  release_if_large(mag_local);
}

}  // namespace anymo
