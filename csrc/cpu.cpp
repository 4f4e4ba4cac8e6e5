// CPU driver: OpenMP loops over (frame, element) for each stage of each chunk.
#include <algorithm>
#include <vector>

#include "anymo/drivers.h"
#include "anymo/lanes.h"

namespace anymo {

namespace {

// Placements per lane block: of the pose state (ImuProblem::state_lanes) and of pose_lanes.
constexpr int kLanes = 8;

// Writes placement p's pose (pos 3, rot 9) into the lane-block state at frame s0 + i.
inline void put_state(const ImuProblem& pb, int64_t i, int64_t p, const double* po, const double* ro, double* pos,
                      double* rot) {
  const int64_t jp = state_index(pb, i, p, 3), jr = state_index(pb, i, p, 9), d = state_step(pb);
  for (int c = 0; c < 3; ++c) pos[jp + c * d] = po[c];
  for (int c = 0; c < 9; ++c) rot[jr + c * d] = ro[c];
}

template <class Positions>
int64_t pose_stage(const ImuProblem& pb, const ChunkPlan& c, const Positions& X, double* pos,
                   double* rot) {
  const int64_t n = (c.s1 - c.s0) * pb.P;
  int64_t degenerate = 0;
#pragma omp parallel for schedule(static) reduction(+ : degenerate)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = c.s0 + i / pb.P, p = i % pb.P;
    double po[3], ro[9];
    const int d = pose_placement(pb, X, t, p, po, ro);
    put_state(pb, t - c.s0, p, po, ro, pos, rot);
    if (t >= c.c0 && t < c.c1) degenerate += d;  // halo frames are counted by their own chunk
  }
  return degenerate;
}

// Stage 2 of one interior frame t for all placements: imu_sample_interior across placements in
// vector lanes (cloned for AVX-512 and AVX2), then imu_sample for the few outside its branch.
// Whole lane blocks read the state's rows as vectors in plain ivdep loops (GCC leaves an omp
// simd loop over imu_sample_interior scalar, as it would pose_lanes below).
// carry: per full block, (5, kLanes) rows: k, d' (3) and the small flag of the transpose of the
// frame's forward rotation M = Rt^T R(t+1) (so3_log_small_parts; M^T has M's k). Carried: frame
// t - 1 left them there, and R(t-1)^T Rt's transpose is Rt^T R(t-1) to the bit (the same
// products summed in the same order), so its log is k d', as computing it would give.
template <bool Carried>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void interior_frame(const ImuProblem& pb, const double* ps, const double* rs, int64_t s0, int64_t t, uint8_t* ok,
                    double* carry) {
  constexpr int L = kLanes;
  const int64_t P = pb.P;
  float* fa = pb.accel + t * P * 3;
  float* wa = pb.gyro + t * P * 3;
  auto put = [&](int64_t p, bool good, V3 f, V3 w) {
    ok[p] = good;
    fa[p * 3] = (float)f.x; fa[p * 3 + 1] = (float)f.y; fa[p * 3 + 2] = (float)f.z;
    wa[p * 3] = (float)w.x; wa[p * 3 + 1] = (float)w.y; wa[p * 3 + 2] = (float)w.z;
  };
  int64_t p0 = 0;
  for (; p0 + L <= P; p0 += L) {
    // the block's rows at t - 1, t, t + 1
    const double* __restrict qa = ps + state_index(pb, t - 1 - s0, p0, 3);
    const double* __restrict qt = ps + state_index(pb, t - s0, p0, 3);
    const double* __restrict qb = ps + state_index(pb, t + 1 - s0, p0, 3);
    const double* __restrict ra = rs + state_index(pb, t - 1 - s0, p0, 9);
    const double* __restrict rt = rs + state_index(pb, t - s0, p0, 9);
    const double* __restrict rb = rs + state_index(pb, t + 1 - s0, p0, 9);
    double* __restrict c = carry + p0 * 5;
    double f[3][L], w[3][L], good[L];
#pragma GCC ivdep
    for (int l = 0; l < L; ++l) {
      M3 Rt, Rb;
      for (int i = 0; i < 9; ++i) Rt.m[i] = rt[i * L + l], Rb.m[i] = rb[i * L + l];
      double kf, kb;
      V3 df, db;
      const M3 M = mul_tn(Rt, Rb);
      const bool sf = so3_log_small_parts(M, kf, df);
      bool sb;
      if (Carried) {
        kb = c[l];
        db = V3{c[L + l], c[2 * L + l], c[3 * L + l]};
        sb = c[4 * L + l] != 0.0;
      } else {
        M3 Ra;
        for (int i = 0; i < 9; ++i) Ra.m[i] = ra[i * L + l];
        sb = so3_log_small_parts(mul_tn(Rt, Ra), kb, db);
      }
      c[l] = kf;
      c[L + l] = M.m[5] - M.m[7]; c[2 * L + l] = M.m[6] - M.m[2]; c[3 * L + l] = M.m[1] - M.m[3];
      c[4 * L + l] = pick(sf, 1.0, 0.0);
      const V3 phi[2] = {kb * db, kf * df};
      V3 fl, wl;
      interior_from_logs(pb, V3{qa[l], qa[L + l], qa[2 * L + l]}, V3{qt[l], qt[L + l], qt[2 * L + l]},
                         V3{qb[l], qb[L + l], qb[2 * L + l]}, Rt, phi, fl, wl);
      good[l] = pick(sb & sf, 1.0, 0.0);
      f[0][l] = fl.x; f[1][l] = fl.y; f[2][l] = fl.z;
      w[0][l] = wl.x; w[1][l] = wl.y; w[2][l] = wl.z;
    }
    for (int l = 0; l < L; ++l)
      put(p0 + l, good[l] != 0.0, V3{f[0][l], f[1][l], f[2][l]}, V3{w[0][l], w[1][l], w[2][l]});
  }
  for (; p0 < P; ++p0) {  // a last, partial block: the same operations one at a time
    V3 fl, wl;
    const bool good = imu_sample_interior(pb, ps, rs, s0, t, p0, fl, wl);
    put(p0, good, fl, wl);
  }
}

// ---- stage 0 in vector lanes: skinning by groups of items with the same joints -----------
// skin_item blends the matrices of an item's nonzero weights in column order. Items whose
// nonzero columns name the same joints form a group: its lanes share the group's matrices
// (no gathers) and add exactly the terms skin_item adds, in the same order. Groups of more
// than kMaxTerms terms are left to skin_item.
constexpr int kMaxTerms = 4;

struct SkinGroups {
  std::vector<int32_t> begin;   // (G + 1,) into the group-ordered arrays
  std::vector<int32_t> item;    // item of each group-ordered entry
  std::vector<int32_t> terms;   // (G,) nonzero weights of the group's items
  std::vector<int32_t> joints;  // (G, K) their joints, in column order
  std::vector<double> weight;   // (K, n_items) group-ordered, the nonzero weights in column order
  std::vector<double> rest;     // (4, n_items) group-ordered: rest x, y, z and hom
};

SkinGroups skin_groups(const ImuProblem& pb) {
  const int64_t n = pb.n_items, K = pb.K;
  std::vector<int32_t> keys(n * K);  // per item: the joints of the nonzero columns, -1 for the others
  for (int64_t i = 0; i < n * K; ++i) keys[i] = pb.item_weights[i] != 0.0 ? pb.item_joints[i] : -1;
  auto key = [&](int64_t u) { return keys.data() + u * K; };
  std::vector<int32_t> order(n);
  for (int64_t u = 0; u < n; ++u) order[u] = (int32_t)u;
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return std::lexicographical_compare(key(a), key(a) + K, key(b), key(b) + K);
  });
  SkinGroups G;
  G.item = order;
  G.weight.assign((size_t)K * n, 0.0);
  G.rest.assign((size_t)4 * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t u = order[i];
    const int32_t* k = key(u);
    if (i == 0 || !std::equal(k, k + K, key(order[i - 1]))) {
      G.begin.push_back((int32_t)i);
      int32_t nt = 0;
      for (int64_t c = 0; c < K; ++c)
        if (k[c] >= 0) G.joints.push_back(k[c]), ++nt;
      G.joints.resize(G.joints.size() + (K - nt), 0);  // K per group
      G.terms.push_back(nt);
    }
    for (int64_t c = 0, j = 0; c < K; ++c)
      if (k[c] >= 0) G.weight[(j++) * n + i] = pb.item_weights[u * K + c];
    for (int c = 0; c < 3; ++c) G.rest[c * n + i] = pb.item_rest[u * 3 + c];
    G.rest[3 * n + i] = pb.item_hom[u];
  }
  G.begin.push_back((int32_t)n);
  return G;
}

