"""Cost of the device model relative to the ideal-IMU kernel it follows, measured in one
process on the same body-sized problem (benchmarks/conftest.py: 2,000 placements, 1,000 frames
at 240 Hz), every placement with its own randomized device:

    pytest benchmarks/test_device_speed.py --benchmark-columns=median,rounds -s

prints device-model time / ideal-kernel time per preset and writes
.benchmarks/device_summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import anymo_sim
from anymo_sim.devices import apply_device, load_preset, randomize

pytestmark = pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
TIMES: dict[str, float] = {}
FPS = 240.0


@pytest.fixture(scope="module")
def ideal(body_problem):
    args, placements = body_problem
    return anymo_sim.skinned_imu(*args, **placements, backend="cpu")


def test_ideal_imu_kernel(benchmark, body_problem):
    """The baseline: joint transforms -> specific force + body rate (+ frames, which the
    magnetometer and strap read)."""
    args, placements = body_problem
    benchmark.pedantic(lambda: anymo_sim.skinned_imu(*args, **placements, backend="cpu"), rounds=5, warmup_rounds=1)
    TIMES["ideal IMU kernel"] = benchmark.stats.stats.median


CASES = {
    "watch-bmi270 (240 -> 100 Hz)": ("watch-bmi270", {}),
    "phone-lsm6dso (240 -> 104 Hz)": ("phone-lsm6dso", {}),
    "suit-xsens-dot + mag (240 -> 60 Hz)": ("suit-xsens-dot", {}),
    "wearable + loose strap (240 -> 200 Hz)": ("wearable-icm42688p", {"strap_frequency": 12.0, "strap_damping": 0.3}),
    "glasses-aria (240 -> 1000 Hz)": ("glasses-aria", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_device_model(benchmark, ideal, case):
    name, extra = CASES[case]
    P = ideal.accel.shape[1]
    dev = randomize(load_preset(name).replace(**extra), P, seed=0)
    run = lambda: apply_device(ideal.accel, ideal.gyro, FPS, dev, seed=1, rotations=ideal.rotations)  # noqa: E731
    out = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert np.isfinite(out.accel).all()
    TIMES[case] = benchmark.stats.stats.median


def test_zz_summary():
    base = TIMES.get("ideal IMU kernel")
    if not base or len(TIMES) < 2:
        pytest.skip("summary needs the ideal kernel and a device case in the same run")
    lines = [f"{'device model (CPU)':<40} {'median s':>9} {'/ ideal kernel':>15}"]
    summary = {}
    for name, t in TIMES.items():
        summary[name] = {"median_s": t, "ratio_to_ideal_kernel": t / base}
        lines.append(f"{name:<40} {t:>9.4f} {t / base:>15.3f}")
    print("\n" + "\n".join(lines))
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "device_summary.json").write_text(json.dumps(summary, indent=2))
    # the target for output rates at or below the motion's rate
    for case in ("watch-bmi270 (240 -> 100 Hz)", "phone-lsm6dso (240 -> 104 Hz)"):
        if case in TIMES:
            assert TIMES[case] < base, case
