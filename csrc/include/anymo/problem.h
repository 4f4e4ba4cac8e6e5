// One IMU simulation problem as plain pointers and sizes (filled and validated in Python,
// src/anymo_sim/engine.py), the chunk plan, and the per-element work of each stage. The CPU
// loops (cpu.cpp) and the CUDA kernels (cuda.cu) only decide which elements to visit.
#pragma once

#include <cstdint>

#include "anymo/math.h"

namespace anymo {

struct ImuProblem {
  int64_t T = 0;  // frames
  int64_t P = 0;  // placements
  double fps = 0;
  double gravity[3] = {0.0, 0.0, -9.80665};

  // Position source. Mesh path: `vertices` (T, V, 3), float32 or float64, indexed by vertex id.
  // Skinned path (skinned = 1): items (vertices and tangent directions) skinned into scratch.
  int skinned = 0;
  const void* vertices = nullptr;
  int vertices_f64 = 0;
  int64_t V = 0;
  const double* transforms = nullptr;  // (T, J, 3, 4) skinning matrices, row-major
  int64_t J = 0;
  int64_t n_items = 0;
  int64_t K = 0;
  const double* item_rest = nullptr;     // (n_items, 3)
  const double* item_hom = nullptr;      // (n_items,) 1 = point, 0 = direction
  const int32_t* item_joints = nullptr;  // (n_items, K)
  const double* item_weights = nullptr;  // (n_items, K)

  // Placements, in local indices (vertex ids on the mesh path, item ids when skinned).
  const int32_t* anchor_slot = nullptr;  // (P, 3) index into anchors; -1 where bary is 0
  const double* bary = nullptr;          // (P, 3)
  const int32_t* anchor_vertex = nullptr;  // (A,) local index of each anchor
  const int32_t* adj_offsets = nullptr;    // (A + 1,) CSR into adj_faces
  const int32_t* adj_faces = nullptr;      // (M, 3) local indices of each anchor's faces
  const int32_t* ref_item = nullptr;       // (P,) tangent reference: vertex or direction item
  int ref_is_direction = 0;
  const double* yaw_cs = nullptr;  // (P, 2) cos, sin of the yaw
  const double* offset = nullptr;  // (P,) metres along the normal

  // Optional low-pass (cutoff_hz 0 = none). The drivers fill half_width and taps (2H + 1,),
  // k = -H..H, with lowpass_taps().
  double cutoff_hz = 0.0;
  const double* taps = nullptr;
  int64_t half_width = 0;

  int64_t chunk = 256;  // output frames per chunk

  // Outputs, float32: accel, gyro (T, P, 3); rotations (T, P, 3, 3) and positions (T, P, 3)
  // may be null.
  float* accel = nullptr;
  float* gyro = nullptr;
  float* rotations = nullptr;
  float* positions = nullptr;

