"""Reading a generated dataset back: `anymo-sim info DS` (what is in it, where it came from) and
`anymo-sim plot DS` (one window's signals with its text, as a PNG)."""

from __future__ import annotations

import difflib
import json
import os
from collections import Counter
from pathlib import Path
from typing import NoReturn, Optional

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from anymo_sim._io import write_atomic
from anymo_sim.dataset.store import is_hdf5

console = Console()
err_console = Console(stderr=True)  # errors off stdout, so `info --json` output stays parseable
SHOWN_SEQUENCES = 20  # the table lists this many; --json lists every one
DEFAULT_PLOTTED = 4


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code=2)


def _open(path: Path):
    from anymo_sim.dataset import open_dataset

    try:
        ds = open_dataset(path)
    except (FileNotFoundError, ValueError, OSError, KeyError) as exc:
        # KeyError: a store with the attrs but without its arrays (a copy cut short)
        msg = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
        _fail(f"{msg} (expected a dataset written by `anymo-sim generate`: a Zarr folder or an HDF5 file)")
    if is_hdf5(path) and not ds.complete():
        ds.close()
        _fail(f"{path}: an HDF5 dataset still being written, or left by a stopped run (HDF5 output does not "
              "resume; run `anymo-sim generate` again)")
    return ds


def _written(ds, jobs: list[int]) -> np.ndarray:
    """(W,) bool: the windows whose job is finished (the others read as fill values)."""
    per = int(ds.attrs["windows_per_job"])
    mask = np.zeros(len(ds), bool)
    for j in jobs:
        mask[j * per:(j + 1) * per] = True
    return mask


def _size_on_disk(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum((Path(d) / f).stat().st_size for d, _, files in os.walk(path) for f in files)


def _segment_names(ds) -> list[str]:
    # stored with the dataset (the body's segment list when it was generated); older stores
    # without it fall back to this version's list
    try:
        names = ds.root["segments/name"][...]
    except KeyError:
        from anymo_sim.body import SEGMENTS

        return list(SEGMENTS)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # unreachable


def summary(ds) -> dict:
    """Everything `anymo-sim info` shows, as plain JSON-able values."""
    a = ds.attrs
    W, P, N, _ = ds.shape
    jobs = ds.done_jobs()
    written = _written(ds, jobs)
    n_jobs = int(a["n_jobs"])
    seq_of = np.asarray(ds.windows["sequence"])[written]
    dev_of = np.asarray(ds.windows["device"])[written]
    dev_counts = np.bincount(dev_of.ravel().astype(np.int64), minlength=len(ds.devices))
    win_counts = np.bincount(seq_of.astype(np.int64), minlength=len(ds.sequences["name"]))
    licences = [str(x) for x in ds.sequences["license"]]
    kinds: Counter = Counter()
    kind_windows: Counter = Counter()
    with_text = 0
    for i in np.flatnonzero(written):
        spans = ds.texts(int(i))
        with_text += bool(spans)
        window_kinds = [str(s.get("kind", "")) for s in spans]
        kinds.update(window_kinds)
        kind_windows.update(set(window_kinds))
    segments = _segment_names(ds)
    per_segment = Counter(int(s) for s in ds.placements["segment"])
    return {
        "path": str(ds.path),
        "format": "hdf5" if is_hdf5(ds.path) else "zarr",
        "format_version": a.get("format_version"),
        "anymo_sim_version": a.get("anymo_sim_version"),
        "complete": len(jobs) == n_jobs,
        "jobs_done": len(jobs),
        "jobs_total": n_jobs,
        "windows": W,
        "windows_written": int(written.sum()),
        "placements": P,
        "samples_per_window": N,
        "rate_hz": ds.rate,
        "window_s": N / ds.rate,
        "stride_s": a["config"].get("stride_s"),
        "dtype": str(ds.imu.dtype),
        "channels": [{"name": c, "unit": u} for c, u in zip(a.get("channels", []), a.get("units", []))],
        "convention": a.get("convention"),
        "size_bytes": _size_on_disk(ds.path),
        "devices": [{"index": k, "preset": d, "placement_windows": int(dev_counts[k])} for k, d in enumerate(ds.devices)],
        "segments": {segments[s] if s < len(segments) else str(s): n for s, n in sorted(per_segment.items())},
        "sequences": [{"name": str(name), "source": str(src), "windows": int(win_counts[k]),
                       "seconds": float(dur), "license": licences[k]}
                      for k, (name, src, dur) in enumerate(zip(ds.sequences["name"], ds.sequences["source"],
                                                               ds.sequences["duration_s"]))],
        "text_kinds": {k: {"spans": kinds[k], "windows": kind_windows[k]} for k in sorted(kinds)},
        "windows_with_text": with_text,
        "licenses": a.get("licenses", []),
        "left_out": a.get("left_out", []),
        "config": a.get("config", {}),
    }


def _table(title: str, columns, rows, justify_right=()) -> Table:
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="right" if c in justify_right else "left")
    for r in rows:
        # names, sources and licences are data, not markup: '[CC BY]' must print as written
        t.add_row(*(x if isinstance(x, Text) else escape(str(x)) for x in r))
    return t


