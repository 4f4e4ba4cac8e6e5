// CPU driver of the device model: OpenMP over blocks of placements for the sequential stages
// (strap, bias drift), each block stepping through time with the placements innermost so
// memory is read and written contiguously, and over (sample, placement) for the rest. Same
// per-element code as CUDA.
#include <vector>

#include "anymo/drivers.h"

namespace anymo {

namespace {
constexpr int64_t kBlock = 64;  // placements (or placement-sensor pairs) per block of a thread
constexpr int64_t kTileSamples = 64, kTilePlacements = 16;
}  // namespace

void run_device_cpu(DeviceProblem pb) {
  if (pb.chunk < 1) pb.chunk = 1;
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
  std::vector<double> state(P * kSensors * 6, 0.0), drift(pb.chunk * P * kSensors * 3, 0.0);
  pb.bias_state = state.data();
  pb.drift = drift.data();
  const int64_t nps = P * pb.n_sensors;
  for (int64_t k0 = 0; k0 < pb.N; k0 += pb.chunk) {
    const int64_t k1 = k0 + pb.chunk < pb.N ? k0 + pb.chunk : pb.N;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < nps; b += kBlock) {
      const int64_t e = b + kBlock < nps ? b + kBlock : nps;
      for (int64_t k = k0; k < k1; ++k)
        for (int64_t i = b; i < e; ++i) drift_step(pb, i / pb.n_sensors, (int)(i % pb.n_sensors), k, k0);
    }
    // tiles of samples x placements, samples outermost: a tile's resampling windows stay in cache
    const int64_t nk = (k1 - k0 + kTileSamples - 1) / kTileSamples, np = (P + kTilePlacements - 1) / kTilePlacements;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t tile = 0; tile < nk * np; ++tile) {
      const int64_t ka = k0 + (tile / np) * kTileSamples, pa = (tile % np) * kTilePlacements;
      const int64_t kb = ka + kTileSamples < k1 ? ka + kTileSamples : k1;
      const int64_t pb_end = pa + kTilePlacements < P ? pa + kTilePlacements : P;
      for (int64_t k = ka; k < kb; ++k)
        for (int64_t p = pa; p < pb_end; ++p) device_sample(pb, k, p, k0);
    }
  }
}

}  // namespace anymo
