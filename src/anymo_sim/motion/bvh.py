"""BVH reader: any hierarchy, per-joint channel orders, unit scale, y-up -> z-up.

HIERARCHY holds ROOT/JOINT blocks (OFFSET, CHANNELS with their order) and End Sites; MOTION
holds `Frames:`, `Frame Time:` and one row of channel values per frame. Euler channels
compose in the order listed (`Zrotation Xrotation Yrotation` -> Rz·Rx·Ry), angles in degrees.
End Sites become joints named `<parent>_end` that never rotate on their own, so leaf bones
have a direction for retargeting. Non-root position channels are read but the joint keeps its
OFFSET (the Motion skeleton is rigid); a note says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .rotations import Y_UP_TO_Z_UP, euler_matrix, matrix_to_quat
from .types import Motion, MotionError, global_from_local, timestamps_from_rate

_ROT = {"xrotation": "x", "yrotation": "y", "zrotation": "z"}
_POS = {"xposition": 0, "yposition": 1, "zposition": 2}


def _parse_hierarchy(tokens, path):
    names, parents, offsets, channels = [], [], [], []
    stack, i, pending_parent = [], 0, -1
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise MotionError(path, "HIERARCHY", "file does not start with HIERARCHY")
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        up = tok.upper()
        if up in ("ROOT", "JOINT"):
            if up == "ROOT" and names:
                raise MotionError(path, "ROOT", "more than one ROOT (only one skeleton per file is supported)")
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(None)
            channels.append([])
            pending_parent = len(names) - 1
            i += 2
        elif up == "END":  # End Site
            par = stack[-1]
            names.append(f"{names[par]}_end")
            parents.append(par)
            offsets.append(None)
            channels.append([])
            pending_parent = len(names) - 1
            i += 2
        elif tok == "{":
            stack.append(pending_parent)
            i += 1
        elif tok == "}":
            if not stack:
                raise MotionError(path, "HIERARCHY", "unbalanced '}'")
            stack.pop()
            i += 1
            if not stack:
                return names, parents, offsets, channels, i
        elif up == "OFFSET":
            try:
                offsets[stack[-1]] = np.array([float(t) for t in tokens[i + 1:i + 4]])
            except (ValueError, IndexError):
                raise MotionError(path, f"OFFSET of {names[stack[-1]]}", "expected three numbers") from None
            i += 4
        elif up == "CHANNELS":
            try:
                n = int(tokens[i + 1])
            except ValueError:
                raise MotionError(path, f"CHANNELS of {names[stack[-1]]}", f"expected a count, got {tokens[i + 1]!r}") from None
            chans = [c.lower() for c in tokens[i + 2:i + 2 + n]]
            bad = [c for c in chans if c not in _ROT and c not in _POS]
            if bad or len(chans) != n:
                raise MotionError(path, f"CHANNELS of {names[stack[-1]]}", f"unknown channel(s) {bad or chans}")
            channels[stack[-1]] = chans
            i += 2 + n
        else:
            raise MotionError(path, "HIERARCHY", f"unexpected token {tok!r}")
    raise MotionError(path, "HIERARCHY", "ended before the root block closed")


def read_bvh(path, scale: float | None = None, up: str = "y", name: str | None = None) -> Motion:
    """Read a BVH file into a Motion (z up, metres).

    scale: metres per file unit; None guesses from the skeleton's size (a standing skeleton
    taller than 10 units is taken as centimetres, else metres); a note records the choice.
    up: the file's up axis, "y" (usual; turned to z up) or "z" (kept)."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionError(path, "file", f"cannot read ({exc})") from None
    parts = re.split(r"^\s*MOTION\s*$", text, maxsplit=1, flags=re.MULTILINE)
    if len(parts) != 2:
        raise MotionError(path, "MOTION", "section missing")
    head, motion_part = parts
    names, parents, offsets, channels, _ = _parse_hierarchy(head.split(), path)
    for j, o in enumerate(offsets):
        if o is None:
            raise MotionError(path, f"OFFSET of {names[j]}", "missing")
    if not channels[0]:
        raise MotionError(path, f"CHANNELS of {names[0]}", "the root has no channels")
    lines = [ln for ln in motion_part.strip().splitlines() if ln.strip()]
    m_frames = re.match(r"\s*Frames:\s*(\d+)\s*$", lines[0]) if lines else None
    m_time = re.match(r"\s*Frame\s+Time:\s*([-+0-9.eE]+)\s*$", lines[1]) if len(lines) > 1 else None
    if not m_frames:
        raise MotionError(path, "Frames", "expected 'Frames: <count>' after MOTION")
    if not m_time:
        raise MotionError(path, "Frame Time", "expected 'Frame Time: <seconds>'")
    n, dt = int(m_frames.group(1)), float(m_time.group(1))
    if n < 1:
        raise MotionError(path, "Frames", "zero frames")
    if not (np.isfinite(dt) and dt > 0):
        raise MotionError(path, "Frame Time", f"expected a positive number of seconds, got {dt}")
    width = sum(len(c) for c in channels)
    rows = lines[2:]
    if len(rows) != n:
        raise MotionError(path, "Frames", f"header says {n} frames, found {len(rows)} rows")
    try:
        data = np.array([[float(v) for v in r.split()] for r in rows])
    except ValueError as exc:
        raise MotionError(path, "MOTION", f"non-numeric value ({exc})") from None
    if data.ndim != 2 or data.shape[1] != width:
        lens = sorted({len(r.split()) for r in rows})
        raise MotionError(path, "MOTION", f"expected {width} values per frame (the CHANNELS), got {lens}")
    if not np.all(np.isfinite(data)):
        raise MotionError(path, "MOTION", f"NaN or inf in frame {int(np.flatnonzero(~np.isfinite(data).all(1))[0])}")

    J = len(names)
    offsets = np.array(offsets, dtype=np.float64)
    local = np.broadcast_to(np.eye(3), (n, J, 3, 3)).copy()
    root_pos = np.broadcast_to(offsets[0], (n, 3)).copy()
    notes, col = [], 0
    for j, chans in enumerate(channels):
        block = data[:, col:col + len(chans)]
        col += len(chans)
        rot = [(c, k) for k, c in enumerate(chans) if c in _ROT]
        if rot:
            order = "".join(_ROT[c] for c, _ in rot)
            local[:, j] = euler_matrix(order, np.deg2rad(block[:, [k for _, k in rot]]))
        pos = [(c, k) for k, c in enumerate(chans) if c in _POS]
        if pos and j == 0:
            for c, k in pos:
                root_pos[:, _POS[c]] = block[:, k]
        elif pos:
            notes.append(f"position channels of {names[j]} ignored (its OFFSET is used)")

    rest = np.zeros((J, 3))
    for j in range(1, J):
        rest[j] = rest[parents[j]] + offsets[j]
    if scale is None:
        size = np.ptp(rest, axis=0).max()
        scale = 0.01 if size > 10.0 else 1.0
        notes.append(f"unit scale guessed: {scale:g} m per unit (skeleton spans {size:.3g} units)")
    if up not in ("y", "z"):
        raise ValueError(f"up: expected 'y' or 'z', got {up!r}")
    M = Y_UP_TO_Z_UP if up == "y" else np.eye(3)
    if up == "y":
        notes.append("y-up file turned to z up (+90° about x)")
    G = global_from_local(parents, local)
    G = M @ G @ M.T  # joint rest frames become the z-up world axes
    offs = (offsets * scale) @ M.T
    offs[0] = 0.0
    return Motion(
        name=name or path.stem, timestamps=timestamps_from_rate(n, 1.0 / dt), fps=1.0 / dt,
        joint_names=tuple(names), parents=np.array(parents, dtype=np.int64), offsets=offs,
        rotations=matrix_to_quat(G), root_translation=(root_pos * scale) @ M.T, skeleton="bvh",
        source=str(path), notes=tuple(notes),
    )


