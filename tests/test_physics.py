"""Physics of the public API (anymo_sim.surface_imu / skinned_imu) against analytic motion,
on every available backend.

The meshes are float64 icospheres moved rigidly (or deformed) by known functions of time,
so the true sensor acceleration and angular velocity are known in closed form. Outputs are
float32, so "exact" means exact up to float32 rounding (~1e-6 relative); where the
finite-difference stencils truncate (O(h^2), docs/engine.md) the bounds are derived from
the stencils' error constants.
"""

import numpy as np
import pytest

import anymo_sim
from anymo_sim import synthetic as syn

G = 9.80665
GVEC = np.array([0.0, 0.0, -G])


@pytest.fixture(params=anymo_sim.available_backends())
def backend(request):
    return request.param


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sphere():
    return syn.icosphere(2, radius=0.3)  # 162 vertices, 320 faces


def _rng(seed):
    return np.random.default_rng(seed)


def _run(backend, X, F, fps, vids=None, **kw):
    if vids is None and "face_ids" not in kw:
        vids = np.arange(X.shape[1])
    res = anymo_sim.surface_imu(X, F, vids, fps, backend=backend, **kw)
    for name in ("accel", "gyro", "rotations", "positions"):
        a = getattr(res, name)
        assert isinstance(a, np.ndarray) and a.dtype == np.float32, name
    assert res.degenerate == 0
    return res


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _world_accel(res):
    """R f + g: the sensor's acceleration in the world frame."""
    return np.einsum("tpij,tpj->tpi", _f64(res.rotations), _f64(res.accel)) + GVEC


def _unit_normals(x, F):
    """Unit area-weighted vertex normals, written out independently of the reference."""
    x = np.asarray(x, dtype=np.float64)
    c = np.cross(x[..., F[:, 1], :] - x[..., F[:, 0], :], x[..., F[:, 2], :] - x[..., F[:, 0], :])
    n = np.zeros_like(x)
    for k in range(3):
        np.add.at(n, (Ellipsis, F[:, k], slice(None)), c)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _rot_about(axis, angles):
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    return syn.rotation_matrix(np.asarray(angles, dtype=np.float64)[..., None] * axis)


def _max_err(a, b):
    """Largest per-frame vector error: (T,) of max over placements of |a - b|."""
    return np.linalg.norm(_f64(a) - _f64(b), axis=-1).max(axis=1)


# --------------------------------------------------------------------------------------
# 1. at rest
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_rest_reads_plus_g_up(backend, sphere, seed):
    V, F = sphere
    rng = _rng(seed)
    R0 = syn.random_rotations(1, rng)[0]
    T, P = 16, V.shape[0]
    X = np.broadcast_to(V @ R0.T + rng.uniform(-5, 5, 3), (T,) + V.shape).copy()
    res = _run(backend, X, F, 60.0, yaw=rng.uniform(-np.pi, np.pi, P), offset=rng.uniform(0, 0.02, P))
    up = np.einsum("tpij,tpj->tpi", _f64(res.rotations), _f64(res.accel))
    np.testing.assert_allclose(up, np.broadcast_to([0.0, 0.0, G], up.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(_f64(res.accel), axis=-1), G, rtol=1e-6)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)
    # the sensors really are in many orientations: the accelerometer axes differ
    assert np.ptp(res.accel[0, :, 2]) > 10.0


# --------------------------------------------------------------------------------------
# 2. free fall
# --------------------------------------------------------------------------------------


def test_free_fall_reads_zero(backend, sphere):
    V, F = sphere
    rng = _rng(3)
    T, fps = 60, 100.0
    t = np.arange(T) / fps
    R0 = syn.random_rotations(1, rng)[0]
    p = np.array([1.0, -2.0, 3.0]) + np.array([0.7, 1.3, 4.0]) * t[:, None] + 0.5 * GVEC * t[:, None] ** 2
    X = syn.rigid_motion(V, np.broadcast_to(R0, (T, 3, 3)), p)
    res = _run(backend, X, F, fps, yaw=rng.uniform(-3, 3, V.shape[0]), offset=0.01)
    np.testing.assert_allclose(res.accel, 0.0, atol=2e-5)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)


