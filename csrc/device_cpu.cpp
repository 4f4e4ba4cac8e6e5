// CPU driver of the device model: OpenMP over placements for the sequential stages (strap,
// bias drift) and over (sample, placement) for the rest. Same per-element code as CUDA.
#include <vector>

#include "anymo/drivers.h"

namespace anymo {

void run_device_cpu(DeviceProblem pb) {
  if (pb.chunk < 1) pb.chunk = 1;
  const int64_t P = pb.P;
  std::vector<double> strap_force;
  if (pb.strap) {
    strap_force.resize(pb.T * P * 3);
    double* out = strap_force.data();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t p = 0; p < P; ++p) strap_placement(pb, p, out);
    pb.strap_force = out;
  }
  std::vector<double> state(P * kSensors * 6, 0.0), drift(pb.chunk * P * kSensors * 3, 0.0);
  pb.bias_state = state.data();
  pb.drift = drift.data();
  const int64_t nps = P * pb.n_sensors;
  for (int64_t k0 = 0; k0 < pb.N; k0 += pb.chunk) {
    const int64_t k1 = k0 + pb.chunk < pb.N ? k0 + pb.chunk : pb.N;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nps; ++i) drift_run(pb, i / pb.n_sensors, (int)(i % pb.n_sensors), k0, k1);
    const int64_t n = (k1 - k0) * P;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) device_sample(pb, k0 + i / P, i % P, k0);
  }
}

}  // namespace anymo
