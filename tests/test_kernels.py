"""The compiled kernels against the float64 numpy reference on fresh random inputs, chunking
invariance, array kinds, and the errors bad input gets."""

import re
import warnings

import numpy as np
import pytest

import anymo_sim
from anymo_sim import synthetic as syn

KERNELS = [b for b in anymo_sim.available_backends() if b != "reference"]
FIELDS = ("accel", "gyro", "rotations", "positions")


def rel_err(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


def jittery_sphere_motion(rng, T=80, noise=2e-4, subdivisions=3):
    """A rigidly tumbling, travelling sphere with per-vertex wobble (so every vertex differs)."""
    v, f = syn.icosphere(subdivisions, radius=0.3)
    t = np.arange(T) / 120.0
    axis = rng.normal(size=3)
    R = syn.rotation_matrix(np.outer(2.0 * t + 1.5 * np.sin(3 * t), axis / np.linalg.norm(axis)))
    tr = np.stack([np.sin(2 * t), 0.5 * t**2, 0.1 * np.cos(5 * t)], 1) + rng.uniform(-50, 50, 3)
    X = syn.rigid_motion(v, R, tr)
    wobble = np.sin(np.outer(t, rng.uniform(5, 15, len(v)))[..., None] + rng.uniform(0, 6, (len(v), 3)))
    return X + noise * wobble, f


def random_placements(rng, V, F, n_vertex=150, n_face=60):
    bary = rng.dirichlet([1.0, 1.0, 1.0], n_face)
    return dict(
        vertex_ids=rng.choice(V, n_vertex, replace=False),
        face_ids=rng.integers(0, F, n_face),
        barycentric=bary / bary.sum(1, keepdims=True),
        yaw=rng.uniform(-np.pi, np.pi, n_vertex + n_face),
        offset=rng.uniform(0, 0.01, n_vertex + n_face),
    )


@pytest.mark.parametrize("backend", KERNELS)
@pytest.mark.parametrize("lowpass_hz", [None, 25.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_surface_kernel_matches_reference(rng, backend, lowpass_hz, dtype):
    X, f = jittery_sphere_motion(rng)
    X = X.astype(dtype)  # the reference reads the same (rounded) input in float64
    pl = random_placements(rng, X.shape[1], len(f))
    vid = pl.pop("vertex_ids")
    ref = anymo_sim.surface_imu(X, f, vid, 120.0, backend="reference", lowpass_hz=lowpass_hz, **pl)
    out = anymo_sim.surface_imu(X, f, vid, 120.0, backend=backend, lowpass_hz=lowpass_hz, **pl)
    for k in FIELDS:
        assert getattr(out, k).dtype == np.float32
        assert rel_err(getattr(out, k), getattr(ref, k)) < 1e-6, k


@pytest.mark.parametrize("backend", KERNELS)
@pytest.mark.parametrize("lowpass_hz", [None, 30.0])
def test_skinned_kernel_matches_reference(rng, backend, lowpass_hz):
    body = syn.skinned_tube(n_joints=8, rings=40, segments=16)
    A = syn.tube_motion(body, 60, 120.0, seed=int(rng.integers(1 << 30)))
    V, F = len(body["rest_vertices"]), len(body["faces"])
    pl = random_placements(rng, V, F, 120, 40)
    tangents = rng.normal(size=(160, 3))
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"], A, 120.0)
    for extra in ({}, {"rest_tangents": tangents}):
        ref = anymo_sim.skinned_imu(*args, backend="reference", lowpass_hz=lowpass_hz, **pl, **extra)
        out = anymo_sim.skinned_imu(*args, backend=backend, lowpass_hz=lowpass_hz, **pl, **extra)
        for k in FIELDS:
            assert rel_err(getattr(out, k), getattr(ref, k)) < 1e-6, k


def _skinned_runs(monkeypatch, args, **kw):
    """skinned_imu on the CPU driver's vector lanes, then with only the per-element calls CUDA
    makes ('cpu-elementwise'), warnings silenced (degenerate frames are counted in the result)."""
    from anymo_sim import engine

    run = engine._core.run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lanes = anymo_sim.skinned_imu(*args, backend="cpu", **kw)
        with monkeypatch.context() as m:
            m.setattr(engine._core, "run", lambda pb, device, stream: run(pb, device + "-elementwise", stream))
            elementwise = anymo_sim.skinned_imu(*args, backend="cpu", **kw)
    return lanes, elementwise


@pytest.mark.skipif("cpu" not in KERNELS, reason="extension not built")
@pytest.mark.parametrize("lowpass_hz", [None, 25.0])
def test_cpu_vector_paths_equal_the_per_element_code(rng, monkeypatch, lowpass_hz):
    """The CPU skins items with the same joints together (skin_frame; more than 4 terms: per
    item), poses 8 placements at a time in vector lanes (pose_lanes; blocks of vertex placements
    with one anchor slot only) and takes the readings of interior frames across placements
    (interior_frame, each frame reusing the previous frame's relative rotation and its log);
    CUDA calls skin_item, pose_placement
    and imu_sample per element. Both must give the same bytes and the same degenerate count: 211
    placements (vertices and face points: 1 and 3 anchors, rings of different sizes, a partial
    last block) on a moving tube whose joints 1-6 collapse to a point from frame 40 on (the
    rings' fallback), then standing still with some tangents along the normal (the frame's
    fallback). Outputs are float32: a one-ulp float64 difference (a division for a reciprocal
    multiply) seldom survives the cast, so this catches wrong terms and wrong fallback choices,
    not every reordering."""
    body = syn.skinned_tube(n_joints=8, rings=40, segments=16, influences=6)  # 3 to 6 terms
    rest, F = body["rest_vertices"], body["faces"]
    moving = syn.tube_motion(body, 90, 120.0, seed=int(rng.integers(1 << 30)))
    moving[40:, 1:7, :3, :3] = 0.0  # joints 1-6 go to one point: faces only on them collapse
    moving[40:, 1:7, :3, 3] = moving[40:, 1:2, :3, 3]
    still = np.broadcast_to(np.eye(4), (12, 8, 4, 4))
    pl = random_placements(rng, len(rest), len(F), 150, 61)
    from anymo_sim import topology

    anchors = np.concatenate([np.repeat(pl["vertex_ids"][:, None], 3, 1), F[pl["face_ids"]]])
    bary = np.concatenate([np.tile([1.0, 0.0, 0.0], (150, 1)), pl["barycentric"]])
    _, normal = topology.placement_points(rest, F, anchors, bary)
    tangents = rng.normal(size=(211, 3))
    tangents[::7] = normal[::7]  # standing still, these have no tangent part
    for A in (moving, still):
        args = (rest, F, body["skin_joints"], body["skin_weights"], A, 120.0)
        lanes, elementwise = _skinned_runs(monkeypatch, args, lowpass_hz=lowpass_hz, rest_tangents=tangents, **pl)
        assert lanes.degenerate == elementwise.degenerate > 0
        for k in FIELDS:
            assert getattr(lanes, k).tobytes() == getattr(elementwise, k).tobytes(), k
    assert np.isfinite(lanes.accel).all()


@pytest.mark.parametrize("backend", KERNELS)
def test_skinned_equals_surface_on_the_skinned_mesh(rng, backend):
    """Skinning only the needed vertices gives what skinning the whole mesh gives, when the
    tangent reference is the same vertex (here: the mesh path's default, fed back in)."""
    from anymo_sim import reference

    body = syn.skinned_tube(n_joints=6, rings=30, segments=12)
    A = syn.tube_motion(body, 40, 100.0)
    X = reference.skin_vertices(body["rest_vertices"], body["skin_joints"], body["skin_weights"], A)
    ids = rng.choice(len(X[0]), 50, replace=False)
    mesh = anymo_sim.surface_imu(X, body["faces"], ids, 100.0, backend=backend)
    skin = anymo_sim.skinned_imu(body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"],
                                 A, 100.0, vertex_ids=ids, backend=backend)
    np.testing.assert_allclose(skin.positions, mesh.positions, atol=1e-5)
    # both frames share z; x differs by a rotation about z only
    np.testing.assert_allclose(skin.rotations[..., 2], mesh.rotations[..., 2], atol=1e-5)
    np.testing.assert_allclose(skin.accel[..., 2], mesh.accel[..., 2], atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(skin.accel, axis=-1), np.linalg.norm(mesh.accel, axis=-1), rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("backend", KERNELS)
@pytest.mark.parametrize("lowpass_hz", [None, 20.0])
def test_chunked_equals_unchunked_bitwise(rng, backend, lowpass_hz):
    X, f = jittery_sphere_motion(rng, T=97)
    pl = random_placements(rng, X.shape[1], len(f))
    vid = pl.pop("vertex_ids")
    whole = anymo_sim.surface_imu(X, f, vid, 120.0, backend=backend, chunk_frames=10_000, lowpass_hz=lowpass_hz, **pl)
    for chunk in (1, 2, 5, 33, 96):
        part = anymo_sim.surface_imu(X, f, vid, 120.0, backend=backend, chunk_frames=chunk, lowpass_hz=lowpass_hz, **pl)
        for k in FIELDS:
            assert np.array_equal(getattr(part, k), getattr(whole, k)), (chunk, k)
    body = syn.skinned_tube(n_joints=6, rings=30, segments=12)
    A = syn.tube_motion(body, 50, 100.0)
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"], A, 100.0)
    ids = rng.choice(len(body["rest_vertices"]), 40, replace=False)
    a = anymo_sim.skinned_imu(*args, vertex_ids=ids, chunk_frames=3, backend=backend, lowpass_hz=lowpass_hz)
    b = anymo_sim.skinned_imu(*args, vertex_ids=ids, chunk_frames=50, backend=backend, lowpass_hz=lowpass_hz)
    for k in FIELDS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k


@pytest.mark.parametrize("backend", KERNELS)
def test_optional_outputs_and_result_kind(rng, backend):
    X, f = jittery_sphere_motion(rng, T=20)
    full = anymo_sim.surface_imu(X, f, [0, 5, 9], 60.0, backend=backend)
    lean = anymo_sim.surface_imu(X, f, [0, 5, 9], 60.0, backend=backend, return_rotations=False, return_positions=False)
    assert lean.rotations is None and lean.positions is None
    assert np.array_equal(lean.accel, full.accel) and np.array_equal(lean.gyro, full.gyro)
    assert full.accel.shape == (20, 3, 3) and full.rotations.shape == (20, 3, 3, 3)


@pytest.mark.skipif("cpu" not in KERNELS, reason="extension not built")
def test_skinned_writes_into_given_outputs(rng):
    """out=: the readings land in the caller's arrays (reused from call to call by generate),
    byte for byte what fresh arrays get; a wrong dict or array is refused, naming it."""
    body = syn.skinned_tube(n_joints=6, rings=30, segments=12)
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"],
            syn.tube_motion(body, 60, 100.0), 100.0)
    ids = rng.choice(len(body["rest_vertices"]), 40, replace=False)
    fresh = anymo_sim.skinned_imu(*args, vertex_ids=ids, backend="cpu")
    buf = np.full(60 * 40 * 15, np.nan, np.float32)
    out = {"accel": buf[:7200].reshape(60, 40, 3), "gyro": buf[7200:14400].reshape(60, 40, 3),
           "rotations": np.empty((60, 40, 3, 3), np.float32)}
    got = anymo_sim.skinned_imu(*args, vertex_ids=ids, backend="cpu", return_positions=False, out=out)
    assert got.accel is out["accel"] and got.gyro is out["gyro"] and got.rotations is out["rotations"]
    for k in ("accel", "gyro", "rotations"):
        assert getattr(got, k).tobytes() == getattr(fresh, k).tobytes(), k
    with pytest.raises(ValueError, match="out: expected a dict with exactly the keys"):
        anymo_sim.skinned_imu(*args, vertex_ids=ids, backend="cpu", out=out)  # positions are asked for too
    bad = dict(out, gyro=np.empty((60, 40, 3)))
    with pytest.raises(ValueError, match=r"out\['gyro'\]: expected a writeable C-contiguous float32"):
        anymo_sim.skinned_imu(*args, vertex_ids=ids, backend="cpu", return_positions=False, out=bad)
    with pytest.raises(ValueError, match="out: preallocated outputs are for backend 'cpu', not 'reference'"):
        anymo_sim.skinned_imu(*args, vertex_ids=ids, backend="reference", return_positions=False, out=out)


def test_torch_cpu_tensors_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    X, f = jittery_sphere_motion(rng, T=30)
    ids = rng.choice(X.shape[1], 20, replace=False)
    ref = anymo_sim.surface_imu(X, f, ids, 100.0)
    Xt = torch.from_numpy(X)
    out = anymo_sim.surface_imu(Xt, torch.from_numpy(f), torch.from_numpy(ids), 100.0)
    assert isinstance(out.accel, torch.Tensor) and out.accel.dtype == torch.float32
    for k in FIELDS:
        assert np.array_equal(getattr(out, k).numpy(), getattr(ref, k))
    body = syn.skinned_tube(n_joints=6, rings=30, segments=12)
    A = torch.from_numpy(syn.tube_motion(body, 20, 100.0)).float()
    res = anymo_sim.skinned_imu(body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"], A,
                                100.0, vertex_ids=[3, 30, 300])
    assert isinstance(res.gyro, torch.Tensor) and res.gyro.shape == (20, 3, 3)


@pytest.mark.cuda
@pytest.mark.skipif("cuda" not in anymo_sim.available_backends(), reason="no CUDA GPU")
def test_cuda_tensors_stay_on_device(rng):
    import torch

    X, f = jittery_sphere_motion(rng, T=40)
    ids = rng.choice(X.shape[1], 30, replace=False)
    out = anymo_sim.surface_imu(torch.from_numpy(X).cuda(), f, ids, 120.0)
    assert out.accel.is_cuda
    cpu = anymo_sim.surface_imu(X, f, ids, 120.0, backend="cpu")
    for k in FIELDS:
        assert rel_err(getattr(out, k).cpu().numpy(), getattr(cpu, k).astype(np.float64)) < 1e-6


def test_float32_input_floor_is_as_documented(rng):
    """docs/engine.md: float32 positions cost up to ~2.4e-7 |x| / h² of acceleration; float64
    input does not. A sphere resting 10 m from the origin, at 240 Hz."""
    v, f = syn.icosphere(2, radius=0.2)
    X = np.repeat((v + [10.0, 0.0, 0.0])[None], 50, axis=0)
    ids = np.arange(len(v))
    up = anymo_sim.surface_imu(X, f, ids, 240.0)
    err64 = np.abs(np.einsum("tpij,tpj->tpi", up.rotations, up.accel) - [0, 0, 9.80665]).max()
    lo = anymo_sim.surface_imu(X.astype(np.float32) + np.float32(0), f, ids, 240.0)
    err32 = np.abs(np.einsum("tpij,tpj->tpi", lo.rotations, lo.accel) - [0, 0, 9.80665]).max()
    assert err64 < 1e-5
    # a static float32 mesh is still exact (same rounded value every frame); add sub-ulp motion
    Xm = X + rng.uniform(-1, 1, X.shape) * 5e-7
    moving = anymo_sim.surface_imu(Xm.astype(np.float32), f, ids, 240.0)
    exact = anymo_sim.surface_imu(Xm, f, ids, 240.0)
    world = lambda r: np.einsum("tpij,tpj->tpi", r.rotations, r.accel)  # noqa: E731
    half_ulp = np.spacing(np.float32(10.3)) / 2
    bound = 4 * half_ulp * 240.0**2  # worst case of docs/engine.md: (1 + 2 + 1) half-ulps / h²
    err = np.abs(world(moving) - world(exact))
    assert 1e-3 < err[1:-1].max() < bound  # float32 really costs this much here, and no more
    assert err[[0, -1]].max() < 3 * bound  # the one-sided end stencil: (2 + 5 + 4 + 1) half-ulps
    assert err32 < 1e-5


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_check_of_large_arrays(rng, dtype):
    """Arrays of 2^16 values or more are checked by the extension on all cores
    (validate._all_finite): every kind of bad value anywhere is found, and the message names the
    first; the largest and subnormal values pass; strided arrays take numpy's check."""
    from anymo_sim.validate import _all_finite, require_finite

    x = rng.normal(size=(300, 250, 3)).astype(dtype)
    info = np.finfo(dtype)
    x[7, 7] = [info.max, -info.max, info.tiny / 4]
    assert _all_finite(x) and _all_finite(x[:, ::2])
    require_finite("x", x)
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0, 0), (150, 125, 1), (299, 249, 2)):
            y = x.copy()
            y[where] = bad
            assert not _all_finite(y) and not _all_finite(y[:, ::-1])
            with pytest.raises(ValueError, match=re.escape(f"y: contains NaN or inf (first at index {where})")):
                require_finite("y", y)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[
    pytest.mark.cuda, pytest.mark.skipif("cuda" not in anymo_sim.available_backends(), reason="no CUDA GPU")])])
