// Launch helpers shared by the CUDA drivers (cuda.cu, device_cuda.cu): error checks that
// throw with the failing step named, and the grid size of a grid-stride loop.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace anymo {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("anymo_sim CUDA error in ") + what + ": " +
                             cudaGetErrorString(err));
}

constexpr int kThreads = 256;

inline int blocks_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return (int)(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

// Sequential-in-time stages have one long-running thread per placement and few placements:
// small blocks spread those threads over every multiprocessor instead of a handful.
constexpr int kSerialThreads = 32;

}  // namespace anymo
