"""`anymo-sim placements ...`: list, show and export placements on a body."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Where devices sit on the body: list, show (HTML + PNG), export (PLY/GLB, CSV/JSON).",
                  no_args_is_help=True)
console = Console()

BODY = typer.Option("default", "--body", help="'default' or a SMPL/SMPL-H/SMPL-X model file (.pkl/.npz).")
BETAS = typer.Option(None, "--betas", help="Comma-separated shape coefficients for a SMPL-family body.")
PLACEMENTS = typer.Option("all", "--placements", "-p",
                          help="'all', 'random', preset names (comma-separated) or a .yaml/.json file.")
COUNT = typer.Option(2400, "--count", min=1, help="Placements for 'all' / 'random'.")
SEED = typer.Option(0, "--seed", help="Seed for 'random'.")


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=2)


def _load(body: str, betas: Optional[str], placements: str, count: int, seed: int):
    from anymo_sim.bodies import load_body
    from anymo_sim.presets import placements_for

    try:
        b = None if betas is None else [float(v) for v in betas.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, got {betas!r}", param_hint="--betas") from None
    try:
        the_body = load_body(body, betas=b)
        return the_body, placements_for(the_body, placements, count=count, seed=seed)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)


@app.command("list")
def list_(body: str = BODY) -> None:
    """The named presets (and how they resolve on the body) and the body's landmarks."""
    from anymo_sim.bodies import load_body
    from anymo_sim.body import SEGMENTS
    from anymo_sim.presets import DEVICES, preset, preset_names

    try:
        the_body = load_body(body)
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    table = Table(title=f"placement presets on {the_body.name}")
    for col in ("preset", "kind", "placements", "segments"):
        table.add_column(col)
    for name in preset_names():
        pl = preset(the_body, name)
        table.add_row(name, "device" if name in DEVICES else "research", str(len(pl)),
                      ", ".join(sorted({SEGMENTS[s] for s in pl.segment})))
    console.print(table)
    console.print(f"landmarks: {', '.join(sorted(the_body.landmarks)) or 'none'}")
    console.print("also: 'all' (dense wearable surface), 'random' (area-uniform, perturbed), or a .yaml/.json file")


@app.command()
def show(
    placements: str = PLACEMENTS,
    body: str = BODY,
    betas: Optional[str] = BETAS,
    count: int = COUNT,
    seed: int = SEED,
    out: Path = typer.Option(Path("placements"), "--out", "-o",
                             help="Output name: writes OUT.html (interactive 3D) and OUT.png."),
    views: str = typer.Option("front,back,left", help="PNG views: front, back, left, right, top (comma-separated)."),
) -> None:
    """Write an interactive, self-contained HTML 3D view and a PNG render of the placements."""
    from anymo_sim import viewer

    chosen = [v.strip() for v in views.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in viewer.VIEWS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown view(s) {unknown}; choose from {', '.join(viewer.VIEWS)}", param_hint="--views")
    the_body, pl = _load(body, betas, placements, count, seed)
    stem = out.with_suffix("") if out.suffix.lower() in (".html", ".png") else out
    what = placements if len(placements) <= 60 else placements[:57] + "..."
    title = f"{the_body.name}: {what} ({len(pl)} placements)"
    with console.status("rendering"):
        html = viewer.write_html(the_body, pl, stem.with_name(stem.name + ".html"), title=title)
        png = viewer.render_png(the_body, pl, stem.with_name(stem.name + ".png"), views=chosen, title=title)
    console.print(f"wrote {html} and {png}")


@app.command()
def export(
    out: Path = typer.Argument(..., help="Output file: .ply or .glb (mesh + device markers), .csv or .json (table)."),
    placements: str = PLACEMENTS,
    body: str = BODY,
    betas: Optional[str] = BETAS,
    count: int = COUNT,
    seed: int = SEED,
) -> None:
    """Export placements as a mesh with device markers (PLY/GLB) or as a table (CSV/JSON)."""
    from anymo_sim import viewer

    kind = out.suffix.lower()
    if kind not in (".ply", ".glb", ".csv", ".json"):
        raise typer.BadParameter(f"{out}: expected a .ply, .glb, .csv or .json file name", param_hint="OUT")
    the_body, pl = _load(body, betas, placements, count, seed)
    write = viewer.export_mesh if kind in (".ply", ".glb") else viewer.export_table
    write(the_body, pl, out)
    console.print(f"wrote {out} ({len(pl)} placements)")