def test_finite_check_of_torch_tensors_on_their_device(rng, device):
    """Tensors are checked where they are (on a GPU by one min/max reduction): every kind of bad
    value anywhere is found and located, the largest and subnormal values pass."""
    torch = pytest.importorskip("torch")
    from anymo_sim.validate import require_finite

    info = np.finfo(np.float32)
    x = rng.normal(size=(300, 250, 3)).astype(np.float32)
    x[7, 7] = [info.max, -info.max, info.tiny / 4]
    x = torch.from_numpy(x).to(device)
    require_finite("x", x)
    require_finite("n", torch.arange(10, device=device))
    require_finite("e", torch.empty((0, 3), device=device))
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0, 0), (150, 125, 1), (299, 249, 2)):
            y = x.clone()
            y[where] = bad
            with pytest.raises(ValueError, match=re.escape(f"y: contains NaN or inf (first at index {where})")):
                require_finite("y", y)


def _sphere(T=10):
    v, f = syn.icosphere(1)
    return np.repeat(v[None], T, axis=0), f


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda a: a.update(vertices=a["vertices"][:, :, :2]), r"vertices: expected shape \(T, V, 3\)"),
        (lambda a: a.update(vertices=a["vertices"][:3]), "need at least 4"),
        (lambda a: a["vertices"].__setitem__((2, 5, 1), np.nan), "vertices: contains NaN or inf"),
        (lambda a: a["vertices"].__setitem__((0, 1, 0), np.inf), "vertices: contains NaN or inf"),
        (lambda a: a.update(vertices=a["vertices"].astype(np.complex128)), "real floating-point"),
        (lambda a: a.update(vertex_ids=[0, 999]), "vertex_ids: index 999 out of range"),
        (lambda a: a.update(vertex_ids=[-1]), "vertex_ids: index -1 out of range"),
        (lambda a: a.update(vertex_ids=[0.5]), "vertex_ids: expected integer"),
        (lambda a: a.update(faces=np.array([[0, 1, 1]])), "repeats a vertex"),
        (lambda a: a.update(faces=a["faces"][:, :2]), r"faces: expected shape \(F, 3\)"),
        (lambda a: a.update(faces=a["faces"] + 100), "faces: index"),
        (lambda a: a.update(fps=0), "fps: expected a positive"),
        (lambda a: a.update(fps=float("nan")), "fps: expected a positive"),
        (lambda a: a.update(fps="fast"), "fps: expected a number"),
        (lambda a: a.update(yaw=[0.0, 1.0]), r"yaw: expected shape"),
        (lambda a: a.update(offset=np.nan), "offset: contains NaN"),
        (lambda a: a.update(lowpass_hz=60.0), "lowpass_hz: expected a cutoff"),
        (lambda a: a.update(face_ids=[0]), "need both face_ids"),
        (lambda a: a.update(face_ids=[0], barycentric=[[0.5, 0.6, 0.0]]), "barycentric: weights"),
        (lambda a: a.update(vertex_ids=None), "no placements"),
        (lambda a: a.update(gravity=[0, 0]), r"gravity: expected shape \(3,\)"),
        (lambda a: a.update(backend="gpu"), "backend: expected"),
        (lambda a: a.update(chunk_frames=0), "chunk_frames"),
        (lambda a: a.update(ref_vertex_ids=[1]), r"ref_vertex_ids: expected shape"),
    ],
)
def test_surface_bad_input_raises_clear_errors(mutate, match):
    X, f = _sphere()
    args = dict(vertices=X.copy(), faces=f, vertex_ids=[0, 1, 2], fps=100.0)
    mutate(args)
    with pytest.raises((ValueError, TypeError), match=match):
        anymo_sim.surface_imu(args.pop("vertices"), args.pop("faces"), args.pop("vertex_ids"), args.pop("fps"), **args)


