"""Unit tests of the float64 numpy reference (anymo_sim.reference) and the procedural
geometry and motions (anymo_sim.synthetic), each function on its own."""

import math

import numpy as np
import pytest

from anymo_sim import reference as ref
from anymo_sim import synthetic as syn

G = 9.80665


def _rot(axis, angle):
    axis = np.asarray(axis, dtype=np.float64)
    return syn.rotation_matrix(axis / np.linalg.norm(axis) * angle)


# --------------------------------------------------------------------------------------
# so3_log and rotations
# --------------------------------------------------------------------------------------


def test_so3_log_known_rotations():
    c, s = math.cos(0.7), math.sin(0.7)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    Rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    Ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    np.testing.assert_allclose(ref.so3_log(Rz), [0, 0, 0.7], atol=1e-15)
    np.testing.assert_allclose(ref.so3_log(Rx), [0.7, 0, 0], atol=1e-15)
    np.testing.assert_allclose(ref.so3_log(Ry), [0, 0.7, 0], atol=1e-15)
    assert np.all(ref.so3_log(np.eye(3)) == 0.0)
    # a rotation by 3pi/2 about z is a rotation by pi/2 about -z
    np.testing.assert_allclose(ref.so3_log(_rot([0, 0, 1], 1.5 * np.pi)), [0, 0, -0.5 * np.pi], atol=1e-14)


def test_so3_log_random_roundtrip_and_batch_shape():
    rng = np.random.default_rng(1)
    axes = rng.standard_normal((4, 50, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    v = axes * rng.uniform(0.0, np.pi * 0.999, (4, 50, 1))
    R = syn.rotation_matrix(v)
    out = ref.so3_log(R)
    assert out.shape == (4, 50, 3)
    np.testing.assert_allclose(out, v, atol=2e-14)


@pytest.mark.parametrize("angle", [1e-3, 1e-7, 1e-10, 1e-14, 1e-300])
def test_so3_log_tiny_angles(angle):
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    v = ref.so3_log(_rot(axis, angle))
    np.testing.assert_allclose(v, axis * angle, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("eps", [1e-3, 1e-6, 1e-9, 0.0])
def test_so3_log_near_pi(eps):
    axis = np.array([0.2, 0.9, -0.4]) / np.linalg.norm([0.2, 0.9, -0.4])
    R = _rot(axis, np.pi - eps)
    v = ref.so3_log(R)
    angle = np.linalg.norm(v)
    assert 0.0 <= angle <= np.pi + 1e-15
    assert abs(angle - (np.pi - eps)) < 1e-12
    # the axis is only defined up to sign exactly at pi
    assert abs(abs(np.dot(v / angle, axis)) - 1.0) < 1e-12
    if eps > 0:
        np.testing.assert_allclose(v, axis * (np.pi - eps), atol=1e-12)
    np.testing.assert_allclose(syn.rotation_matrix(v), R, atol=1e-14)


def test_random_rotations_are_rotations_and_uniform():
    rng = np.random.default_rng(2)
    R = syn.random_rotations(20000, rng)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-14)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-14)
    # Haar measure: every column is uniform on the sphere, so its mean is ~0 and each
    # component has variance 1/3; the trace has mean 0 (E[1 + 2 cos angle] = 0)
    assert np.abs(R.mean(axis=0)).max() < 0.02
    np.testing.assert_allclose((R**2).mean(axis=0), 1.0 / 3.0, atol=0.01)
    assert abs(np.trace(R, axis1=1, axis2=2).mean()) < 0.03


def test_rotation_matrix_rodrigues():
    np.testing.assert_allclose(syn.rotation_matrix([0, 0, 0.5 * np.pi]) @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(syn.rotation_matrix([np.pi, 0, 0]) @ [0, 1, 0], [0, -1, 0], atol=1e-15)
    np.testing.assert_array_equal(syn.rotation_matrix(np.zeros(3)), np.eye(3))
    tiny = syn.rotation_matrix([1e-9, 0, 0])
    np.testing.assert_allclose(tiny[2, 1], 1e-9, rtol=1e-12)


# --------------------------------------------------------------------------------------
# vertex normals
# --------------------------------------------------------------------------------------


def test_vertex_normals_single_triangle():
    x = np.array([[0.0, 0, 0], [2.0, 0, 0], [0.0, 3.0, 0]])
    n = ref.vertex_normals(x, np.array([[0, 1, 2]]))
    # (x1 - x0) x (x2 - x0) = 2 * area * z = 6 z at every corner
    np.testing.assert_allclose(n, [[0, 0, 6.0]] * 3)
    # reversed winding flips it
    np.testing.assert_allclose(ref.vertex_normals(x, np.array([[0, 2, 1]])), [[0, 0, -6.0]] * 3)


def test_vertex_normals_tetrahedron_and_batch():
    x = np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])  # regular, centred at 0
    faces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])  # outward
    n = ref.vertex_normals(x, faces)
    # each face cross product has length 2 * area = sqrt(3)/2 * 8 = 4 sqrt(3); three faces
    # meet at a vertex, their normals sum to (4 sqrt 3) * (sqrt3 * x / 3) = 4 x.
    np.testing.assert_allclose(n, 4.0 * x, atol=1e-14)
    # batched (T, V, 3) with a rigid rotation per frame
    Rs = syn.random_rotations(5, np.random.default_rng(3))
    xs = np.einsum("tab,vb->tva", Rs, x) + np.arange(5.0)[:, None, None]
    ns = ref.vertex_normals(xs, faces)
    assert ns.shape == (5, 4, 3)
    np.testing.assert_allclose(ns, np.einsum("tab,vb->tva", Rs, 4.0 * x), atol=1e-13)


