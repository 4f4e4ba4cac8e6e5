// Per-element math shared by the CPU loops and the CUDA kernels (DESIGN.md §3, the kernel
// rule): everything here is __host__ __device__ and double precision. The definitions are
// those of docs/engine.md.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define AM_HD __host__ __device__ __forceinline__
#define AM_HD_FLAT AM_HD
#else
#define AM_HD inline
// Per-element functions the CPU runs across elements in vector lanes: inlined with everything
// they call, so the loop around them can be vectorised.
#if defined(__GNUC__)
#define AM_HD_FLAT inline __attribute__((always_inline, flatten))
#else
#define AM_HD_FLAT inline
#endif
#endif

namespace anymo {

struct V3 {
  double x, y, z;
};

AM_HD V3 operator+(V3 a, V3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
AM_HD V3 operator-(V3 a, V3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
AM_HD V3 operator*(double s, V3 a) { return {s * a.x, s * a.y, s * a.z}; }
AM_HD double dot(V3 a, V3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
AM_HD V3 cross(V3 a, V3 b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
AM_HD double norm(V3 a) { return sqrt(dot(a, a)); }

// Row-major 3x3 matrix; a rotation's columns are the sensor axes in world coordinates.
struct M3 {
  double m[9];
};

AM_HD V3 col(const M3& R, int c) { return {R.m[c], R.m[3 + c], R.m[6 + c]}; }

// R^T v
AM_HD V3 mul_t(const M3& R, V3 v) {
  return {R.m[0] * v.x + R.m[3] * v.y + R.m[6] * v.z,
          R.m[1] * v.x + R.m[4] * v.y + R.m[7] * v.z,
          R.m[2] * v.x + R.m[5] * v.y + R.m[8] * v.z};
}

// A^T B
AM_HD M3 mul_tn(const M3& A, const M3& B) {
  M3 C;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      C.m[3 * i + j] = A.m[i] * B.m[j] + A.m[3 + i] * B.m[3 + j] + A.m[6 + i] * B.m[6 + j];
  return C;
}

// so3_log for small angles (the per-frame rotations): its first branch without the roots. With
// d = (m7 - m5, m2 - m6, m3 - m1) and 1 + tr = 4 w^2, v / w = d / (1 + tr) and
// z = |v| / w = tan(angle / 2), so log = (2 atan(z) / z) d / (1 + tr), the atan series in z^2.
// Branch-free; returns false outside its range (trace not the largest diagonal term, or
// |z| >= 0.1), where `out` means nothing. so3_log_small_parts gives log = k d as k and d: R^T
// has the same k (the same trace and squares) and d' = (m5 - m7, m6 - m2, m1 - m3).
AM_HD bool so3_log_small_parts(const M3& R, double& k, V3& d) {
  const double* m = R.m;
  const double tr = m[0] + m[4] + m[8];
  const double h = 1.0 / (1.0 + tr);
  d = {m[7] - m[5], m[2] - m[6], m[3] - m[1]};
  const double z2 = dot(d, d) * h * h;
  // |z| < 0.1: the first omitted term is below 1e-13 relative
  k = 2.0 * h * (1.0 + z2 * (-1.0 / 3 + z2 * (1.0 / 5 + z2 * (-1.0 / 7 + z2 * (1.0 / 9 - z2 / 11)))));
  return (tr >= m[0]) & (tr >= m[4]) & (tr >= m[8]) & (z2 < 0.01);  // no branches: vector lanes
}

AM_HD bool so3_log_small(const M3& R, V3& out) {
  double k;
  V3 d;
  const bool small = so3_log_small_parts(R, k, d);
  out = k * d;
  return small;
}

// Rotation vector (axis * angle, angle in [0, pi]) of a rotation matrix, through the
// quaternion (Shepperd's branch choice) so it stays accurate near 0 and near pi.
AM_HD V3 so3_log(const M3& R) {
  V3 small;
  if (so3_log_small(R, small)) return small;
  const double* m = R.m;
  const double tr = m[0] + m[4] + m[8];
  double w, x, y, z;
  if (tr >= m[0] && tr >= m[4] && tr >= m[8]) {
    const double s = 2.0 * sqrt(fmax(1.0 + tr, 0.0));
    w = 0.25 * s;
    x = (m[7] - m[5]) / s;
    y = (m[2] - m[6]) / s;
    z = (m[3] - m[1]) / s;
  } else if (m[0] >= m[4] && m[0] >= m[8]) {
    const double s = 2.0 * sqrt(fmax(1.0 + m[0] - m[4] - m[8], 0.0));
    w = (m[7] - m[5]) / s;
    x = 0.25 * s;
    y = (m[1] + m[3]) / s;
    z = (m[2] + m[6]) / s;
  } else if (m[4] >= m[8]) {
    const double s = 2.0 * sqrt(fmax(1.0 + m[4] - m[0] - m[8], 0.0));
    w = (m[2] - m[6]) / s;
    x = (m[1] + m[3]) / s;
    y = 0.25 * s;
    z = (m[5] + m[7]) / s;
  } else {
    const double s = 2.0 * sqrt(fmax(1.0 + m[8] - m[0] - m[4], 0.0));
    w = (m[3] - m[1]) / s;
    x = (m[2] + m[6]) / s;
    y = (m[5] + m[7]) / s;
    z = 0.25 * s;
  }
  if (w < 0) {  // the same rotation; keeps the angle in [0, pi]
    w = -w; x = -x; y = -y; z = -z;
  }
  const double n = sqrt(x * x + y * y + z * z);
  const double k = n > 0.0 ? 2.0 * atan2(n, w) / n : 2.0 / w;
  return {k * x, k * y, k * z};
}

// A sum of vectors is degenerate when its length is at most this fraction of its scale (the
// sum of the lengths of its terms): docs/engine.md, "Degenerate cases".
constexpr double kDegenerateRtol = 1e-12;

// surface_frame's two regularity tests, without roots: the normal sum's length nn against
// rtol times its scale, and the tangent's squared length against rtol^2 |ref|^2.
AM_HD bool normal_regular(double nn, double n_scale) { return nn > kDegenerateRtol * n_scale; }
AM_HD bool tangent_regular(double tn, V3 ref) {
  return tn * tn > kDegenerateRtol * kDegenerateRtol * dot(ref, ref);
}

// The rotation from the unit normal n and a tangent t of length tn > 0 turned by the yaw.
AM_HD_FLAT void frame_from_tangent(V3 n, V3 t, double tn, double cos_yaw, double sin_yaw, M3& R) {
  const V3 x0 = (1.0 / tn) * t;
  const V3 x = cos_yaw * x0 + sin_yaw * cross(n, x0);
  const V3 y = cross(n, x);
  R.m[0] = x.x; R.m[1] = y.x; R.m[2] = n.x;
  R.m[3] = x.y; R.m[4] = y.y; R.m[5] = n.y;
  R.m[6] = x.z; R.m[7] = y.z; R.m[8] = n.z;
}

// Surface frame (docs/engine.md, steps 5-6): z = n, x = the reference projected onto the
// tangent plane and turned by the yaw, y = z x x. n_scale = the sum of the blend weights of
// n_sum's unit terms. Returns 1 when a fallback was needed.
AM_HD int surface_frame(V3 n_sum, double n_scale, V3 ref, double cos_yaw, double sin_yaw, M3& R) {
  int degenerate = 0;
  double nn = norm(n_sum);
  V3 n;
  if (!normal_regular(nn, n_scale)) {
    n = {0.0, 0.0, 1.0};
    degenerate = 1;
  } else {
    n = (1.0 / nn) * n_sum;
  }
  V3 t = ref - dot(ref, n) * n;
  double tn = norm(t);
  if (!tangent_regular(tn, ref)) {
    // the world axis least aligned with n gives a well-defined perpendicular
    const double ax = fabs(n.x), ay = fabs(n.y), az = fabs(n.z);
    V3 e = (ax <= ay && ax <= az) ? V3{1, 0, 0} : (ay <= az ? V3{0, 1, 0} : V3{0, 0, 1});
    t = e - dot(e, n) * n;
    tn = norm(t);
    degenerate = 1;
  }
  frame_from_tangent(n, t, tn, cos_yaw, sin_yaw, R);
  return degenerate;
}

// Second derivative of positions s(t0+i) given relative to s(t0): central inside,
// second-order one-sided (exact for cubics) at the ends. `side` is 0 (central, s[-1..1]),
// +1 (forward, s[0..3]) or -1 (backward, s[0..-3]); one-sided: d[k] = s(t + side*(k+1)) - s(t),
// central: d[0] = s(t-1) - s(t), d[1] = s(t+1) - s(t).
AM_HD V3 second_difference(int side, const V3* d, double inv_h2) {
  if (side == 0) return inv_h2 * (d[0] + d[1]);
  // 2 s0 - 5 s1 + 4 s2 - s3 with s0 = 0
  return inv_h2 * ((-5.0) * d[0] + 4.0 * d[1] - d[2]);
}

// First derivative in the chart at R_t from phi_k = log(R_t^T R_{t+k}).
// side 0: (phi[+1] - phi[-1]) / 2h with phi = {phi[-1], phi[+1]}
// side +1: (4 phi[+1] - phi[+2]) / 2h; side -1: (phi[-2] - 4 phi[-1]) / 2h, phi = {phi[side*1], phi[side*2]}
AM_HD V3 chart_rate(int side, const V3* phi, double inv_2h) {
  if (side == 0) return inv_2h * (phi[1] - phi[0]);
  return (double)side * inv_2h * (4.0 * phi[0] - phi[1]);
}

// Blackman-windowed sinc tap k of half-width H, cutoff as a fraction of the frame rate.
AM_HD double lowpass_tap(int k, int H, double cutoff_over_fps) {
  const double pi = 3.14159265358979323846;
  const double x = 2.0 * cutoff_over_fps * k;
  const double sinc = k == 0 ? 1.0 : sin(pi * x) / (pi * x);
  const double a = pi * k / H;
  return sinc * (0.42 + 0.5 * cos(a) + 0.08 * cos(2.0 * a));
}

}  // namespace anymo
