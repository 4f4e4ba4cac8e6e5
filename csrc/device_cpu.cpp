// CPU driver of the device model: OpenMP over blocks of placements, each block stepping through
// time with the placements innermost so memory is read and written contiguously (the strap's
// recursion; then, sample by sample, the random numbers, the bias drift and the samples). The
// sample stage runs a block's placements in vector lanes (gauss4_batch, BlockFir, BlockLanes),
// the same operations per placement as the per-element code CUDA runs; 'elementwise' runs that
// code here, and a test holds both to the same bytes.
#include <vector>

#include "anymo/drivers.h"
#include "anymo/lanes.h"

namespace anymo {

namespace {
// Unroll the small fixed loops inside a loop over vector lanes (GCC gives up on inner loops).
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 9")
#elif defined(__clang__)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL
#endif
constexpr int64_t kBlock = 64;  // placements per block of the strap's recursion
constexpr int64_t kSampleBlock = 16;  // placements per block of drift and samples
constexpr int64_t kMaxLanes = kSampleBlock * kSlots;

// Philox blocks with their Box-Muller normals, lane i keyed by (k, id[i], stream[i]): the loop
// of gauss4 over lanes, written so the compiler vectorises it. Cloned for AVX-512 and AVX2 and
// picked at load time (x86-64 Linux with GCC or Clang); vector lanes round each IEEE operation
// as the scalar code does (no FMA contraction in this file), so the bytes do not change.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void gauss4_batch(uint64_t seed, int64_t k, int64_t n, const uint32_t* id, const uint32_t* stream, double* z0,
                  double* z1, double* z2, double* z3) {
  const uint32_t k0 = (uint32_t)((uint64_t)k), k1 = (uint32_t)((uint64_t)k >> 32);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const U4 b = philox4x32_10(U4{{k0, k1, id[i], stream[i]}}, (uint32_t)seed, (uint32_t)(seed >> 32));
    box_muller(b.v[0], b.v[1], z0[i], z1[i]);
    box_muller(b.v[2], b.v[3], z2[i], z3[i]);
  }
}

// The normals of every slot of a block of placements [pa, pe), sample by sample, into z
// ((slot * 4 + j) * kSampleBlock + p - pa): which slots are drawn depends on the sample only through
// the walk (from sample 1 on), so the lanes are listed at samples 0 and 1 and the undrawn
// slots zeroed once; each sample then is one batch and a scatter.
struct SlotDraws {
  std::vector<uint32_t> id, stream;
  std::vector<double> zl[4];
  std::vector<int64_t> dest;
  int64_t n = 0;
  SlotDraws() : id(kMaxLanes), stream(kMaxLanes), dest(kMaxLanes) {
    for (auto& v : zl) v.resize(kMaxLanes);
  }
  void plan(const DeviceProblem& pb, int64_t pa, int64_t pe, int64_t k, double* z) {
    n = 0;
    for (int64_t p = pa; p < pe; ++p)
      for (int slot = 0; slot < kSlots; ++slot) {
        double* zs = z + slot * 4 * kSampleBlock + (p - pa);  // lane-major: (slot, 4, lane)
        const int st = slot_stream(pb, p, k, slot);
        if (st < 0) {
          for (int j = 0; j < 4; ++j) zs[j * kSampleBlock] = 0.0;
          continue;
        }
        id[n] = pb.rng_id[p];
        stream[n] = (uint32_t)st;
        dest[n++] = zs - z;
      }
  }
  void draw(const DeviceProblem& pb, int64_t k, double* z) {
    gauss4_batch(pb.seed, k, n, id.data(), stream.data(), zl[0].data(), zl[1].data(), zl[2].data(), zl[3].data());
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 4; ++j) z[dest[i] + j * kSampleBlock] = zl[j][i];
  }
};
// Resampling (device_input) of a block of placements at once, placements in vector lanes.
// The block's inputs are copied, frame by frame, into `rows` (frame, channel, lane) for a
// window of frames that slides forward with the samples. Every lane sums over the block's
// widest tap span, with weight 0 outside its own span [n0, n1]: adding +-0 to a sum that
// started at +0 changes nothing, so each placement's sum is the scalar one, term by term.
struct BlockFir {
  static constexpr int L = (int)kSampleBlock;
  static constexpr int64_t kWindow = 1024;  // frames copied at once, beyond a sample's span
  std::vector<double> rows;
  int64_t f0 = 0, f1 = -1;  // frames held

