// Stand-ins for builds without CUDA: the package works on the CPU and says why CUDA is absent.
#include <stdexcept>

#include "anymo/drivers.h"

namespace anymo {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
int64_t run_cuda(ImuProblem, uintptr_t) {
  throw std::runtime_error(
      "anymo_sim was built without CUDA (nvcc was not found or ANYMO_CUDA=OFF); "
      "reinstall with nvcc on the PATH, or use backend='cpu'");
}
void run_device_cuda(DeviceProblem, uintptr_t stream) { run_cuda(ImuProblem{}, stream); }

}  // namespace anymo