def show_info(path: Path, as_json: bool = False) -> None:
    """`anymo-sim info DS`: the summary as rich tables, or as JSON."""
    ds = _open(path)
    try:
        s = summary(ds)
    except (KeyError, ValueError, OSError) as exc:
        _fail(f"{path}: cannot read the dataset's tables ({type(exc).__name__}: {exc})")
    finally:
        ds.close()
    if as_json:
        typer.echo(json.dumps(s, indent=2, ensure_ascii=False))
        return
    status = Text("complete") if s["complete"] else Text(
        f"incomplete: {s['jobs_done']} of {s['jobs_total']} jobs done ({s['windows_written']} of {s['windows']} windows)",
        style="yellow")
    rows = [
        ("path", s["path"]), ("format", f"{s['format']} (anymo-sim dataset v{s['format_version']})"), ("status", status),
        ("windows", f"{s['windows']:,}"), ("placements", f"{s['placements']:,}"),
        ("samples per window", f"{s['samples_per_window']} ({s['window_s']:g} s, stride {s['stride_s']:g} s)"),
        ("rate", f"{s['rate_hz']:g} Hz"), ("dtype", s["dtype"]),
        ("channels", ", ".join(f"{c['name']} ({c['unit']})" for c in s["channels"])),
        ("convention", s["convention"] or "—"),
        ("size on disk", f"{_human_bytes(s['size_bytes'])} ({s['size_bytes']:,} bytes)"),
        ("windows with text", f"{s['windows_with_text']:,} of {s['windows_written']:,}"),
        ("generated by", f"anymo-sim {s['anymo_sim_version']}"),
    ]
    console.print(_table(f"dataset {Path(s['path']).name}", ("field", "value"), rows))

    total = sum(d["placement_windows"] for d in s["devices"]) or 1
    console.print(_table("devices (placement-windows each preset got)", ("#", "preset", "placement-windows", "share"),
                         [(d["index"], d["preset"], f"{d['placement_windows']:,}", f"{100 * d['placement_windows'] / total:.1f} %")
                          for d in s["devices"]], justify_right=("#", "placement-windows", "share")))
    console.print(_table("placements per body segment", ("segment", "placements"), s["segments"].items(),
                         justify_right=("placements",)))

    # licences are long and shared by many sequences: number them once, refer by number
    licence_ids = {lic: k + 1 for k, lic in enumerate(dict.fromkeys(q["license"] for q in s["sequences"]))}
    seqs = s["sequences"]
    title = "sequences" + (f" (first {SHOWN_SEQUENCES} of {len(seqs)}; --json lists all)" if len(seqs) > SHOWN_SEQUENCES else "")
    console.print(_table(title, ("name", "windows", "seconds", "licence"),
                         [(q["name"], q["windows"], f"{q['seconds']:.2f}", f"[{licence_ids[q['license']]}]")
                          for q in seqs[:SHOWN_SEQUENCES]], justify_right=("windows", "seconds")))
    counts = Counter(q["license"] for q in seqs)
    console.print(_table("licences", ("#", "licence", "sequences"),
                         [(f"[{k}]", lic or "unknown", counts[lic]) for lic, k in licence_ids.items()],
                         justify_right=("sequences",)))
    if s["text_kinds"]:
        console.print(_table("text spans by kind", ("kind", "spans", "windows"),
                             [(k, v["spans"], v["windows"]) for k, v in s["text_kinds"].items()],
                             justify_right=("spans", "windows")))
    if s["left_out"]:
        console.print(_table(f"motions left out ({len(s['left_out'])})", ("source", "reason"),
                             [(x.get("source", ""), x.get("reason", "")) for x in s["left_out"][:SHOWN_SEQUENCES]]))
    console.print(_table("config (anymo-sim generate options)", ("option", "value"),
                         [(k, json.dumps(v)) for k, v in s["config"].items()]))