# --------------------------------------------------------------------------------------
# skinning
# --------------------------------------------------------------------------------------


def _small_skin(rng, V=30, J=5, K=3):
    x = rng.standard_normal((V, 3))
    j = rng.integers(0, J, (V, K)).astype(np.int32)
    w = rng.uniform(0.1, 1.0, (V, K))
    w /= w.sum(1, keepdims=True)
    return x, j, w


def test_skin_identity_is_rest():
    rng = np.random.default_rng(4)
    x, j, w = _small_skin(rng)
    A = np.broadcast_to(np.eye(4), (6, 5, 4, 4))
    out = ref.skin_vertices(x, j, w, A)
    assert out.shape == (6, 30, 3) and out.dtype == np.float64
    np.testing.assert_allclose(out, np.broadcast_to(x, (6, 30, 3)), atol=1e-15)


@pytest.mark.parametrize("rows", [3, 4])
def test_skin_single_rigid_transform(rows):
    rng = np.random.default_rng(5)
    x, j, w = _small_skin(rng)
    T = 4
    Rs = syn.random_rotations(T, rng)
    ts = rng.standard_normal((T, 3))
    M = np.zeros((T, 4, 4))
    M[:, :3, :3], M[:, :3, 3], M[:, 3, 3] = Rs, ts, 1.0
    A = np.repeat(M[:, None], 5, axis=1)[:, :, :rows]
    out = ref.skin_vertices(x, j, w, A)
    np.testing.assert_allclose(out, syn.rigid_motion(x, Rs, ts), atol=1e-13)


def test_skin_blend_of_two_joints():
    x = np.array([[1.0, 2.0, 3.0]])
    j = np.array([[0, 1]])
    w = np.array([[0.25, 0.75]])
    A = np.tile(np.eye(4), (1, 2, 1, 1))
    A[0, 0, :3, 3] = [1.0, 0, 0]  # joint 0 translates by +x
    A[0, 1, :3, :3] = _rot([0, 0, 1], 0.5 * np.pi)  # joint 1 turns 90 deg about z
    out = ref.skin_vertices(x, j, w, A)
    expect = 0.25 * np.array([2.0, 2.0, 3.0]) + 0.75 * np.array([-2.0, 1.0, 3.0])
    np.testing.assert_allclose(out[0, 0], expect, atol=1e-15)


# --------------------------------------------------------------------------------------
# low-pass
# --------------------------------------------------------------------------------------


