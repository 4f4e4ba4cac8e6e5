"""On-the-fly augmentation (anymo_sim.augment, docs/augment.md): shapes on a realistic batch,
fresh draws per call, reproducible bytes, the physics of a body at rest, numpy/torch kinds,
the batched mesh against per-item simulation, motion windows, input errors, the docs example,
and CUDA against the CPU where a GPU is present."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import anymo_sim
from anymo_sim.augment import Augmenter, MotionWindows
from anymo_sim.body import SEGMENTS
from anymo_sim.devices import apply_device

G = 9.80665
RATE = 100.0
ROOT = Path(__file__).resolve().parents[1]
HAS_CUDA = "cuda" in anymo_sim.available_backends()


@pytest.fixture(scope="module")
def windows():
    return MotionWindows(rate=RATE)


@pytest.fixture(scope="module")
def batch(windows):
    """Four random 2-s windows of the built-in clips on the default body, at 100 Hz."""
    return windows.sample(4, 2.0, seed=0)


@pytest.fixture(scope="module")
def augmenter():
    return Augmenter(placements=64, rate=RATE, seed=0)


def rest_transforms(body, B=2, T=50):
    """The body standing still in its rest pose: G_j(t) = G_j(rest)."""
    return np.broadcast_to(body.joint_rest_transforms, (B, T) + body.joint_rest_transforms.shape).copy()


def test_shapes_and_dtypes(augmenter, batch):
    out = Augmenter(placements=64, rate=RATE, seed=1)(batch.transforms, batch.fps)
    B, T = batch.transforms.shape[:2]
    assert (B, T) == (4, 200)
    assert out.imu.shape == (4, 64, augmenter.output_length(T, batch.fps), 6) == (4, 64, 200, 6)
    assert out.imu.dtype == np.float32 and out.imu.flags.c_contiguous
    assert np.isfinite(out.imu).all()
    # moving bodies (this batch: a jump, a dance, two backflips): specific force of the order
    # of g, within a consumer part's ±16 g, and turning
    assert G / 2 < np.median(np.linalg.norm(out.imu[..., :3], axis=-1)) < 4 * G
    assert np.abs(out.imu[..., :3]).max() <= 16 * G
    assert np.abs(out.imu[..., 3:]).max() > 0.5
    assert out.segment.shape == out.device.shape == (4, 64) and out.segment.dtype == out.device.dtype == np.int64
    assert out.segment.min() >= 0 and out.segment.max() < len(SEGMENTS)
    assert set(np.unique(out.device)) <= set(range(len(out.device_names)))
    assert len(out.placements) == 4 and all(len(p) == 64 for p in out.placements)
    assert np.array_equal(np.stack([p.segment for p in out.placements]), out.segment)
    assert all(p.anchors.max() < augmenter.body.n_vertices for p in out.placements)
    assert out.rate == RATE and out.device_names == augmenter.device_names


def test_fresh_draws_every_call(batch):
    aug = Augmenter(placements=64, rate=RATE, seed=7)
    a, b = aug(batch.transforms, batch.fps), aug(batch.transforms, batch.fps)
    assert aug.calls == 2 and a.seed != b.seed
    assert not np.array_equal(a.placements[0].anchors, b.placements[0].anchors)
    assert not np.allclose(a.placements[0].yaw, b.placements[0].yaw)
    assert not np.array_equal(a.device, b.device)
    assert not np.allclose(a.device_params.accel.bias, b.device_params.accel.bias)
    assert not np.array_equal(a.imu, b.imu)
    # items of one batch differ from each other too
    assert not np.array_equal(a.placements[0].anchors, a.placements[1].anchors)


def test_same_seed_same_bytes(batch):
    x = batch.transforms[:2]
    one, two = Augmenter(placements=16, rate=RATE, seed=3), Augmenter(placements=16, rate=RATE, seed=3)
    first = [one(x, batch.fps) for _ in range(2)]
    second = [two(x, batch.fps) for _ in range(2)]
    for a, b in zip(first, second):
        assert a.seed == b.seed and a.imu.tobytes() == b.imu.tobytes()
    # one batch alone, from the seed it reports, without touching the counter
    replay = Augmenter(placements=16, rate=RATE, seed=99)(x, batch.fps, seed=first[1].seed)
    assert replay.imu.tobytes() == first[1].imu.tobytes()
    assert np.array_equal(replay.placements[1].bary, first[1].placements[1].bary)


@pytest.mark.parametrize("placements", [64, "xsens17"])
def test_rest_pose_reads_gravity(placements):
    """Standing still: |specific force| = g and zero rate at every placement, however the
    device is yawed, tilted or offset (ideal device)."""
    aug = Augmenter(placements=placements, devices="ideal", rate=RATE, yaw_deg=180, tilt_deg=30, offset_m=0.02, seed=5)
    out = aug(rest_transforms(aug.body), RATE)
    np.testing.assert_allclose(np.linalg.norm(out.imu[..., :3], axis=-1), G, atol=2e-3)
    np.testing.assert_allclose(out.imu[..., 3:], 0.0, atol=1e-4)


def test_rest_pose_at_another_rate():
    """Transforms at 60 fps, output at 100 Hz: the device model resamples, gravity stays."""
    aug = Augmenter(placements=8, devices="ideal", rate=RATE, seed=2)
    out = aug(rest_transforms(aug.body, T=60), 60.0)
    assert out.imu.shape[2] == aug.output_length(60, 60.0) == 99
    np.testing.assert_allclose(np.linalg.norm(out.imu[..., :3], axis=-1), G, atol=2e-3)


def test_batched_mesh_matches_per_item_simulation(batch):
    """One engine call over the gathered surface patches of B items reads what simulate()
    reads for each item alone on the whole body (tilt included)."""
    aug = Augmenter(placements=24, devices="ideal", rate=RATE, tilt_deg=20, seed=4)
    x = batch.transforms[:3]
    out = aug(x, batch.fps)
    for k in range(3):
        r = anymo_sim.simulate(aug.body, x[k], batch.fps, out.placements[k], return_positions=False)
        imu = out.imu[k].transpose(1, 0, 2)  # (N, P, 6), the engine's layout
        np.testing.assert_allclose(imu[..., :3], r.accel, atol=1e-3, rtol=1e-5)
        np.testing.assert_allclose(imu[..., 3:], r.gyro, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("placements", [64, "all"])
def test_fast_engine_path_same_bytes_as_the_checked_one(windows, placements):
    """The augmenter skips the engine's checks and builds its tables itself (Augmenter._ideal ->
    engine._skinned); on a realistic batch that gives the bytes of the public, checking
    skinned_imu on the same patch mesh, and the tables anchor_tables makes there. 'all': vertex
    placements (weights (1, 0, 0) on a repeated anchor); some face placements are moved onto an
    edge (a weight exactly 0 on a vertex no other placement uses)."""
    from anymo_sim import engine, topology
    from anymo_sim.placements import Placements

    aug = Augmenter(placements=placements, rate=RATE, seed=12)
    x = windows.sample(8 if placements == 64 else 2, 1.0, seed=3).transforms
    B, T = x.shape[:2]
    pl = aug.draw(B, 34)[0]
    if placements == 64:
        bary = pl.bary.copy()
        bary[::5] = [0.25, 0.75, 0.0]
        pl = Placements(pl.anchors, bary, pl.yaw, pl.offset, pl.segment, pl.names, pl.tilt)
    patch = aug._batch_mesh(pl.anchors, pl.bary, B)
    checked = topology.anchor_tables(patch.faces, len(patch.rest), patch.anchors, pl.bary)
    for key in ("anchor_slot", "anchor_vertex", "adj_offsets", "adj_faces"):
        a, b = getattr(patch.tables, key), getattr(checked, key)
        assert a.dtype == b.dtype and np.array_equal(a, b), key
    A = aug._skinning(x, B, T)
    fast = aug._ideal(A, RATE, pl, B, "cpu", rotations=True)
    # the public path gets the body's weights as they are (it normalises them itself)
    flush = Placements(patch.anchors, pl.bary, pl.yaw, pl.offset, pl.segment, pl.names)
    public = engine.skinned_imu(patch.rest, patch.faces, patch.skin_joints, aug.body.skin_weights[patch.body_vertex], A,
                                RATE, placements=flush, backend="cpu", return_positions=False)
    for key in ("accel", "gyro", "rotations"):
        assert getattr(fast, key).tobytes() == getattr(public, key).tobytes(), key
    with pytest.raises(ValueError, match="transforms: contains NaN"):
        A[3, 5, 0, 0] = np.nan
        aug._ideal(A, RATE, pl, B, "cpu", rotations=False)


def test_torch_in_torch_out(batch):
    torch = pytest.importorskip("torch")
    x = batch.transforms[:2]
    a = Augmenter(placements=8, rate=RATE, seed=11)(torch.from_numpy(x), batch.fps)
    b = Augmenter(placements=8, rate=RATE, seed=11)(x, batch.fps)
    assert isinstance(a.imu, torch.Tensor) and a.imu.dtype == torch.float32 and a.imu.is_contiguous()
    assert isinstance(a.segment, torch.Tensor) and a.segment.dtype == torch.int64
    assert a.imu.numpy().tobytes() == b.imu.tobytes()


def test_torch_module(batch):
    torch = pytest.importorskip("torch")
    from anymo_sim.augment import AugmentIMU

    module = AugmentIMU(placements=8, devices=("watch-bmi270", "phone-lsm6dso"), rate=RATE, seed=0)
    assert isinstance(module, torch.nn.Module) and not list(module.parameters())
    x = torch.from_numpy(batch.transforms[:2])
    first, second = module(x, batch.fps), module(x, batch.fps)
    assert first.shape == (2, 8, 200, 6) and not torch.equal(first, second)
    assert module.last.imu is second and module.last.device_names == ("watch-bmi270", "phone-lsm6dso")
    with pytest.raises(ValueError, match="augmenter"):
        AugmentIMU(Augmenter(placements=8), rate=50.0)


def test_motion_windows(windows, batch):
    T = 200
    assert batch.transforms.shape == (4, T, 31, 4, 4) and batch.transforms.dtype == np.float64
    assert batch.fps == RATE and len(batch.texts) == 4 and all(batch.texts)
    for i, s in zip(batch.motion_index, batch.start_s):
        # the window is the retargeted motion's frames from its start
        G, _ = windows._cache[i]
        assert 0 <= s and round(s * RATE) + T <= len(G)
    again = windows.sample(4, 2.0, seed=0)
    assert np.array_equal(again.transforms, batch.transforms) and np.array_equal(again.start_s, batch.start_s)
    # 5-s windows: looping clips are looped; kick and punch (no loop, ~2 s) can't serve them
    long = windows.sample(16, 5.0, seed=1)
    assert long.transforms.shape[1] == 500
    assert not {"kick", "punch"} & {windows.names[i] for i in long.motion_index}


def test_motion_windows_errors():
    from anymo_sim.motions import builtin

    with pytest.raises(ValueError, match="motions"):
        MotionWindows([1, 2])
    short = MotionWindows({"kick": builtin("kick")}, rate=RATE)
    with pytest.raises(ValueError, match="seconds"):
        short.sample(2, 5.0)
    with pytest.raises(ValueError, match="seconds"):
        short.sample(2, 0.01)
    with pytest.raises(ValueError, match="batch_size"):
        short.sample(0, 1.0)


@pytest.mark.parametrize("options, match", [
    (dict(placements=0), "placements"), (dict(placements=2.5), "placements"),
    (dict(placements="no_such_place"), "placements"), (dict(devices="no-such-device"), "devices"),
    (dict(devices=[]), "devices"), (dict(rate=0), "rate"), (dict(rate=-100.0), "rate"),
    (dict(backend="gpu"), "backend"), (dict(seed=-1), "seed"), (dict(tilt_deg=-1.0), "tilt_deg"),
    (dict(yaw_deg=float("nan")), "yaw_deg"), (dict(offset_m=-0.01), "offset_m"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        Augmenter(**options)


@pytest.mark.parametrize("shape, fps, match", [
    ((2, 10, 30, 4, 4), RATE, "transforms"), ((10, 31, 4, 4), RATE, "transforms"),
    ((2, 3, 31, 4, 4), RATE, "transforms"), ((0, 10, 31, 4, 4), RATE, "transforms"),
    ((1, 10, 31, 4, 4), 0.0, "fps"), ((1, 10, 31, 4, 4), -5, "fps"),
])
def test_bad_calls(augmenter, shape, fps, match):
    with pytest.raises(ValueError, match=match):
        augmenter(np.zeros(shape), fps)


def test_bad_call_seed(augmenter):
    with pytest.raises(ValueError, match="seed"):
        augmenter(rest_transforms(augmenter.body), RATE, seed=-3)


def test_docs_example_runs(capsys):
    pytest.importorskip("torch")
    text = (ROOT / "docs" / "augment.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "docs/augment.md", "exec"), {})
    printed = capsys.readouterr().out.split("\n")
    assert any(line.startswith("step 2") for line in printed)


# ---- CUDA ----------------------------------------------------------------------------------------
cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs the CUDA backend (a GPU and a CUDA build)")


@cuda
@pytest.mark.cuda
def test_cuda_stays_on_the_gpu_and_matches_the_cpu(batch):
    import torch

    x = torch.from_numpy(batch.transforms)
    ideal = dict(placements=32, devices="ideal", rate=RATE, tilt_deg=15, seed=21)
    gpu = Augmenter(**ideal)(x.cuda(), batch.fps)
    cpu = Augmenter(**ideal)(x, batch.fps)
    assert gpu.imu.is_cuda and gpu.segment.is_cuda and gpu.device.is_cuda
    assert torch.equal(gpu.segment.cpu(), cpu.segment) and gpu.seed == cpu.seed
    # the ideal kernels agree to float32 rounding
    torch.testing.assert_close(gpu.imu.cpu(), cpu.imu, atol=2e-3, rtol=1e-5)

    real = dict(placements=32, rate=RATE, seed=22)
    gpu = Augmenter(**real)(x.cuda(), batch.fps)
    cpu = Augmenter(**real)(x, batch.fps)
    # devices: the same draws; readings equal up to the LSBs that float32 rounding can flip
    assert torch.equal(gpu.device.cpu(), cpu.device)
    torch.testing.assert_close(gpu.imu.cpu(), cpu.imu, atol=1e-2, rtol=1e-4)


@cuda
@pytest.mark.cuda
def test_cuda_device_model_bytes_equal_the_cpu(batch):
    """The device stage alone: the same ideal readings through the batch's devices give the
    same bytes on the GPU and on the CPU."""
    import torch

    aug = Augmenter(placements=32, devices="ideal", rate=RATE, seed=8)
    ideal = aug(torch.from_numpy(batch.transforms).cuda(), batch.fps).imu  # (B, P, N, 6) on the GPU
    devices = Augmenter(placements=32, rate=RATE, seed=9).draw(len(ideal), 123)[1]
    B, P, N, _ = ideal.shape
    flat = ideal.permute(2, 0, 1, 3).reshape(N, B * P, 6).contiguous()
    on_gpu = apply_device(flat[..., :3], flat[..., 3:], RATE, devices, seed=5)
    on_cpu = apply_device(flat[..., :3].cpu(), flat[..., 3:].cpu(), RATE, devices, seed=5)
    assert on_gpu.accel.is_cuda
    assert on_gpu.accel.cpu().numpy().tobytes() == on_cpu.accel.numpy().tobytes()
    assert on_gpu.gyro.cpu().numpy().tobytes() == on_cpu.gyro.numpy().tobytes()


@cuda
@pytest.mark.cuda
def test_cuda_backend_on_host_arrays(batch):
    out = Augmenter(placements=8, devices="ideal", rate=RATE, backend="cuda", seed=1)(batch.transforms[:2], batch.fps)
    ref = Augmenter(placements=8, devices="ideal", rate=RATE, backend="cpu", seed=1)(batch.transforms[:2], batch.fps)
    assert isinstance(out.imu, np.ndarray)
    np.testing.assert_allclose(out.imu, ref.imu, atol=2e-3, rtol=1e-5)
