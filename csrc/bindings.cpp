// pybind11 module anymo_sim._core. The problem arrives as a dict of sizes and raw pointers
// that src/anymo_sim/engine.py has validated (host pointers for "cpu", device pointers for
// "cuda"), so the extension needs neither numpy nor torch headers.
#include <pybind11/pybind11.h>

#include <set>
#include <string>

#include "anymo/drivers.h"
#include "anymo/finite.h"
#include "anymo/pack.h"

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

// The device-model problem (src/anymo_sim/devices/model.py fills and validates it).
anymo::DeviceProblem device_from_dict(const py::dict& d) {
  static const std::set<std::string> known = {
      "T", "P", "N", "fps", "odr", "gravity", "mag_world", "seed", "n_sensors", "resample", "accel", "gyro",
      "rotations", "table", "table_len", "table_per_frame", "half_width", "rng_id", "step", "sens", "bias",
      "white", "markov_phi", "markov_q", "markov_s0", "walk_q", "clip", "mount", "g_sens", "soft_iron",
      "hard_iron", "strap", "time_offset_ns", "jitter_ns", "chunk", "out_accel", "out_gyro", "out_mag",
      "timestamps"};
  for (auto item : d) {
    const auto key = item.first.cast<std::string>();
    if (!known.count(key)) throw py::key_error("unknown device problem field: " + key);
  }
  anymo::DeviceProblem pb;
  pb.T = num<int64_t>(d, "T", 0);
  pb.P = num<int64_t>(d, "P", 0);
  pb.N = num<int64_t>(d, "N", 0);
  pb.fps = num<double>(d, "fps", 0.0);
  pb.odr = num<double>(d, "odr", 0.0);
  for (const char* key : {"gravity", "mag_world"}) {
    if (!d.contains(key)) continue;
    auto v = d[key].cast<py::sequence>();
    double* dst = std::string(key) == "gravity" ? pb.gravity : pb.mag_world;
    for (int i = 0; i < 3; ++i) dst[i] = v[i].cast<double>();
  }
  pb.seed = num<uint64_t>(d, "seed", 0);
  pb.n_sensors = num<int>(d, "n_sensors", 2);
  pb.resample = num<int>(d, "resample", 1);
  pb.accel = ptr<const float>(d, "accel");
  pb.gyro = ptr<const float>(d, "gyro");
  pb.rotations = ptr<const float>(d, "rotations");
  pb.table = ptr<const double>(d, "table");
  pb.table_len = num<int64_t>(d, "table_len", 0);
  pb.table_per_frame = num<double>(d, "table_per_frame", 0.0);
  pb.half_width = num<double>(d, "half_width", 0.0);
  pb.rng_id = ptr<const uint32_t>(d, "rng_id");
  pb.step = ptr<const double>(d, "step");
  pb.sens = ptr<const double>(d, "sens");
  pb.bias = ptr<const double>(d, "bias");
  pb.white = ptr<const double>(d, "white");
  pb.markov_phi = ptr<const double>(d, "markov_phi");
  pb.markov_q = ptr<const double>(d, "markov_q");
  pb.markov_s0 = ptr<const double>(d, "markov_s0");
  pb.walk_q = ptr<const double>(d, "walk_q");
  pb.clip = ptr<const double>(d, "clip");
  pb.mount = ptr<const double>(d, "mount");
  pb.g_sens = ptr<const double>(d, "g_sens");
  pb.soft_iron = ptr<const double>(d, "soft_iron");
  pb.hard_iron = ptr<const double>(d, "hard_iron");
  pb.strap = ptr<const double>(d, "strap");
  pb.time_offset_ns = ptr<const double>(d, "time_offset_ns");
  pb.jitter_ns = ptr<const double>(d, "jitter_ns");
  pb.chunk = num<int64_t>(d, "chunk", 4096);
  pb.out_accel = ptr<float>(d, "out_accel");
  pb.out_gyro = ptr<float>(d, "out_gyro");
  pb.out_mag = ptr<float>(d, "out_mag");
  pb.timestamps = ptr<int64_t>(d, "timestamps");
  const bool mag = pb.n_sensors == 3;
  if (pb.T < 1 || pb.P < 1 || pb.N < 1 || !(pb.fps > 0) || !(pb.odr > 0) || (pb.n_sensors != 2 && !mag) ||
      !pb.accel || !pb.gyro || !pb.rng_id || !pb.step || !pb.sens || !pb.bias || !pb.white || !pb.markov_phi ||
      !pb.markov_q || !pb.markov_s0 || !pb.walk_q || !pb.clip || !pb.mount || !pb.g_sens || !pb.time_offset_ns ||
      !pb.jitter_ns || !pb.out_accel || !pb.out_gyro ||
      (mag && (!pb.out_mag || !pb.soft_iron || !pb.hard_iron || !pb.rotations)) ||
      (pb.strap && !pb.rotations) ||
      (pb.resample && (!pb.table || pb.table_len < 2 || !(pb.table_per_frame >= 1) ||
                       pb.table_per_frame != (double)(int64_t)pb.table_per_frame)) ||  // an integer: device.h
      (!pb.resample && pb.N > pb.T))
    throw py::value_error("incomplete device problem (sizes, per-placement tables or outputs missing)");
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
        if (device == "cpu-elementwise") return anymo::run_cpu(pb, true);  // tests: drivers.h
        if (device == "cuda") return anymo::run_cuda(pb, stream);
        throw std::invalid_argument("device must be 'cpu', 'cpu-elementwise' or 'cuda', got '" + device + "'");
      },
      py::arg("problem"), py::arg("device") = "cpu", py::arg("stream") = 0,
      "Run one IMU problem; returns the number of degenerate frames.");
  m.def(
      "run_device",
      [](const py::dict& problem, const std::string& device, uintptr_t stream) {
        anymo::DeviceProblem pb = device_from_dict(problem);
        py::gil_scoped_release release;
        if (device == "cpu") return anymo::run_device_cpu(pb);
        if (device == "cpu-elementwise") return anymo::run_device_cpu(pb, true);  // tests: drivers.h
        if (device == "cpu-portable") return anymo::run_device_cpu(pb, false, true);
        if (device == "cuda") return anymo::run_device_cuda(pb, stream);
        throw std::invalid_argument("device must be 'cpu', 'cpu-elementwise', 'cpu-portable' or 'cuda', got '" + device +
                                    "'");
      },
      py::arg("problem"), py::arg("device") = "cpu", py::arg("stream") = 0,
      "Apply one device model problem (docs/devices.md) to ideal readings.");
  m.def(
      "device_normals",
      [](uint64_t seed, int64_t k, int n_blocks, uintptr_t ids, uintptr_t out, const std::string& isa) {
        // ids: 16 uint32, out: 64 n_blocks float64 (C-contiguous host arrays the caller checked)
        if (n_blocks < 0 || n_blocks > anymo::kMaxNormals / 4)
          throw std::invalid_argument("n_blocks must be in [0, " + std::to_string(anymo::kMaxNormals / 4) + "]");
        return anymo::device_normals_cpu(seed, k, n_blocks, reinterpret_cast<const uint32_t*>(ids),
                                         reinterpret_cast<double*>(out), isa.c_str());
      },
      py::arg("seed"), py::arg("k"), py::arg("n_blocks"), py::arg("ids"), py::arg("out"), py::arg("isa") = "",
      "Tests: the CPU device driver's 16-lane normals by instruction set ('avx512', 'avx2', 'scalar', '' "
      "= picked at load); False where unavailable.");
  m.def(
      "all_finite",
      [](uintptr_t data, int64_t n, const std::string& dtype) {
        // a C-contiguous host array of n values that validate.py has checked
        if (dtype != "float32" && dtype != "float64")
          throw std::invalid_argument("dtype must be 'float32' or 'float64', got '" + dtype + "'");
        py::gil_scoped_release release;
        return dtype == "float32" ? anymo::all_finite_f32(reinterpret_cast<const float*>(data), n)
                                  : anymo::all_finite_f64(reinterpret_cast<const double*>(data), n);
      },
      py::arg("data"), py::arg("n"), py::arg("dtype"), "True if no value is NaN or infinite (all cores).");
  m.def(
      "pack_imu",
      [](uintptr_t accel, uintptr_t gyro, int64_t N, int64_t P, uintptr_t out, const std::string& dtype,
         bool hardware) {
        // pointers to C-contiguous host arrays that dataset/generate.py has checked
        const auto* a = reinterpret_cast<const float*>(accel);
        const auto* g = reinterpret_cast<const float*>(gyro);
        if (dtype != "float16" && dtype != "float32")
          throw std::invalid_argument("dtype must be 'float16' or 'float32', got '" + dtype + "'");
        py::gil_scoped_release release;
        if (dtype == "float16")
          anymo::pack_f16(a, g, N, P, reinterpret_cast<uint16_t*>(out), hardware);
        else
          anymo::pack_f32(a, g, N, P, reinterpret_cast<float*>(out));
      },
      py::arg("accel"), py::arg("gyro"), py::arg("N"), py::arg("P"), py::arg("out"), py::arg("dtype"),
      py::arg("hardware") = true,
      "accel, gyro (N, P, 3) float32 -> out (P, N, 6) float16 (IEEE round to nearest even) or float32.");
}