# --------------------------------------------------------------------------------------
# 3. constant angular velocity
# --------------------------------------------------------------------------------------


# 3 rad/s at 100 Hz; then turns per frame on both sides of the kernels' small-angle series
# (it holds below 2 atan(0.1) = 0.1993 rad per frame) and up to 1.5 rad per frame (the one-sided
# stencils at the ends span 2 frames, which must stay below a half turn).
@pytest.mark.parametrize("speed", [3.0, 19.8, 20.1, 150.0])
def test_constant_rotation_gyro_exact_at_every_frame(backend, sphere, speed):
    V, F = sphere
    rng = _rng(4)
    T, fps = 40, 100.0
    t = np.arange(T) / fps
    axis = rng.standard_normal(3)
    w_world = speed * axis / np.linalg.norm(axis)
    Rt = syn.rotation_matrix(t[:, None] * w_world) @ syn.random_rotations(1, rng)[0]
    X = syn.rigid_motion(V, Rt, np.array([0.5, 1.0, -0.2]) + np.array([1.5, -0.4, 0.3]) * t[:, None])
    res = _run(backend, X, F, fps, yaw=rng.uniform(-3, 3, V.shape[0]), offset=rng.uniform(0, 0.01, V.shape[0]))
    expect = np.einsum("tpji,j->tpi", _f64(res.rotations), w_world)  # R_ws^T w_world
    np.testing.assert_allclose(res.gyro, expect, atol=1e-5 * speed / 3.0)
    np.testing.assert_allclose(np.linalg.norm(_f64(res.gyro), axis=-1), speed, rtol=2e-6)
    # the sensor frames do turn with the mesh: R_t = exp(t [w]x) R_0
    R = _f64(res.rotations)
    np.testing.assert_allclose(R[-1], np.einsum("ab,pbc->pac", Rt[-1] @ Rt[0].T, R[0]), atol=2e-6)


# --------------------------------------------------------------------------------------
# 4. circular motion
# --------------------------------------------------------------------------------------


def test_circular_translation_centripetal(backend, sphere):
    V, F = sphere
    r, Om, fps, T = 2.0, np.pi, 200.0, 100
    h = 1.0 / fps
    t = np.arange(T) / fps
    centre = np.array([3.0, -1.0, 1.5])
    circ = r * np.stack([np.cos(Om * t), np.sin(Om * t), 0 * t], -1)
    R0 = syn.random_rotations(1, _rng(5))[0]
    X = syn.rigid_motion(V, np.broadcast_to(R0, (T, 3, 3)), centre + circ)
    res = _run(backend, X, F, fps)
    a = _world_accel(res)
    expect = np.broadcast_to(-Om**2 * circ[:, None, :], a.shape)
    err = _max_err(a, expect)
    s4 = Om**4 * r  # max |s''''|; stencil error constants 1/12 inside, 11/12 at the ends
    assert err[1:-1].max() < 1.1 * s4 * h**2 / 12 + 1e-4
    assert err[[0, -1]].max() < 1.1 * s4 * h**2 * 11 / 12 + 1e-4
    # |a| = Om^2 r, pointing at the circle's centre
    np.testing.assert_allclose(np.linalg.norm(a, axis=-1), Om**2 * r, rtol=1e-3)
    inward = -circ / r
    cosang = np.einsum("tpi,ti->tp", a, inward) / np.linalg.norm(a, axis=-1)
    assert cosang.min() > 1 - 1e-6
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)


def test_carousel_centripetal_and_gyro(backend, sphere):
    V, F = sphere
    w, fps, T = 2.0, 250.0, 120
    h = 1.0 / fps
    t = np.arange(T) / fps
    Rt = _rot_about([0, 0, 1], w * t)
    X0 = V + np.array([1.2, 0.4, 1.0])  # the mesh sits off the vertical axis through the origin
    X = syn.rigid_motion(X0, Rt, np.zeros((T, 3)))
    res = _run(backend, X, F, fps, offset=0.01)
    s = _f64(res.positions)
    rho = s * [1.0, 1.0, 0.0]  # horizontal offset from the axis
    a = _world_accel(res)
    err = _max_err(a, -(w**2) * rho)
    s4 = w**4 * np.linalg.norm(rho, axis=-1).max()
    assert err[1:-1].max() < 1.1 * s4 * h**2 / 12 + 1e-4
    assert err[[0, -1]].max() < 1.1 * s4 * h**2 * 11 / 12 + 1e-4
    np.testing.assert_allclose(np.linalg.norm(a, axis=-1), w**2 * np.linalg.norm(rho, axis=-1), rtol=1e-3)
    np.testing.assert_allclose(res.gyro, np.einsum("tpji,j->tpi", _f64(res.rotations), [0, 0, w]), atol=1e-5)