def test_lowpass_taps_definition():
    fps, fc = 100.0, 7.0
    h = ref.lowpass_taps(fps, fc)
    H = math.ceil(3 * fps / fc)
    assert h.shape == (2 * H + 1,)
    np.testing.assert_allclose(h, h[::-1], atol=0)  # symmetric: zero phase
    assert abs(h[H] - 1.0) < 1e-15
    assert abs(h[0]) < 1e-15 and abs(h[-1]) < 1e-15  # the Blackman window vanishes at |k| = H
    k = 5
    win = 0.42 + 0.5 * math.cos(math.pi * k / H) + 0.08 * math.cos(2 * math.pi * k / H)
    x = 2 * fc * k / fps
    np.testing.assert_allclose(h[H + k], math.sin(math.pi * x) / (math.pi * x) * win, rtol=1e-14)
    with pytest.raises(ValueError):
        ref.lowpass_taps(100.0, 50.0)
    with pytest.raises(ValueError):
        ref.lowpass_taps(100.0, 0.0)


@pytest.mark.parametrize("fps,fc", [(240.0, 10.0), (100.0, 7.0), (60.0, 3.0)])
def test_lowpass_passband_and_stopband(fps, fc):
    H = math.ceil(3 * fps / fc)
    T = 6 * H + 1
    t = np.arange(T) / fps
    inner = slice(H, T - H)  # frames where the whole kernel fits
    for f in (0.0, 0.2 * fc, 0.5 * fc):
        x = np.cos(2 * np.pi * f * t + 0.3)
        y = ref.lowpass(x, fps, fc)
        assert np.abs(y[inner] - x[inner]).max() < 1e-3, f  # within 0.1 %
    for f in (1.5 * fc, 2.5 * fc, min(6.0 * fc, 0.45 * fps)):
        x = np.cos(2 * np.pi * f * t + 0.3)
        y = ref.lowpass(x, fps, fc)
        assert np.abs(y[inner]).max() < 10 ** (-70 / 20), f  # below -70 dB
    # and the gain is not trivially zero in between
    x = np.cos(2 * np.pi * fc * t)
    assert 0.3 < np.abs(ref.lowpass(x, fps, fc)[inner]).max() < 0.7


def test_lowpass_truncation_at_the_ends_and_axis():
    fps, fc = 50.0, 5.0
    h = ref.lowpass_taps(fps, fc)
    H = (h.size - 1) // 2
    rng = np.random.default_rng(6)
    T = 100
    x = rng.standard_normal((3, T, 2))
    y = ref.lowpass(x, fps, fc, axis=1)
    assert y.shape == x.shape
    # frame 0 sees taps k = 0..H only; frame T-1 sees k = -H..0; frame 7 sees k = -7..H
    for t in (0, 7, T - 1):
        ks = np.arange(-H, H + 1)
        ok = (t + ks >= 0) & (t + ks <= T - 1)
        expect = np.einsum("k,bkc->bc", h[ok], x[:, t + ks[ok]]) / h[ok].sum()
        np.testing.assert_allclose(y[:, t], expect, rtol=1e-12, atol=1e-14)
    # renormalisation: constants pass unchanged everywhere, ends included
    c = np.full((T, 3), 2.5)
    np.testing.assert_allclose(ref.lowpass(c, fps, fc), c, rtol=1e-13)
    # a sequence shorter than the kernel
    short = rng.standard_normal(10)
    ys = ref.lowpass(short, fps, fc)
    ks = np.arange(-H, H + 1)
    ok = (3 + ks >= 0) & (3 + ks <= 9)
    np.testing.assert_allclose(ys[3], h[ok] @ short[3 + ks[ok]] / h[ok].sum(), rtol=1e-12)


# --------------------------------------------------------------------------------------
# finite differences and body rate
# --------------------------------------------------------------------------------------