  // Copies frames [a, b] of placements [pa, pe) (lanes beyond pe: zeros).
  void load(const DeviceProblem& pb, int64_t pa, int64_t pe, int64_t a, int64_t b) {
    const int ch = 3 * pb.n_sensors;
    rows.assign((size_t)(b - a + 1) * ch * L, 0.0);
    for (int64_t n = a; n <= b; ++n) {
      double* r = rows.data() + (n - a) * ch * L;
      for (int64_t p = pa; p < pe; ++p) {
        const int64_t j = (n * pb.P + p) * 3, l = p - pa;
        for (int i = 0; i < 3; ++i) {
          r[i * L + l] = pb.strap_force ? pb.strap_force[j + i] : (double)pb.accel[j + i];
          r[(3 + i) * L + l] = (double)pb.gyro[j + i];
          if (ch == 9) r[(6 + i) * L + l] = pb.mag_local[j + i];
        }
      }
    }
    f0 = a;
    f1 = b;
  }

  // x[(3 s + a) L + p - pa]: device_input of sample k for the block, lane-major.
  void sample(const DeviceProblem& pb, int64_t k, int64_t pa, int64_t pe, double* x) {
    double u[L], lo[L], hi[L];
    int64_t nlo = pb.T, nhi = -1;
    for (int l = 0; l < L; ++l) {
      int64_t n0 = 0, n1 = -1;  // empty span for lanes beyond pe
      u[l] = pa + l < pe ? resample_span(pb, k, pa + l, n0, n1) : 0.0;
      lo[l] = (double)n0;
      hi[l] = (double)n1;
      if (n0 <= n1) {
        nlo = n0 < nlo ? n0 : nlo;
        nhi = n1 > nhi ? n1 : nhi;
      }
    }
    if (nlo < f0 || nhi > f1) {
      const int64_t b = nhi + kWindow < pb.T - 1 ? nhi + kWindow : pb.T - 1;
      load(pb, pa, pe, nlo, b);
    }
    double acc[9 * L], wsum[L];
    if (pb.n_sensors == 3)
      taps<9>(pb, nlo, nhi, u, lo, hi, acc, wsum);
    else
      taps<6>(pb, nlo, nhi, u, lo, hi, acc, wsum);
    for (int c = 0; c < 3 * pb.n_sensors; ++c)
      for (int l = 0; l < L; ++l) x[c * L + l] = (1.0 / wsum[l]) * acc[c * L + l];
  }

  template <int CH>
  void taps(const DeviceProblem& pb, int64_t nlo, int64_t nhi, const double* u, const double* lo, const double* hi,
            double* acc, double* wsum) const {
    taps_lanes<CH>(rows.data() + (nlo - f0) * CH * L, nlo, nhi, pb.half_width, pb.table_per_frame, pb.table,
                   (double)(pb.table_len - 2), u, lo, hi, acc, wsum);
  }

  // The tap loop, cloned for AVX-512 / AVX2 like gauss4_batch (no FMA contraction in this
  // file, so every lane rounds as the scalar code).
  template <int CH>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
  static void taps_lanes(const double* r, int64_t nlo, int64_t nhi, double hw, double tpf, const double* table,
                         double dmax, const double* u, const double* lo, const double* hi, double* acc,
                         double* wsum) {
    // dmax: the last table index (a double argument: converted here, GCC stops vectorising)
    for (int i = 0; i < CH * L; ++i) acc[i] = 0.0;
    for (int l = 0; l < L; ++l) wsum[l] = 0.0;
    for (int64_t n = nlo; n <= nhi; ++n, r += CH * L) {
      const double nd = (double)n;
      double w[L];
#pragma omp simd
      for (int l = 0; l < L; ++l) {
        const double pos = (nd - u[l] + hw) * tpf;
        double pc = pos < 0.0 ? 0.0 : pos;
        pc = pc > dmax ? dmax : pc;
        const int i = (int)pc;  // as the scalar (int64_t)pos clamped to dmax, inside the span
        const double fr = pos - (double)i;
        const double wl = table[i] + fr * (table[i + 1] - table[i]);
        // times 1 or 0 rather than a select, which GCC does not vectorise here
        w[l] = wl * (double)((nd >= lo[l]) & (nd <= hi[l]));
        wsum[l] += w[l];
      }
      for (int c = 0; c < CH; ++c)
#pragma omp simd
        for (int l = 0; l < L; ++l) acc[c * L + l] += w[l] * r[c * L + l];
    }
  }
};