# --------------------------------------------------------------------------------------
# 5. general rigid motion
# --------------------------------------------------------------------------------------


def _general_rigid(t):
    """R(t) = Rz(th1) Rx(th2), translation p(t), and their analytic derivatives."""
    f1, f2 = 2 * np.pi * 0.6, 2 * np.pi * 0.9
    th1 = 1.2 * np.sin(f1 * t) + 0.5 * t
    d1 = 1.2 * f1 * np.cos(f1 * t) + 0.5
    dd1 = -1.2 * f1**2 * np.sin(f1 * t)
    th2 = 0.7 * np.sin(f2 * t + 0.3)
    d2 = 0.7 * f2 * np.cos(f2 * t + 0.3)
    dd2 = -0.7 * f2**2 * np.sin(f2 * t + 0.3)
    Rz = _rot_about([0, 0, 1], th1)
    Rx = _rot_about([1, 0, 0], th2)
    R = Rz @ Rx
    ez = np.array([0.0, 0, 1])
    ex_rot = Rz[:, :, 0]  # Rz x-hat
    w = d1[:, None] * ez + d2[:, None] * ex_rot
    alpha = dd1[:, None] * ez + dd2[:, None] * ex_rot + (d1 * d2)[:, None] * np.cross(ez, ex_rot)
    fp = 2 * np.pi * 0.8
    p = np.stack([0.3 * np.sin(fp * t), 0.5 * t + 0.2 * t**2, 1.0 + 0.1 * np.cos(2 * np.pi * 1.1 * t)], -1)
    pdd = np.stack([-0.3 * fp**2 * np.sin(fp * t), 0.4 + 0 * t, -0.1 * (2 * np.pi * 1.1) ** 2 * np.cos(2 * np.pi * 1.1 * t)], -1)
    return R, p, w, alpha, pdd


def test_general_rigid_motion_matches_analytic(backend, sphere):
    V, F = sphere
    fps, T = 500.0, 400
    h = 1.0 / fps
    t = np.arange(T) / fps
    R, p, w, alpha, pdd = _general_rigid(t)
    X = syn.rigid_motion(V, R, p)
    P = V.shape[0]
    rng = _rng(6)
    off = rng.uniform(0.0, 0.02, P)
    res = _run(backend, X, F, fps, yaw=rng.uniform(-3, 3, P), offset=off)
    # sensor in body coordinates, then r(t) = R(t) body
    body = V + off[:, None] * _unit_normals(V, F)
    r = np.einsum("tab,pb->tpa", R, body)
    np.testing.assert_allclose(res.positions, r + p[:, None], atol=2e-6)
    expect = pdd[:, None] + np.cross(alpha[:, None], r) + np.cross(w[:, None], np.cross(w[:, None], r))
    a = _world_accel(res)
    err = _max_err(a, expect)
    # max |s''''| of the analytic trajectory, estimated on a fine grid
    tf = np.linspace(0, t[-1], 4001)
    Rf, pf, *_ = _general_rigid(tf)
    sf = np.einsum("tab,pb->tpa", Rf, body) + pf[:, None]
    hf = tf[1] - tf[0]
    s4 = np.linalg.norm(np.diff(sf, 4, axis=0), axis=-1).max() / hf**4
    assert err[1:-1].max() < 1.5 * s4 * h**2 / 12 + 1e-4
    assert err.max() < 1.5 * s4 * h**2 * 11 / 12 + 1e-4
    assert err.max() < 0.02 and np.abs(expect).max() > 5.0  # a strong signal, small error
    # gyro: body rate R_ws^T w, O(h^2)
    gexp = np.einsum("tpji,tj->tpi", _f64(res.rotations), w)
    gerr = _max_err(res.gyro, gexp)
    assert gerr.max() < 1e-3 and np.abs(w).max() > 3.0


