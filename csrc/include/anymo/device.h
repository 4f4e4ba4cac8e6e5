// Device response model (docs/devices.md): the per-element math shared by the CPU loops
// (device_cpu.cpp) and the CUDA kernels (device_cuda.cu), DESIGN.md §3 "the kernel rule".
//
// Bit-identity between CPU and GPU: everything here uses only IEEE +, -, *, /, sqrt, rint,
// conversions and integer ops (no libm transcendental whose last bit may differ between glibc and
// CUDA), and the translation units are compiled without FMA contraction (CMakeLists.txt), so
// the same seed gives the same bytes on both.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "anymo/math.h"

namespace anymo {

// ---- counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11) -------------------
struct U4 {
  uint32_t v[4];
};

AM_HD U4 philox4x32_10(U4 c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {  // the key is bumped before rounds 2..10
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = (uint64_t)0xD2511F53u * c.v[0];
    const uint64_t p1 = (uint64_t)0xCD9E8D57u * c.v[2];
    c = U4{{(uint32_t)(p1 >> 32) ^ c.v[1] ^ k0, (uint32_t)p1, (uint32_t)(p0 >> 32) ^ c.v[3] ^ k1,
            (uint32_t)p0}};
  }
  return c;
}

// Bits of a float and back (no libm, no undefined behaviour).
AM_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return b;
#endif
}

AM_HD float bits_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float x;
  memcpy(&x, &b, sizeof x);
  return x;
#endif
}

// ---- standard normals in float32 ---------------------------------------------------------------
// Box-Muller in float32 (twice the vector lanes of float64; noise needs no more than its 24-bit
// precision), with its own log and sin/cos polynomials so CPU and GPU round alike. Constants are
// the float32 values, written exactly (hex) so every compiler and numpy (devices/reference.py,
// which repeats these operations in numpy float32) start from the same bits.

// ln u for u in (0, 1): u = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s =
// (m - 1) / (m + 1), |s| < 0.172, by its series to s^9 (next term < 1e-9); e ln 2 in two parts
// (Cody-Waite: e times the 9-bit high part is exact).
AM_HD float det_logf(float u) {
  const uint32_t b = float_bits(u);
  int e = (int)(b >> 23) - 126;
  float m = bits_float((b & 0x7FFFFFu) | (126u << 23));  // [0.5, 1)
  const bool low = m < 0x1.6a09e6p-1f;                    // sqrt(1/2)
  m = low ? m * 2.0f : m;
  e = low ? e - 1 : e;
  const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = 0x1.c71c72p-4f;  // 1/9
  p = p * s2 + 0x1.24924ap-3f;  // 1/7
  p = p * s2 + 0x1.99999ap-3f;  // 1/5
  p = p * s2 + 0x1.555556p-2f;  // 1/3
  p = p * s2 + 1.0f;
  const float fe = (float)e;
  return (fe * -0x1.bd0106p-13f + 2.0f * s * p) + fe * 0x1.63p-1f;  // ln 2 = 0x1.63p-1 - 0x1.bd0106p-13
}