// drift_step and device_output of a block of placements at once, lane-major (coefficient c of
// lane l at [c * L + l]) so every loop over lanes vectorises: the same operations in the same
// order per placement as device.h, which test_devices.py holds to the same bytes
// (cpu-elementwise). The bias drift's state lives here for the whole walk through time.
struct BlockLanes {
  static constexpr int L = (int)kSampleBlock;
  double mount[9 * L], gs[9 * L], soft[9 * L], hard[3 * L];
  double sens[kSensors * 9 * L], bias[kSensors * 3 * L], white[kSensors * 3 * L];
  // ADC per sensor and axis: lo, hi, lsb or 1 (the divisor), rint(lo / lsb), rint(hi / lsb), lsb > 0
  double lo[kSensors * L], hi[kSensors * L], div[kSensors * L], clo[kSensors * L], chi[kSensors * L],
      quant[kSensors * L];
  double phi[kSensors * L], mq[kSensors * 3 * L], s0[kSensors * 3 * L], wq[kSensors * 3 * L];
  double st[kSensors * 6 * L];  // Markov (3) and walk (3) states

  // Lanes past pe hold lane 0's coefficients (computed, never stored).
  void load(const DeviceProblem& pb, int64_t pa, int64_t pe) {
    for (int l = 0; l < L; ++l) {
      const int64_t p = pa + l < pe ? pa + l : pa;
      for (int i = 0; i < 9; ++i) {
        mount[i * L + l] = pb.mount[p * 9 + i];
        gs[i * L + l] = pb.g_sens[p * 9 + i];
        soft[i * L + l] = pb.soft_iron ? pb.soft_iron[p * 9 + i] : 0.0;
      }
      for (int i = 0; i < 3; ++i) hard[i * L + l] = pb.hard_iron ? pb.hard_iron[p * 3 + i] : 0.0;
      for (int s = 0; s < kSensors; ++s) {
        const int64_t ps = p * kSensors + s;
        for (int i = 0; i < 9; ++i) sens[(s * 9 + i) * L + l] = pb.sens[ps * 9 + i];
        for (int a = 0; a < 3; ++a) {
          const int j = (s * 3 + a) * L + l;
          bias[j] = pb.bias[ps * 3 + a];
          white[j] = pb.white[ps * 3 + a];
          mq[j] = pb.markov_q[ps * 3 + a];
          s0[j] = pb.markov_s0[ps * 3 + a];
          wq[j] = pb.walk_q[ps * 3 + a];
        }
        const double* c = pb.clip + ps * kClip;
        lo[s * L + l] = c[0];
        hi[s * L + l] = c[1];
        div[s * L + l] = c[2] > 0.0 ? c[2] : 1.0;
        clo[s * L + l] = c[3];
        chi[s * L + l] = c[4];
        quant[s * L + l] = c[2] > 0.0 ? 1.0 : 0.0;
        phi[s * L + l] = pb.markov_phi[ps];
      }
    }
    for (double& v : st) v = 0.0;
  }