// skin_item of group g's items at frame t, NT terms each, into xs (3, n_items) group-ordered.
template <int NT>
inline __attribute__((always_inline)) void skin_lanes(const ImuProblem& pb, const SkinGroups& G, int64_t g, int64_t t,
                                                      double* __restrict xs) {
  const int64_t n = pb.n_items;
  double A[NT][12];
  for (int k = 0; k < NT; ++k)
    for (int i = 0; i < 12; ++i) A[k][i] = pb.transforms[(t * pb.J + G.joints[g * pb.K + k]) * 12 + i];
  const double* __restrict w = G.weight.data();
  const double* __restrict r = G.rest.data();
#pragma GCC ivdep
  for (int64_t i = G.begin[g]; i < G.begin[g + 1]; ++i) {
    double M[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
#pragma GCC unroll 4
    for (int k = 0; k < NT; ++k) {
      const double wk = w[k * n + i];
#pragma GCC unroll 12
      for (int j = 0; j < 12; ++j) M[j] += wk * A[k][j];
    }
    const double x = r[i], y = r[n + i], z = r[2 * n + i], h = r[3 * n + i];
    xs[i] = M[0] * x + M[1] * y + M[2] * z + h * M[3];
    xs[n + i] = M[4] * x + M[5] * y + M[6] * z + h * M[7];
    xs[2 * n + i] = M[8] * x + M[9] * y + M[10] * z + h * M[11];
  }
}

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void skin_frame(const ImuProblem& pb, const SkinGroups& G, int64_t t, double* xs, double* frame) {
  const int64_t n = pb.n_items;
  for (int64_t g = 0; g + 1 < (int64_t)G.begin.size(); ++g) {
    switch (G.terms[g]) {
      case 1: skin_lanes<1>(pb, G, g, t, xs); break;
      case 2: skin_lanes<2>(pb, G, g, t, xs); break;
      case 3: skin_lanes<3>(pb, G, g, t, xs); break;
      case 4: skin_lanes<4>(pb, G, g, t, xs); break;
      default:
        for (int64_t i = G.begin[g]; i < G.begin[g + 1]; ++i) {
          const V3 x = skin_item(pb, t, G.item[i]);
          xs[i] = x.x; xs[n + i] = x.y; xs[2 * n + i] = x.z;
        }
    }
  }
  for (int64_t i = 0; i < n; ++i) {  // into item order, (n_items, 3)
    double* q = frame + (int64_t)G.item[i] * 3;
    q[0] = xs[i]; q[1] = xs[n + i]; q[2] = xs[2 * n + i];
  }
}

// ---- stage 1 of the skinned path in vector lanes -----------------------------------------
// Placements in blocks of kLanes. Each of a block's three anchor slots has its ring of faces
// padded to the block's largest with zero-area faces (one vertex thrice), so all lanes run the
// same face count: a zero cross product added to sums that started at +0 changes nothing. An
// unused slot (bary 0) has weight 0, an empty ring and `unused` 1, which keeps b / nn finite
// (0 / 1) where pose_placement skips the slot; its terms are then exact zeros.

struct PoseBlocks {
  int64_t n = 0;                   // blocks
  std::vector<int32_t> ring_rows;  // (n * 3 + 1,) CSR of (block, slot) into ring, in rows
  std::vector<int32_t> ring;       // rows of (corner, lane): 3 * kLanes local indices
  std::vector<int32_t> anchor;     // (n, 3, kLanes) local index of the anchor (0 if unused)
  std::vector<double> weight;      // (n, 3, kLanes) bary (0 if unused)
  std::vector<double> count;       // (n, 3, kLanes) faces in the unpadded ring
  std::vector<double> unused;      // (n, 3, kLanes) 1 if unused, else 0
  // (n, kLanes) per placement, padded past P with item 0, no yaw and no offset
  std::vector<int32_t> ref;
  std::vector<double> cos_yaw, sin_yaw, offset;
  // (n,) 1 where no lane uses slots 1 and 2 (placements at a vertex): pose_lanes<1> leaves them
  // out, the same bits (their terms are exact zeros added to sums that start at +0), else 3
  std::vector<uint8_t> slots;
};

PoseBlocks pose_blocks(const ImuProblem& pb) {
  PoseBlocks B;
  B.n = (pb.P + kLanes - 1) / kLanes;
  const size_t slots = (size_t)B.n * 3 * kLanes, lanes = (size_t)B.n * kLanes;
  B.anchor.assign(slots, 0);
  B.weight.assign(slots, 0.0);
  B.count.assign(slots, 0.0);
  B.unused.assign(slots, 1.0);
  B.ring_rows.assign(B.n * 3 + 1, 0);
  B.ref.assign(lanes, 0);
  B.cos_yaw.assign(lanes, 1.0);
  B.sin_yaw.assign(lanes, 0.0);
  B.offset.assign(lanes, 0.0);
  B.slots.assign(B.n, 1);
  for (int64_t p = 0; p < pb.P; ++p) {
    B.ref[p] = pb.ref_item[p];
    B.cos_yaw[p] = pb.yaw_cs[p * 2];
    B.sin_yaw[p] = pb.yaw_cs[p * 2 + 1];
    B.offset[p] = pb.offset[p];
  }
  auto slot_anchor = [&](int64_t p, int i) { return p < pb.P ? pb.anchor_slot[p * 3 + i] : -1; };
  for (int64_t b = 0; b < B.n; ++b)
    for (int i = 0; i < 3; ++i) {
      const int64_t s = b * 3 + i;
      int32_t rows = 0;
      for (int l = 0; l < kLanes; ++l) {
        const int64_t p = b * kLanes + l;
        const int32_t a = slot_anchor(p, i);
        if (a < 0) continue;
        const int32_t m = pb.adj_offsets[a + 1] - pb.adj_offsets[a];
        B.anchor[s * kLanes + l] = pb.anchor_vertex[a];
        B.weight[s * kLanes + l] = pb.bary[p * 3 + i];
        B.count[s * kLanes + l] = m;
        B.unused[s * kLanes + l] = 0.0;
        if (i > 0) B.slots[b] = 3;
        rows = m > rows ? m : rows;
      }
      B.ring_rows[s + 1] = B.ring_rows[s] + rows;
      for (int32_t r = 0; r < rows; ++r)
        for (int c = 0; c < 3; ++c)
          for (int l = 0; l < kLanes; ++l) {
            const int32_t a = slot_anchor(b * kLanes + l, i);
            const bool face = a >= 0 && r < pb.adj_offsets[a + 1] - pb.adj_offsets[a];
            B.ring.push_back(face ? pb.adj_faces[(int64_t)(pb.adj_offsets[a] + r) * 3 + c] : B.anchor[s * kLanes + l]);
          }
    }
  return B;
}

// pose_placement of block b's placements at one frame, X = the frame's skinned items (n_items, 3),
// across placements in vector lanes: the same operations where every used slot's ring passes
// ring_surely_regular and the surface frame needs no fallback. ok[l] = 0 where pose_placement
// must do lane l. pos/rot lane-major: (3, kLanes) and (9, kLanes). The lane loops are marked
// ivdep, not omp simd: GCC turns omp simd's V3 temporaries into per-lane arrays it cannot
// fill by gathers, but vectorises the same loops as plain loops.
template <int S>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void pose_lanes(const ImuProblem& pb, const PoseBlocks& B, int64_t b, const double* __restrict X,
                double* __restrict pos, double* __restrict rot, double* __restrict ok) {
  constexpr int L = kLanes;
  // per slot: the sum of the ring's cross products and of their squares
  double ax[S][3][L], sq[S][L];
  for (int i = 0; i < S; ++i) {
    const int64_t s = b * 3 + i;
    for (int l = 0; l < L; ++l) ax[i][0][l] = ax[i][1][l] = ax[i][2][l] = sq[i][l] = 0.0;
    for (int32_t r = B.ring_rows[s]; r < B.ring_rows[s + 1]; ++r) {
      const int32_t* __restrict f = B.ring.data() + (int64_t)r * 3 * L;
#pragma GCC ivdep
      for (int l = 0; l < L; ++l) {  // face_cross
        const int64_t i0 = (int64_t)f[l] * 3, i1 = (int64_t)f[L + l] * 3, i2 = (int64_t)f[2 * L + l] * 3;
        const V3 x0 = {X[i0], X[i0 + 1], X[i0 + 2]};
        const V3 c = cross(V3{X[i1], X[i1 + 1], X[i1 + 2]} - x0, V3{X[i2], X[i2 + 1], X[i2 + 2]} - x0);
        ax[i][0][l] = ax[i][0][l] + c.x; ax[i][1][l] = ax[i][1][l] + c.y; ax[i][2][l] = ax[i][2][l] + c.z;
        sq[i][l] += dot(c, c);
      }
    }
  }
  const int32_t* __restrict anchor = B.anchor.data() + b * 3 * L;
  const int32_t* __restrict ref_item = B.ref.data() + b * L;
  const double* __restrict w = B.weight.data() + b * 3 * L;
  const double* __restrict count = B.count.data() + b * 3 * L;
  const double* __restrict unused = B.unused.data() + b * 3 * L;
  const double* __restrict cos_yaw = B.cos_yaw.data() + b * L;
  const double* __restrict sin_yaw = B.sin_yaw.data() + b * L;
  const double* __restrict offset = B.offset.data() + b * L;
  const bool direction = pb.ref_is_direction != 0;
  // A compiler barrier: with one slot GCC otherwise takes lane 0's sums from the ring loop's
  // registers and computes each next lane's norm at the end of the lane loop, a loop form it
  // then leaves scalar.
  __asm__ __volatile__("" ::: "memory");
#pragma GCC ivdep
  for (int l = 0; l < L; ++l) {
    V3 n_sum = {0.0, 0.0, 0.0}, point = {0.0, 0.0, 0.0};
    double n_scale = 0.0;
    bool regular = true;
#pragma GCC unroll 3
    for (int i = 0; i < S; ++i) {  // the anchors' normals and the blended point
      const V3 na = {ax[i][0][l], ax[i][1][l], ax[i][2][l]};
      const double nn = norm(na), bw = w[i * L + l], u = unused[i * L + l];
      regular &= ring_surely_regular(nn, count[i * L + l], sq[i][l]) | (u != 0.0);
      n_sum = n_sum + (bw / (nn + u)) * na;
      n_scale += bw;
      const int64_t ia = (int64_t)anchor[i * L + l] * 3;
      point = point + bw * V3{X[ia], X[ia + 1], X[ia + 2]};
    }
    // surface_frame without its fallbacks; the reference is a vertex relative to the point or
    // a direction as it is
    const int64_t ir = (int64_t)ref_item[l] * 3;
    const V3 rv = {X[ir], X[ir + 1], X[ir + 2]}, rp = rv - point;
    const V3 r = {pick(direction, rv.x, rp.x), pick(direction, rv.y, rp.y), pick(direction, rv.z, rp.z)};
    const double nn = norm(n_sum);
    const V3 n = (1.0 / nn) * n_sum;
    const V3 t = r - dot(r, n) * n;
    const double tn = norm(t);
    M3 R;
    frame_from_tangent(n, t, tn, cos_yaw[l], sin_yaw[l], R);
    ok[l] = pick(regular & normal_regular(nn, n_scale) & tangent_regular(tn, r), 1.0, 0.0);
    const V3 sp = point + offset[l] * col(R, 2);
    pos[l] = sp.x; pos[L + l] = sp.y; pos[2 * L + l] = sp.z;
    rot[l] = R.m[0]; rot[L + l] = R.m[1]; rot[2 * L + l] = R.m[2];
    rot[3 * L + l] = R.m[3]; rot[4 * L + l] = R.m[4]; rot[5 * L + l] = R.m[5];
    rot[6 * L + l] = R.m[6]; rot[7 * L + l] = R.m[7]; rot[8 * L + l] = R.m[8];
  }
}

}  // namespace