def test_finite_difference_exact_on_cubics_including_ends():
    fps = 30.0
    T = 12
    t = (np.arange(T) / fps)[:, None, None]
    rng = np.random.default_rng(7)
    c0, c1, c2, c3 = (rng.standard_normal((1, 4, 3)) for _ in range(4))
    s = c0 + c1 * t + c2 * t**2 + c3 * t**3
    a = ref.finite_difference_accel(s, fps)
    assert a.shape == (T, 4, 3)
    np.testing.assert_allclose(a, 2 * c2 + 6 * c3 * t, atol=1e-9)
    # the end stencils really are one-sided second-order ones (not copies of a neighbour)
    h2 = fps**2
    np.testing.assert_allclose(a[0], (2 * s[0] - 5 * s[1] + 4 * s[2] - s[3]) * h2, rtol=1e-15)
    np.testing.assert_allclose(a[-1], (2 * s[-1] - 5 * s[-2] + 4 * s[-3] - s[-4]) * h2, rtol=1e-15)


def test_finite_difference_second_order_on_sine():
    errs = []
    for fps in (200.0, 400.0):
        t = np.arange(int(fps) + 1) / fps  # one second, same end times
        a = ref.finite_difference_accel(np.sin(3 * t + 1.0)[:, None], fps)[:, 0]
        errs.append(np.abs(a + 9 * np.sin(3 * t + 1.0)))
    interior = errs[0][1:-1].max() / errs[1][2:-2:2].max()
    ends = errs[0][[0, -1]] / errs[1][[0, -1]]
    assert 3.6 < interior < 4.4 and np.all((3.5 < ends) & (ends < 4.5))


def test_too_few_frames():
    with pytest.raises(ValueError, match="4 frames"):
        ref.finite_difference_accel(np.zeros((3, 3)), 10.0)
    with pytest.raises(ValueError, match="4 frames"):
        ref.body_rate(np.broadcast_to(np.eye(3), (3, 3, 3)), 10.0)
    V, F = syn.icosphere(0)
    with pytest.raises(ValueError, match="4 frames"):
        ref.reference_surface_imu(np.broadcast_to(V, (3,) + V.shape), F, [[0, 0, 0]], [[1, 0, 0]], 0.0, 0.0, 10.0,
                                  ref_vertices=[1])


def test_body_rate_exact_for_constant_rates():
    fps, T = 20.0, 10
    rng = np.random.default_rng(8)
    R0 = syn.random_rotations(3, rng)
    w_body = rng.standard_normal((3, 3)) * 2.0
    t = np.arange(T) / fps
    # body-frame constant rate: R_t = R0 exp(t [w]x)
    R = R0[None] @ syn.rotation_matrix(t[:, None, None] * w_body[None])
    w = ref.body_rate(R, fps)
    assert w.shape == (T, 3, 3)
    np.testing.assert_allclose(w, np.broadcast_to(w_body, (T, 3, 3)), atol=1e-12)
    # world-frame constant rate: R_t = exp(t [w_w]x) R0 reads R0^T w_w (body frame)
    R = syn.rotation_matrix(t[:, None, None] * w_body[None]) @ R0[None]
    np.testing.assert_allclose(ref.body_rate(R, fps), np.broadcast_to(np.einsum("pji,pj->pi", R0, w_body), (T, 3, 3)),
                               atol=1e-12)


def test_body_rate_end_stencils():
    fps = 10.0
    rng = np.random.default_rng(9)
    R = syn.random_rotations(6, rng)
    R = syn.rotation_matrix(0.2 * rng.standard_normal((6, 3))) @ R[0]  # close rotations
    w = ref.body_rate(R, fps)
    lg = lambda a, b: ref.so3_log(R[a].T @ R[b])  # noqa: E731
    np.testing.assert_allclose(w[0], (4 * lg(0, 1) - lg(0, 2)) * fps / 2, rtol=1e-13)
    np.testing.assert_allclose(w[5], (lg(5, 3) - 4 * lg(5, 4)) * fps / 2, rtol=1e-13)
    np.testing.assert_allclose(w[2], (lg(2, 3) - lg(2, 1)) * fps / 2, rtol=1e-13)


# --------------------------------------------------------------------------------------
# surface frames and the reference pipelines
# --------------------------------------------------------------------------------------


def _sphere_placements(V, F, rng, P=40):
    anchors = np.repeat(rng.choice(V.shape[0], P, replace=False)[:, None], 3, axis=1)
    bary = np.tile([1.0, 0.0, 0.0], (P, 1))
    # reference: another vertex of a face containing the anchor
    ref_v = np.array([F[np.any(F == a, axis=1)][0][F[np.any(F == a, axis=1)][0] != a][0] for a in anchors[:, 0]])
    return anchors, bary, ref_v