  // Sample k: drift, then device_output into the outputs for lanes [0, n). x: device_input,
  // (3 s + a) * L + l; z: the block's normals, (slot * 4 + j) * L + l.
  template <int NS>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
  void step(const DeviceProblem& pb, int64_t k, int64_t pa, int n, const double* x, const double* z) {
    double d[NS * 3 * L], y[NS * 3 * L];
    for (int s = 0; s < NS; ++s)
      for (int a = 0; a < 3; ++a) {
        const double* zm = z + ((kMarkov * kSensors + s) * 4 + a) * L;
        const double* zw = z + ((kWalk * kSensors + s) * 4 + a) * L;
        double* m = st + (s * 6 + a) * L;
        double* w = st + (s * 6 + 3 + a) * L;
        const double* q = mq + (s * 3 + a) * L;
        const double* qw = wq + (s * 3 + a) * L;
        const double* sd = s0 + (s * 3 + a) * L;
        const double* ph = phi + s * L;
        double* ds = d + (s * 3 + a) * L;
        if (k == 0) {
#pragma omp simd
          for (int l = 0; l < L; ++l) {
            m[l] = sd[l] * zm[l];
            w[l] = 0.0;
            ds[l] = m[l] + w[l];
          }
        } else {
#pragma omp simd
          for (int l = 0; l < L; ++l) {
            m[l] = ph[l] * m[l] + q[l] * zm[l];
            w[l] = w[l] + qw[l] * zw[l];
            ds[l] = m[l] + w[l];
          }
        }
      }
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      double v[NS][3];
      // device axes from placement axes: mul_t(mount, x)
      UNROLL for (int s = 0; s < NS; ++s) {
        const double x0 = x[(3 * s) * L + l], x1 = x[(3 * s + 1) * L + l], x2 = x[(3 * s + 2) * L + l];
        UNROLL for (int r = 0; r < 3; ++r)
          v[s][r] = mount[r * L + l] * x0 + mount[(3 + r) * L + l] * x1 + mount[(6 + r) * L + l] * x2;
      }
      // gyro g-sensitivity: + mul(g_sens, accel)
      UNROLL for (int r = 0; r < 3; ++r)
        v[1][r] = v[1][r] + (gs[(3 * r) * L + l] * v[0][0] + gs[(3 * r + 1) * L + l] * v[0][1] +
                             gs[(3 * r + 2) * L + l] * v[0][2]);
      if (NS == 3) {  // soft and hard iron: mul(soft, mag) + hard
        const double m0 = v[2][0], m1 = v[2][1], m2 = v[2][2];
        UNROLL for (int r = 0; r < 3; ++r)
          v[2][r] = (soft[(3 * r) * L + l] * m0 + soft[(3 * r + 1) * L + l] * m1 + soft[(3 * r + 2) * L + l] * m2) +
                    hard[r * L + l];
      }
      UNROLL for (int s = 0; s < NS; ++s)
        UNROLL for (int r = 0; r < 3; ++r) {
          const double* S = sens + (s * 9 + 3 * r) * L + l;
          const double ys = S[0] * v[s][0] + S[L] * v[s][1] + S[2 * L] * v[s][2];
          const int j = (s * 3 + r) * L + l;
          const double val = ys + bias[j] + d[j] + white[j] * z[((kWhite * kSensors + s) * 4 + r) * L + l];
          // adc: both branches, then a select (same values as the branch taken)
          double code = rint(val / div[s * L + l]);
          code = code < clo[s * L + l] ? clo[s * L + l] : (code > chi[s * L + l] ? chi[s * L + l] : code);
          const double clipped = val < lo[s * L + l] ? lo[s * L + l] : (val > hi[s * L + l] ? hi[s * L + l] : val);
          y[j] = pick(quant[s * L + l] != 0.0, code * div[s * L + l], clipped);
        }
    }
    float* outs[3] = {pb.out_accel, pb.out_gyro, pb.out_mag};
    for (int s = 0; s < NS; ++s) {
      float* o = outs[s] + (k * pb.P + pa) * 3;
      for (int l = 0; l < n; ++l)
        for (int a = 0; a < 3; ++a) o[l * 3 + a] = (float)y[(s * 3 + a) * L + l];
    }
  }
};
}  // namespace