def test_zero_area_face_next_to_a_placement_is_rejected():
    X, f = _sphere()
    a, b, c = f[0]
    X[:, c] = 0.5 * (X[:, a] + X[:, b])  # collapse face 0 onto its edge
    with pytest.raises(ValueError, match="face 0 .* zero area"):
        anymo_sim.surface_imu(X, f, [a], 100.0)


def test_vertex_without_faces_is_rejected():
    X, f = _sphere()
    X = np.concatenate([X, X[:, :1]], axis=1)  # an extra vertex no face uses
    with pytest.raises(ValueError, match="belongs to no face"):
        anymo_sim.surface_imu(X, f, [X.shape[1] - 1], 100.0)


def test_skinned_bad_input_raises_clear_errors():
    body = syn.skinned_tube(n_joints=4, rings=10, segments=8)
    A = syn.tube_motion(body, 10, 100.0)
    rest, f, sj, sw = body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"]
    ok = dict(vertex_ids=[0, 10])
    with pytest.raises(ValueError, match="joint_transforms: expected shape"):
        anymo_sim.skinned_imu(rest, f, sj, sw, A[:, :, :2], 100.0, **ok)
    with pytest.raises(ValueError, match="skin_weights: row 3"):
        bad = sw.copy(); bad[3, 0] += 0.5
        anymo_sim.skinned_imu(rest, f, sj, bad, A, 100.0, **ok)
    with pytest.raises(ValueError, match="skin_joints: index 4 out of range for 4 joints"):
        bad = sj.copy(); bad[7, 0] = 4
        anymo_sim.skinned_imu(rest, f, bad, sw, A, 100.0, **ok)
    with pytest.raises(ValueError, match="joint_transforms: contains NaN"):
        bad = A.copy(); bad[5, 1, 0, 3] = np.nan
        anymo_sim.skinned_imu(rest, f, sj, sw, bad, 100.0, **ok)
    with pytest.raises(ValueError, match="rest_tangents: every direction must be non-zero"):
        anymo_sim.skinned_imu(rest, f, sj, sw, A, 100.0, rest_tangents=np.zeros((2, 3)), **ok)
    with pytest.raises(ValueError, match="need at least 4"):
        anymo_sim.skinned_imu(rest, f, sj, sw, A[:3], 100.0, **ok)


