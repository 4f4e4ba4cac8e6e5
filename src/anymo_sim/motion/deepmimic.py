"""DeepMimic humanoid motion clips (JSON: {"Loop", "Frames"}), as shipped in pybullet_data.

A frame row holds 44 numbers: [duration, root position (3), root rotation (w, x, y, z), chest
(4), neck (4), right hip (4), right knee (1), right ankle (4), right shoulder (4), right elbow
(1), left hip (4), left knee (1), left ankle (4), left shoulder (4), left elbow (1)] in a y-up
world with the humanoid facing +x and its right side at +z. Quaternions are rotations relative
to the parent link; knees and elbows are revolute joints about their z axis (one angle,
radians). The row layout follows pybullet's humanoid_pose_interpolator; the skeleton follows
pybullet_data/humanoid/humanoid.urdf, loaded there with globalScaling=0.25 (the clips' root
positions are in those metres). In the rest pose (all rotations identity) the humanoid stands
with legs and arms straight down.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .rotations import Y_UP_TO_Z_UP, axis_rotation, matrix_to_quat, quat_to_matrix
from .types import Motion, MotionError, global_from_local

URDF_SCALE = 0.25
#: (name, parent, offset from the parent in URDF units, y up, facing +x, right at +z).
#: `head` and `*_toe` are sites added for bone directions: the centre of the neck link's head
#: sphere, and the ball of the foot (70 % along the foot box, 1 cm above its sole after scaling).
HUMANOID = (
    ("root", -1, (0.0, 0.0, 0.0)),
    ("chest", 0, (0.0, 0.944604, 0.0)),
    ("neck", 1, (0.0, 0.895576, 0.0)),
    ("head", 2, (0.0, 0.7, 0.0)),
    ("right_hip", 0, (0.0, 0.0, 0.339548)),
    ("right_knee", 4, (0.0, -1.686184, 0.0)),
    ("right_ankle", 5, (0.0, -1.63948, 0.0)),
    ("right_toe", 6, (0.32, -0.16, 0.0)),
    ("right_shoulder", 1, (-0.0962, 0.974, 0.73244)),
    ("right_elbow", 8, (0.0, -1.099152, 0.0)),
    ("right_wrist", 9, (0.0, -1.035788, 0.0)),
    ("left_hip", 0, (0.0, 0.0, -0.339548)),
    ("left_knee", 11, (0.0, -1.686184, 0.0)),
    ("left_ankle", 12, (0.0, -1.63948, 0.0)),
    ("left_toe", 13, (0.32, -0.16, 0.0)),
    ("left_shoulder", 1, (-0.0962, 0.974, -0.73244)),
    ("left_elbow", 15, (0.0, -1.099152, 0.0)),
    ("left_wrist", 16, (0.0, -1.035788, 0.0)),
)
JOINT_NAMES = tuple(n for n, _, _ in HUMANOID)
PARENTS = np.array([p for _, p, _ in HUMANOID], dtype=np.int64)
#: column where each joint's rotation starts in a frame row, and its kind
COLUMNS = {"chest": (8, "quat"), "neck": (12, "quat"), "right_hip": (16, "quat"), "right_knee": (20, "angle"),
           "right_ankle": (21, "quat"), "right_shoulder": (25, "quat"), "right_elbow": (29, "angle"),
           "left_hip": (30, "quat"), "left_knee": (34, "angle"), "left_ankle": (35, "quat"),
           "left_shoulder": (39, "quat"), "left_elbow": (43, "angle")}
ROW = 44
LICENSE = ("DeepMimic humanoid motion clips (Peng et al. 2018, github.com/xbpeng/DeepMimic, MIT licence) as "
           "redistributed in pybullet_data by the pybullet package 3.2.7 (Bullet Physics SDK, zlib licence)")


def frames_to_motion(frames, *, name: str, loop: bool, source: str = "", license: str = LICENSE, texts=()) -> Motion:
    """(N, 44) DeepMimic frame rows -> Motion (z up, facing +x as in the clip)."""
    F = np.asarray(frames, dtype=np.float64)
    if F.ndim != 2 or F.shape[1] != ROW:
        raise MotionError(source or name, "Frames", f"expected rows of {ROW} numbers (humanoid), got shape {F.shape}")
    if len(F) < 2:
        raise MotionError(source or name, "Frames", f"need at least 2 frames, got {len(F)}")
    if not np.all(np.isfinite(F)):
        raise MotionError(source or name, "Frames", f"NaN or inf in frame {int(np.flatnonzero(~np.isfinite(F).all(1))[0])}")
    dt = F[:-1, 0]  # the last row's duration is 0 or unused: it ends the clip
    if np.any(dt <= 0):
        raise MotionError(source or name, "Frames[:, 0]", f"frame durations must be positive, frame {int(np.argmin(dt))} has {dt.min()}")
    T, J = len(F), len(JOINT_NAMES)
    local = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    local[:, 0] = quat_to_matrix(F[:, 4:8])
    for jname, (col, kind) in COLUMNS.items():
        j = JOINT_NAMES.index(jname)
        local[:, j] = quat_to_matrix(F[:, col:col + 4]) if kind == "quat" else axis_rotation("z", F[:, col])
    M = Y_UP_TO_Z_UP
    G = M @ global_from_local(PARENTS, local) @ M.T
    offsets = np.array([o for _, _, o in HUMANOID]) * URDF_SCALE @ M.T
    ts = np.round(np.concatenate([[0.0], np.cumsum(dt)]) * 1e9).astype(np.int64)
    return Motion(name=name, timestamps=ts, fps=float(1.0 / np.median(dt)), joint_names=JOINT_NAMES,
                  parents=PARENTS.copy(), offsets=offsets, rotations=matrix_to_quat(G), root_translation=F[:, 1:4] @ M.T,
                  skeleton="deepmimic", texts=tuple(texts), source=source, license=license, loop=loop,
                  notes=("DeepMimic y-up clip turned to z up (+90° about x); the humanoid faces +x",))


def parse_clip(text: str, source) -> tuple[np.ndarray, bool]:
    try:
        d = json.loads(text)
    except ValueError as exc:
        raise MotionError(source, "json", f"not valid JSON ({exc})") from None
    if not isinstance(d, dict) or "Frames" not in d:
        raise MotionError(source, "Frames", "missing")
    loop = d.get("Loop", "none")
    if loop not in ("wrap", "none"):
        raise MotionError(source, "Loop", f"expected 'wrap' or 'none', got {loop!r}")
    try:
        frames = np.array(d["Frames"], dtype=np.float64)
    except (ValueError, TypeError):
        raise MotionError(source, "Frames", "rows of unequal length or non-numbers") from None
    return frames, loop == "wrap"


def read_deepmimic(path, name: str | None = None) -> Motion:
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionError(path, "file", f"cannot read ({exc})") from None
    frames, loop = parse_clip(text, path)
    stem = path.stem.removeprefix("humanoid3d_")
    return frames_to_motion(frames, name=name or stem, loop=loop, source=str(path))