int64_t run_cpu(ImuProblem pb, bool elementwise) {
  const int64_t H = lowpass_half_width(pb);
  std::vector<double> taps(2 * H + 1);
  lowpass_taps(pb, H, taps.data());
  pb.taps = taps.data();
  pb.half_width = H;
  if (pb.chunk < 1) pb.chunk = 1;
  pb.state_lanes = kLanes;
  const int64_t padded = (pb.P + kLanes - 1) / kLanes * kLanes;  // placements with the last block's spare lanes

  // chunk scratch kept between calls (drivers.h)
  thread_local std::vector<double> kept_pos, kept_rot, kept_raw;
  std::vector<double>& pos = kept_pos;
  std::vector<double>& rot = kept_rot;
  std::vector<double>& raw = kept_raw;
  int64_t degenerate = 0;
  const int64_t P = pb.P;
  PoseBlocks blocks;  // built at the first skinned chunk
  SkinGroups groups;
  for (int64_t c0 = 0; c0 < pb.T; c0 += pb.chunk) {
    const ChunkPlan c = plan_chunk(pb, c0);
    const int64_t ns = c.s1 - c.s0;
    pos.resize(ns * padded * 3);
    rot.resize(ns * padded * 9);
    if (pb.skinned) {
      if (blocks.n == 0 && P > 0) blocks = pose_blocks(pb);
      if (groups.begin.empty() && !elementwise) groups = skin_groups(pb);
      // Frame by frame per thread, in a one-frame scratch of the thread's: a frame's skinned
      // items are still in cache when its placements read them (their 1-rings are scattered
      // over the items), and never go out to memory.
#pragma omp parallel reduction(+ : degenerate)
      {
        std::vector<double> frame(pb.n_items * 3), grouped(elementwise ? 0 : pb.n_items * 3);
        double lane_ok[kLanes];
        // dynamic: a thread another process's thread preempts (generate's writer) holds up
        // only its last few frames, not a static half of the chunk
#pragma omp for schedule(dynamic, 4)
        for (int64_t t = c.s0; t < c.s1; ++t) {
          if (elementwise) {
            for (int64_t u = 0; u < pb.n_items; ++u) {
              const V3 x = skin_item(pb, t, u);
              frame[u * 3] = x.x; frame[u * 3 + 1] = x.y; frame[u * 3 + 2] = x.z;
            }
          } else {
            skin_frame(pb, groups, t, grouped.data(), frame.data());
          }
          const ScratchPositions X{frame.data(), pb.n_items, t};
          int64_t d = 0;
          for (int64_t b = 0; b < blocks.n; ++b) {
            const int64_t p0 = b * kLanes, nl = P - p0 < kLanes ? P - p0 : kLanes;
            if (elementwise) {
              for (int l = 0; l < kLanes; ++l) lane_ok[l] = 0.0;
            } else {  // straight into the state's block rows (pose_lanes' layout is the state's)
              double* po = pos.data() + state_index(pb, t - c.s0, p0, 3);
              double* ro = rot.data() + state_index(pb, t - c.s0, p0, 9);
              if (blocks.slots[b] == 1)
                pose_lanes<1>(pb, blocks, b, frame.data(), po, ro, lane_ok);
              else
                pose_lanes<3>(pb, blocks, b, frame.data(), po, ro, lane_ok);
            }
            for (int64_t l = 0; l < nl; ++l) {
              if (lane_ok[l] != 0.0) continue;
              double q[3], r[9];
              d += pose_placement(pb, X, t, p0 + l, q, r);
              put_state(pb, t - c.s0, p0 + l, q, r, pos.data(), rot.data());
            }
          }
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
      // Runs of consecutive frames per thread, so each frame hands its forward rotation's log
      // to the next (interior_frame's carry). Short runs: a thread another process's thread
      // preempts (generate's writer) holds up only its last few frames.
      constexpr int64_t kRun = 8;
#pragma omp parallel
      {
        std::vector<uint8_t> ok(P);
        std::vector<double> carry(padded * 5);
#pragma omp for schedule(dynamic, 1)
        for (int64_t r0 = c.c0; r0 < c.c1; r0 += kRun) {
          bool carried = false;
          for (int64_t t = r0; t < c.c1 && t < r0 + kRun; ++t) {
            const bool interior = t > 0 && t < pb.T - 1 && !elementwise;
            if (interior && carried)
              interior_frame<true>(pb, ps, rs, c.s0, t, ok.data(), carry.data());
            else if (interior)
              interior_frame<false>(pb, ps, rs, c.s0, t, ok.data(), carry.data());
            carried = interior;
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
