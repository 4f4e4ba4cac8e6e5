"""End-to-end `generate` throughput against the raw cost of writing the same arrays to the same
store layout, in one process (issue 6: the simulation should not be the bottleneck):

    pytest benchmarks/test_generate_speed.py --benchmark-columns=median,rounds -s

Problem: the README's main command: the built-in clips on the default body, `--placements all`
(2,400 placements), 2 s windows at 100 Hz, float16, Zarr's default compression (zstd), the whole
dataset (60 windows, 4 jobs). Fewer jobs measure mostly the pipeline's fill and drain (the first
job simulated with nothing to write, the last written with nothing to simulate): on the same
code, 32 windows gave 0.55 of the raw write where the whole dataset gave 0.61-0.64. Prints
windows/s and placement-samples/s of both and their ratio; writes .benchmarks/generate_summary.json."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import anymo_sim
from anymo_sim.dataset.generate import generate, plan, provenance, run_job, static_tables, GenerateConfig
from anymo_sim._memory import keep_freed_memory
from anymo_sim.dataset.store import ZarrWriter

BACKENDS = [b for b in anymo_sim.available_backends() if b in ("cpu", "cuda")]
pytestmark = pytest.mark.skipif(not BACKENDS, reason="extension not built")
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def the_plan():
    # generate keeps freed heap memory for reuse (anymo_sim/_memory.py); the raw write gets the
    # same heap, so the ratio compares the work, not the allocator
    keep_freed_memory()
    return plan(GenerateConfig())


@pytest.fixture(scope="module")
def produced(the_plan):
    return [run_job(the_plan, j) for j in range(the_plan.n_jobs)]


def _rounds():
    """benchmark.pedantic's setup and cleanup: each round writes a fresh store, and the previous
    round's is deleted first, so every round of both tests writes into page cache the guest has
    just freed (RESULTS.md: the first write into memory this VM has not used recently costs
    ~1 s more of system time, which would otherwise land on whichever test runs first)."""
    paths: list = []

    def setup():
        for p in paths:
            shutil.rmtree(p.parent, ignore_errors=True)
        paths.append(Path(tempfile.mkdtemp(prefix="anymo_bench_")) / "ds.zarr")
        return (paths[-1],), {}

    def cleanup():
        for p in paths:
            shutil.rmtree(p.parent, ignore_errors=True)

    return setup, cleanup


def _record(name, p, seconds):
    L = p.layout
    RESULTS[name] = {"median_s": seconds, "windows_per_s": L.W / seconds, "placement_samples_per_s": L.W * L.P * L.N / seconds}


def test_raw_write(benchmark, the_plan, produced):
    """The floor: the same arrays, already in memory, written job by job to the same layout."""
    attrs, static = provenance(the_plan), static_tables(the_plan)
    setup, cleanup = _rounds()

    def write(out):
        w = ZarrWriter(out, the_plan.layout, attrs, static)
        for j, data in enumerate(produced):
            w.write_job(j, data)

    benchmark.pedantic(write, setup=setup, rounds=3, warmup_rounds=0)
    cleanup()
    _record("raw write (same arrays, same store)", the_plan, benchmark.stats.stats.median)


@pytest.mark.parametrize("backend", BACKENDS)
def test_generate(benchmark, the_plan, backend):
    setup, cleanup = _rounds()
    benchmark.pedantic(lambda out: generate(the_plan, out, backend=backend), setup=setup, rounds=3, warmup_rounds=0)
    cleanup()
    _record(f"generate ({backend})", the_plan, benchmark.stats.stats.median)


def test_zz_summary():
    raw = RESULTS.get("raw write (same arrays, same store)")
    if not raw or len(RESULTS) < 2:
        pytest.skip("summary needs the raw write and a generate run in the same process")
    lines = [f"{'path':<40} {'windows/s':>10} {'M samples/s':>12} {'/ raw write':>11}"]
    for name, r in RESULTS.items():
        r["fraction_of_raw_write"] = r["placement_samples_per_s"] / raw["placement_samples_per_s"]
        lines.append(f"{name:<40} {r['windows_per_s']:>10.2f} {r['placement_samples_per_s'] / 1e6:>12.2f} "
                     f"{r['fraction_of_raw_write']:>11.3f}")
    print("\n" + "\n".join(lines))
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "generate_summary.json").write_text(json.dumps(RESULTS, indent=2))
    assert all(np.isfinite(r["fraction_of_raw_write"]) for r in RESULTS.values())