# --------------------------------------------------------------------------------------
# 6. polynomial trajectories: exact
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("jerk", [0.0, 3.0])
def test_polynomial_trajectory_exact_at_all_frames(backend, sphere, jerk):
    V, F = sphere
    rng = _rng(7)
    T, fps = 30, 50.0
    t = np.arange(T) / fps
    R0 = syn.random_rotations(1, rng)[0]
    v, acc, j = np.array([0.5, -1.0, 0.2]), np.array([2.0, 1.0, -3.0]), jerk * np.array([1.0, -0.5, 0.8])
    p = v * t[:, None] + 0.5 * acc * t[:, None] ** 2 + j * t[:, None] ** 3 / 6
    X = syn.rigid_motion(V, np.broadcast_to(R0, (T, 3, 3)), p)
    res = _run(backend, X, F, fps, yaw=rng.uniform(-3, 3, V.shape[0]), offset=0.005)
    a_true = acc + j * t[:, None]  # (T,3)
    expect = np.einsum("tpji,tj->tpi", _f64(res.rotations), a_true - GVEC)
    np.testing.assert_allclose(res.accel, expect, atol=5e-5)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)


# --------------------------------------------------------------------------------------
# 7. second-order convergence
# --------------------------------------------------------------------------------------


def _convergence_errors(backend, sphere, fps, duration, kind):
    V, F = sphere
    n = int(round(duration * fps))
    t = np.arange(n + 1) / fps
    Om, phase = 2 * np.pi * 1.5, 1.0
    u = np.array([0.48, -0.6, 0.64])
    if kind == "accel":
        A = 0.2
        p = 1.0 + A * np.sin(Om * t + phase)[:, None] * u
        X = syn.rigid_motion(V, np.broadcast_to(np.eye(3), (len(t), 3, 3)), p)
        res = _run(backend, X, F, fps, vids=np.arange(0, V.shape[0], 7))
        expect = (-A * Om**2 * np.sin(Om * t + phase))[:, None, None] * u
        return _max_err(_world_accel(res), np.broadcast_to(expect, res.accel.shape))
    A = 0.5
    theta = A * np.sin(Om * t + phase)
    X = syn.rigid_motion(V, _rot_about(u, theta), np.zeros((len(t), 3)))
    res = _run(backend, X, F, fps, vids=np.arange(0, V.shape[0], 7))
    expect = (A * Om * np.cos(Om * t + phase))[:, None, None] * np.einsum("tpji,j->tpi", _f64(res.rotations), u)
    return _max_err(res.gyro, expect)


@pytest.mark.parametrize("kind", ["accel", "gyro"])
def test_error_shrinks_at_second_order(backend, sphere, kind):
    coarse = _convergence_errors(backend, sphere, 200.0, 1.0, kind)
    fine = _convergence_errors(backend, sphere, 400.0, 1.0, kind)
    assert coarse[1:-1].max() > 1e-4  # well above float32 rounding
    inner = coarse[1:-1].max() / fine[2:-2:2].max()  # same instants
    first, last = coarse[0] / fine[0], coarse[-1] / fine[-1]
    for ratio in (inner, first, last):
        assert 3.5 < ratio < 4.5, (inner, first, last)


# --------------------------------------------------------------------------------------
# 8. frames: orthonormal, right-handed, outward; yaw; offset
# --------------------------------------------------------------------------------------


def test_frames_orthonormal_outward_in_nonrigid_motion(backend, sphere):
    V, F = sphere
    T, fps = 50, 60.0
    t = np.arange(T) / fps
    scale = np.stack([1 + 0.3 * np.sin(3 * t), 1 - 0.2 * np.sin(2 * t + 1), 1 + 0.4 * np.sin(5 * t + 2)], -1)
    Rt = _rot_about([1, 2, 3], 1.5 * t)
    c = np.stack([0.5 * t, np.sin(t), 0.2 + 0 * t], -1)
    X = np.einsum("tab,tvb->tva", Rt, V[None] * scale[:, None]) + c[:, None]
    P = V.shape[0]
    res = _run(backend, X, F, fps, yaw=_rng(8).uniform(-3, 3, P), offset=0.01)
    R = _f64(res.rotations)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=2e-6)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=2e-6)
    outward = np.einsum("tpi,tpi->tp", R[..., 2], _f64(res.positions) - c[:, None])
    assert outward.min() > 0.0
    # and z is the unit area-weighted normal of the deformed mesh
    np.testing.assert_allclose(R[..., 2], _unit_normals(X, F), atol=2e-6)


