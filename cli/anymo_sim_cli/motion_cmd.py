"""`anymo-sim motion ...`: list the built-in clips, describe a motion, show a retarget as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Motions: list the built-in clips, inspect files, picture a retarget (PNG strip, GIF).",
                  no_args_is_help=True)
console = Console()


def _motion(source: str):
    """A path (file or folder) or the name of a built-in clip."""
    from anymo_sim import motions

    if Path(source).exists():
        res = motions.load(source)
        if not res.motions:
            raise ValueError(f"{source}: no motion could be read\n{res.report()}")
        if res.failures:
            console.print(f"[yellow]{res.report()}[/yellow]")
        return res.motions[0]
    name = source.removeprefix("builtin:")
    if name in motions.builtin_names():
        return motions.builtin(name)
    raise ValueError(f"{source}: no such file or folder, and not a built-in clip ({', '.join(motions.builtin_names())})")


@app.command("list")
def list_() -> None:
    """The built-in motion clips (DeepMimic humanoid clips from pybullet_data)."""
    from anymo_sim import motions

    table = Table(title="built-in motions")
    for col in ("name", "frames", "rate", "seconds", "loops", "description"):
        table.add_column(col)
    for name, m in motions.builtin().items():
        table.add_row(name, str(m.n_frames), f"{m.fps:.0f} Hz", f"{m.duration:.2f}", "yes" if m.loop else "no", m.texts[0].text)
    console.print(table)


@app.command()
def info(source: str = typer.Argument(..., help="A motion file, a Nymeria sequence folder, or a built-in clip name.")) -> None:
    """What a motion holds: frames, skeleton, text spans, reference IMU streams, repairs."""
    try:
        m = _motion(source)
    except (ValueError, KeyError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    console.print(m.summary())
    console.print(f"licence: {m.license or 'unknown'}")
    for note in m.notes:
        console.print(f"  - {note}")
    for s in m.texts[:20]:
        console.print(f"  [{(s.start_ns - m.timestamps[0]) * 1e-9:7.2f}, {(s.end_ns - m.timestamps[0]) * 1e-9:7.2f}] s "
                      f"{s.kind}: {s.text}")


@app.command()
def show(
    source: str = typer.Argument(..., help="A motion file, a Nymeria sequence folder, or a built-in clip name."),
    out: Optional[Path] = typer.Option(None, help="PNG to write (default: <motion name>.png)."),
    frames: int = typer.Option(6, min=1, max=24, help="Frames in the strip."),
    gif: Optional[Path] = typer.Option(None, help="Also write an animated GIF of the whole motion here."),
    joint_map: Optional[Path] = typer.Option(None, "--map", help="YAML {body joint: source joint} map to use."),
    skeleton: bool = typer.Option(True, help="Draw the source skeleton over the body."),
) -> None:
    """Write a PNG strip of the default body driven by the motion (retargeted), to check the
    retarget by eye: feet on the floor, arms the right way, facing where it goes."""
    from anymo_sim.bodies import default_body
    from anymo_sim.motion.retarget import retarget
    from anymo_sim.motion.show import render_strip

    try:
        m = _motion(source)
        body = default_body()
        res = retarget(m, body, joint_map)
        path = render_strip(m, body, out or Path(f"{m.name}.png"), frames=frames, result=res, skeleton=skeleton, gif=gif)
    except (ValueError, KeyError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    console.print(f"wrote {path}" + (f" and {gif}" if gif else "") + f" ({m.summary()}; root scale {res.scale:.3f})")
