"""Where the CUDA device model's time goes, per benchmark case (benchmarks/test_device_speed.py's
problem): wall time of apply_device, the ideal kernel's, and torch.profiler's table of kernels
and host calls. Run on a GPU machine after building with ANYMO_CUDA=ON:

    python3 scripts/gpu_profile_device.py [--cases watch,strap,glasses]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import anymo_sim  # noqa: E402
from anymo_sim import synthetic  # noqa: E402
from anymo_sim.devices import apply_device, load_preset, randomize  # noqa: E402

CASES = {
    "watch": ("watch-bmi270", {}, 240.0),
    "suit": ("suit-xsens-dot", {}, 240.0),
    "strap": ("wearable-icm42688p", {"strap_frequency": 12.0, "strap_damping": 0.3}, 240.0),
    "glasses": ("glasses-aria", {}, 1000.0),
}


def problem(fps, seconds_frames=1000):
    body = synthetic.skinned_tube()
    rng = np.random.default_rng(0)
    V, F = len(body["rest_vertices"]), len(body["faces"])
    pl = dict(vertex_ids=rng.choice(V, 1500, replace=False), face_ids=rng.choice(F, 500, replace=False),
              barycentric=rng.dirichlet([2.0, 2.0, 2.0], 500), yaw=rng.uniform(-np.pi, np.pi, 2000), offset=0.005)
    A = synthetic.tube_motion(body, int(round(seconds_frames * fps / 240.0)), fps, seed=1)
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"], torch.from_numpy(A).cuda(), fps)
    return args, pl


def timed(fn, n=7):
    fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--rows", type=int, default=14)
    a = ap.parse_args()
    ideal_cache = {}
    summary = []
    for name in a.cases.split(","):
        preset, extra, fps = CASES[name]
        if fps not in ideal_cache:
            args, pl = problem(fps)
            run_ideal = lambda: anymo_sim.skinned_imu(*args, **pl, backend="cuda", return_positions=False)  # noqa: E731
            res = run_ideal()
            ideal_cache[fps] = (res, timed(run_ideal))
        res, t_ideal = ideal_cache[fps]
        P = res.accel.shape[1]
        dev = randomize(load_preset(preset).replace(**extra), P, seed=0)
        run = lambda: apply_device(res.accel, res.gyro, fps, dev, seed=1, rotations=res.rotations, backend="cuda")  # noqa: E731
        t_dev = timed(run)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
            run()
            torch.cuda.synchronize()
        print(f"\n=== {name}: {preset} at {fps:g} Hz, T={res.accel.shape[0]} P={P}: device {t_dev * 1e3:.2f} ms, "
              f"ideal {t_ideal * 1e3:.2f} ms, ratio {t_dev / t_ideal:.3f}")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=a.rows, max_name_column_width=40))
        summary.append((name, t_dev, t_ideal))
    print("\ncase        device ms   ideal ms   ratio")
    for name, t, b in summary:
        print(f"{name:<10} {t * 1e3:10.2f} {b * 1e3:10.2f} {t / b:7.3f}")


if __name__ == "__main__":
    main()
