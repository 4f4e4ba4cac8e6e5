// CUDA driver of the device model: one kernel per stage per chunk on the caller's stream,
// running the per-element code of device.h. Compiled with --fmad=false (CMakeLists.txt) so
// its arithmetic rounds exactly as the CPU driver's does.
#include <cuda_runtime.h>

#include <vector>

#include "anymo/cuda_launch.h"
#include "anymo/drivers.h"

namespace anymo {

namespace {

// Steps a sequential loop takes between batches of loads: a batch's inputs do not depend on the
// recursion's state, so they are loaded together first (several loads in flight instead of one
// latency per step: the compiler may not move a load above the previous step's store).
constexpr int kAhead = 16;

// One thread per (placement, world axis): the recursion is sequential in time; each batch's
// kinematic accelerations are loaded first.
__global__ void strap_axis_kernel(DeviceProblem pb, double* out) {
  for (int64_t q = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; q < pb.P * 3; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = q / 3;
    const int i = (int)(q % 3);
    if (!strap_is_loose(pb, p)) continue;
    double st[3] = {0.0, 0.0, 0.0};
    for (int64_t t0 = 0; t0 < pb.T; t0 += kAhead) {
      double an[kAhead];  // kinematic acceleration of frame t + 1
#pragma unroll
      for (int j = 0; j < kAhead; ++j) an[j] = t0 + j + 1 < pb.T ? strap_kinematic(pb, p, t0 + j + 1, i) : 0.0;
#pragma unroll
      for (int j = 0; j < kAhead; ++j)
        if (t0 + j < pb.T) strap_axis_step(pb, p, i, t0 + j, an[j], st, out);
    }
  }
}

__global__ void strap_output_kernel(DeviceProblem pb, double* out) {
  for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < pb.T * pb.P; j += (int64_t)gridDim.x * blockDim.x)
    strap_output(pb, j, out);
}

__global__ void mag_local_kernel(DeviceProblem pb, double* out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < pb.T * pb.P; i += (int64_t)gridDim.x * blockDim.x)
    mag_local_frame(pb, i, out);
}

// The drift is sequential in samples but its normals are not: they depend on (seed, id, k, m)
// alone. So a chunk's are drawn first, one thread per (sample, placement), into zbuf
// (chunk, P, n_sensors, 6) floats (the Gauss-Markov 3, then the random-walk 3, left 0 where
// the placement's walk is off: drift_step multiplies them by zero there); the sequential pass
// then only runs the recursion. Box-Muller's outputs are floats, so the buffer holds them exactly.
__global__ void drift_normals_kernel(DeviceProblem pb, int64_t k0, int64_t k1, float* zbuf) {
  const int64_t n = (k1 - k0) * pb.P;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = k0 + i / pb.P, p = i % pb.P;
    float* o = zbuf + i * pb.n_sensors * 6;
    for (int s = 0; s < pb.n_sensors; ++s, o += 6) {
      double z[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
      normals(pb, p, k, markov_normal(s), 3, z);
      const double* w = pb.walk_q + (p * kSensors + s) * 3;
      if (w[0] != 0.0 || w[1] != 0.0 || w[2] != 0.0) normals(pb, p, k, walk_normal(s), 3, z + 3);
      for (int j = 0; j < 6; ++j) o[j] = (float)z[j];
    }
  }
}

// One thread per (placement, sensor), its state in registers across the chunk, each batch's
// normals loaded first (kAhead).
__global__ void drift_kernel(DeviceProblem pb, int64_t k0, int64_t k1, const float* zbuf) {
  const int64_t n = pb.P * pb.n_sensors;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = i / pb.n_sensors;
    const int s = (int)(i % pb.n_sensors);
    const int64_t ps = p * kSensors + s;
    const DriftCoef c = drift_coef(pb, ps);
    double st[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};  // set at k = 0: the first chunk reads no state
    if (k0 > 0)
      for (int j = 0; j < 6; ++j) st[j] = pb.bias_state[ps * 6 + j];
    for (int64_t kb = k0; kb < k1; kb += kAhead) {
      float2 zr[kAhead][3];  // 6 floats, 8-byte aligned (24 bytes per (sample, placement, sensor))
#pragma unroll
      for (int j = 0; j < kAhead; ++j)
        if (kb + j < k1) {
          const float2* zf = reinterpret_cast<const float2*>(zbuf + ((kb + j - k0) * n + i) * 6);
          zr[j][0] = zf[0]; zr[j][1] = zf[1]; zr[j][2] = zf[2];
        }
#pragma unroll
      for (int j = 0; j < kAhead; ++j) {
        const int64_t k = kb + j;
        if (k >= k1) break;
        const double z[6] = {zr[j][0].x, zr[j][0].y, zr[j][1].x, zr[j][1].y, zr[j][2].x, zr[j][2].y};
        drift_advance(c, k, z, z + 3, st, drift_at(pb, p, s, k, k0));
      }
    }
    for (int j = 0; j < 6; ++j) pb.bias_state[ps * 6 + j] = st[j];
  }
}