// sin and cos of the turn fraction (x + 2^7) / 2^32 (x's top 24 bits): the quadrant from the
// top two bits, a in (-pi/4, pi/4) from the next 22 (exact), Taylor polynomials (truncation
// < 2e-9), a rotation by pi/4 and exact quarter-turn swaps.
AM_HD void det_sincos_turnf(uint32_t x, float& s, float& c) {
  const uint32_t q = x >> 30;
  const float r = ((float)(int32_t)((x >> 8) & 0x3FFFFFu) + 0.5f) * 0x1p-22f;  // (0, 1)
  const float a = (r - 0.5f) * 0x1.921fb6p+0f, a2 = a * a;                     // pi/2
  float sp = 0x1.71de3ap-19f;         // 1/9!
  sp = 0x1.a01a02p-13f - a2 * sp;     // 1/7!
  sp = 0x1.111112p-7f - a2 * sp;      // 1/5!
  sp = 0x1.555556p-3f - a2 * sp;      // 1/3!
  const float sa = a - a * a2 * sp;
  float cp = 0x1.27e4fcp-22f;         // 1/10!
  cp = 0x1.a01a02p-16f - a2 * cp;     // 1/8!
  cp = 0x1.6c16c2p-10f - a2 * cp;     // 1/6!
  cp = 0x1.555556p-5f - a2 * cp;      // 1/4!
  cp = 0.5f - a2 * cp;
  const float ca = 1.0f - a2 * cp;
  const float h = 0x1.6a09e6p-1f;  // sin and cos of a + pi/4
  const float s1 = h * (sa + ca), c1 = h * (ca - sa);
  const float s2 = (q & 1u) ? c1 : s1, c2 = (q & 1u) ? -s1 : c1;  // + pi/2
  s = (q & 2u) ? -s2 : s2;                                         // + pi
  c = (q & 2u) ? -c2 : c2;
}

// Two standard normals from two words: radius from a's top 23 bits, u = (2 (a >> 9) + 1) 2^-24
// in (0, 1) (exact), so |z| <= sqrt(48 ln 2) = 5.77; angle from b's top 24 bits.
AM_HD void box_muller_f(uint32_t a, uint32_t b, float& z0, float& z1) {
  const float u = (float)(int32_t)(((a >> 9) << 1) | 1u) * 0x1p-24f;
  const float r = sqrtf(-2.0f * det_logf(u));
  float s, c;
  det_sincos_turnf(b, s, c);
  z0 = r * c;
  z1 = r * s;
}

// ---- the normals of one (placement, sample) ---------------------------------------------------
// Numbered m = 0..: axis a of sensor s's white noise at white_normal(s) + a (accel 0, gyro 3,
// mag 20), of its Gauss-Markov drive at markov_normal(s) + a (6, 9, 23), of its random-walk
// step at walk_normal(s) + a (12, 15, 26); 18: timestamp jitter. Normal m is Box-Muller output
// m % 4 (word pairs 0-1, 2-3) of Philox block m / 4, whose counter is (sample k low word, high
// word, placement id, m / 4) under the key seed: accel and gyro with the jitter fill 5 blocks,
// the magnetometer adds 3. A normal depends on (seed, placement id, k, m) alone; the order puts
// what every device reads (white noise, Gauss-Markov) in blocks 0-2 (and 5-6), so a driver can
// leave out blocks whose normals would only be multiplied by zero (no random walk, no
// timestamps: blocks 3-4 and 7).
constexpr int kJitterNormal = 18;
constexpr int kMaxNormals = 32;  // 8 blocks (29 normals numbered)

AM_HD int white_normal(int s) { return s < 2 ? 3 * s : 20; }
AM_HD int markov_normal(int s) { return s < 2 ? 6 + 3 * s : 23; }
AM_HD int walk_normal(int s) { return s < 2 ? 12 + 3 * s : 26; }

AM_HD int normal_blocks(int n_sensors) { return n_sensors == 3 ? 8 : 5; }

// The 4 normals of Philox block `block` of (seed, placement id, sample k).
AM_HD void normal_block(uint64_t seed, uint32_t id, int64_t k, uint32_t block, float* z) {
  const U4 w = philox4x32_10(U4{{(uint32_t)((uint64_t)k), (uint32_t)((uint64_t)k >> 32), id, block}},
                             (uint32_t)seed, (uint32_t)(seed >> 32));
  box_muller_f(w.v[0], w.v[1], z[0], z[1]);
  box_muller_f(w.v[2], w.v[3], z[2], z[3]);
}

// ---- the problem ----------------------------------------------------------------------------
constexpr int kSensors = 3;  // accel, gyro, mag (mag optional)
constexpr int kClip = 5;     // numbers per sensor of DeviceProblem::clip