@pytest.mark.parametrize("backend", KERNELS)
def test_tangent_along_normal_warns_and_stays_finite(backend):
    """A reference direction parallel to the normal has no tangent part: the fallback frame is
    used, counted and reported, and the output stays finite and orthonormal."""
    body = syn.skinned_tube(n_joints=4, rings=10, segments=8)
    A = np.broadcast_to(np.eye(4), (12, 4, 4, 4))  # standing in the rest pose: n stays = r⁰
    ids = np.array([40, 41])
    from anymo_sim import topology

    anchors = np.repeat(ids[:, None], 3, 1)
    bary = np.tile([1.0, 0.0, 0.0], (2, 1))
    _, normal = topology.placement_points(body["rest_vertices"], body["faces"], anchors, bary)
    with pytest.warns(RuntimeWarning, match="ill-defined normal or tangent"):
        out = anymo_sim.skinned_imu(body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"],
                                    A, 100.0, vertex_ids=ids, rest_tangents=normal, backend=backend)
    assert out.degenerate > 0
    assert np.isfinite(out.accel).all() and np.isfinite(out.gyro).all()
    RtR = np.einsum("tpki,tpkj->tpij", out.rotations, out.rotations)
    np.testing.assert_allclose(RtR, np.broadcast_to(np.eye(3), RtR.shape), atol=1e-5)


@pytest.mark.parametrize("backend", KERNELS)
def test_surface_collapsing_during_motion_counts_like_the_reference(rng, backend):
    """Faces that collapse after the first frame use the documented fallbacks, counted per
    (frame, placement) exactly as the reference counts them."""
    v, f = syn.icosphere(2)
    X = np.repeat(v[None], 12, axis=0).copy()
    k = int(rng.integers(len(v)))
    ring = np.unique(f[np.any(f == k, axis=1)])
    X[6:, ring] = v[k]  # the whole 1-ring of vertex k shrinks onto it from frame 6 on
    others = rng.choice(np.setdiff1d(np.arange(len(v)), ring), 5, replace=False)
    ids = np.concatenate([[k], others])
    with pytest.warns(RuntimeWarning):
        ref = anymo_sim.surface_imu(X, f, ids, 50.0, backend="reference")
    with pytest.warns(RuntimeWarning):
        out = anymo_sim.surface_imu(X, f, ids, 50.0, backend=backend)
    assert out.degenerate == ref.degenerate >= 6
    for key in FIELDS:
        np.testing.assert_allclose(getattr(out, key), getattr(ref, key), rtol=1e-5, atol=1e-4)