def test_yaw_turns_x_about_z(backend, sphere):
    V, F = sphere
    T, fps = 30, 100.0
    t = np.arange(T) / fps
    X = syn.rigid_motion(V, _rot_about([0.3, 1, 0.2], 2 * t), np.stack([t, t**2, 0 * t], -1))
    P = V.shape[0]
    yaw = _rng(9).uniform(-np.pi, np.pi, P)
    r0 = _run(backend, X, F, fps)
    r1 = _run(backend, X, F, fps, yaw=yaw)
    Rz = _rot_about([0, 0, 1], yaw)  # (P,3,3)
    np.testing.assert_allclose(r1.rotations, np.einsum("tpab,pbc->tpac", _f64(r0.rotations), Rz), atol=2e-6)
    np.testing.assert_allclose(r1.accel, np.einsum("pba,tpb->tpa", Rz, _f64(r0.accel)), atol=2e-5)
    np.testing.assert_allclose(r1.gyro, np.einsum("pba,tpb->tpa", Rz, _f64(r0.gyro)), atol=1e-5)
    np.testing.assert_array_equal(r1.positions, r0.positions)
    # a scalar yaw works too
    r2 = _run(backend, X, F, fps, yaw=0.5)
    np.testing.assert_allclose(r2.rotations[..., 0], np.cos(0.5) * r0.rotations[..., 0] + np.sin(0.5) * r0.rotations[..., 1],
                               atol=2e-6)


def test_offset_moves_sensor_along_normal(backend, sphere):
    V, F = sphere
    T, fps = 20, 100.0
    t = np.arange(T) / fps
    X = syn.rigid_motion(V, _rot_about([1, 0, 0.5], 1.0 * t), np.stack([0.1 * t, 0 * t, 0 * t], -1))
    P = V.shape[0]
    d = _rng(10).uniform(-0.02, 0.05, P)
    r0 = _run(backend, X, F, fps)
    r1 = _run(backend, X, F, fps, offset=d)
    delta = _f64(r1.positions) - _f64(r0.positions)
    np.testing.assert_allclose(delta, d[None, :, None] * _f64(r0.rotations)[..., 2], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(delta, axis=-1), np.broadcast_to(np.abs(d), (T, P)), atol=1e-6)
    np.testing.assert_allclose(r0.positions, X, atol=1e-6)  # offset 0: the vertex itself
    np.testing.assert_allclose(r1.rotations, r0.rotations, atol=1e-6)


# --------------------------------------------------------------------------------------
# 9. numeric floor far from the origin
# --------------------------------------------------------------------------------------


def test_numeric_floor_100m_from_origin(backend, sphere):
    V, F = sphere
    rng = _rng(11)
    T, fps = 240, 240.0
    t = np.arange(T) / fps
    c0 = np.array([70.0, -60.0, 40.0])  # |c0| ~ 100 m
    v, acc = np.array([1.2, 0.3, -0.5]), np.array([0.4, -0.8, 0.3])
    c = c0 + v * t[:, None] + 0.5 * acc * t[:, None] ** 2
    axis = rng.standard_normal(3)
    w = 1.5 * axis / np.linalg.norm(axis)
    Rt = syn.rotation_matrix(t[:, None] * w) @ syn.random_rotations(1, rng)[0]
    X = syn.rigid_motion(V, Rt, c)
    assert np.linalg.norm(X, axis=-1).min() > 95.0
    P = V.shape[0]
    res = _run(backend, X, F, fps, yaw=rng.uniform(-3, 3, P), offset=0.01)
    r = np.einsum("tab,pb->tpa", Rt, V + 0.01 * _unit_normals(V, F))
    expect = acc + np.cross(w, np.cross(w, r))
    assert np.abs(_world_accel(res) - expect).max() < 1e-3
    gexp = np.einsum("tpji,j->tpi", _f64(res.rotations), w)
    assert np.abs(_f64(res.gyro) - gexp).max() < 1e-3


