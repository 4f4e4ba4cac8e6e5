// CPU driver of the device model: OpenMP over blocks of placements, each block stepping through
// time with the placements innermost so memory is read and written contiguously (the strap's
// recursion; then bias drift and samples, tile by tile). Same per-element code as CUDA.
#include <vector>

#include "anymo/drivers.h"

namespace anymo {

namespace {
constexpr int64_t kBlock = 64;  // placements per block of the strap's recursion
constexpr int64_t kTileSamples = 64, kTilePlacements = 16;
}  // namespace

void run_device_cpu(DeviceProblem pb) {
  const int64_t P = pb.P;
  std::vector<double> strap_force;
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
  std::vector<double> mag_local;
  if (pb.n_sensors == 3) {
    mag_local.resize(pb.T * P * 3);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < pb.T * P; ++i) mag_local_frame(pb, i, mag_local.data());
    pb.mag_local = mag_local.data();
  }
  // Drift and samples together, per block of placements walking through time in tiles: the
  // drift of a tile (sequential per placement, its state carried in bias_state) is computed
  // just before the tile's samples read it, in a buffer of the thread's that stays in cache.
  // The tiles are the drift chunks: pb.chunk samples, at most kTileSamples (any length gives
  // the same bytes; a short one is how the tests check that).
  std::vector<double> state(P * kSensors * 6, 0.0);
  pb.bias_state = state.data();
  pb.drift_stride = kTilePlacements;
  const int64_t tile = pb.chunk < 1 ? 1 : (pb.chunk < kTileSamples ? pb.chunk : kTileSamples);
#pragma omp parallel
  {
    std::vector<double> drift(kTileSamples * kTilePlacements * kSensors * 3, 0.0);
    DeviceProblem q = pb;
    q.drift = drift.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t pa = 0; pa < P; pa += kTilePlacements) {
      const int64_t pe = pa + kTilePlacements < P ? pa + kTilePlacements : P;
      q.drift_p0 = pa;
      for (int64_t ka = 0; ka < pb.N; ka += tile) {
        const int64_t kb = ka + tile < pb.N ? ka + tile : pb.N;
        for (int64_t k = ka; k < kb; ++k)
          for (int64_t p = pa; p < pe; ++p)
            for (int s = 0; s < pb.n_sensors; ++s) drift_step(q, p, s, k, ka);
        for (int64_t k = ka; k < kb; ++k)
          for (int64_t p = pa; p < pe; ++p) device_sample(q, k, p, ka);
      }
    }
  }
}

}  // namespace anymo
