"""Motion sources: the embedded clip library and one entry point for files and folders.

- `builtin()` -> {name: Motion}: the 15 DeepMimic humanoid clips shipped in pybullet_data
  (walk, run, jump, kick, punch, spin, spinkick, backflip, cartwheel, crawl, roll, dance_a,
  dance_b, getup_faceup, getup_facedown), baked into data/builtin_motions.npz by
  scripts/bake_builtin_motions.py, each with a short description of the action as a "label"
  text span; `builtin("walk", seconds=30)` loops a clip to any length.
- `load(path)` reads a file or discovers motions under a folder (Nymeria sequence folders,
  AMASS npz, BVH, DeepMimic JSON); a bad file or sequence is reported and the rest are read.
Docs: docs/motions.md.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .motion.types import Motion, MotionError, TextSpan
from .motion.amass import is_amass_file, read_amass
from .motion.bvh import read_bvh
from .motion.deepmimic import frames_to_motion, read_deepmimic
from .motion.nymeria import is_sequence, read_nymeria, read_xdata_mvnx
from .motion.resample import loop as loop_motion
from .motion.resample import resample, smooth_splice

BUILTIN_FILE = "data/builtin_motions.npz"
#: What each built-in clip shows (read off the clips: which limbs move, where the root goes).
DESCRIPTIONS = {
    "walk": "a person walks forward at a steady pace",
    "run": "a person runs forward",
    "jump": "a person jumps forward with both feet together",
    "kick": "a person turns and kicks high with the right leg",
    "punch": "a person steps forward and throws punches",
    "spin": "a person spins around twice on the spot",
    "spinkick": "a person spins around once and kicks",
    "backflip": "a person jumps and does a backflip, landing on their feet",
    "cartwheel": "a person does a cartwheel to the side",
    "crawl": "a person crawls forward on hands and knees",
    "roll": "a person does a forward roll on the ground and gets back up",
    "dance_a": "a person dances, swinging the arms and turning around once",
    "dance_b": "a person dances in place, swaying and moving the arms",
    "getup_faceup": "a person lying on their back gets up to standing",
    "getup_facedown": "a person lying face down gets up to standing",
}


# Frames after which a source clip jumps in one frame, whole pose at once (two takes joined):
# walk's left shoulder turns 29° and its root 7° there against ~1° per frame around, run's root
# velocity drops by a quarter. Each is cross-faded over 0.2 s (resample.smooth_splice); without
# it the ideal accelerometer at the wrist peaks at 238 m/s² (walk) and 482 m/s² (run) there,
# against 50 and 133 m/s² with it (tests/test_motion_resample.py).
SPLICES = {"walk": (18,), "run": (11,)}


@lru_cache(maxsize=1)
def _builtin_arrays() -> dict:
    raw = resources.files("anymo_sim").joinpath(BUILTIN_FILE).read_bytes()
    with np.load(io.BytesIO(raw)) as d:
        names = [str(n) for n in d["names"]]
        return {n: (d[f"frames_{n}"].astype(np.float64), bool(lp)) for n, lp in zip(names, d["loop"])}


def builtin_names() -> list:
    return list(_builtin_arrays())


def _builtin_one(name: str) -> Motion:
    arrays = _builtin_arrays()
    if name not in arrays:
        raise KeyError(f"no built-in motion {name!r}; built-ins: {', '.join(arrays)}")
    frames, loop = arrays[name]
    m = frames_to_motion(frames, name=name, loop=loop, source=f"anymo_sim/{BUILTIN_FILE} (pybullet_data humanoid3d_{name}.txt)")
    steps = np.diff(m.timestamps)
    if np.abs(steps - np.median(steps)).max() > 0.01 * np.median(steps):
        # a few clips have an irregular frame duration: put them on their nominal rate
        m = replace(resample(m, round(m.fps, 3)), loop=loop)
    for frame in SPLICES.get(name, ()):
        m = smooth_splice(m, frame)
    end = int(m.timestamps[-1]) + int(round(1e9 / m.fps))
    return replace(m, texts=(TextSpan(int(m.timestamps[0]), end, "label", DESCRIPTIONS.get(name, name)),))


def builtin(name: str | None = None, seconds: float | None = None):
    """The built-in clips: all as {name: Motion} (name None), or one Motion; `seconds` loops a
    looping clip to at least that length (non-looping clips refuse)."""
    if name is None:
        return {n: builtin(n, seconds) for n in builtin_names()}
    m = _builtin_one(name)
    if seconds is not None and seconds > m.duration:
        if not m.loop:
            raise ValueError(f"built-in motion {name!r} does not loop ({m.duration:.2f} s); ask for at most that")
        m = loop_motion(m, seconds)
    return m


# --------------------------------------------------------------------------- files and folders
@dataclass
class LoadResult:
    """Motions read, files or sequences that failed (path, message), and files skipped."""

    motions: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def __iter__(self):
        return iter(self.motions)

    def __len__(self):
        return len(self.motions)

    def report(self) -> str:
        lines = [f"{len(self.motions)} motions read, {len(self.failures)} failed, {len(self.skipped)} skipped"]
        lines += [f"  FAILED {p}: {msg}" for p, msg in self.failures]
        return "\n".join(lines)


def _is_deepmimic(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode(errors="replace")
    except OSError:
        return False
    return '"Frames"' in head


def read(path, **options) -> Motion:
    """Read one motion: a Nymeria sequence folder, an AMASS npz, a BVH, a DeepMimic clip, an MVNX."""
    path = Path(path)
    if path.is_dir():
        if is_sequence(path):
            return read_nymeria(path, **{k: v for k, v in options.items() if k in ("skeleton", "narration_offset_s", "model")})
        raise MotionError(path, "folder", "not a Nymeria sequence folder (no body/xdata.npz, xdata.mvnx or "
                          "xdata_smpl_neutral.npz); use load() to discover motions under it")
    if not path.is_file():
        raise FileNotFoundError(f"motion file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return read_bvh(path, **{k: v for k, v in options.items() if k in ("scale", "up")})
    if suffix == ".mvnx":
        return read_xdata_mvnx(path)
    if suffix == ".npz":
        if path.name in ("xdata.npz", "xdata_smpl_neutral.npz") and is_sequence(path.parent.parent):
            return read_nymeria(path.parent.parent, skeleton="smpl" if "smpl" in path.name else "xsens")
        return read_amass(path, model=options.get("model"))
    if suffix in (".txt", ".json") and _is_deepmimic(path):
        return read_deepmimic(path)
    raise MotionError(path, "file", "unknown motion format (expected .bvh, .npz (AMASS), .mvnx, a DeepMimic "
                      ".txt/.json clip, or a Nymeria sequence folder)")


def discover(root) -> tuple[list, list]:
    """(motion paths, skipped paths) under a folder: Nymeria sequence folders (not descended
    into), *.bvh, AMASS *.npz (not shape.npz), DeepMimic clips, loose *.mvnx."""
    root = Path(root)
    found, skipped = [], []
    stack = [root]
    while stack:
        d = stack.pop()
        if is_sequence(d):
            found.append(d)
            continue
        for p in sorted(d.iterdir(), reverse=True):
            if p.is_dir():
                stack.append(p)
            elif p.suffix.lower() in (".bvh", ".mvnx") or (p.suffix.lower() in (".txt", ".json") and _is_deepmimic(p)):
                found.append(p)
            elif p.suffix.lower() == ".npz":
                (found if is_amass_file(p) else skipped).append(p)
    return sorted(found), sorted(skipped)


def load(path, **options) -> LoadResult:
    """Motions under `path` (a file, a sequence folder, or a folder to search). Each failure
    is recorded with its path and message and the rest are still read."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_file() or is_sequence(path):
        return LoadResult(motions=[read(path, **options)])
    paths, skipped = discover(path)
    out = LoadResult(skipped=skipped)
    for p in paths:
        try:
            out.motions.append(read(p, **options))
        except (MotionError, ValueError, KeyError, OSError, json.JSONDecodeError) as exc:
            out.failures.append((p, str(exc)))
    return out
