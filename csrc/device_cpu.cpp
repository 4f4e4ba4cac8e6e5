// CPU driver of the device model: OpenMP over blocks of placements, each block stepping through
// time with the placements innermost so memory is read and written contiguously (the strap's
// recursion; then, sample by sample, the random numbers, the bias drift and the samples). Same
// per-element code as CUDA.
#include <vector>

#include "anymo/drivers.h"

namespace anymo {

namespace {
constexpr int64_t kBlock = 64;  // placements per block of the strap's recursion
constexpr int64_t kSampleBlock = 16;  // placements per block of drift and samples
constexpr int64_t kMaxLanes = kSampleBlock * kSlots;

// Philox blocks with their Box-Muller normals, lane i keyed by (k, id[i], stream[i]): the loop
// of gauss4 over lanes, written so the compiler vectorises it. Cloned for AVX-512 and AVX2 and
// picked at load time (x86-64 Linux with GCC or Clang); vector lanes round each IEEE operation
// as the scalar code does (no FMA contraction in this file), so the bytes do not change.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void gauss4_batch(uint64_t seed, int64_t k, int64_t n, const uint32_t* id, const uint32_t* stream, double* z0,
                  double* z1, double* z2, double* z3) {
  const uint32_t k0 = (uint32_t)((uint64_t)k), k1 = (uint32_t)((uint64_t)k >> 32);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const U4 b = philox4x32_10(U4{{k0, k1, id[i], stream[i]}}, (uint32_t)seed, (uint32_t)(seed >> 32));
    box_muller(b.v[0], b.v[1], z0[i], z1[i]);
    box_muller(b.v[2], b.v[3], z2[i], z3[i]);
  }
}

// The normals of every slot of a block of placements [pa, pe), sample by sample, into z
// (((p - pa) * kSlots + slot) * 4): which slots are drawn depends on the sample only through
// the walk (from sample 1 on), so the lanes are listed at samples 0 and 1 and the undrawn
// slots zeroed once; each sample then is one batch and a scatter.
struct SlotDraws {
  std::vector<uint32_t> id, stream;
  std::vector<double> zl[4];
  std::vector<int64_t> dest;
  int64_t n = 0;
  SlotDraws() : id(kMaxLanes), stream(kMaxLanes), dest(kMaxLanes) {
    for (auto& v : zl) v.resize(kMaxLanes);
  }
  void plan(const DeviceProblem& pb, int64_t pa, int64_t pe, int64_t k, double* z) {
    n = 0;
    for (int64_t p = pa; p < pe; ++p)
      for (int slot = 0; slot < kSlots; ++slot) {
        double* zs = z + ((p - pa) * kSlots + slot) * 4;
        const int st = slot_stream(pb, p, k, slot);
        if (st < 0) {
          zs[0] = zs[1] = zs[2] = zs[3] = 0.0;
          continue;
        }
        id[n] = pb.rng_id[p];
        stream[n] = (uint32_t)st;
        dest[n++] = zs - z;
      }
  }
  void draw(const DeviceProblem& pb, int64_t k, double* z) {
    gauss4_batch(pb.seed, k, n, id.data(), stream.data(), zl[0].data(), zl[1].data(), zl[2].data(), zl[3].data());
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 4; ++j) z[dest[i] + j] = zl[j][i];
  }
};
}  // namespace

void run_device_cpu(DeviceProblem pb) {
  const int64_t P = pb.P;
  // per-frame scratch kept between calls (drivers.h)
  thread_local std::vector<double> kept_strap, kept_mag;
  std::vector<double>& strap_force = kept_strap;
  std::vector<double>& mag_local = kept_mag;
  if (pb.strap) {
    strap_force.resize(pb.T * P * 3);
    std::vector<double> st(P * 9, 0.0);
    double* out = strap_force.data();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < P; b += kBlock) {
      const int64_t e = b + kBlock < P ? b + kBlock : P;
      for (int64_t t = 0; t < pb.T; ++t)
        for (int64_t p = b; p < e; ++p)
          if (strap_is_loose(pb, p))
            for (int i = 0; i < 3; ++i) strap_axis_step(pb, p, i, t, st.data() + p * 9 + i * 3, out);
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
  // Per block of placements, sample by sample: the block's normals in one batch, then its
  // drift (sequential per placement, the state carried in bias_state) and its samples. The
  // drift "chunk" is one sample, in a buffer of the thread's; the CPU needs no pb.chunk.
  std::vector<double> state(P * kSensors * 6, 0.0);
  pb.bias_state = state.data();
  pb.drift_stride = kSampleBlock;
#pragma omp parallel
  {
    std::vector<double> drift(kSampleBlock * kSensors * 3, 0.0), z(kMaxLanes * 4);
    SlotDraws draws;
    DeviceProblem q = pb;
    q.drift = drift.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t pa = 0; pa < P; pa += kSampleBlock) {
      const int64_t pe = pa + kSampleBlock < P ? pa + kSampleBlock : P;
      q.drift_p0 = pa;
      for (int64_t k = 0; k < pb.N; ++k) {
        if (k < 2) draws.plan(q, pa, pe, k, z.data());
        draws.draw(q, k, z.data());
        for (int64_t p = pa; p < pe; ++p) {
          const double* zp = z.data() + (p - pa) * kSlots * 4;
          for (int s = 0; s < pb.n_sensors; ++s)
            drift_step(q, p, s, k, k, zp + (kMarkov * kSensors + s) * 4, zp + (kWalk * kSensors + s) * 4);
          device_sample(q, k, p, k, zp);
        }
      }
    }
  }
  release_if_large(strap_force);
  release_if_large(mag_local);
}

}  // namespace anymo