# --------------------------------------------------------------------------------------
# 10. face placements
# --------------------------------------------------------------------------------------


def test_face_placements_at_rest(backend, sphere):
    V, F = sphere
    rng = _rng(12)
    T = 10
    R0 = syn.random_rotations(1, rng)[0]
    X = np.broadcast_to(V @ R0.T + [0.5, 0.2, 1.0], (T,) + V.shape).copy()
    fid = rng.choice(F.shape[0], 50, replace=False)
    b = rng.dirichlet([1.0, 1.0, 1.0], 50)
    res = _run(backend, X, F, 30.0, face_ids=fid, barycentric=b, yaw=rng.uniform(-3, 3, 50))
    assert res.accel.shape == (T, 50, 3)
    up = np.einsum("tpij,tpj->tpi", _f64(res.rotations), _f64(res.accel))
    np.testing.assert_allclose(up, np.broadcast_to([0, 0, G], up.shape), atol=1e-5)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)
    point = np.einsum("pi,tpic->tpc", b, X[:, F[fid]])
    np.testing.assert_allclose(res.positions, point, atol=5e-7)
    # the normal is the barycentric blend of the unit vertex normals
    nv = _unit_normals(X[0], F)
    n = np.einsum("pi,pic->pc", b, nv[F[fid]])
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    np.testing.assert_allclose(res.rotations[0, :, :, 2], n, atol=2e-6)
    # with an offset, and mixed with vertex placements (vertex ones come first)
    vids = np.array([3, 17, 40])
    res2 = _run(backend, X, F, 30.0, vids=vids, face_ids=fid, barycentric=b, offset=0.03)
    assert res2.positions.shape == (T, 53, 3)
    np.testing.assert_allclose(res2.positions[:, :3], X[:, vids] + 0.03 * _f64(res2.rotations[:, :3, :, 2]), atol=1e-6)
    np.testing.assert_allclose(res2.positions[:, 3:], point + 0.03 * _f64(res2.rotations[:, 3:, :, 2]), atol=1e-6)
    up2 = np.einsum("tpij,tpj->tpi", _f64(res2.rotations), _f64(res2.accel))
    np.testing.assert_allclose(up2, np.broadcast_to([0, 0, G], up2.shape), atol=1e-5)


# --------------------------------------------------------------------------------------
# 11. low-pass through the API
# --------------------------------------------------------------------------------------


def test_lowpass_keeps_slow_motion_and_removes_fast(backend, sphere):
    V, F = sphere
    fps, fc, T = 100.0, 5.0, 400
    H = int(np.ceil(3 * fps / fc))
    t = np.arange(T) / fps
    slow, fast = 2 * np.pi * 1.0, 2 * np.pi * 12.0
    u = np.array([0.0, 0.6, 0.8])
    p = (0.3 * np.sin(slow * t) + 0.01 * np.sin(fast * t))[:, None] * u
    R0 = syn.random_rotations(1, _rng(13))[0]
    X = syn.rigid_motion(V, np.broadcast_to(R0, (T, 3, 3)), p)
    vids = np.arange(0, V.shape[0], 5)
    raw = _run(backend, X, F, fps, vids=vids)
    filt = _run(backend, X, F, fps, vids=vids, lowpass_hz=fc)
    inner = slice(H, T - H)
    slow_a = (-0.3 * slow**2 * np.sin(slow * t))[:, None, None] * u
    fast_a = (-0.01 * fast**2 * np.sin(fast * t))[:, None, None] * u
    # unfiltered: both components present (fast ~ 57 m/s^2 amplitude)
    assert np.abs(_world_accel(raw)[inner] - slow_a[inner]).max() > 10.0
    # filtered: the 12 Hz part is gone (< -70 dB), the 1 Hz part kept (within 0.1 % + FD error)
    err = np.abs(_world_accel(filt)[inner] - slow_a[inner]).max()
    assert err < 1e-3 * 0.3 * slow**2 + 3e-3 + 57 * 10 ** (-70 / 20)
    np.testing.assert_allclose(filt.rotations, raw.rotations)
    np.testing.assert_allclose(filt.gyro, 0.0, atol=1e-6)
    assert np.linalg.norm(fast_a, axis=-1).max() > 50.0