struct DeviceProblem {
  int64_t T = 0;  // motion frames
  int64_t P = 0;  // placements
  int64_t N = 0;  // device samples
  double fps = 0, odr = 0;
  double gravity[3] = {0.0, 0.0, -9.80665};
  double mag_world[3] = {0.0, 0.0, 0.0};
  uint64_t seed = 0;
  int n_sensors = 2;  // 3 with the magnetometer (needs rotations)
  int resample = 1;   // 0: device sample k is motion frame k (same rate, exact clock)

  const float* accel = nullptr;      // (T, P, 3) ideal specific force, placement frame
  const float* gyro = nullptr;       // (T, P, 3) ideal body rate, placement frame
  const float* rotations = nullptr;  // (T, P, 3, 3) world-from-placement, or null

  // Anti-alias / interpolation kernel tabulated at `table_per_frame` points per motion frame
  // (an integer) over [-half_width, half_width] frames (docs/devices.md "Output data rate").
  const double* table = nullptr;
  int64_t table_len = 0;
  double table_per_frame = 0, half_width = 0;

  // Per placement. s = sensor (0 accel, 1 gyro, 2 mag), a = axis.
  const uint32_t* rng_id = nullptr;   // (P,) placement id in the random numbers' counter
  const double* step = nullptr;       // (P,) motion frames per device sample (clock error in)
  const double* sens = nullptr;       // (P, 3s, 9) sensitivity (I + scale)(I + cross-axis)
  const double* bias = nullptr;       // (P, 3s, 3a) turn-on bias
  const double* white = nullptr;      // (P, 3s, 3a) white-noise std = density sqrt(odr)
  const double* markov_phi = nullptr; // (P, 3s) exp(-1 / (odr tau))
  const double* markov_q = nullptr;   // (P, 3s, 3a) driving std sigma_b sqrt(1 - phi^2)
  const double* markov_s0 = nullptr;  // (P, 3s, 3a) stationary std sigma_b (first sample)
  const double* walk_q = nullptr;     // (P, 3s, 3a) random-walk step std K / sqrt(odr)
  const double* clip = nullptr;       // (P, 3s, kClip): lo, hi, lsb (0: no ADC), lo / lsb and hi / lsb rounded
  const double* mount = nullptr;      // (P, 9) placement-from-device rotation (columns: device axes)
  const double* g_sens = nullptr;     // (P, 9) gyro g-sensitivity, rad/s per m/s^2
  const double* soft_iron = nullptr;  // (P, 9)
  const double* hard_iron = nullptr;  // (P, 3) tesla
  const double* strap = nullptr;      // (P, 10) spring-damper coefficients, or null (rigid)
  const double* time_offset_ns = nullptr;  // (P,)
  const double* jitter_ns = nullptr;       // (P,) timestamp jitter std

  int64_t chunk = 4096;  // device samples per chunk

  // Driver scratch: device-frame specific force after the strap (T, P, 3) or null, bias state
  // (P, 3s, 6) carried across chunks, and the drift of the current chunk (chunk, P, 3s, 3a).
  // The strap's own state (P, 3 axes, 3) is the driver's. mag_local (T, P, 3): the world field in
  // each placement frame per motion frame (mag_local_frame), so resampling taps read 3 numbers.
  const double* strap_force = nullptr;
  const double* mag_local = nullptr;
  double* bias_state = nullptr;
  double* drift = nullptr;
  // Rows of the drift buffer: drift_stride placements from drift_p0 (0, 0: all P from 0). The
  // CPU keeps a small buffer per block of placements; the GPU one for all of them.
  int64_t drift_p0 = 0, drift_stride = 0;

  // Outputs: (N, P, 3) float32 each (mag only with n_sensors 3), timestamps (N, P) int64 ns or
  // null (not wanted).
  float* out_accel = nullptr;
  float* out_gyro = nullptr;
  float* out_mag = nullptr;
  int64_t* timestamps = nullptr;
};

AM_HD V3 load3f(const float* q) { return {(double)q[0], (double)q[1], (double)q[2]}; }

