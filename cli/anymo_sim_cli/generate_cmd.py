"""`anymo-sim generate`: motions -> a sharded Zarr (or HDF5) dataset of device readings at many
body placements. The pipeline is anymo_sim.dataset.generate; this module is options, progress
display and messages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console()


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def _disk_usage(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate(
    out: Path = typer.Option(Path("anymo_dataset.zarr"), "--out", "-o", help="Output store (a .zarr folder, or a .h5 file with --format hdf5)."),
    motions: Optional[Path] = typer.Option(None, "--motions", "-m", help="Motion file or folder (Nymeria, AMASS, BVH, DeepMimic); default: the built-in clips."),
    builtin_seconds: float = typer.Option(10.0, help="Built-in looping clips are looped to this many seconds."),
    body: str = typer.Option("default", help="'default' or a SMPL / SMPL-H / SMPL-X model file."),
    shape_std: float = typer.Option(0.0, help="SMPL bodies: draw betas ~ N(0, std^2) per sequence (shape sampling)."),
    placements: str = typer.Option("all", "--placements", "-p", help="'all', 'random', preset names (comma-separated) or a .yaml/.json file."),
    placement_count: int = typer.Option(2400, help="How many placements 'all' / 'random' make."),
    devices: str = typer.Option(",".join(("watch-bmi270", "phone-lsm6dso", "wearable-icm42688p", "suit-xsens-dot", "glasses-aria")),
                                "--devices", "-d", help="Device presets (comma-separated); each placement of each window draws one."),
    randomize: bool = typer.Option(True, help="Each placement and window gets its own unit around its preset (--no-randomize: the preset itself)."),
    rate: float = typer.Option(100.0, help="Sample rate of the dataset, Hz (also the internal simulation rate)."),
    window: float = typer.Option(2.0, "--window", help="Window length, s."),
    stride: Optional[float] = typer.Option(None, "--stride", help="Window stride, s (default: the window length)."),
    seed: int = typer.Option(0, help="Seed of every random draw: the same seed gives the same bytes."),
    dtype: str = typer.Option("float16", help="float16 or float32."),
    fmt: str = typer.Option("zarr", "--format", help="zarr (sharded, resumable, parallel) or hdf5."),
    windows_per_job: int = typer.Option(16, help="Windows per job = per shard of the store."),
    placement_chunk: int = typer.Option(48, help="Placements per inner chunk (docs/dataset.md)."),
    workers: int = typer.Option(1, help="Local worker processes, each simulating (and, for Zarr, writing) whole jobs."),
    num_shards: int = typer.Option(1, help="Split the jobs over this many independent runs (e.g. a job array)."),
    shard_index: int = typer.Option(0, help="Which of --num-shards this run writes (0-based)."),
    backend: str = typer.Option("auto", help="Engine backend: auto, cpu, cuda."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be produced and its size, write nothing."),
) -> None:
    """Generate a dataset of simulated device readings (docs/dataset.md)."""
    from anymo_sim.dataset.generate import GenerateConfig, GenerateError, describe
    from anymo_sim.dataset.generate import generate as run
    from anymo_sim.dataset.generate import plan

    cfg = GenerateConfig(
        motions=None if motions is None else str(motions), builtin_seconds=builtin_seconds, body=body, shape_std=shape_std,
        placements=placements, placement_count=placement_count,
        devices=tuple(d.strip() for d in devices.split(",") if d.strip()), randomize=randomize, rate=rate,
        window_s=window, stride_s=window if stride is None else stride, seed=seed, dtype=dtype,
        windows_per_job=windows_per_job, placement_chunk=placement_chunk)
    if fmt not in ("zarr", "hdf5"):
        _fail(f"--format: expected zarr or hdf5, got {fmt!r}")
    if workers < 1:
        _fail(f"--workers: expected a positive integer, got {workers}")
    try:
        with console.status("reading and retargeting motions..."):
            p = plan(cfg)
    except GenerateError as exc:
        _fail(str(exc))
    d = describe(p)
    table = Table(title="dry run: what would be generated" if dry_run else "generating", show_header=False)
    for k, v in (("output", f"{out} ({fmt})"), ("sequences", d["sequences"]), ("windows", d["windows"]),
                 ("placements", d["placements"]), ("samples per window", f"{d['samples_per_window']} at {d['rate_hz']:g} Hz"),
                 ("placement-samples", f"{d['placement_samples']:,}"), ("jobs (shards)", d["jobs"]),
                 ("imu size, uncompressed", f"{_size(d['imu_bytes'])} ({d['dtype']})"),
                 ("devices", ", ".join(cfg.devices)), ("left out", d["left_out"])):
        table.add_row(k, str(v))
    console.print(table)
    for src, why in p.failures:
        console.print(f"[yellow]left out[/] {src}: {why}")
    if dry_run:
        return
    t0 = time.perf_counter()
    stats = {"samples": 0, "windows": 0}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task("jobs", total=None, rate="")

        def on_progress(pr):
            stats["samples"] += pr.samples
            stats["windows"] += pr.windows
            dt = time.perf_counter() - t0
            bar.update(task, total=pr.total_jobs, completed=pr.done_jobs,
                       rate=f"{stats['windows']} windows, {stats['samples'] / dt / 1e6:.2f} M samples/s")

        try:
            summary = run(p, out, fmt=fmt, workers=workers, num_shards=num_shards, shard_index=shard_index,
                          backend=backend, on_progress=on_progress)
        except GenerateError as exc:
            _fail(str(exc))
    dt = time.perf_counter() - t0
    done = Table(title="done", show_header=False)
    done.add_row("jobs written", f"{summary['jobs_written']} (already done before: {summary['jobs_skipped']}; "
                 f"this shard: {summary['jobs_in_shard']} of {summary['n_jobs']})")
    done.add_row("windows written", str(summary["windows_written"]))
    done.add_row("time", f"{dt:.1f} s ({summary['windows_written'] / max(dt, 1e-9):.1f} windows/s, "
                 f"{stats['samples'] / max(dt, 1e-9) / 1e6:.2f} M placement-samples/s)")
    if out.exists():
        done.add_row("on disk", _size(_disk_usage(out)))
    done.add_row("next", f"anymo-sim info {out}   |   anymo-sim plot {out} --window 0")
    console.print(done)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=2)
