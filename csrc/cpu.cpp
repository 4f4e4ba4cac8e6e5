// CPU driver: OpenMP loops over (frame, element) for each stage of each chunk.
#include <vector>

#include "anymo/drivers.h"

namespace anymo {

namespace {

template <class Positions>
int64_t pose_stage(const ImuProblem& pb, const ChunkPlan& c, const Positions& X, double* pos,
                   double* rot) {
  const int64_t n = (c.s1 - c.s0) * pb.P;
  int64_t degenerate = 0;
#pragma omp parallel for schedule(static) reduction(+ : degenerate)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = c.s0 + i / pb.P, p = i % pb.P;
    const int d = pose_placement(pb, X, t, p, pos + i * 3, rot + i * 9);
    if (t >= c.c0 && t < c.c1) degenerate += d;  // halo frames are counted by their own chunk
  }
  return degenerate;
}

// Stage 2 of one interior frame t for all placements: imu_sample_interior across placements in
// vector lanes (cloned for AVX-512 and AVX2), then imu_sample for the few outside its branch.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void interior_frame(const ImuProblem& pb, const double* ps, const double* rs, int64_t s0, int64_t t, uint8_t* ok) {
  const int64_t P = pb.P;
  float* fa = pb.accel + t * P * 3;
  float* wa = pb.gyro + t * P * 3;
#pragma omp simd
  for (int64_t p = 0; p < P; ++p) {
    V3 f, w;
    ok[p] = imu_sample_interior(pb, ps, rs, s0, t, p, f, w);
    fa[p * 3] = (float)f.x; fa[p * 3 + 1] = (float)f.y; fa[p * 3 + 2] = (float)f.z;
    wa[p * 3] = (float)w.x; wa[p * 3 + 1] = (float)w.y; wa[p * 3 + 2] = (float)w.z;
  }
}

}  // namespace

int64_t run_cpu(ImuProblem pb) {
  const int64_t H = lowpass_half_width(pb);
  std::vector<double> taps(2 * H + 1);
  lowpass_taps(pb, H, taps.data());
  pb.taps = taps.data();
  pb.half_width = H;
  if (pb.chunk < 1) pb.chunk = 1;

  // chunk scratch kept between calls (drivers.h)
  thread_local std::vector<double> kept_pos, kept_rot, kept_raw;
  std::vector<double>& pos = kept_pos;
  std::vector<double>& rot = kept_rot;
  std::vector<double>& raw = kept_raw;
  int64_t degenerate = 0;
  const int64_t P = pb.P;
  for (int64_t c0 = 0; c0 < pb.T; c0 += pb.chunk) {
    const ChunkPlan c = plan_chunk(pb, c0);
    const int64_t ns = c.s1 - c.s0;
    pos.resize(ns * P * 3);
    rot.resize(ns * P * 9);
    if (pb.skinned) {
      // Frame by frame per thread, in a one-frame scratch of the thread's: a frame's skinned
      // items are still in cache when its placements read them (their 1-rings are scattered
      // over the items), and never go out to memory.
#pragma omp parallel reduction(+ : degenerate)
      {
        std::vector<double> frame(pb.n_items * 3);
#pragma omp for schedule(static)
        for (int64_t t = c.s0; t < c.s1; ++t) {
          for (int64_t u = 0; u < pb.n_items; ++u) {
            const V3 x = skin_item(pb, t, u);
            frame[u * 3] = x.x; frame[u * 3 + 1] = x.y; frame[u * 3 + 2] = x.z;
          }
          const ScratchPositions X{frame.data(), pb.n_items, t};
          const int64_t i0 = (t - c.s0) * P;
          int64_t d = 0;
          for (int64_t p = 0; p < P; ++p) d += pose_placement(pb, X, t, p, pos.data() + (i0 + p) * 3, rot.data() + (i0 + p) * 9);
          if (t >= c.c0 && t < c.c1) degenerate += d;  // halo frames are counted by their own chunk
        }
      }
    } else if (pb.vertices_f64) {
      degenerate += pose_stage(pb, c, MeshPositions<double>{(const double*)pb.vertices, pb.V},
                               pos.data(), rot.data());
    } else {
      degenerate += pose_stage(pb, c, MeshPositions<float>{(const float*)pb.vertices, pb.V},
                               pos.data(), rot.data());
    }
    const double* ps = pos.data();
    const double* rs = rot.data();
    if (H == 0) {
#pragma omp parallel
      {
        std::vector<uint8_t> ok(P);
#pragma omp for schedule(static)
        for (int64_t t = c.c0; t < c.c1; ++t) {
          const bool interior = t > 0 && t < pb.T - 1;
          if (interior) interior_frame(pb, ps, rs, c.s0, t, ok.data());
          for (int64_t p = 0; p < P; ++p) {
            if (interior && ok[p]) {  // readings written by interior_frame
              store_frame(pb, ps, rs, c.s0, t, p);
              continue;
            }
            V3 f, w;
            imu_sample(pb, ps, rs, c.s0, t, p, f, w);
            store_sample(pb, ps, rs, c.s0, t, p, f, w);
          }
        }
      }
    } else {
      raw.resize((c.r1 - c.r0) * P * 6);
      double* r = raw.data();
      const int64_t nr = (c.r1 - c.r0) * P;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < nr; ++i) {
        V3 f, w;
        imu_sample(pb, ps, rs, c.s0, c.r0 + i / P, i % P, f, w);
        double* q = r + i * 6;
        q[0] = f.x; q[1] = f.y; q[2] = f.z; q[3] = w.x; q[4] = w.y; q[5] = w.z;
      }
      const int64_t n = (c.c1 - c.c0) * P;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t t = c.c0 + i / P, p = i % P;
        double v[6];
        for (int ch = 0; ch < 6; ++ch) v[ch] = lowpass_sample(pb, r, c.r0, t, p, ch);
        store_sample(pb, ps, rs, c.s0, t, p, V3{v[0], v[1], v[2]}, V3{v[3], v[4], v[5]});
      }
    }
  }
  for (auto* v : {&pos, &rot, &raw}) release_if_large(*v);
  return degenerate;
}

}  // namespace anymo
