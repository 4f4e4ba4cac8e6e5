"""`anymo-sim generate` and the dataset store: exact round trips (Zarr and HDF5), resume after
SIGKILL and after a torn shard write, parallel shard writers, disk-full and bad-sequence
reports, window timing against the engine, and CLI errors."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import anymo_sim
from anymo_sim.bodies import default_body
from anymo_sim.dataset import open_dataset
from anymo_sim.dataset.generate import GenerateConfig, GenerateError, generate, plan, run_job
from anymo_sim.dataset.store import ZarrWriter
from anymo_sim.engine import skinned_imu
from anymo_sim_cli.app import app

pytestmark = pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
runner = CliRunner()
PRESETS = "watch_left,watch_right,phone_front_pocket_right,glasses,chest_strap"
SMALL = dict(placements=PRESETS, builtin_seconds=3.0, window_s=1.0, stride_s=1.0, windows_per_job=4, rate=50.0)
CLI_SMALL = ["--placements", "random", "--placement-count", "24", "--builtin-seconds", "3", "--window", "1",
             "--rate", "50", "--windows-per-job", "3"]


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cli(*args) -> list:
    return [sys.executable, "-c", "from anymo_sim_cli.app import main; main()", *args]


@pytest.fixture(scope="module")
def small_plan():
    return plan(GenerateConfig(**SMALL, dtype="float32"))


@pytest.fixture(scope="module")
def small_zarr(small_plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "ds.zarr"
    generate(small_plan, out)
    return out


def test_store_round_trips_exactly(small_plan, small_zarr, tmp_path):
    ds = open_dataset(small_zarr)
    L = small_plan.layout
    assert ds.shape == (L.W, 6, 50, 6) and ds.complete() and L.n_jobs >= 3
    for job in (0, L.n_jobs - 1):
        want = run_job(small_plan, job)
        w0, w1 = L.job_windows(job)
        assert np.asarray(ds.imu[w0:w1]).tobytes() == want["imu"].tobytes()
        for k in ("sequence", "start_s", "seed", "device"):
            np.testing.assert_array_equal(ds.windows[k][w0:w1], want[k])
        assert [ds.texts(w) for w in range(w0, w1)] == [__import__("json").loads(t) for t in want["text"]]
    assert list(ds.placements["name"]) == list(small_plan.placements.names)
    assert ds.attrs["config"]["placements"] == PRESETS and ds.attrs["licenses"][0]["license"].startswith("DeepMimic")
    # HDF5 holds the same content
    h5 = tmp_path / "ds.h5"
    generate(small_plan, h5, fmt="hdf5")
    hd = open_dataset(h5)
    assert np.asarray(hd.imu[...]).tobytes() == np.asarray(ds.imu[...]).tobytes()
    for k in ds.windows:
        np.testing.assert_array_equal(hd.windows[k], ds.windows[k])
    assert hd.attrs == ds.attrs and not (tmp_path / "ds.h5.partial").exists()


def test_windows_are_the_engine_readings_at_their_times(tmp_path):
    """With ideal devices, window w of sequence s is the engine's output over the whole sequence at
    frames start..start+N (the job's margin-padded segment gives the same readings). Every
    window, with jobs of 8 windows over sequences of 3: a job's sequences take turns in
    run_job's two engine buffers while the previous sequence's windows still read theirs."""
    p = plan(GenerateConfig(**{**SMALL, "windows_per_job": 8}, devices=("ideal",), dtype="float32"))
    assert max(len(np.unique(p.windows[j:j + 8, 0])) for j in range(0, len(p.windows), 8)) >= 3
    out = tmp_path / "ideal.zarr"
    generate(p, out)
    ds = open_dataset(out)
    body = default_body()
    engine_out = {}
    for w in range(len(ds)):
        s, start = p.windows[w]
        if s not in engine_out:
            res = skinned_imu(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, p.sequences[s].A,
                              50.0, placements=p.placements, return_positions=False, return_rotations=False)
            engine_out[s] = np.concatenate([res.accel, res.gyro], -1)
        want = engine_out[s][start:start + 50].transpose(1, 0, 2)
        np.testing.assert_allclose(ds.window(w), want, rtol=1e-4, atol=1e-3)
        assert ds.windows["start_s"][w] == start / 50.0
    # walking: the specific force swings about g (median |f| within 20 % of it)
    walk = list(ds.sequences["name"]).index("walk")
    f = np.linalg.norm(np.asarray(ds.imu[...])[ds.windows["sequence"] == walk][..., :3], axis=-1)
    assert 0.8 * 9.81 < np.median(f) < 1.2 * 9.81


def test_the_engine_margin_is_wide_enough(small_plan, monkeypatch):
    """A job simulates ENGINE_MARGIN_FRAMES beyond its windows so their edge frames get central
    differences: a much wider margin gives the same bytes; none changes the windows that start
    inside a sequence at a job's edge."""
    import anymo_sim.dataset.generate as gen

    jobs = range(small_plan.n_jobs)
    base = [run_job(small_plan, j)["imu"].tobytes() for j in jobs]
    monkeypatch.setattr(gen, "ENGINE_MARGIN_FRAMES", 40)
    assert [run_job(small_plan, j)["imu"].tobytes() for j in jobs] == base
    monkeypatch.setattr(gen, "ENGINE_MARGIN_FRAMES", 0)
    assert [run_job(small_plan, j)["imu"].tobytes() for j in jobs] != base


def test_device_params_rebuild_the_devices_each_window_used(small_plan, tmp_path, monkeypatch):
    """ds.device_params(w) gives the very DeviceParams generate passed to apply_device for window
    w (every field, every placement), and re-applying it reproduces the stored bytes."""
    from anymo_sim.dataset import generate as gen

    used = {}  # by seed: windows run two at a time, in any order
    real = gen.apply_device

    def spy(accel, gyro, fps, device, **kw):
        used[kw["seed"]] = (device, np.array(accel), np.array(gyro))
        return real(accel, gyro, fps, device, **kw)

    monkeypatch.setattr(gen, "apply_device", spy)
    out = tmp_path / "ds.zarr"
    generate(small_plan, out)  # inline: one window per call
    ds = open_dataset(out)
    assert len(used) == len(ds)
    for w in (0, len(ds) // 2, len(ds) - 1):
        dev, which = ds.device_params(w)
        seed = int(ds.windows["seed"][w])
        want, accel, gyro = used[seed]
        assert np.array_equal(which, ds.windows["device"][w])
        for field in ("clock_error", "time_offset", "mount_rotation", "g_sensitivity", "odr"):
            assert np.array_equal(getattr(dev, field), getattr(want, field)), field
        for sensor in ("accel", "gyro"):
            a, b = getattr(dev, sensor).__dict__, getattr(want, sensor).__dict__
            assert all(np.array_equal(a[k], b[k]) for k in b), sensor
        again = real(accel, gyro, ds.rate, dev, seed=int(seed), timestamps=False)
        x = np.concatenate([again.accel, again.gyro], -1)[:ds.shape[2]].transpose(1, 0, 2)
        assert x.astype(np.float32).tobytes() == ds.window(w).tobytes()
    with pytest.raises(IndexError, match="out of range"):
        ds.device_params(len(ds))


def test_same_seed_same_bytes_other_seed_differs(small_plan, small_zarr, tmp_path):
    again = tmp_path / "again.zarr"
    generate(plan(GenerateConfig(**SMALL, dtype="float32")), again)
    assert _files(again) == _files(small_zarr)
    other = tmp_path / "other.zarr"
    generate(plan(GenerateConfig(**SMALL, dtype="float32", seed=1)), other)
    assert not np.array_equal(open_dataset(other).window(0), open_dataset(small_zarr).window(0))


def test_resume_after_sigkill_gives_identical_bytes(tmp_path):
    whole, killed = tmp_path / "whole.zarr", tmp_path / "killed.zarr"
    args = ["generate", *CLI_SMALL, "--windows-per-job", "2", "--builtin-seconds", "6"]
    subprocess.run(_cli(*args, "--out", str(whole)), check=True, capture_output=True)
    n_jobs = len(list((whole / "progress").iterdir()))
    proc = subprocess.Popen(_cli(*args, "--out", str(killed)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "progress").is_dir() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((killed / "progress").iterdir())) if (killed / "progress").is_dir() else 0
    assert done < n_jobs, "the run finished before it could be killed"
    res = subprocess.run(_cli(*args, "--out", str(killed)), capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _files(killed) == _files(whole)


def test_resume_rewrites_a_torn_shard(small_plan, small_zarr, tmp_path):
    """A job killed mid-write leaves a partial shard and no marker; the resumed run rewrites it."""
    import shutil

    torn = tmp_path / "torn.zarr"
    shutil.copytree(small_zarr, torn)
    (torn / "progress" / "job-000001.done").unlink()
    shard = next(p for p in (torn / "imu" / "c").rglob("*") if p.is_file() and p.parts[-4] == "1")
    shard.write_bytes(shard.read_bytes()[:1000])
    summary = generate(small_plan, torn)
    assert summary["jobs_written"] == 1 and summary["jobs_skipped"] == small_plan.n_jobs - 1
    assert _files(torn) == _files(small_zarr)


def test_two_shard_writers_in_parallel_equal_one_writer(tmp_path):
    one, two = tmp_path / "one.zarr", tmp_path / "two.zarr"
    subprocess.run(_cli("generate", *CLI_SMALL, "--out", str(one)), check=True, capture_output=True)
    procs = [subprocess.Popen(_cli("generate", *CLI_SMALL, "--out", str(two), "--num-shards", "2", "--shard-index", str(i)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in (0, 1)]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out
    assert _files(two) == _files(one)
    assert not list(tmp_path.glob(".*creating*"))


def test_local_workers_equal_one_process(small_plan, small_zarr, tmp_path):
    out = tmp_path / "workers.zarr"
    generate(small_plan, out, workers=2)
    assert _files(out) == _files(small_zarr)


def test_disk_full_is_reported_and_resumable(small_plan, small_zarr, tmp_path, monkeypatch):
    out = tmp_path / "full.zarr"
    real = ZarrWriter.write_job
    calls = []

    def flaky(self, job, data):
        calls.append(job)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, job, data)

    monkeypatch.setattr(ZarrWriter, "write_job", flaky)
    with pytest.raises(GenerateError, match="disk full while writing job 1.*run the same command again"):
        generate(small_plan, out)
    monkeypatch.setattr(ZarrWriter, "write_job", real)
    assert sorted(p.name for p in (out / "progress").iterdir()) == ["job-000000.done"]
    generate(small_plan, out)
    assert _files(out) == _files(small_zarr)


def test_bad_sequences_are_reported_and_the_rest_generated(tmp_path):
    from motion_fixtures import write_amass

    folder = tmp_path / "motions"
    folder.mkdir()
    write_amass(folder / "good_poses.npz", T=240, fps=60.0)
    (folder / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{ garbage")
    res = runner.invoke(app, ["generate", "--motions", str(folder), "--placements", "watch_left,glasses", "--window", "1",
                              "--rate", "50", "--out", str(tmp_path / "ds.zarr")])
    assert res.exit_code == 0, res.output
    squashed = "".join(res.output.split())  # rich wraps long paths anywhere
    assert "broken.bvh" in squashed and "leftout" in squashed
    ds = open_dataset(tmp_path / "ds.zarr")
    assert len(ds) == 4 and len(ds.sequences["name"]) == 1  # 4 s at 50 Hz: four 1 s windows
    assert ds.attrs["left_out"][0]["source"].endswith("broken.bvh")


def test_non_finite_joint_transforms_leave_the_sequence_out(monkeypatch):
    """The jobs hand the skinning matrices to the engine unchecked; plan() checks them finite
    once and leaves a sequence whose retargeting gave NaN out, with its reason."""
    import dataclasses

    import anymo_sim.dataset.generate as gen

    real = gen.retarget
    poisoned = []

    def retarget(m, body):
        r = real(m, body)
        if not poisoned:  # the first motion only
            poisoned.append(m.name)
            G = np.array(r.G, copy=True)
            G[len(G) // 2, 3] = np.nan
            r = dataclasses.replace(r, G=G)
        return r

    monkeypatch.setattr(gen, "retarget", retarget)
    p = plan(GenerateConfig(**SMALL, dtype="float32"))
    assert [s.name for s in p.sequences if s.name == poisoned[0]] == []
    assert p.sequences and all(np.isfinite(s.A).all() for s in p.sequences)
    assert [msg for _, msg in p.failures] == ["retargeting gave non-finite joint transforms"]


def test_dry_run_writes_nothing(tmp_path):
    out = tmp_path / "dry.zarr"
    res = runner.invoke(app, ["generate", *CLI_SMALL, "--out", str(out), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "placement-samples" in res.output and not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--motions", "/no/such/folder"], "no such file or folder"),
    (["--devices", "watch-bmi270,no-such-device"], "no-such-device"),
    (["--placements", "no_such_place"], "--placements"),
    (["--window", "-1"], "--window-s: expected a positive number"),
    (["--rate", "0"], "--rate: expected a positive number"),
    (["--dtype", "int8"], "--dtype"),
    (["--format", "parquet"], "--format"),
    (["--num-shards", "2", "--shard-index", "2"], "--shard-index"),
])
def test_bad_cli_input_fails_fast_with_a_message(args, message, tmp_path):
    res = runner.invoke(app, ["generate", *CLI_SMALL, "--out", str(tmp_path / "x.zarr"), *args])
    assert res.exit_code != 0
    flat = " ".join(res.output.replace("│", " ").split())
    assert message in flat, flat
    assert not (tmp_path / "x.zarr").exists() or args[0] == "--num-shards"


def test_resume_with_other_options_is_refused(small_zarr):
    with pytest.raises(GenerateError, match="other options.*seed"):
        generate(plan(GenerateConfig(**SMALL, dtype="float32", seed=5)), small_zarr)


@pytest.mark.skipif("cuda" not in anymo_sim.available_backends(), reason="no CUDA GPU")
def test_cuda_generation_matches_cpu(small_plan, small_zarr, tmp_path):
    """The engine on the GPU agrees with the CPU to float32 rounding; the device model then adds
    the same noise (its bytes are identical for identical inputs)."""
    out = tmp_path / "cuda.zarr"
    generate(small_plan, out, backend="cuda")
    a, b = np.asarray(open_dataset(out).imu[...]), np.asarray(open_dataset(small_zarr).imu[...])
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-3)
    np.testing.assert_array_equal(open_dataset(out).windows["device"], open_dataset(small_zarr).windows["device"])


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_pack_window_gives_numpys_bytes(dtype):
    """The C++ packing (transpose + cast, F16C or its portable round-to-nearest-even cast) gives
    exactly numpy's astype bytes, over random float32 bit patterns (every exponent: subnormals,
    overflow to inf, ties) and a partial block of placements."""
    from anymo_sim import engine
    from anymo_sim.dataset.generate import pack_window

    rng = np.random.default_rng(3)
    N, P = 301, 77
    f = rng.integers(0, 2 ** 32, 2 * N * P * 3, dtype=np.uint64).astype(np.uint32).view(np.float32)
    f = np.where(np.isnan(f), np.float32(0.5), f)
    f[:6] = [65519.996, 65520.0, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -24 * 1.5, -0.0]  # edges of the cast
    a, g = f[: N * P * 3].reshape(N, P, 3), f[N * P * 3 :].reshape(N, P, 3)
    with np.errstate(over="ignore"):
        want = np.concatenate([a, g], axis=2).transpose(1, 0, 2).astype(dtype)
    paths = [True, False] if engine._core is not None and dtype == np.float16 else [True]
    for hardware in paths:
        out = np.empty((P, N, 6), dtype)
        pack_window(a, g, out, hardware=hardware)
        assert out.tobytes() == want.tobytes(), f"hardware={hardware}"
    with pytest.raises(ValueError, match=r"out \(P, N, 6\)"):
        pack_window(a, g, np.empty((N, P, 6), dtype))


def test_generate_keeps_freed_memory_on_glibc():
    """The heap settings generate relies on are accepted (mallopt returns 1 for each; a value
    past glibc's limits would return 0)."""
    import platform
    import sys

    from anymo_sim._memory import keep_freed_memory

    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        pytest.skip("glibc only")
    assert keep_freed_memory() is True