__global__ void sample_kernel(DeviceProblem pb, int64_t k0, int64_t k1) {
  const int64_t n = (k1 - k0) * pb.P;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = k0 + i / pb.P, p = i % pb.P;
    double z[kMaxNormals];  // only the white noise and jitter normals are read
    normals(pb, p, k, white_normal(0), 6, z);  // accel and gyro, side by side
    if (pb.n_sensors == 3) normals(pb, p, k, white_normal(2), 3, z + white_normal(2));
    if (pb.timestamps) normals(pb, p, k, kJitterNormal, 1, z + kJitterNormal);
    device_sample(pb, k, p, k0, z);
  }
}

// Stream-ordered scratch, released on every exit path.
class Scratch {
 public:
  explicit Scratch(cudaStream_t s) : stream_(s) {}
  ~Scratch() {
    for (void* p : held_) cudaFreeAsync(p, stream_);
  }
  template <class T = double>
  T* take(int64_t n) {
    void* p = nullptr;
    check(cudaMallocAsync(&p, (size_t)(n > 0 ? n : 1) * sizeof(T), stream_), "cudaMallocAsync");
    held_.push_back(p);
    return static_cast<T*>(p);
  }

 private:
  cudaStream_t stream_;
  std::vector<void*> held_;
};

}  // namespace

void run_device_cuda(DeviceProblem pb, uintptr_t stream_handle) {
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  if (pb.chunk < 1) pb.chunk = 1;
  Scratch scratch(stream);
  if (pb.strap) {
    double* out = scratch.take(pb.T * pb.P * 3);
    strap_axis_kernel<<<blocks_for(pb.P * 3, kSerialThreads), kSerialThreads, 0, stream>>>(pb, out);
    check(cudaGetLastError(), "strap_axis_kernel");
    strap_output_kernel<<<blocks_for(pb.T * pb.P), kThreads, 0, stream>>>(pb, out);
    check(cudaGetLastError(), "strap_output_kernel");
    pb.strap_force = out;
  }
  if (pb.n_sensors == 3) {
    double* out = scratch.take(pb.T * pb.P * 3);
    mag_local_kernel<<<blocks_for(pb.T * pb.P), kThreads, 0, stream>>>(pb, out);
    check(cudaGetLastError(), "mag_local_kernel");
    pb.mag_local = out;
  }
  pb.bias_state = scratch.take(pb.P * kSensors * 6);
  pb.drift = scratch.take(pb.chunk * pb.P * kSensors * 3);
  float* zbuf = scratch.take<float>(pb.chunk * pb.P * pb.n_sensors * 6);  // the drift's normals
  for (int64_t k0 = 0; k0 < pb.N; k0 += pb.chunk) {
    const int64_t k1 = k0 + pb.chunk < pb.N ? k0 + pb.chunk : pb.N;
    drift_normals_kernel<<<blocks_for((k1 - k0) * pb.P), kThreads, 0, stream>>>(pb, k0, k1, zbuf);
    check(cudaGetLastError(), "drift_normals_kernel");
    drift_kernel<<<blocks_for(pb.P * pb.n_sensors, kSerialThreads), kSerialThreads, 0, stream>>>(pb, k0, k1, zbuf);
    check(cudaGetLastError(), "drift_kernel");
    sample_kernel<<<blocks_for((k1 - k0) * pb.P), kThreads, 0, stream>>>(pb, k0, k1);
    check(cudaGetLastError(), "sample_kernel");
  }
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

}  // namespace anymo
