"""`anymo-sim device ...`: list the device presets and plot one against its datasheet."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from anymo_sim._io import write_atomic

app = typer.Typer(help="Device response models: list presets, plot a preset's noise and output.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_presets() -> None:
    """The bundled device presets with their rate and datasheet noise figures."""
    from anymo_sim.devices import load_preset, preset_names

    table = Table(title="device presets (docs/devices.md)")
    for col in ("preset", "rate", "accel noise", "gyro noise", "accel range", "gyro range", "mag"):
        table.add_column(col, no_wrap=col == "preset")
    for name in preset_names():
        p = load_preset(name)
        table.add_row(
            name, "motion" if p.odr is None else f"{p.odr:g} Hz",
            f"{p.accel.noise_density / 9.80665e-6:g} µg/√Hz", f"{math.degrees(p.gyro.noise_density) * 1e3:g} mdps/√Hz",
            "—" if math.isinf(p.accel.range) else f"±{p.accel.range / 9.80665:g} g",
            "—" if math.isinf(p.gyro.range) else f"±{math.degrees(p.gyro.range):g} °/s",
            "yes" if p.mag is not None else "no")
    console.print(table)


def _moving_ideal(fps: float, seconds: float, seed: int):
    """Ideal readings of one placement on a swinging, tumbling sphere (the engine's own output)."""
    import anymo_sim
    from anymo_sim import synthetic as syn

    T = max(8, int(round(seconds * fps)))
    t = np.arange(T) / fps
    v, f = syn.icosphere(2, radius=0.05)
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=3)
    angle = 1.2 * np.sin(2 * np.pi * 0.9 * t) + 0.3 * np.sin(2 * np.pi * 2.7 * t)
    R = syn.rotation_matrix(np.outer(angle, axis / np.linalg.norm(axis)))
    tr = np.stack([0.4 * np.sin(2 * np.pi * 0.9 * t), 0.1 * np.sin(2 * np.pi * 1.8 * t), 0.05 * np.cos(2 * np.pi * 3.6 * t)], 1)
    res = anymo_sim.surface_imu(syn.rigid_motion(v, R, tr), f, [3], fps, backend="cpu")
    return res.accel, res.gyro, res.rotations


@app.command()
def plot(
    preset: str = typer.Argument(..., help="Preset name (see `anymo-sim device list`) or a YAML file."),
    out: Optional[Path] = typer.Option(None, help="PNG to write (default: device_<preset>.png)."),
    allan_seconds: float = typer.Option(5000.0, min=10.0, help="Length of the stationary record for the Allan plot."),
    seconds: float = typer.Option(4.0, min=0.5, help="Seconds of static and moving output to show."),
    seed: int = typer.Option(0, min=0, help="Noise seed."),
) -> None:
    """Write a PNG: Allan deviation of stationary output (with the preset's configured noise
    density and bias instability drawn in), and a few seconds of static and moving output
    against the ideal signal, to compare with a datasheet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anymo_sim.devices import allan_deviation, apply_device, load_preset
    from anymo_sim.devices.params import G

    try:
        p = load_preset(preset)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    fps = p.odr or 100.0
    out = out or Path(f"device_{Path(preset).stem}.png")
    # At most 1.5 M stationary samples: a long record at a high rate is cut short.
    n = int(min(allan_seconds * fps, 1.5e6))
    with console.status(f"simulating {n / fps:,.0f} s of stationary {p.name} output"):
        a = np.zeros((n, 1, 3), np.float32)
        a[..., 2] = G
        rot = np.broadcast_to(np.eye(3, dtype=np.float32), (n, 1, 3, 3))
        static = apply_device(a, np.zeros_like(a), fps, p, seed=seed, rotations=rot)
    motion_fps = 1000.0
    ia, ig, ir = _moving_ideal(motion_fps, seconds, seed)
    moving = apply_device(ia, ig, motion_fps, p, seed=seed + 1, rotations=ir)

    fig, axes = plt.subplots(3, 2, figsize=(13, 12), constrained_layout=True)
    fig.suptitle(f"{p.name}: {p.description or p.source}  (seed {seed})", fontsize=13)
    specs = (("accel", "mg", 1e3 / G, "accelerometer"), ("gyro", "°/s", 180 / math.pi, "gyroscope"))  # datasheet units
    for col, (key, unit, scale, label) in enumerate(specs):
        sm = getattr(p, key)
        x = getattr(static, key)[:, 0].astype(np.float64) * scale
        x = x - x.mean(axis=0)
        taus, adev = allan_deviation(x, fps)
        ax = axes[0, col]
        for i, c in enumerate("xyz"):
            ax.loglog(taus, adev[:, i], lw=1.2, label=f"{c} (simulated)")
        if sm.noise_density > 0:
            ax.loglog(taus, sm.noise_density * scale / np.sqrt(taus), "k--", lw=1,
                      label=f"noise density {sm.noise_density * scale:.3g} {unit}/√Hz")
        if sm.bias_instability > 0:
            ax.axhline(sm.bias_instability * scale, color="k", ls=":", lw=1,
                       label=f"bias instability {sm.bias_instability * scale:.3g} {unit}")
        ax.set(title=f"{label}: Allan deviation, {n / fps:,.0f} s at rest (configured values in black)", xlabel="τ (s)",
               ylabel=f"Allan deviation ({unit})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        n_show = int(seconds * fps)
        t = np.arange(n_show) / fps
        ax = axes[1, col]
        for i, c in enumerate("xyz"):
            ax.plot(t, getattr(static, key)[:n_show, 0, i] * scale, lw=0.8, label=c)
        ax.set(title=f"{label} at rest, flat (z up)", xlabel="s", ylabel=unit)
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
        ax = axes[2, col]
        ideal = (ia if key == "accel" else ig)[:, 0] * scale
        ti = np.arange(len(ideal)) / motion_fps
        tm = (moving.timestamps[:, 0] - moving.timestamps[0, 0]) * 1e-9
        for i, c in enumerate("xyz"):
            ax.plot(ti, ideal[:, i], color="0.6", lw=2.5, alpha=0.6, label="ideal" if i == 0 else None)
            ax.plot(tm, getattr(moving, key)[:, 0, i] * scale, lw=0.9, label=f"{c} device")
        ax.set(title=f"{label} moving (ideal at 1 kHz, device at {fps:g} Hz)", xlabel="s", ylabel=unit)
        ax.legend(fontsize=8, loc="upper right", ncol=2)
        ax.grid(alpha=0.3)
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    console.print(f"wrote {out}")