def write_bvh(path, motion: Motion, order: str = "ZXY", scale: float = 100.0) -> None:
    """Write a motion as BVH (y up, `scale` file units per metre, one Euler order): for round
    trips and for tools that read BVH. End Sites are the joints named `*_end` without children."""
    M = Y_UP_TO_Z_UP
    J = len(motion.joint_names)
    children = [[c for c in range(J) if motion.parents[c] == j] for j in range(J)]
    Rl = motion.local_rotations()
    Rl = M.T @ Rl @ M
    ang = _matrix_to_euler(Rl, order)
    root = (motion.root_translation @ M) * scale
    lines, cols = ["HIERARCHY"], []

    def emit(j, depth):
        pad = "  " * depth
        off = (motion.offsets[j] @ M) * scale
        leaf_site = not children[j] and motion.joint_names[j].endswith("_end") and j != 0
        if leaf_site:
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}", f"{pad}}}"])
            return
        kind = "ROOT" if j == 0 else "JOINT"
        lines.extend([f"{pad}{kind} {motion.joint_names[j]}", f"{pad}{{", f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}"])
        rc = " ".join(f"{a.upper()}rotation" for a in order)
        if j == 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rc}")
            cols.append(root)
        else:
            lines.append(f"{pad}  CHANNELS 3 {rc}")
        cols.append(np.rad2deg(ang[:, j]))
        for c in children[j]:
            emit(c, depth + 1)
        lines.append(f"{pad}}}")

    emit(0, 0)
    data = np.concatenate(cols, axis=1)
    lines += ["MOTION", f"Frames: {motion.n_frames}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in data]
    Path(path).write_text("\n".join(lines) + "\n")


def _matrix_to_euler(R, order: str) -> np.ndarray:
    """Intrinsic Euler angles (..., 3) with R = R_a0 · R_a1 · R_a2 for a Tait-Bryan `order`."""
    i, j, k = ("xyz".index(a) for a in order.lower())
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # even permutation of xyz
    # R[i,k] = sign·sin(b) for R = R_i(a)·R_j(b)·R_k(c)
    b = np.arcsin(np.clip(sign * R[..., i, k], -1.0, 1.0))
    a = np.arctan2(-sign * R[..., j, k], R[..., k, k])
    c = np.arctan2(-sign * R[..., i, j], R[..., i, i])
    return np.stack([a, b, c], -1)
