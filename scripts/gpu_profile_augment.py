"""Where the augmenter's time goes on a GPU (benchmarks/test_augment_speed.py's batch: 32 windows
x 2 s x 64 placements at 100 Hz): median wall time per batch, cProfile of the host side
(tottime and cumulative) and torch.profiler's GPU table. On a GPU machine after building with
ANYMO_CUDA=ON:

    python3 scripts/gpu_profile_augment.py [--backend cuda] [--batches 10]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import torch

from anymo_sim.augment import Augmenter, MotionWindows

B, SECONDS, P, RATE = 32, 2.0, 64, 100.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--batches", type=int, default=10)
    a = ap.parse_args()
    cuda = a.backend == "cuda"
    windows = MotionWindows(rate=RATE)
    windows.sample(B, SECONDS, seed=0)
    aug = Augmenter(placements=P, rate=RATE, seed=0)
    draws = iter(range(10 ** 6))

    def run():
        batch = windows.sample(B, SECONDS, seed=next(draws))
        x = torch.from_numpy(batch.transforms).cuda() if cuda else batch.transforms
        out = aug(x, batch.fps)
        if cuda:
            torch.cuda.synchronize()
        return out

    for _ in range(2):
        run()
    ts = []
    for _ in range(a.batches):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    print(f"{a.backend}: {statistics.median(ts) * 1e3:.1f} ms per batch (median of {a.batches})")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(a.batches):
        run()
    prof.disable()
    st = pstats.Stats(prof)
    st.sort_stats("tottime").print_stats(25)
    st.sort_stats("cumulative").print_stats(40)
    if cuda:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as tp:
            run()
        print(tp.key_averages().table(sort_by="cuda_time_total", row_limit=20, max_name_column_width=50))


if __name__ == "__main__":
    main()