def test_surface_frames_on_sphere():
    V, F = syn.icosphere(2, radius=0.5)
    rng = np.random.default_rng(10)
    anchors, bary, ref_v = _sphere_placements(V, F, rng)
    P = len(anchors)
    X = syn.rigid_motion(V, syn.random_rotations(3, rng), rng.standard_normal((3, 3)))
    centre = X.mean(axis=1)  # the icosphere's vertices are symmetric about its centre
    yaw, off = np.zeros(P), np.zeros(P)
    R, s = ref.surface_frames(X, F, anchors, bary, yaw, off, ref_vertices=ref_v)
    assert R.shape == (3, P, 3, 3) and s.shape == (3, P, 3)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-14)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-14)
    radial = (s - centre[:, None]) / 0.5
    assert (np.einsum("tpi,tpi->tp", R[..., 2], radial) > 0.99).all()  # z ~ outward radial
    np.testing.assert_allclose(s, X[:, anchors[:, 0]], atol=1e-15)
    # x lies along the tangent projection of the reference edge
    r = X[:, ref_v] - s
    r_t = r - np.einsum("tpi,tpi->tp", r, R[..., 2])[..., None] * R[..., 2]
    np.testing.assert_allclose(R[..., 0], r_t / np.linalg.norm(r_t, axis=-1, keepdims=True), atol=1e-13)
    # yaw turns x about z (R_yaw = R_0 Rz(yaw)) and an offset moves the sensor along z
    yaw = rng.uniform(-np.pi, np.pi, P)
    off = rng.uniform(-0.02, 0.05, P)
    R2, s2 = ref.surface_frames(X, F, anchors, bary, yaw, off, ref_vertices=ref_v)
    Rz = syn.rotation_matrix(np.stack([0 * yaw, 0 * yaw, yaw], -1))
    np.testing.assert_allclose(R2, R @ Rz[None], atol=1e-14)
    np.testing.assert_allclose(s2, s + off[None, :, None] * R[..., 2], atol=1e-15)


def test_surface_frames_face_placement_and_direction_reference():
    V, F = syn.icosphere(1)
    rng = np.random.default_rng(11)
    fid = rng.choice(F.shape[0], 10, replace=False)
    b = rng.dirichlet([1, 1, 1], 10)
    anchors = F[fid]
    X = V[None].repeat(4, axis=0)
    n_hat = ref.vertex_normals(V, F)
    n_hat /= np.linalg.norm(n_hat, axis=1, keepdims=True)
    n = np.einsum("pi,pic->pc", b, n_hat[anchors])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    dirs = np.broadcast_to(np.array([0.0, 0, -1]), (4, 10, 3))
    R, s = ref.surface_frames(X, F, anchors, b, 0.0, 0.0, ref_dirs=dirs)
    np.testing.assert_allclose(s[0], np.einsum("pi,pic->pc", b, V[anchors]), atol=1e-15)
    np.testing.assert_allclose(R[0, :, :, 2], n, atol=1e-14)
    down_t = dirs[0] - np.einsum("pi,pi->p", dirs[0], n)[:, None] * n
    np.testing.assert_allclose(R[0, :, :, 0], down_t / np.linalg.norm(down_t, axis=1, keepdims=True), atol=1e-14)


