// Entry points of the two drivers. Both walk the same chunk plan and call the same
// per-element stage functions of problem.h; they differ only in how elements are visited.
#pragma once

#include <cstdint>
#include <vector>

#include "anymo/device.h"
#include "anymo/problem.h"

namespace anymo {

// Scratch the CPU drivers keep per calling thread between calls (thread_local vectors): fresh
// multi-MB buffers are zeroed page by page by the kernel on every call, ~10 % of a call on 2
// cores. A buffer grown past kKeptScratchBytes is released after its call.
constexpr size_t kKeptScratchBytes = size_t(64) << 20;

inline void release_if_large(std::vector<double>& v) {
  if (v.capacity() * sizeof(double) > kKeptScratchBytes) std::vector<double>().swap(v);
}

// Runs on host memory with OpenMP threads. Returns the number of degenerate frames.
// `elementwise`: only the per-element stage calls the CUDA kernels make (pose_placement,
// imu_sample), none of the CPU's vector-lane paths (pose_lanes, interior_frame); the tests
// check both give the same bytes.
int64_t run_cpu(ImuProblem pb, bool elementwise = false);

// True when this build has the CUDA driver.
bool cuda_compiled();
// Number of visible CUDA devices (0 without CUDA or without a driver).
int cuda_device_count();
// Runs on device memory, on `stream` (a cudaStream_t), on the current device. Synchronises
// the stream before returning the degenerate count.
int64_t run_cuda(ImuProblem pb, uintptr_t stream);

// Device response model (device.h): host memory with OpenMP, or device memory on `stream`
// (synchronised before returning). `elementwise`: the CPU makes the CUDA kernels' per-element
// calls (device_sample, normals) instead of its vector-lane paths; the tests check both
// give the same bytes, which is what CPU-GPU identity rests on. `portable`: the vector lanes
// without the resampler's AVX-512 path (which CPUs without AVX-512 take), for the same tests.
void run_device_cpu(DeviceProblem pb, bool elementwise = false, bool portable = false);
void run_device_cuda(DeviceProblem pb, uintptr_t stream);

// The CPU driver's normals of 16 lanes at sample k (device_cpu.cpp: Philox blocks [0, nb),
// z[(4 b + j) * 16 + l]) by the instruction set `isa` ("avx512", "avx2", "scalar"; "" the one
// picked at load), so the tests can hold each to the reference. False where this CPU or build
// lacks `isa`.
bool device_normals_cpu(uint64_t seed, int64_t k, int nb, const uint32_t* ids, double* z, const char* isa);

}  // namespace anymo
