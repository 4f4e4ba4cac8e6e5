"""End-to-end engine throughput, joint transforms -> IMU readings, on a body-sized problem:
the C++ kernels (and CUDA when present) against the float64 numpy reference, in one process.

    pytest benchmarks/ --benchmark-columns=median,rounds -s

prints a table of placement-samples/s, the ratios to the reference and the peak resident
memory each path added during its call."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import anymo_sim

RESULTS: dict[str, dict] = {}


def _reset_peak_rss() -> bool:
    try:  # Linux: writing 5 resets VmHWM (the peak resident set) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _measure(benchmark, name, fn, rounds):
    result = benchmark.pedantic(fn, rounds=rounds, warmup_rounds=1 if rounds > 1 else 0, iterations=1)
    # peak memory of one more call, beyond what was resident before it
    base = _rss_kib("VmRSS")
    peak = None
    if _reset_peak_rss():
        fn()
        peak = (_rss_kib("VmHWM") - base) / 1024
    T, P = result.accel.shape[:2]
    RESULTS[name] = {
        "median_s": benchmark.stats.stats.median,
        "samples_per_s": T * P / benchmark.stats.stats.median,
        "peak_extra_MiB": peak,
        "T": T,
        "P": P,
    }
    benchmark.extra_info.update(RESULTS[name])
    return result


def test_reference_numpy(benchmark, body_problem):
    args, placements = body_problem
    _measure(benchmark, "reference (numpy float64)",
             lambda: anymo_sim.skinned_imu(*args, **placements, backend="reference"), rounds=1)


@pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
def test_cpu_kernels(benchmark, body_problem):
    args, placements = body_problem
    _measure(benchmark, f"C++ CPU ({os.cpu_count()} threads)",
             lambda: anymo_sim.skinned_imu(*args, **placements, backend="cpu"), rounds=5)


@pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
def test_cpu_kernels_imu_only(benchmark, body_problem):
    """Without the optional rotation/position outputs (what dataset generation writes)."""
    args, placements = body_problem
    _measure(benchmark, "C++ CPU, accel+gyro only",
             lambda: anymo_sim.skinned_imu(*args, **placements, backend="cpu", return_rotations=False,
                                           return_positions=False), rounds=5)


@pytest.mark.skipif("cuda" not in anymo_sim.available_backends(), reason="no CUDA GPU")
def test_cuda_kernels(benchmark, body_problem):
    import torch

    args, placements = body_problem
    A = torch.from_numpy(args[4]).cuda()
    cuda_args = args[:4] + (A, args[5])

    def run():
        r = anymo_sim.skinned_imu(*cuda_args, **placements, backend="cuda", return_rotations=False,
                                  return_positions=False)
        torch.cuda.synchronize()
        return r

    _measure(benchmark, "CUDA, accel+gyro only", run, rounds=20)


def test_zz_summary():
    """Print the table (runs last in this file) and write it to .benchmarks/engine_summary.json."""
    base = RESULTS.get("reference (numpy float64)")
    if not base or len(RESULTS) < 2:
        pytest.skip("summary needs the reference and at least one kernel in the same run")
    lines = [f"{'path':<28} {'samples/s':>14} {'x reference':>12} {'peak MiB':>9}"]
    for name, r in RESULTS.items():
        r["speedup_vs_reference"] = r["samples_per_s"] / base["samples_per_s"]
        peak = f"{r['peak_extra_MiB']:.0f}" if r["peak_extra_MiB"] is not None else "n/a"
        lines.append(f"{name:<28} {r['samples_per_s']:>14,.0f} {r['speedup_vs_reference']:>12.1f} {peak:>9}")
    print("\n" + "\n".join(lines))
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "engine_summary.json").write_text(json.dumps(RESULTS, indent=2))
    assert all(np.isfinite(r["samples_per_s"]) for r in RESULTS.values())