AM_HD M3 load9f(const float* q) {
  M3 R;
  for (int i = 0; i < 9; ++i) R.m[i] = (double)q[i];
  return R;
}

AM_HD M3 load9(const double* q) {
  M3 R;
  for (int i = 0; i < 9; ++i) R.m[i] = q[i];
  return R;
}

// R v
AM_HD V3 mul(const M3& R, V3 v) {
  return {R.m[0] * v.x + R.m[1] * v.y + R.m[2] * v.z, R.m[3] * v.x + R.m[4] * v.y + R.m[5] * v.z,
          R.m[6] * v.x + R.m[7] * v.y + R.m[8] * v.z};
}

// ---- stage 1: loose strap, sequential in time, one world axis of one placement at a time ----
// Translational spring-damper between skin point and device: e = x_dev - x_skin obeys
// e'' + 2 zeta w e' + w^2 e = -a_skin (world frame), so a_dev = -w^2 e - 2 zeta w e'. Exact
// first-order-hold discretisation (coefficients from Python): s_{n+1} = Phi s_n + Ga u_n +
// Gb u_{n+1}, u = -a_skin. Starts at equilibrium with the first frame's acceleration.
// coef: Phi00 Phi01 Phi10 Phi11 Ga0 Ga1 Gb0 Gb1 w^2 2*zeta*w. The three world axes do not
// interact, so the recursion runs per (placement, axis): three times the parallelism of a
// recursion per placement on the GPU, and the sequential pass reads one row of each frame's
// rotation. It writes the device's world acceleration a_dev; strap_output then turns it into
// device-frame specific force, in place, for all frames in parallel. (The CPU's lanes run both
// steps per block of placements through the same helpers: device_cpu.cpp BlockStrap.)

// World kinematic acceleration of the skin point, axis i: (R f + g)_i from row i of the frame's
// rotation R and the ideal specific force f; and of element t * P + p.
AM_HD double strap_world_axis(double r0, double r1, double r2, V3 f, double g) {
  return r0 * f.x + r1 * f.y + r2 * f.z + g;
}

AM_HD double strap_kinematic(const DeviceProblem& pb, int64_t p, int64_t t, int i) {
  const int64_t j = t * pb.P + p;
  const float* r = pb.rotations + j * 9 + 3 * i;
  return strap_world_axis((double)r[0], (double)r[1], (double)r[2], load3f(pb.accel + j * 3), pb.gravity[i]);
}

// The state (e, v, a) of one axis: at equilibrium with the first frame's acceleration a0; the
// device's world acceleration a_dev of the current frame; the step to the next frame, whose
// kinematic acceleration is an. k: the placement's coefficients, coefficient c at k[c * S]
// (pb.strap rows: S = 1; the CPU's lanes keep a block's lane-major).
template <int S = 1>
AM_HD void strap_start(const double* k, double a0, double& e, double& v, double& a) {
  a = a0;
  e = (-1.0 / k[8 * S]) * a;
  v = 0.0;
}

template <int S = 1>
AM_HD double strap_accel(const double* k, double e, double v) { return (-k[8 * S]) * e - k[9 * S] * v; }

template <int S = 1>
AM_HD void strap_advance(const double* k, double an, double& e, double& v, double& a) {
  const double e1 = k[0] * e + k[S] * v - k[4 * S] * a - k[6 * S] * an;
  v = k[2 * S] * e + k[3 * S] * v - k[5 * S] * a - k[7 * S] * an;
  e = e1;
  a = an;
}

// One frame t of axis i of a loose-strapped placement p: writes a_dev into out (T, P, 3) and
// advances the state st = (e, v, a). an: strap_kinematic of frame t + 1 (not read at the last
// frame), an argument so that a driver can load it ahead (the GPU's sequential loop does).
// Drivers skip rigid placements (strap coefficient 8 is 0).
AM_HD void strap_axis_step(const DeviceProblem& pb, int64_t p, int i, int64_t t, double an, double* st, double* out) {
  const double* k = pb.strap + p * 10;
  double e = st[0], v = st[1], a = st[2];
  if (t == 0) strap_start(k, strap_kinematic(pb, p, 0, i), e, v, a);
  out[(t * pb.P + p) * 3 + i] = strap_accel(k, e, v);
  if (t + 1 < pb.T) strap_advance(k, an, e, v, a);
  st[0] = e; st[1] = v; st[2] = a;
}