def test_surface_frames_degenerate_fallbacks_are_counted():
    V, F = syn.icosphere(1)
    top = int(np.argmax(V[:, 2]))
    X = V[None].repeat(4, axis=0)
    anchors = np.array([[top] * 3, [0] * 3])
    bary = np.tile([1.0, 0, 0], (2, 1))
    # placement 0: reference vertex = its own vertex (r = 0); placement 1: fine
    ref_v = np.array([top, F[np.any(F == 0, axis=1)][0][F[np.any(F == 0, axis=1)][0] != 0][0]])
    out = ref.reference_surface_imu(X, F, anchors, bary, 0.0, 0.0, 30.0, ref_vertices=ref_v)
    assert out["degenerate"] == 4  # 4 frames x 1 placement
    R = out["rotations"]
    n = R[0, 0, :, 2]
    e = np.eye(3)[np.argmin(np.abs(n))]
    x0 = e - (e @ n) * n
    np.testing.assert_allclose(R[:, 0, :, 0], np.broadcast_to(x0 / np.linalg.norm(x0), (4, 3)), atol=1e-15)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-14)
    # a direction reference along the normal is degenerate too
    dirs = np.broadcast_to(R[0, 0, :, 2], (4, 2, 3))
    _, _, deg = ref._surface_frames(X, F, anchors, bary, 0.0, 0.0, ref_dirs=dirs)
    assert deg >= 4
    # a vertex in no face has no normal: it falls back to (0, 0, 1)
    Xc = np.concatenate([X, np.ones((4, 1, 3))], axis=1)
    Rc, _, deg = ref._surface_frames(Xc, F, [[V.shape[0]] * 3], [[1.0, 0, 0]], 0.0, 0.0, ref_vertices=[0])
    assert deg == 4
    np.testing.assert_array_equal(Rc[:, 0, :, 2], np.broadcast_to([0.0, 0, 1], (4, 3)))


def test_reference_surface_imu_at_rest_and_lowpass():
    V, F = syn.icosphere(2)
    rng = np.random.default_rng(12)
    anchors, bary, ref_v = _sphere_placements(V, F, rng, P=20)
    Rr = syn.random_rotations(1, rng)[0]
    X = np.broadcast_to(V @ Rr.T + [3.0, -2.0, 1.0], (8,) + V.shape)
    for lp in (None, 2.0):
        out = ref.reference_surface_imu(X, F, anchors, bary, rng.uniform(-3, 3, 20), 0.01, 30.0, ref_vertices=ref_v,
                                        lowpass_hz=lp)
        up = np.einsum("tpij,tpj->tpi", out["rotations"], out["accel"])
        np.testing.assert_allclose(up, np.broadcast_to([0, 0, G], up.shape), atol=1e-11)
        np.testing.assert_allclose(out["gyro"], 0.0, atol=1e-12)
        assert out["degenerate"] == 0
    # a different gravity vector is honoured
    out = ref.reference_surface_imu(X, F, anchors, bary, 0.0, 0.0, 30.0, ref_vertices=ref_v, gravity=(0, 0, -1.0))
    np.testing.assert_allclose(np.linalg.norm(out["accel"], axis=-1), 1.0, atol=1e-12)


def test_reference_skinned_imu_rigid_matches_mesh_path():
    body = syn.skinned_tube(n_joints=4, rings=12, segments=10, length=1.0, radius=0.1)
    rng = np.random.default_rng(13)
    T, fps = 12, 40.0
    t = np.arange(T) / fps
    w = rng.standard_normal(3)
    Rs = syn.rotation_matrix(t[:, None] * w)
    tr = np.stack([0.3 * t, 0.1 * t**2, 1 + 0 * t], -1)
    M = np.zeros((T, 4, 4))
    M[:, :3, :3], M[:, :3, 3], M[:, 3, 3] = Rs, tr, 1.0
    A = np.repeat(M[:, None], 4, axis=1)
    X = syn.rigid_motion(body["rest_vertices"], Rs, tr)
    P = 6
    fid = rng.choice(body["faces"].shape[0], P, replace=False)
    anchors = body["faces"][fid]
    b = rng.dirichlet([1, 1, 1], P)
    r0 = rng.standard_normal((P, 3))
    yaw, off = rng.uniform(-1, 1, P), rng.uniform(0, 0.01, P)
    # float64 weights: float32 rows sum to 1 only to ~6e-8, which the second difference amplifies
    w64 = body["skin_weights"].astype(np.float64)
    w64 /= w64.sum(axis=1, keepdims=True)
    out = ref.reference_skinned_imu(body["rest_vertices"], body["faces"], body["skin_joints"], w64, A,
                                    anchors, b, yaw, off, r0, fps)
    dirs = np.einsum("tab,pb->tpa", Rs, r0)
    out2 = ref.reference_surface_imu(X, body["faces"], anchors, b, yaw, off, fps, ref_dirs=dirs)
    for key in ("accel", "gyro", "rotations", "positions"):
        np.testing.assert_allclose(out[key], out2[key], atol=1e-9, err_msg=key)
    # the rest tangent is carried by the rigid motion, so frame 0 x is r0 projected
    np.testing.assert_allclose(out["gyro"], np.broadcast_to(np.einsum("pji,j->pi", out["rotations"][0], w), (T, P, 3)),
                               atol=1e-6)