  // Layout of the drivers' pose state (pos (.., 3) and rot (.., 9) per frame from s0): 0 =
  // (frame, P, width), as CUDA keeps it; L > 0 = (frame, ceil(P / L), width, L), the CPU's blocks
  // of L placements with a component's lanes side by side (vector loads, no transposes).
  int64_t state_lanes = 0;
};

// Index of the first component of placement p's state at frame s0 + i (width 3: pos, 9: rot);
// its components follow state_step apart.
AM_HD int64_t state_index(const ImuProblem& pb, int64_t i, int64_t p, int width) {
  const int64_t L = pb.state_lanes;
  if (L == 0) return (i * pb.P + p) * width;
  return (i * ((pb.P + L - 1) / L) + p / L) * width * L + p % L;
}

AM_HD int64_t state_step(const ImuProblem& pb) { return pb.state_lanes ? pb.state_lanes : 1; }

// Frames touched while producing output frames [c0, c1): `raw` = the unfiltered readings the
// low-pass needs, `state` = the poses the stencils need (3 halo frames cover the one-sided
// 4-point stencils at the sequence ends).
struct ChunkPlan {
  int64_t c0, c1, r0, r1, s0, s1;
};

inline ChunkPlan plan_chunk(const ImuProblem& pb, int64_t c0) {
  ChunkPlan c;
  c.c0 = c0;
  c.c1 = c0 + pb.chunk < pb.T ? c0 + pb.chunk : pb.T;
  c.r0 = c.c0 - pb.half_width > 0 ? c.c0 - pb.half_width : 0;
  c.r1 = c.c1 + pb.half_width < pb.T ? c.c1 + pb.half_width : pb.T;
  c.s0 = c.r0 - 3 > 0 ? c.r0 - 3 : 0;
  c.s1 = c.r1 + 3 < pb.T ? c.r1 + 3 : pb.T;
  return c;
}

// Half-width H = ceil(3 fps / fc) and the taps of the optional low-pass (docs/engine.md).
inline int64_t lowpass_half_width(const ImuProblem& pb) {
  return pb.cutoff_hz > 0 ? (int64_t)ceil(3.0 * pb.fps / pb.cutoff_hz) : 0;
}

inline void lowpass_taps(const ImuProblem& pb, int64_t H, double* taps) {
  for (int64_t k = -H; k <= H; ++k) taps[k + H] = lowpass_tap((int)k, (int)H, pb.cutoff_hz / pb.fps);
}

// ---- stage 0: linear blend skinning of one item at frame t --------------------------------
AM_HD V3 skin_item(const ImuProblem& pb, int64_t t, int64_t u) {
  double M[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < pb.K; ++k) {
    const double w = pb.item_weights[u * pb.K + k];
    if (w == 0.0) continue;
    const double* A = pb.transforms + (t * pb.J + pb.item_joints[u * pb.K + k]) * 12;
    for (int i = 0; i < 12; ++i) M[i] += w * A[i];
  }
  const double* x = pb.item_rest + u * 3;
  const double h = pb.item_hom[u];
  return {M[0] * x[0] + M[1] * x[1] + M[2] * x[2] + h * M[3],
          M[4] * x[0] + M[5] * x[1] + M[6] * x[2] + h * M[7],
          M[8] * x[0] + M[9] * x[1] + M[10] * x[2] + h * M[11]};
}

// Positions by (frame, local index): the user's posed mesh or the skinned scratch.
template <class Scalar>
struct MeshPositions {
  const Scalar* X;
  int64_t V;
  AM_HD V3 operator()(int64_t t, int64_t u) const {
    const Scalar* q = X + (t * V + u) * 3;
    return {(double)q[0], (double)q[1], (double)q[2]};
  }
};

struct ScratchPositions {
  const double* X;  // (frames, n_items, 3) from frame t0
  int64_t n_items, t0;
  AM_HD V3 operator()(int64_t t, int64_t u) const {
    const double* q = X + ((t - t0) * n_items + u) * 3;
    return {q[0], q[1], q[2]};
  }
};

// Cross product of the edges of face m of the anchors' CSR list at frame t (twice its area
// vector).
template <class Positions>
AM_HD V3 face_cross(const ImuProblem& pb, const Positions& X, int64_t t, int32_t m) {
  const int32_t* f = pb.adj_faces + (int64_t)m * 3;
  const V3 x0 = X(t, f[0]);
  return cross(X(t, f[1]) - x0, X(t, f[2]) - x0);
}

// An anchor's ring of `count` faces whose cross products c sum to length nn is degenerate when
// nn <= rtol * (sum of |c|). That sum is at most sqrt(count * squares), squares = sum of |c|^2
// (Cauchy-Schwarz): true here means regular without taking the terms' roots.
AM_HD bool ring_surely_regular(double nn, double count, double squares) {
  return nn * nn > 1.000001 * kDegenerateRtol * kDegenerateRtol * count * squares;
}

// ---- stage 1: sensor position and world-from-sensor rotation of placement p at frame t ----
// Returns 1 if a degenerate fallback was used.
template <class Positions>
AM_HD int pose_placement(const ImuProblem& pb, const Positions& X, int64_t t, int64_t p,
                         double* pos_out, double* rot_out) {
  V3 n_sum = {0, 0, 0}, point = {0, 0, 0};
  double n_scale = 0.0;
  int degenerate = 0;
  for (int i = 0; i < 3; ++i) {
    const int32_t a = pb.anchor_slot[p * 3 + i];
    if (a < 0) continue;
    const double b = pb.bary[p * 3 + i];
    const V3 xa = X(t, pb.anchor_vertex[a]);
    V3 na = {0, 0, 0};
    double squares = 0.0;
    const int32_t m0 = pb.adj_offsets[a], m1 = pb.adj_offsets[a + 1];
    for (int32_t m = m0; m < m1; ++m) {
      const V3 c = face_cross(pb, X, t, m);
      na = na + c;
      squares += dot(c, c);
    }
    const double nn = norm(na);
    bool regular = ring_surely_regular(nn, (double)(m1 - m0), squares);
    if (!regular) {
      double scale = 0.0;
      for (int32_t m = m0; m < m1; ++m) scale += norm(face_cross(pb, X, t, m));
      regular = nn > kDegenerateRtol * scale;
    }
    if (regular) {
      n_sum = n_sum + (b / nn) * na;
    } else {  // every face around the anchor collapsed: fall back to +z
      n_sum = n_sum + V3{0.0, 0.0, b};
      degenerate = 1;
    }
    n_scale += b;
    point = point + b * xa;
  }
  V3 ref = X(t, pb.ref_item[p]);
  if (!pb.ref_is_direction) ref = ref - point;
  M3 R;
  degenerate |= surface_frame(n_sum, n_scale, ref, pb.yaw_cs[p * 2], pb.yaw_cs[p * 2 + 1], R);
  const V3 s = point + pb.offset[p] * col(R, 2);
  pos_out[0] = s.x; pos_out[1] = s.y; pos_out[2] = s.z;
  for (int i = 0; i < 9; ++i) rot_out[i] = R.m[i];
  return degenerate;
}

// ---- stage 2: specific force and body rate of placement p at frame t ------------------------
AM_HD V3 state_v3(const ImuProblem& pb, const double* pos, int64_t i, int64_t p) {
  const int64_t j = state_index(pb, i, p, 3), d = state_step(pb);
  return V3{pos[j], pos[j + d], pos[j + 2 * d]};
}

AM_HD M3 state_m3(const ImuProblem& pb, const double* rot, int64_t i, int64_t p) {
  const int64_t j = state_index(pb, i, p, 9), d = state_step(pb);
  M3 R;
  for (int k = 0; k < 9; ++k) R.m[k] = rot[j + k * d];
  return R;
}

// pos/rot: state buffers (frames from s0, P placements).
AM_HD void imu_sample(const ImuProblem& pb, const double* pos, const double* rot, int64_t s0,
                      int64_t t, int64_t p, V3& f_out, V3& w_out) {
  const int side = t == 0 ? 1 : (t == pb.T - 1 ? -1 : 0);
  auto P3 = [&](int64_t tt) { return state_v3(pb, pos, tt - s0, p); };
  auto RR = [&](int64_t tt) { return state_m3(pb, rot, tt - s0, p); };
  const V3 st = P3(t);
  const M3 Rt = RR(t);
  V3 d[3], phi[2];
  if (side == 0) {
    d[0] = P3(t - 1) - st;
    d[1] = P3(t + 1) - st;
    phi[0] = so3_log(mul_tn(Rt, RR(t - 1)));
    phi[1] = so3_log(mul_tn(Rt, RR(t + 1)));
  } else {
    for (int k = 0; k < 3; ++k) d[k] = P3(t + side * (k + 1)) - st;
    for (int k = 0; k < 2; ++k) phi[k] = so3_log(mul_tn(Rt, RR(t + side * (k + 1))));
  }
  const V3 a = second_difference(side, d, pb.fps * pb.fps);
  const V3 g = {pb.gravity[0], pb.gravity[1], pb.gravity[2]};
  f_out = mul_t(Rt, a - g);
  w_out = chart_rate(side, phi, 0.5 * pb.fps);
}

// stage 2 at an interior frame t (central stencils) where both relative rotations are small
// angles (so3_log_small): the same operations as imu_sample there, branch-free so the CPU can
// run it across placements in vector lanes. Returns false where imu_sample must do it.
// interior_readings takes the point's positions q and frames R at t - 1, t, t + 1.
// interior_from_logs: the same from phi = {log(Rt^T Ra), log(Rt^T Rb)}.
AM_HD_FLAT void interior_from_logs(const ImuProblem& pb, V3 qa, V3 qt, V3 qb, const M3& Rt, const V3* phi,
                                   V3& f_out, V3& w_out) {
  V3 d[2] = {qa - qt, qb - qt};
  const V3 a = second_difference(0, d, pb.fps * pb.fps);
  const V3 g = {pb.gravity[0], pb.gravity[1], pb.gravity[2]};
  f_out = mul_t(Rt, a - g);
  w_out = chart_rate(0, phi, 0.5 * pb.fps);
}

AM_HD_FLAT bool interior_readings(const ImuProblem& pb, V3 qa, V3 qt, V3 qb, const M3& Ra, const M3& Rt,
                                  const M3& Rb, V3& f_out, V3& w_out) {
  V3 phi[2];
  const bool small = so3_log_small(mul_tn(Rt, Ra), phi[0]) & so3_log_small(mul_tn(Rt, Rb), phi[1]);
  interior_from_logs(pb, qa, qt, qb, Rt, phi, f_out, w_out);
  return small;
}

AM_HD_FLAT bool imu_sample_interior(const ImuProblem& pb, const double* pos, const double* rot, int64_t s0,
                                    int64_t t, int64_t p, V3& f_out, V3& w_out) {
  const int64_t i = t - s0;
  return interior_readings(pb, state_v3(pb, pos, i - 1, p), state_v3(pb, pos, i, p), state_v3(pb, pos, i + 1, p),
                           state_m3(pb, rot, i - 1, p), state_m3(pb, rot, i, p), state_m3(pb, rot, i + 1, p), f_out,
                           w_out);
}

// ---- stage 3: truncated, renormalised FIR of channel c (0..5) at frame t --------------------
// raw: (frames from r0, P, 6).
AM_HD double lowpass_sample(const ImuProblem& pb, const double* raw, int64_t r0, int64_t t,
                            int64_t p, int c) {
  const int64_t H = pb.half_width;
  const int64_t k0 = t - H < 0 ? -t : -H;
  const int64_t k1 = t + H > pb.T - 1 ? pb.T - 1 - t : H;
  double acc = 0.0, wsum = 0.0;
  for (int64_t k = k0; k <= k1; ++k) {
    const double w = pb.taps[k + H];
    acc += w * raw[((t + k - r0) * pb.P + p) * 6 + c];
    wsum += w;
  }
  return acc / wsum;
}

// Writes the outputs of (t, p). f/w already final (filtered or not).
// The optional frame outputs of (t, p): rotation and position, from the state buffers.
AM_HD void store_frame(const ImuProblem& pb, const double* pos, const double* rot, int64_t s0, int64_t t,
                       int64_t p) {
  const int64_t o = t * pb.P + p;
  if (pb.rotations) {
    const M3 R = state_m3(pb, rot, t - s0, p);
    for (int i = 0; i < 9; ++i) pb.rotations[o * 9 + i] = (float)R.m[i];
  }
  if (pb.positions) {
    const V3 q = state_v3(pb, pos, t - s0, p);
    pb.positions[o * 3] = (float)q.x; pb.positions[o * 3 + 1] = (float)q.y; pb.positions[o * 3 + 2] = (float)q.z;
  }
}

AM_HD void store_sample(const ImuProblem& pb, const double* pos, const double* rot, int64_t s0,
                        int64_t t, int64_t p, V3 f, V3 w) {
  const int64_t o = t * pb.P + p;
  float* fa = pb.accel + o * 3;
  fa[0] = (float)f.x; fa[1] = (float)f.y; fa[2] = (float)f.z;
  float* wa = pb.gyro + o * 3;
  wa[0] = (float)w.x; wa[1] = (float)w.y; wa[2] = (float)w.z;
  store_frame(pb, pos, rot, s0, t, p);
}

}  // namespace anymo