AM_HD bool strap_is_loose(const DeviceProblem& pb, int64_t p) { return pb.strap[p * 10 + 8] != 0.0; }

// Device-frame specific force R^T (a_dev - g) of element j = t * P + p.
AM_HD V3 strap_device_force(const DeviceProblem& pb, int64_t j, V3 a_dev) {
  const V3 g = {pb.gravity[0], pb.gravity[1], pb.gravity[2]};
  return mul_t(load9f(pb.rotations + j * 9), a_dev - g);
}

// Element j = t * P + p of out: a_dev (world) -> device-frame specific force; rigid placements
// pass the ideal specific force through.
AM_HD void strap_output(const DeviceProblem& pb, int64_t j, double* out) {
  double* o = out + j * 3;
  const V3 f = strap_is_loose(pb, j % pb.P) ? strap_device_force(pb, j, V3{o[0], o[1], o[2]})
                                            : load3f(pb.accel + j * 3);
  o[0] = f.x; o[1] = f.y; o[2] = f.z;
}

// World magnetic field in the placement frame of motion frame t (mag_local, written once).
AM_HD void mag_local_frame(const DeviceProblem& pb, int64_t i, double* out) {  // i = t * P + p
  const V3 m = mul_t(load9f(pb.rotations + i * 9), V3{pb.mag_world[0], pb.mag_world[1], pb.mag_world[2]});
  out[i * 3] = m.x; out[i * 3 + 1] = m.y; out[i * 3 + 2] = m.z;
}

// Drift of (placement p, sensor s) at sample k of the drift chunk starting at sample k0.
AM_HD double* drift_at(const DeviceProblem& pb, int64_t p, int s, int64_t k, int64_t k0) {
  const int64_t rows = pb.drift_stride ? pb.drift_stride : pb.P;
  return pb.drift + (((k - k0) * rows + (p - pb.drift_p0)) * kSensors + s) * 3;
}

// ---- the normals a driver reads -------------------------------------------------------------
// Normals [m0, m0 + n) of placement p at sample k into z[0, n) (numbering above white_normal).
AM_HD void normals(const DeviceProblem& pb, int64_t p, int64_t k, int m0, int n, double* z) {
  float w[4];
  for (int b = m0 / 4; b <= (m0 + n - 1) / 4; ++b) {
    normal_block(pb.seed, pb.rng_id[p], k, (uint32_t)b, w);
    for (int j = 0; j < 4; ++j) {
      const int m = 4 * b + j;
      if (m >= m0 && m < m0 + n) z[m - m0] = (double)w[j];
    }
  }
}

// ---- stage 2: bias drift (Gauss-Markov + random walk), sequential in samples ---------------
// One (placement, sensor) at device sample k, written to the drift chunk starting at k0; the
// state is carried in pb.bias_state, so the drift does not depend on how samples are chunked
// or in which order the drivers visit (placement, sensor) pairs.
// zm, zw: its 3 Gauss-Markov and 3 random-walk normals (markov_normal(s), walk_normal(s) + 0..2).
// drift_advance is the step itself on a state st (Gauss-Markov 3, walk 3) held anywhere (the GPU
// keeps it in registers across a chunk); drift_step runs it on pb.bias_state.
struct DriftCoef {
  double phi, q[3], w[3], s0[3];
};

AM_HD DriftCoef drift_coef(const DeviceProblem& pb, int64_t ps) {
  DriftCoef c;
  c.phi = pb.markov_phi[ps];
  for (int a = 0; a < 3; ++a) {
    c.q[a] = pb.markov_q[ps * 3 + a];
    c.w[a] = pb.walk_q[ps * 3 + a];
    c.s0[a] = pb.markov_s0[ps * 3 + a];
  }
  return c;
}

