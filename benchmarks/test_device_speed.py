"""Cost of the device model relative to the ideal-IMU kernel it follows, measured in one
process on the same body-sized problem (benchmarks/conftest.py: 2,000 placements, 1,000 frames
at 240 Hz), every placement with its own randomized device, on every built backend (cpu, and
cuda where a GPU is present):

    pytest benchmarks/test_device_speed.py --benchmark-columns=median,rounds -s

prints device-model time / ideal-kernel time per preset and writes
.benchmarks/device_summary.json.

A device rate above the motion's adds no information (docs/devices.md), so the 1 kHz glasses
preset is simulated the way `generate` does it: the motion at an internal rate equal to the
device's, then the device model; its ratio is to the ideal kernel at that rate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import anymo_sim
from anymo_sim import synthetic
from anymo_sim.devices import apply_device, load_preset, randomize

BACKENDS = [b for b in anymo_sim.available_backends() if b in ("cpu", "cuda")]
pytestmark = pytest.mark.skipif(not BACKENDS, reason="extension not built")
TIMES: dict[tuple[str, str], float] = {}
FPS = 240.0
HIGH_RATE = 1000.0


def _on(backend, x):
    if backend != "cuda":
        return x
    import torch

    return torch.from_numpy(np.ascontiguousarray(x)).cuda()


def _sync(backend):
    if backend == "cuda":
        import torch

        torch.cuda.synchronize()


def _problem_at(body_problem, fps):
    """The benchmark's motion re-simulated at `fps` (same body, placements and seconds)."""
    args, placements = body_problem
    if fps == FPS:
        return args, placements
    body = synthetic.skinned_tube()
    A = synthetic.tube_motion(body, int(round(len(args[4]) * fps / FPS)), fps, seed=1)
    return args[:4] + (A, fps), placements


def _ideal_call(body_problem, backend, fps):
    args, placements = _problem_at(body_problem, fps)
    args = args[:4] + (_on(backend, args[4]), args[5])

    def run():
        r = anymo_sim.skinned_imu(*args, **placements, backend=backend, return_positions=False)
        _sync(backend)
        return r

    return run


@pytest.fixture(scope="module")
def ideal(body_problem):
    cache = {}

    def get(backend, fps):
        if (backend, fps) not in cache:
            cache[backend, fps] = _ideal_call(body_problem, backend, fps)()
        return cache[backend, fps]

    return get


@pytest.mark.parametrize("fps", [FPS, HIGH_RATE])
@pytest.mark.parametrize("backend", BACKENDS)
def test_ideal_imu_kernel(benchmark, body_problem, backend, fps):
    """The baseline: joint transforms -> specific force + body rate (+ frames, which the
    magnetometer and strap read)."""
    benchmark.pedantic(_ideal_call(body_problem, backend, fps), rounds=5, warmup_rounds=1)
    TIMES[backend, f"ideal IMU kernel at {fps:g} Hz"] = benchmark.stats.stats.median


# case -> (preset, overrides, motion rate)
CASES = {
    "watch-bmi270 (240 -> 100 Hz)": ("watch-bmi270", {}, FPS),
    "phone-lsm6dso (240 -> 104 Hz)": ("phone-lsm6dso", {}, FPS),
    "suit-xsens-dot + mag (240 -> 60 Hz)": ("suit-xsens-dot", {}, FPS),
    "wearable + loose strap (240 -> 200 Hz)": ("wearable-icm42688p", {"strap_frequency": 12.0, "strap_damping": 0.3}, FPS),
    "glasses-aria (motion at 1000 -> 1000 Hz)": ("glasses-aria", {}, HIGH_RATE),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_device_model(benchmark, ideal, backend, case):
    name, extra, fps = CASES[case]
    res = ideal(backend, fps)
    P = res.accel.shape[1]
    dev = randomize(load_preset(name).replace(**extra), P, seed=0)

    def run():
        out = apply_device(res.accel, res.gyro, fps, dev, seed=1, rotations=res.rotations, backend=backend)
        _sync(backend)
        return out

    out = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert bool(np.isfinite(np.asarray(out.accel.cpu() if backend == "cuda" else out.accel)).all())
    TIMES[backend, case] = benchmark.stats.stats.median


def test_zz_summary():
    lines, summary = [], {}
    for backend in BACKENDS:
        lines.append(f"{'device model (' + backend + ')':<44} {'median s':>9} {'/ ideal kernel':>15}")
        for (b, case), t in TIMES.items():
            if b != backend or case not in CASES:
                continue
            base = TIMES.get((backend, f"ideal IMU kernel at {CASES[case][2]:g} Hz"))
            if base is None:
                continue
            summary[f"{backend}: {case}"] = {"median_s": t, "ideal_median_s": base, "ratio_to_ideal_kernel": t / base}
            lines.append(f"{case:<44} {t:>9.4f} {t / base:>15.3f}")
    if not summary:
        pytest.skip("summary needs the ideal kernel and a device case in the same run")
    print("\n" + "\n".join(lines))
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "device_summary.json").write_text(json.dumps(summary, indent=2))
    # the target: the device model costs less than the ideal kernel it follows
    slow = [k for k, v in summary.items() if v["ratio_to_ideal_kernel"] >= 1.0]
    assert not slow, slow
