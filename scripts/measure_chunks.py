"""Measure the Zarr inner-chunk shape of `imu` for generation writes and training reads
(docs/dataset.md "Chunks and shards"): 64 windows x 2,400 placements x 200 samples x 6 channels
of IMU-like float16 signals, shards of 16 windows x every placement, zstd (Zarr's default);
write throughput and the time to read one random window at 16 random placements.

    python scripts/measure_chunks.py
"""

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

W, P, N, C = 64, 2400, 200, 6
rng = np.random.default_rng(0)
t = np.arange(N) / 100
sig = (np.sin(2 * np.pi * rng.uniform(0.3, 3, (1, P, 1, C)) * t[None, None, :, None]) * rng.uniform(1, 10, (1, P, 1, C))
       + rng.normal(0, 0.02, (W, P, N, C))).astype(np.float16)
root = Path(tempfile.mkdtemp())
print(f"{'inner chunk':<22} {'write MB/s':>10} {'stored/raw':>10} {'read item ms':>12} {'item bytes read':>16}")
for pc in (16, 48, 240, 2400):
    path = root / f"pc{pc}.zarr"
    a = zarr.create_array(str(path), shape=sig.shape, chunks=(1, pc, N, C), shards=(16, P, N, C), dtype="float16")
    t0 = time.perf_counter()
    for i in range(0, W, 16):
        a[i:i + 16] = sig[i:i + 16]
    wt = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    b = zarr.open_array(str(path), mode="r")
    t0, n, touched = time.perf_counter(), 200, 0
    for _ in range(n):
        ps = np.sort(rng.choice(P, 16, replace=False))
        b.get_orthogonal_selection((int(rng.integers(W)), ps))
        touched += len(np.unique(ps // pc)) * pc * N * C * 2 * size / sig.nbytes
    rt = (time.perf_counter() - t0) / n
    print(f"(1, {pc}, {N}, {C}){'':<{22 - len(f'(1, {pc}, {N}, {C})')}} {sig.nbytes / wt / 1e6:>10.0f} "
          f"{size / sig.nbytes:>10.2f} {rt * 1e3:>12.2f} {touched / n / 1e3:>13.0f} kB")
shutil.rmtree(root)