AM_HD void drift_advance(const DriftCoef& c, int64_t k, const double* zm, const double* zw, double* st, double* d) {
  for (int a = 0; a < 3; ++a) {
    // first sample from the stationary law, so statistics hold from the start
    st[a] = k == 0 ? c.s0[a] * zm[a] : c.phi * st[a] + c.q[a] * zm[a];
    st[3 + a] = k == 0 ? 0.0 : st[3 + a] + c.w[a] * zw[a];
    d[a] = st[a] + st[3 + a];
  }
}

AM_HD void drift_step(const DeviceProblem& pb, int64_t p, int s, int64_t k, int64_t k0, const double* zm,
                      const double* zw) {
  const int64_t ps = p * kSensors + s;
  drift_advance(drift_coef(pb, ps), k, zm, zw, pb.bias_state + ps * 6, drift_at(pb, p, s, k, k0));
}

// Full-scale clip and ADC quantisation: codes are rint(y / lsb) clamped to the codes of lo and
// hi, rint(lo / lsb) and rint(hi / lsb), which the table holds (two divisions less per value).
AM_HD double adc(double y, const double* c) {
  if (c[2] > 0.0) {
    double code = rint(y / c[2]);
    code = code < c[3] ? c[3] : (code > c[4] ? c[4] : code);
    return code * c[2];
  }
  return y < c[0] ? c[0] : (y > c[1] ? c[1] : y);
}

// ---- stage 3: one device sample k of placement p --------------------------------------------
// device_input resamples (windowed-sinc kernel, renormalised) into x (placement axes, one V3
// per sensor); device_output rotates by the mount, then per sensor y = S x + b + drift + n,
// clips and quantises. The CPU driver computes device_input for a block of placements at once
// (same per-placement order of operations, so the same bytes).

// Window of motion frames [n0, n1] of device sample k of placement p at motion time u (frames).
AM_HD double resample_span(const DeviceProblem& pb, int64_t k, int64_t p, int64_t& n0, int64_t& n1) {
  const double u = (double)k * pb.step[p];
  n0 = (int64_t)ceil(u - pb.half_width);
  n1 = (int64_t)floor(u + pb.half_width);
  if (n0 < 0) n0 = 0;
  if (n1 > pb.T - 1) n1 = pb.T - 1;
  return u;
}

// The kernel over the span: frame n0 + j falls at table position pos0 + j * table_per_frame, so
// every tap has the first one's fraction fr and the table index i0 + j * table_per_frame
// (clamped to the last interval); resample_weight is tap j's weight. The CPU reads the table
// rearranged by phase i0 % table_per_frame (device_cpu.cpp), the same numbers.
AM_HD double resample_phase(const DeviceProblem& pb, double u, int64_t n0, int64_t& i0) {
  const double pos0 = ((double)n0 - u + pb.half_width) * pb.table_per_frame;
  i0 = (int64_t)(pos0 < 0.0 ? 0.0 : pos0);
  return pos0 - (double)i0;
}

AM_HD int64_t resample_index(const DeviceProblem& pb, int64_t i0, int64_t j) {
  const int64_t i = i0 + j * (int64_t)pb.table_per_frame;
  return i < pb.table_len - 2 ? i : pb.table_len - 2;
}

AM_HD double resample_weight(const DeviceProblem& pb, int64_t i0, int64_t j, double fr) {
  const int64_t i = resample_index(pb, i0, j);
  return pb.table[i] + fr * (pb.table[i + 1] - pb.table[i]);
}