# ---- plot ------------------------------------------------------------------------------------
def pick_placements(spec: str | None, names: list[str], segment: np.ndarray, n: int = DEFAULT_PLOTTED) -> list[int]:
    """Placement indices from a comma-separated list of names or indices; None or '': up to n
    placements spread over the body, one per segment, segments evenly spaced through the list."""
    P = len(names)
    if not spec:
        segs = np.unique(segment)
        take = segs[np.unique(np.linspace(0, len(segs) - 1, min(n, len(segs))).round().astype(int))]
        chosen = [int(np.flatnonzero(segment == s)[0]) for s in take]
        rest = [k for k in range(P) if k not in chosen]  # few segments: fill up with the next placements
        return sorted(chosen + rest[:max(0, n - len(chosen))])
    by_name = {name: k for k, name in enumerate(names)}
    out = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        if item.lstrip("-").isdigit():
            k = int(item)
            if not 0 <= k < P:
                raise ValueError(f"--placements: index {k} is out of range; the dataset has placements 0..{P - 1}")
        elif item in by_name:
            k = by_name[item]
        else:
            close = difflib.get_close_matches(item, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; names such as {', '.join(names[:4])}"
            raise ValueError(f"--placements: {item!r} is not a placement of this dataset{hint}")
        if k not in out:
            out.append(k)
    if not out:
        raise ValueError("--placements: no placement named; give names or indices separated by commas")
    return out


def plot(
    dataset: Path = typer.Argument(..., help="A generated dataset (Zarr folder or HDF5 file)."),
    window: int = typer.Option(0, "--window", "-w", help="Window index (see `anymo-sim info DS` for the count)."),
    placements: Optional[str] = typer.Option(
        None, help=f"Comma-separated placement names or indices (default: up to {DEFAULT_PLOTTED} spread over the body)."),
    out: Optional[Path] = typer.Option(None, help="PNG to write (default: <dataset>_window<i>.png)."),
    dpi: int = typer.Option(100, min=30, max=600, help="Resolution of the PNG."),
) -> None:
    """Write a PNG of one window: accelerometer (m/s²) and gyroscope (rad/s) against time for
    each chosen placement, with the window's text spans shaded and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = _open(dataset)
    try:
        W, P, N, _ = ds.shape
        if not 0 <= window < W:
            _fail(f"--window: {window} is out of range; {dataset} has windows 0..{W - 1}")
        names = [str(n) for n in ds.placements["name"]]
        segment = np.asarray(ds.placements["segment"], dtype=np.int64)
        try:
            idx = pick_placements(placements, names, segment)
        except ValueError as exc:
            _fail(str(exc))
        x = ds.window(window, idx)
        if np.isnan(x).all():
            _fail(f"--window: window {window} of {dataset} is not written yet (its generation job has not finished)")
        seg_names = _segment_names(ds)
        seq = int(ds.windows["sequence"][window])
        seq_name = str(ds.sequences["name"][seq])
        start = float(ds.windows["start_s"][window])
        device = np.asarray(ds.windows["device"][window])
        spans = ds.texts(window)
        rate, devices = ds.rate, ds.devices
    finally:
        ds.close()

    t = start + np.arange(N) / rate  # time in the sequence, s
    out = out or Path(f"{dataset.stem}_window{window}.png")
    rows = len(idx)
    fig, axes = plt.subplots(rows, 2, figsize=(13, 2.3 * rows + 1.4), sharex=True, squeeze=False)
    fig.suptitle(f"{dataset.name}: window {window} of {W}, sequence {seq_name!r} (#{seq}), "
                 f"{start:.2f}–{start + N / rate:.2f} s at {rate:g} Hz", fontsize=12)
    span_colors = plt.get_cmap("Pastel1").colors
    for r, k in enumerate(idx):
        seg = seg_names[segment[k]] if segment[k] < len(seg_names) else str(segment[k])
        dev = devices[device[k]] if 0 <= device[k] < len(devices) else "?"
        for c, (label, unit, cols) in enumerate((("accelerometer", "m/s²", slice(0, 3)), ("gyroscope", "rad/s", slice(3, 6)))):
            ax = axes[r, c]
            for j, (axis, color) in enumerate(zip("xyz", ("tab:red", "tab:green", "tab:blue"))):
                ax.plot(t, x[r, :, cols][:, j], lw=1.0, color=color, label=axis)
            for n, sp in enumerate(spans):
                a, b = start + float(sp["start_s"]), start + float(sp["end_s"])
                ax.axvspan(a, b, color=span_colors[n % len(span_colors)], alpha=0.5, lw=0, zorder=0)
                if r == 0:  # the tag on the top row; the text itself goes in the footer
                    ax.text(a, 1.0, f" [{n + 1}] {sp.get('kind', '')}", transform=ax.get_xaxis_transform(),
                            va="bottom", ha="left", fontsize=8, clip_on=False)
            ax.set_ylabel(unit)
            ax.set_title(f"{names[k]} (#{k}, {seg}, {dev}): {label}", fontsize=9, loc="left", pad=12 if r == 0 else 4)
            ax.grid(alpha=0.3)
            if r == 0 and c == 1:
                ax.legend(fontsize=8, loc="upper right", ncol=3)
    for ax in axes[-1]:
        ax.set_xlabel("time in sequence (s)")
    footer = [f"[{n + 1}] {sp.get('kind', '')} {float(sp['start_s']) + start:.2f}–{float(sp['end_s']) + start:.2f} s"
              f"{' (approximate)' if sp.get('approximate') else ''}: {sp.get('text', '')}" for n, sp in enumerate(spans)]
    fig.text(0.01, 0.005, "\n".join(footer) if footer else "no text spans in this window", fontsize=9, va="bottom",
             ha="left", wrap=True)
    height = fig.get_figheight()  # inches; the footer needs ~0.2 in a line, the title ~0.5 in
    fig.tight_layout(rect=(0, (0.15 + 0.2 * max(1, len(footer))) / height, 1, 1 - 0.5 / height))
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    plt.close(fig)
    console.print(f"wrote {out} (window {window}, {rows} placements: {', '.join(names[k] for k in idx)})")