def test_reference_skinned_imu_uses_dominant_anchor_weights():
    # two joints, one rotating; the placement's frame follows the DOMINANT anchor's weights
    x = np.array([[0.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    joints = np.array([[0, 1]] * 4)
    weights = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    T = 5
    A = np.tile(np.eye(4), (T, 2, 1, 1))
    A[:, 1, :3, :3] = _rot([1, 2, 3], 0.4)  # joint 1 turned (same every frame)
    r0 = np.array([[0.0, 0.0, 1.0]])
    anchors = np.array([[1, 2, 3]])
    bary = np.array([[0.5, 0.25, 0.25]])  # dominant anchor: vertex 1, skinned to joint 1 only
    out = ref.reference_skinned_imu(x, faces, joints, weights, A, anchors, bary, 0.0, 0.0, r0, 10.0)
    dirs = (A[:, 1, :3, :3] @ r0[0])[:, None, :]
    X = ref.skin_vertices(x, joints, weights, A)
    R2, _ = ref.surface_frames(X, faces, anchors, bary, 0.0, 0.0, ref_dirs=dirs)
    np.testing.assert_allclose(out["rotations"], R2, atol=1e-15)
    R3, _ = ref.surface_frames(X, faces, anchors, bary, 0.0, 0.0, ref_dirs=np.broadcast_to(r0, (T, 1, 3)))
    assert np.abs(R3 - R2).max() > 0.05  # the weights did matter


# --------------------------------------------------------------------------------------
# synthetic geometry and motion
# --------------------------------------------------------------------------------------


def _check_closed_outward(V, F, centre):
    edges = np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]])
    # closed and consistently oriented: every directed edge appears once, and its reverse once
    directed = {tuple(e) for e in edges.tolist()}
    assert len(directed) == len(edges)
    assert all((b, a) in directed for a, b in directed)
    und, cnt = np.unique(np.sort(edges, axis=1), axis=0, return_counts=True)
    assert np.all(cnt == 2)
    cr = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    assert np.all(np.einsum("fi,fi->f", cr, V[F].mean(axis=1) - centre) > 0)
    # total signed volume is positive for an outward-oriented closed surface
    vol = np.einsum("fi,fi->f", V[F[:, 0]], np.cross(V[F[:, 1]], V[F[:, 2]])).sum() / 6
    assert vol > 0
    # Euler characteristic of a sphere
    assert V.shape[0] - len(und) + F.shape[0] == 2


@pytest.mark.parametrize("sub", [0, 1, 2, 3])
def test_icosphere_closed_and_outward(sub):
    V, F = syn.icosphere(sub, radius=2.0)
    assert V.shape == (10 * 4**sub + 2, 3) and F.shape == (20 * 4**sub, 3)
    assert V.dtype == np.float64 and F.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 2.0, rtol=1e-14)
    _check_closed_outward(V, F, np.zeros(3))
    n = ref.vertex_normals(V, F)
    assert np.all(np.einsum("vi,vi->v", n, V) > 0)


def test_skinned_tube_default_is_body_sized():
    body = syn.skinned_tube()
    V = body["rest_vertices"]
    assert V.shape[0] >= 10_000 and V.dtype == np.float64
    assert body["skin_joints"].shape == (V.shape[0], 4) and body["skin_joints"].dtype == np.int32
    assert body["skin_weights"].dtype == np.float32
    assert body["joint_rest_positions"].shape == (24, 3)
    np.testing.assert_array_equal(body["parents"], np.arange(24) - 1)
    assert V[:, 2].min() == 0.0 and abs(V[:, 2].max() - 1.7) < 1e-12


