// CUDA driver: one grid-stride kernel per stage per chunk, on the caller's stream. The
// per-element work is the same problem.h / math.h code the CPU driver runs.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "anymo/cuda_launch.h"
#include "anymo/drivers.h"

namespace anymo {

namespace {

__global__ void skin_kernel(ImuProblem pb, int64_t s0, int64_t n, double* out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const V3 x = skin_item(pb, s0 + i / pb.n_items, i % pb.n_items);
    out[i * 3] = x.x; out[i * 3 + 1] = x.y; out[i * 3 + 2] = x.z;
  }
}

template <class Positions>
__global__ void pose_kernel(ImuProblem pb, ChunkPlan c, Positions X, double* pos, double* rot,
                            unsigned long long* degenerate) {
  const int64_t n = (c.s1 - c.s0) * pb.P;
  unsigned long long local = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = c.s0 + i / pb.P, p = i % pb.P;
    const int d = pose_placement(pb, X, t, p, pos + i * 3, rot + i * 9);
    if (t >= c.c0 && t < c.c1) local += d;
  }
  if (local) atomicAdd(degenerate, local);
}

__global__ void imu_store_kernel(ImuProblem pb, ChunkPlan c, const double* pos,
                                 const double* rot) {
  const int64_t n = (c.c1 - c.c0) * pb.P;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = c.c0 + i / pb.P, p = i % pb.P;
    V3 f, w;
    imu_sample(pb, pos, rot, c.s0, t, p, f, w);
    store_sample(pb, pos, rot, c.s0, t, p, f, w);
  }
}

__global__ void imu_raw_kernel(ImuProblem pb, ChunkPlan c, const double* pos, const double* rot,
                               double* raw) {
  const int64_t n = (c.r1 - c.r0) * pb.P;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    V3 f, w;
    imu_sample(pb, pos, rot, c.s0, c.r0 + i / pb.P, i % pb.P, f, w);
    double* q = raw + i * 6;
    q[0] = f.x; q[1] = f.y; q[2] = f.z; q[3] = w.x; q[4] = w.y; q[5] = w.z;
  }
}

__global__ void lowpass_store_kernel(ImuProblem pb, ChunkPlan c, const double* pos,
                                     const double* rot, const double* raw) {
  const int64_t n = (c.c1 - c.c0) * pb.P;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = c.c0 + i / pb.P, p = i % pb.P;
    double v[6];
    for (int ch = 0; ch < 6; ++ch) v[ch] = lowpass_sample(pb, raw, c.r0, t, p, ch);
    store_sample(pb, pos, rot, c.s0, t, p, V3{v[0], v[1], v[2]}, V3{v[3], v[4], v[5]});
  }
}

// Device scratch freed on every exit path, in stream order.
struct DeviceBuffer {
  void* ptr = nullptr;
  cudaStream_t stream;
  DeviceBuffer(size_t bytes, cudaStream_t s) : stream(s) {
    if (bytes) check(cudaMallocAsync(&ptr, bytes, s), "cudaMallocAsync");
  }
  ~DeviceBuffer() {
    if (ptr) cudaFreeAsync(ptr, stream);
  }
  template <class T>
  T* as() const { return static_cast<T*>(ptr); }
};

}  // namespace

bool cuda_compiled() { return true; }

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

int64_t run_cuda(ImuProblem pb, uintptr_t stream_handle) {
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  if (pb.chunk < 1) pb.chunk = 1;
  const int64_t H = lowpass_half_width(pb);
  std::vector<double> taps(2 * H + 1);
  lowpass_taps(pb, H, taps.data());
  pb.half_width = H;

  // Largest frame ranges any chunk touches (plan_chunk): chunk + halos, at most T.
  const int64_t ns = std::min(pb.T, pb.chunk + 2 * H + 6), nr = std::min(pb.T, pb.chunk + 2 * H);
  DeviceBuffer d_taps(taps.size() * sizeof(double), stream);
  DeviceBuffer d_pos(ns * pb.P * 3 * sizeof(double), stream);
  DeviceBuffer d_rot(ns * pb.P * 9 * sizeof(double), stream);
  DeviceBuffer d_skin(pb.skinned ? ns * pb.n_items * 3 * sizeof(double) : 0, stream);
  DeviceBuffer d_raw(H ? nr * pb.P * 6 * sizeof(double) : 0, stream);
  DeviceBuffer d_count(sizeof(unsigned long long), stream);
  check(cudaMemcpyAsync(d_taps.ptr, taps.data(), taps.size() * sizeof(double),
                        cudaMemcpyHostToDevice, stream), "copy taps");
  check(cudaMemsetAsync(d_count.ptr, 0, sizeof(unsigned long long), stream), "memset");
  pb.taps = d_taps.as<double>();
  double* pos = d_pos.as<double>();
  double* rot = d_rot.as<double>();
  unsigned long long* count = d_count.as<unsigned long long>();

  for (int64_t c0 = 0; c0 < pb.T; c0 += pb.chunk) {
    const ChunkPlan c = plan_chunk(pb, c0);
    const int64_t np = (c.s1 - c.s0) * pb.P;
    if (pb.skinned) {
      const int64_t n = (c.s1 - c.s0) * pb.n_items;
      skin_kernel<<<blocks_for(n), kThreads, 0, stream>>>(pb, c.s0, n, d_skin.as<double>());
      check(cudaGetLastError(), "skin_kernel");
      pose_kernel<<<blocks_for(np), kThreads, 0, stream>>>(
          pb, c, ScratchPositions{d_skin.as<double>(), pb.n_items, c.s0}, pos, rot, count);
    } else if (pb.vertices_f64) {
      pose_kernel<<<blocks_for(np), kThreads, 0, stream>>>(
          pb, c, MeshPositions<double>{(const double*)pb.vertices, pb.V}, pos, rot, count);
    } else {
      pose_kernel<<<blocks_for(np), kThreads, 0, stream>>>(
          pb, c, MeshPositions<float>{(const float*)pb.vertices, pb.V}, pos, rot, count);
    }
    check(cudaGetLastError(), "pose_kernel");
    const int64_t no = (c.c1 - c.c0) * pb.P;
    if (H == 0) {
      imu_store_kernel<<<blocks_for(no), kThreads, 0, stream>>>(pb, c, pos, rot);
      check(cudaGetLastError(), "imu_store_kernel");
    } else {
      const int64_t nr2 = (c.r1 - c.r0) * pb.P;
      imu_raw_kernel<<<blocks_for(nr2), kThreads, 0, stream>>>(pb, c, pos, rot, d_raw.as<double>());
      check(cudaGetLastError(), "imu_raw_kernel");
      lowpass_store_kernel<<<blocks_for(no), kThreads, 0, stream>>>(pb, c, pos, rot,
                                                                     d_raw.as<double>());
      check(cudaGetLastError(), "lowpass_store_kernel");
    }
  }
  unsigned long long degenerate = 0;
  check(cudaMemcpyAsync(&degenerate, count, sizeof(degenerate), cudaMemcpyDeviceToHost, stream),
        "copy count");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  return (int64_t)degenerate;
}

}  // namespace anymo