AM_HD void device_input(const DeviceProblem& pb, int64_t k, int64_t p, V3* x) {
  const int64_t P = pb.P;
  const bool mag = pb.n_sensors == 3;
  auto field = [&](int64_t t) {
    const double* q = pb.mag_local + (t * P + p) * 3;
    return V3{q[0], q[1], q[2]};
  };
  auto force = [&](int64_t t) {
    if (pb.strap_force) {
      const double* q = pb.strap_force + (t * P + p) * 3;
      return V3{q[0], q[1], q[2]};
    }
    return load3f(pb.accel + (t * P + p) * 3);
  };
  if (!pb.resample) {
    x[0] = force(k);
    x[1] = load3f(pb.gyro + (k * P + p) * 3);
    if (mag) x[2] = field(k);
  } else {
    int64_t n0, n1, i0;
    const double u = resample_span(pb, k, p, n0, n1);
    const double fr = resample_phase(pb, u, n0, i0);
    V3 acc[kSensors] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    double wsum = 0.0;
    for (int64_t n = n0; n <= n1; ++n) {
      const double w = resample_weight(pb, i0, n - n0, fr);
      acc[0] = acc[0] + w * force(n);
      acc[1] = acc[1] + w * load3f(pb.gyro + (n * P + p) * 3);
      if (mag) acc[2] = acc[2] + w * field(n);
      wsum += w;
    }
    for (int s = 0; s < kSensors; ++s) x[s] = (1.0 / wsum) * acc[s];
  }
}

// Timestamp (ns, the device's clock) of sample k of placement p; zj: its jitter normal.
AM_HD int64_t device_timestamp(const DeviceProblem& pb, int64_t k, int64_t p, double zj) {
  return (int64_t)rint((double)k * (1e9 / pb.odr) + pb.time_offset_ns[p] + pb.jitter_ns[p] * zj);
}

// `d0` = first sample of the drift chunk; z: the normals of (p, k), z[m] for normal m (the
// white noise and jitter ones are read); x: device_input's, overwritten. The CPU driver runs a
// lane-major twin of this and of drift_step (device_cpu.cpp BlockLanes); a test holds the two
// to the same bytes. No timestamps when pb.timestamps is null.
AM_HD void device_output(const DeviceProblem& pb, int64_t k, int64_t p, int64_t d0, const double* z, V3* x) {
  const int64_t P = pb.P;
  const bool mag = pb.n_sensors == 3;
  // device axes from placement axes
  const M3 Rm = load9(pb.mount + p * 9);
  // loops over kSensors with a break, not to n_sensors: a constant trip count lets the GPU
  // compiler unroll them and keep x and z in registers (not in local memory)
  for (int s = 0; s < kSensors && s < pb.n_sensors; ++s) x[s] = mul_t(Rm, x[s]);
  x[1] = x[1] + mul(load9(pb.g_sens + p * 9), x[0]);
  if (mag) {
    const double* h = pb.hard_iron + p * 3;
    x[2] = mul(load9(pb.soft_iron + p * 9), x[2]) + V3{h[0], h[1], h[2]};
  }
  float* outs[kSensors] = {pb.out_accel, pb.out_gyro, pb.out_mag};
  for (int s = 0; s < kSensors && s < pb.n_sensors; ++s) {
    const int64_t ps = p * kSensors + s;
    const V3 y = mul(load9(pb.sens + ps * 9), x[s]);
    const double yv[3] = {y.x, y.y, y.z};
    const double* wn = pb.white + ps * 3;
    const double* zn = z + white_normal(s);
    const double* d = drift_at(pb, p, s, k, d0);
    float* o = outs[s] + (k * P + p) * 3;
    for (int a = 0; a < 3; ++a) {
      const double v = yv[a] + pb.bias[ps * 3 + a] + d[a] + wn[a] * zn[a];
      o[a] = (float)adc(v, pb.clip + ps * kClip);
    }
  }
  if (pb.timestamps) pb.timestamps[k * P + p] = device_timestamp(pb, k, p, z[kJitterNormal]);
}

AM_HD void device_sample(const DeviceProblem& pb, int64_t k, int64_t p, int64_t d0, const double* z) {
  V3 x[kSensors];
  device_input(pb, k, p, x);
  device_output(pb, k, p, d0, z, x);
}

}  // namespace anymo