def test_skinned_tube_geometry_and_weights():
    body = syn.skinned_tube(n_joints=6, rings=20, segments=12, length=1.2, radius=0.1, influences=3)
    V, F = body["rest_vertices"], body["faces"]
    assert V.shape == (20 * 12 + 2, 3)
    _check_closed_outward(V, F, np.array([0, 0, 0.6]))
    w, j = body["skin_weights"], body["skin_joints"]
    assert w.shape == (V.shape[0], 3)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(w >= 0) and np.all((j >= 0) & (j < 6))
    # smooth falloff along z: the heaviest joint is the bone containing the vertex
    bone = 1.2 / 6
    z = V[:, 2]
    heaviest = j[np.arange(len(j)), np.argmax(w, axis=1)]
    inside = np.abs(z / bone - np.round(z / bone)) > 1e-6  # not on a bone boundary
    np.testing.assert_array_equal(heaviest[inside], np.minimum(np.floor(z[inside] / bone), 5).astype(int))
    # weights vary continuously along the tube
    dense = np.zeros((V.shape[0], 6))
    np.put_along_axis(dense, j.astype(np.int64), w.astype(np.float64), axis=1)
    ring = dense[: 20 * 12 : 12]  # one vertex per ring
    assert np.abs(np.diff(ring, axis=0)).max() < 0.35


def test_tube_motion_rest_pose_is_identity():
    body = syn.skinned_tube(n_joints=8, rings=30, segments=10)
    A = syn.tube_motion(body, 5, 60.0, seed=3, root_speed=0.0, amplitude=0.0)
    assert A.shape == (5, 8, 4, 4) and A.dtype == np.float64
    np.testing.assert_allclose(A, np.broadcast_to(np.eye(4), A.shape), atol=1e-15)
    X = ref.skin_vertices(body["rest_vertices"], body["skin_joints"], body["skin_weights"], A)
    np.testing.assert_allclose(X, np.broadcast_to(body["rest_vertices"], X.shape), atol=1e-6)  # float32 weights
    # forward kinematics of the rest pose directly
    J = 8
    A0 = syn.chain_skinning_matrices(body, np.broadcast_to(np.eye(3), (2, J, 3, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(A0, np.broadcast_to(np.eye(4), A0.shape))


def test_tube_motion_is_a_connected_rigid_chain():
    body = syn.skinned_tube(n_joints=10, rings=40, segments=10)
    T, fps = 120, 60.0
    A = syn.tube_motion(body, T, fps, seed=1)
    A2 = syn.tube_motion(body, T, fps, seed=1)
    np.testing.assert_array_equal(A, A2)  # deterministic
    assert np.abs(A - syn.tube_motion(body, T, fps, seed=2)).max() > 0.1
    L = A[..., :3, :3]
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), np.broadcast_to(np.eye(3), L.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(L), 1.0, atol=1e-12)
    np.testing.assert_array_equal(A[..., 3, :], np.broadcast_to([0, 0, 0, 1.0], A.shape[:2] + (4,)))
    # joint j+1 sits at the end of bone j: A_j and A_{j+1} agree on its rest position
    rest = np.concatenate([body["joint_rest_positions"], np.ones((10, 1))], axis=1)
    child_by_parent = np.einsum("tjab,jb->tja", A[:, :-1], rest[1:])
    child_by_self = np.einsum("tjab,jb->tja", A[:, 1:], rest[1:])
    np.testing.assert_allclose(child_by_parent, child_by_self, atol=1e-12)
    # the root walks along +y at root_speed, with a small bob
    root = np.einsum("tab,b->ta", A[:, 0], rest[0])
    np.testing.assert_allclose(root[:, 1], 1.2 * np.arange(T) / fps, atol=1e-12)
    assert 0.005 < np.abs(root[:, 2]).max() < 0.05
    # smooth: the skinned top of the tube moves with bounded acceleration
    X = ref.skin_vertices(body["rest_vertices"], body["skin_joints"], body["skin_weights"], A)
    acc = ref.finite_difference_accel(X[:, -1], fps)
    assert 0.1 < np.abs(acc).max() < 200.0
