"""The `anymo-sim` command: the Typer application over the anymo_sim package."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from anymo_sim._io import write_atomic

app = typer.Typer(
    help="anymo-sim: simulated wearable IMUs anywhere on a moving body surface.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def info(
    dataset: Optional[Path] = typer.Argument(None, help="A generated dataset (Zarr folder or HDF5 file) to summarize."),
    as_json: bool = typer.Option(False, "--json", help="With a dataset: print its summary as JSON."),
) -> None:
    """Show the version and the backends this installation can run; with DATASET, summarize a
    generated dataset (shape, status, devices, sequences, licences, texts, config)."""
    if dataset is not None:
        return show_dataset_info(dataset, as_json)
    if as_json:
        raise typer.BadParameter("--json needs a DATASET to summarize", param_hint="--json")
    import anymo_sim
    from anymo_sim import engine

    table = Table(title=f"anymo-sim {anymo_sim.__version__}", show_header=False)
    table.add_row("backends", ", ".join(anymo_sim.available_backends()))
    core = engine._core
    table.add_row("compiled extension", "yes" if core is not None else "no (reference only)")
    if core is not None:
        table.add_row("CUDA kernels compiled", "yes" if core.cuda_compiled() else "no")
        table.add_row("CUDA devices visible", str(core.cuda_device_count()))
    console.print(table)


@app.command()
def demo(
    seconds: float = typer.Option(5.0, min=0.1, help="Length of the simulated motion."),
    fps: float = typer.Option(240.0, min=1.0, help="Motion frame rate, Hz."),
    placements: int = typer.Option(2000, min=1, help="Number of surface placements."),
    seed: int = typer.Option(0, help="Seed of the motion and the placements."),
    backend: str = typer.Option("auto", help="auto, cpu, cuda or reference."),
    lowpass_hz: Optional[float] = typer.Option(None, help="Optional low-pass cutoff, Hz."),
    check_frames: int = typer.Option(240, min=0, help="Frames to re-run on the float64 reference (0: skip)."),
    out: Optional[Path] = typer.Option(None, help="Write the readings to this .npz file."),
) -> None:
    """Simulate IMUs on a built-in skinned body-sized mesh (a 10,402-vertex tube on a 24-joint
    chain, swaying and walking) and report throughput, signal statistics and the agreement of
    the kernels with the float64 reference."""
    import anymo_sim
    from anymo_sim import synthetic

    T = int(round(seconds * fps))
    if T < 4:
        raise typer.BadParameter(f"{seconds} s at {fps} Hz is {T} frames; at least 4 are needed", param_hint="--seconds")
    body = synthetic.skinned_tube()
    V = len(body["rest_vertices"])
    if placements > V:
        raise typer.BadParameter(f"the demo mesh has {V} vertices; ask for at most that many", param_hint="--placements")
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(V, placements, replace=False))
    yaw = rng.uniform(-np.pi, np.pi, placements)
    with console.status("building the motion"):
        A = synthetic.tube_motion(body, T, fps, seed=seed)
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"])
    try:
        with console.status(f"simulating {placements} placements x {T} frames"):
            t0 = time.perf_counter()
            res = anymo_sim.skinned_imu(*args, A, fps, vertex_ids=ids, yaw=yaw, lowpass_hz=lowpass_hz, backend=backend)
            elapsed = time.perf_counter() - t0
    except (ValueError, TypeError, ImportError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None

    accel, gyro = np.asarray(res.accel), np.asarray(res.gyro)
    table = Table(title="anymo-sim demo: skinned tube, walking and swaying")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("mesh", f"{V} vertices, {len(body['faces'])} faces, 24 joints")
    table.add_row("placements x frames", f"{placements} x {T} ({seconds:g} s at {fps:g} Hz)")
    table.add_row("backend", "cpu (auto: numpy input)" if backend == "auto" else backend)
    table.add_row("time", f"{elapsed:.3f} s")
    table.add_row("throughput", f"{T * placements / elapsed:,.0f} placement-samples/s")
    fmag = np.linalg.norm(accel, axis=-1)
    table.add_row("|specific force| mean / p99", f"{fmag.mean():.3f} / {np.percentile(fmag, 99):.3f} m/s²")
    wmag = np.linalg.norm(gyro, axis=-1)
    table.add_row("|angular rate| mean / p99", f"{wmag.mean():.3f} / {np.percentile(wmag, 99):.3f} rad/s")
    up = np.einsum("tpij,tpj->tpi", np.asarray(res.rotations), accel).mean(axis=(0, 1))
    table.add_row("mean world-frame R·f", f"({up[0]:+.3f}, {up[1]:+.3f}, {up[2]:+.3f}) m/s²")
    if check_frames and backend != "reference":
        n = min(T, max(4, check_frames))
        t0 = time.perf_counter()
        ref = anymo_sim.skinned_imu(*args, A[:n], fps, vertex_ids=ids, yaw=yaw, lowpass_hz=lowpass_hz, backend="reference")
        ref_time = time.perf_counter() - t0
        sub = anymo_sim.skinned_imu(*args, A[:n], fps, vertex_ids=ids, yaw=yaw, lowpass_hz=lowpass_hz, backend=backend)
        for name in ("accel", "gyro"):
            r, k = getattr(ref, name).astype(np.float64), np.asarray(getattr(sub, name), dtype=np.float64)
            table.add_row(f"{name}: kernel vs float64 reference", f"max |diff| {np.abs(k - r).max():.2e} "
                          f"(rel. {np.linalg.norm(k - r) / np.linalg.norm(r):.1e}, {n} frames)")
        table.add_row("reference throughput", f"{n * placements / ref_time:,.0f} placement-samples/s")
    if res.degenerate:
        table.add_row("degenerate frames", str(res.degenerate))
    console.print(table)
    if out is not None:
        def save(tmp):
            with open(tmp, "wb") as fh:  # a file object: savez would append .npz to a name
                np.savez_compressed(fh, accel=accel, gyro=gyro, rotations=np.asarray(res.rotations),
                                    positions=np.asarray(res.positions), vertex_ids=ids, yaw=yaw, fps=fps)

        write_atomic(out, save)
        console.print(f"wrote {out}")


# Subcommand groups, one module each.
from .placements_cmd import app as placements_app  # noqa: E402

app.add_typer(placements_app, name="placements")
from .device_cmd import app as device_app  # noqa: E402

app.add_typer(device_app, name="device")
from .motion_cmd import app as motion_app  # noqa: E402

app.add_typer(motion_app, name="motion")
from .dataset_cmd import plot as dataset_plot, show_info as show_dataset_info  # noqa: E402

app.command("plot")(dataset_plot)
from .generate_cmd import generate as generate_command  # noqa: E402

app.command("generate")(generate_command)


def main() -> None:
    app()