void run_device_cpu(DeviceProblem pb, bool elementwise) {
  const int64_t P = pb.P;
  // per-frame scratch kept between calls (drivers.h)
  thread_local std::vector<double> kept_strap, kept_mag;
  std::vector<double>& strap_force = kept_strap;
  std::vector<double>& mag_local = kept_mag;
  if (pb.strap) {
    strap_force.resize(pb.T * P * 3);
    std::vector<double> st(P * 9, 0.0);
    double* out = strap_force.data();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < P; b += kBlock) {
      const int64_t e = b + kBlock < P ? b + kBlock : P;
      for (int64_t t = 0; t < pb.T; ++t)
        for (int64_t p = b; p < e; ++p)
          if (strap_is_loose(pb, p))
            for (int i = 0; i < 3; ++i) strap_axis_step(pb, p, i, t, st.data() + p * 9 + i * 3, out);
    }
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < pb.T * P; ++j) strap_output(pb, j, out);
    pb.strap_force = out;
  }
  if (pb.n_sensors == 3) {
    mag_local.resize(pb.T * P * 3);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < pb.T * P; ++i) mag_local_frame(pb, i, mag_local.data());
    pb.mag_local = mag_local.data();
  }
  // Per block of placements, sample by sample: the block's normals in one batch, its inputs
  // (resampled), then its drift (state carried in BlockLanes) and outputs. The elementwise path
  // carries the drift in bias_state and a one-sample drift "chunk" of the thread's. The CPU
  // needs no pb.chunk.
  std::vector<double> state(elementwise ? P * kSensors * 6 : 0, 0.0);  // the lanes keep their own
  pb.bias_state = state.data();
  pb.drift_stride = kSampleBlock;
#pragma omp parallel
  {
    std::vector<double> drift(elementwise ? kSampleBlock * kSensors * 3 : 0, 0.0), z(kMaxLanes * 4);
    SlotDraws draws;
    BlockFir fir;
    BlockLanes lanes;
    double x[3 * kSensors * kSampleBlock] = {};  // lane-major device_input
    DeviceProblem q = pb;
    q.drift = drift.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t pa = 0; pa < P; pa += kSampleBlock) {
      const int64_t pe = pa + kSampleBlock < P ? pa + kSampleBlock : P;
      q.drift_p0 = pa;
      fir.f1 = -1;
      if (!elementwise) lanes.load(pb, pa, pe);
      for (int64_t k = 0; k < pb.N; ++k) {
        if (elementwise) {  // the CUDA kernels' per-element calls, for the tests (drivers.h)
          for (int64_t p = pa; p < pe; ++p) {
            double* zp = z.data() + (p - pa) * kSlots * 4;
            for (int slot = 0; slot < kSlots; ++slot) slot_normals(q, p, k, slot, zp + slot * 4);
            for (int s = 0; s < pb.n_sensors; ++s)
              drift_step(q, p, s, k, k, zp + (kMarkov * kSensors + s) * 4, zp + (kWalk * kSensors + s) * 4);
            device_sample(q, k, p, k, zp);
          }
          continue;
        }
        if (k < 2) draws.plan(q, pa, pe, k, z.data());
        draws.draw(q, k, z.data());
        if (pb.resample) {
          fir.sample(q, k, pa, pe, x);
        } else {
          for (int64_t p = pa; p < pe; ++p) {
            V3 xp[kSensors];
            device_input(q, k, p, xp);
            for (int s = 0; s < pb.n_sensors; ++s) {
              x[(3 * s) * kSampleBlock + p - pa] = xp[s].x;
              x[(3 * s + 1) * kSampleBlock + p - pa] = xp[s].y;
              x[(3 * s + 2) * kSampleBlock + p - pa] = xp[s].z;
            }
          }
        }
        if (pb.n_sensors == 3)
          lanes.step<3>(pb, k, pa, (int)(pe - pa), x, z.data());
        else
          lanes.step<2>(pb, k, pa, (int)(pe - pa), x, z.data());
        if (pb.timestamps)
          for (int64_t p = pa; p < pe; ++p)
            pb.timestamps[k * P + p] = device_timestamp(pb, k, p, z[kJitterSlot * 4 * kSampleBlock + p - pa]);
      }
    }
  }
  release_if_large(strap_force);
  release_if_large(mag_local);
}

}  // namespace anymo
