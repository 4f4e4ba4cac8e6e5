// pybind11 module anymo_sim._core. The problem arrives as a dict of sizes and raw pointers
// that src/anymo_sim/engine.py has validated (host pointers for "cpu", device pointers for
// "cuda"), so the extension needs neither numpy nor torch headers.
#include <pybind11/pybind11.h>

#include <set>
#include <string>

#include "anymo/drivers.h"

namespace py = pybind11;
using anymo::ImuProblem;

namespace {

template <class T>
T* ptr(const py::dict& d, const char* key) {
  if (!d.contains(key) || d[key].is_none()) return nullptr;
  return reinterpret_cast<T*>(d[key].cast<uintptr_t>());
}

template <class T>
T num(const py::dict& d, const char* key, T fallback) {
  return d.contains(key) ? d[key].cast<T>() : fallback;
}

ImuProblem from_dict(const py::dict& d) {
  static const std::set<std::string> known = {
      "T", "P", "fps", "gravity", "skinned", "vertices", "vertices_f64", "V", "transforms", "J",
      "n_items", "K", "item_rest", "item_hom", "item_joints", "item_weights", "anchor_slot",
      "bary", "anchor_vertex", "adj_offsets", "adj_faces", "ref_item", "ref_is_direction",
      "yaw_cs", "offset", "cutoff_hz", "chunk", "accel", "gyro", "rotations", "positions"};
  for (auto item : d) {
    const auto key = item.first.cast<std::string>();
    if (!known.count(key)) throw py::key_error("unknown problem field: " + key);
  }
  ImuProblem pb;
  pb.T = num<int64_t>(d, "T", 0);
  pb.P = num<int64_t>(d, "P", 0);
  pb.fps = num<double>(d, "fps", 0.0);
  if (d.contains("gravity")) {
    auto g = d["gravity"].cast<py::sequence>();
    for (int i = 0; i < 3; ++i) pb.gravity[i] = g[i].cast<double>();
  }
  pb.skinned = num<int>(d, "skinned", 0);
  pb.vertices = ptr<const void>(d, "vertices");
  pb.vertices_f64 = num<int>(d, "vertices_f64", 0);
  pb.V = num<int64_t>(d, "V", 0);
  pb.transforms = ptr<const double>(d, "transforms");
  pb.J = num<int64_t>(d, "J", 0);
  pb.n_items = num<int64_t>(d, "n_items", 0);
  pb.K = num<int64_t>(d, "K", 0);
  pb.item_rest = ptr<const double>(d, "item_rest");
  pb.item_hom = ptr<const double>(d, "item_hom");
  pb.item_joints = ptr<const int32_t>(d, "item_joints");
  pb.item_weights = ptr<const double>(d, "item_weights");
  pb.anchor_slot = ptr<const int32_t>(d, "anchor_slot");
  pb.bary = ptr<const double>(d, "bary");
  pb.anchor_vertex = ptr<const int32_t>(d, "anchor_vertex");
  pb.adj_offsets = ptr<const int32_t>(d, "adj_offsets");
  pb.adj_faces = ptr<const int32_t>(d, "adj_faces");
  pb.ref_item = ptr<const int32_t>(d, "ref_item");
  pb.ref_is_direction = num<int>(d, "ref_is_direction", 0);
  pb.yaw_cs = ptr<const double>(d, "yaw_cs");
  pb.offset = ptr<const double>(d, "offset");
  pb.cutoff_hz = num<double>(d, "cutoff_hz", 0.0);
  pb.chunk = num<int64_t>(d, "chunk", 256);
  pb.accel = ptr<float>(d, "accel");
  pb.gyro = ptr<float>(d, "gyro");
  pb.rotations = ptr<float>(d, "rotations");
  pb.positions = ptr<float>(d, "positions");
  if (pb.T < 4 || pb.P < 1 || !(pb.fps > 0) || !pb.accel || !pb.gyro || !pb.anchor_slot ||
      !pb.bary || !pb.anchor_vertex || !pb.adj_offsets || !pb.adj_faces || !pb.ref_item ||
      !pb.yaw_cs || !pb.offset)
    throw py::value_error("incomplete IMU problem (T >= 4, P >= 1, fps > 0 and all tables needed)");
  if (pb.skinned ? (!pb.transforms || !pb.item_rest || !pb.item_hom || !pb.item_joints ||
                    !pb.item_weights || pb.K < 1 || pb.n_items < 1)
                 : !pb.vertices)
    throw py::value_error("incomplete IMU problem: missing position source");
  return pb;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "anymo_sim C++/CUDA kernels (see docs/engine.md)";
  m.def("cuda_compiled", &anymo::cuda_compiled, "True if this build includes the CUDA kernels");
  m.def("cuda_device_count", &anymo::cuda_device_count, "Visible CUDA devices (0 without CUDA)");
  m.def(
      "run",
      [](const py::dict& problem, const std::string& device, uintptr_t stream) {
        ImuProblem pb = from_dict(problem);
        py::gil_scoped_release release;
        if (device == "cpu") return anymo::run_cpu(pb);
        if (device == "cuda") return anymo::run_cuda(pb, stream);
        throw std::invalid_argument("device must be 'cpu' or 'cuda', got '" + device + "'");
      },
      py::arg("problem"), py::arg("device") = "cpu", py::arg("stream") = 0,
      "Run one IMU problem; returns the number of degenerate frames.");
}