def test_lowpass_at_rest_is_still_plus_g(backend, sphere):
    V, F = sphere
    X = np.broadcast_to(V, (40,) + V.shape).copy()
    res = _run(backend, X, F, 50.0, lowpass_hz=4.0)
    up = np.einsum("tpij,tpj->tpi", _f64(res.rotations), _f64(res.accel))
    np.testing.assert_allclose(up, np.broadcast_to([0, 0, G], up.shape), atol=1e-5)  # renormalised at the ends


# --------------------------------------------------------------------------------------
# 12. skinned path: rigid skinning obeys the same physics
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_tube():
    return syn.skinned_tube(n_joints=5, rings=16, segments=12, length=1.0, radius=0.1, influences=3)


def _rigid_transforms(Rt, p, J):
    T = len(Rt)
    M = np.zeros((T, 4, 4))
    M[:, :3, :3], M[:, :3, 3], M[:, 3, 3] = Rt, p, 1.0
    return np.repeat(M[:, None], J, axis=1)


def test_skinned_at_rest_and_spinning(backend, small_tube):
    body = small_tube
    rng = _rng(14)
    T, fps = 40, 100.0
    t = np.arange(T) / fps
    J = body["joint_rest_positions"].shape[0]
    Vn = body["rest_vertices"].shape[0]
    vids = rng.choice(Vn, 30, replace=False)
    fid = rng.choice(body["faces"].shape[0], 10, replace=False)
    b = rng.dirichlet([1.0, 1.0, 1.0], 10)
    kw = dict(vertex_ids=vids, face_ids=fid, barycentric=b, yaw=rng.uniform(-3, 3, 40), offset=0.005, backend=backend)
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"])
    # at rest in a fixed random pose
    R0 = syn.random_rotations(1, rng)[0]
    A = _rigid_transforms(np.broadcast_to(R0, (T, 3, 3)), np.broadcast_to([1.0, 2.0, 0.5], (T, 3)), J)
    res = anymo_sim.skinned_imu(*args, A, fps, **kw)
    assert res.degenerate == 0 and res.accel.dtype == np.float32
    up = np.einsum("tpij,tpj->tpi", _f64(res.rotations), _f64(res.accel))
    np.testing.assert_allclose(up, np.broadcast_to([0, 0, G], up.shape), atol=1e-5)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)
    # spinning at a constant rate while translating uniformly, (T, J, 3, 4) transforms
    w = np.array([0.5, -1.0, 2.0])
    Rt = syn.rotation_matrix(t[:, None] * w) @ R0
    A = _rigid_transforms(Rt, [0.3, 0.0, 1.0] + np.array([0.5, 1.0, 0.0]) * t[:, None], J)[:, :, :3, :]
    res = anymo_sim.skinned_imu(*args, A, fps, **kw)
    np.testing.assert_allclose(res.gyro, np.einsum("tpji,j->tpi", _f64(res.rotations), w), atol=1e-5)
    # positions follow the rigid motion of the rest placement points
    rest_pts = np.concatenate([body["rest_vertices"][vids], np.einsum("pi,pic->pc", b, body["rest_vertices"][body["faces"][fid]])])
    rest_n = np.concatenate([_unit_normals(body["rest_vertices"], body["faces"])[vids],
                             np.einsum("pi,pic->pc", b, _unit_normals(body["rest_vertices"], body["faces"])[body["faces"][fid]])])
    rest_n[30:] /= np.linalg.norm(rest_n[30:], axis=-1, keepdims=True)
    body_pts = rest_pts + 0.005 * rest_n
    r = np.einsum("tab,pb->tpa", Rt, body_pts)
    np.testing.assert_allclose(res.positions, r + A[:, 0, :3, 3][:, None], atol=2e-6)
    # world acceleration: centripetal about the moving origin (O(h^2) at 100 Hz)
    expect = np.cross(w, np.cross(w, r))
    s4 = np.linalg.norm(w) ** 4 * np.linalg.norm(r, axis=-1).max()
    err = _max_err(_world_accel(res), expect)
    assert err.max() < 1.1 * s4 * 11 / 12 / fps**2 + 1e-4
