"""The `Motion` type: a named skeleton moving over time, with text spans and provenance.

Conventions (DESIGN.md §2): world z up, metres; timestamps int64 nanoseconds; quaternions
Hamilton (w, x, y, z). Rotations are *global* (world-from-segment). The skeleton's rest pose is
the pose where every global rotation is the identity: joint j then sits at its parent plus
`offsets[j]`, so forward kinematics is p_j = p_parent + R_parent · offsets[j], with the root at
`root_translation`. Which way the rest pose faces or points up is the source's business
(XSens: facing +x; SMPL: y up, facing +z); retargeting reads it from the offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from .rotations import quat_normalize, quat_to_matrix


class MotionError(ValueError):
    """Bad motion input: the message names the file and the field and what was expected."""

    def __init__(self, source, field_name: str, problem: str):
        self.source, self.field = str(source), field_name
        super().__init__(f"{source}: field {field_name!r}: {problem}")


@dataclass(frozen=True)
class TextSpan:
    """Text about [start_ns, end_ns) of a motion (ns on the motion's clock).

    kind: what the text describes, e.g. "label", "atomic_action", "activity", "body_posture".
    approximate: the span's alignment to the motion clock is not exact (see docs/motions.md)."""

    start_ns: int
    end_ns: int
    kind: str
    text: str
    approximate: bool = False


@dataclass(frozen=True)
class Motion:
    """A skeleton moving over time.

    timestamps (T,) int64 ns, strictly increasing; fps nominal frame rate, Hz;
    joint_names (J,); parents (J,) int64, -1 for the root, parents before children;
    offsets (J, 3) rest-pose offset of each joint from its parent, m (root's: zeros);
    rotations (T, J, 4) global world-from-joint unit quaternions (w, x, y, z);
    root_translation (T, 3) world position of the root joint, m, z up.
    skeleton: the rig family ("xsens23", "smpl24", "deepmimic", "bvh", ...), which picks the
    default retarget map. smpl: for SMPL-parameter motions, {"family", "pose" (T, 3·J_family)
    axis-angle, "transl" (T, 3), "betas", "gender"} so SMPL bodies can skip retargeting.
    reference_imu: real sensor streams found in the source (name -> array, first axis time).
    notes: what the reader repaired or decided (repairs, up-axis), in words.
    """

    name: str
    timestamps: np.ndarray
    fps: float
    joint_names: tuple
    parents: np.ndarray
    offsets: np.ndarray
    rotations: np.ndarray
    root_translation: np.ndarray
    skeleton: str = "generic"
    texts: tuple = ()
    source: str = ""
    license: str = ""
    loop: bool = False
    smpl: Optional[dict] = None
    reference_imu: dict = field(default_factory=dict)
    notes: tuple = ()

    def __post_init__(self):
        src = self.source or self.name
        ts = np.asarray(self.timestamps)
        T, J = len(ts), len(self.joint_names)
        if ts.ndim != 1 or not np.issubdtype(ts.dtype, np.integer):
            raise MotionError(src, "timestamps", f"expected (T,) int64 nanoseconds, got {ts.dtype} {ts.shape}")
        if T < 1:
            raise MotionError(src, "timestamps", "no frames (zero-length motion)")
        if T > 1 and np.any(np.diff(ts) <= 0):
            bad = int(np.flatnonzero(np.diff(ts) <= 0)[0])
            raise MotionError(src, "timestamps", f"not strictly increasing (frame {bad + 1}: {ts[bad + 1]} after {ts[bad]})")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise MotionError(src, "fps", f"expected a positive frame rate, got {self.fps}")
        shapes = [("parents", self.parents, (J,)), ("offsets", self.offsets, (J, 3)),
                  ("rotations", self.rotations, (T, J, 4)), ("root_translation", self.root_translation, (T, 3))]
        for name, arr, want in shapes:
            if np.shape(arr) != want:
                raise MotionError(src, name, f"expected shape {want}, got {np.shape(arr)}")
            if name != "parents" and not np.all(np.isfinite(arr)):
                raise MotionError(src, name, "contains NaN or inf")
        par = np.asarray(self.parents)
        if J == 0 or par[0] != -1 or np.any(par[1:] < 0) or np.any(par >= np.arange(J)):
            raise MotionError(src, "parents", "expected -1 for the first joint and parents before children")
        norms = np.linalg.norm(self.rotations, axis=-1)
        if np.any(np.abs(norms - 1.0) > 1e-3):
            raise MotionError(src, "rotations", f"quaternions not unit length (norms {norms.min():.3g}..{norms.max():.3g})")

    # ---------------------------------------------------------------- basic views
    @property
    def n_frames(self) -> int:
        return len(self.timestamps)

    @property
    def duration(self) -> float:
        """Seconds from the first frame to one frame past the last."""
        return float(self.timestamps[-1] - self.timestamps[0]) * 1e-9 + 1.0 / self.fps

    @property
    def times(self) -> np.ndarray:
        """Seconds since the first frame, (T,) float64."""
        return (self.timestamps - self.timestamps[0]).astype(np.float64) * 1e-9

    def joint_index(self, name: str) -> int:
        try:
            return list(self.joint_names).index(name)
        except ValueError:
            raise KeyError(f"motion {self.name!r} has no joint {name!r}; joints: {', '.join(self.joint_names)}") from None

    def rotation_matrices(self) -> np.ndarray:
        """(T, J, 3, 3) global world-from-joint rotations."""
        return quat_to_matrix(self.rotations)

    def joint_positions(self) -> np.ndarray:
        """(T, J, 3) world joint positions by forward kinematics over the rest offsets."""
        R = self.rotation_matrices()
        p = np.empty(R.shape[:2] + (3,))
        for j, par in enumerate(self.parents):
            p[:, j] = self.root_translation if par < 0 else p[:, par] + R[:, par] @ self.offsets[j]
        return p

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions in the rest pose, root at the origin."""
        p = np.zeros((len(self.joint_names), 3))
        for j, par in enumerate(self.parents):
            if par >= 0:
                p[j] = p[par] + self.offsets[j]
        return p

    def local_rotations(self) -> np.ndarray:
        """(T, J, 3, 3) rotation of each joint relative to its parent (the root's is global)."""
        R = self.rotation_matrices()
        out = R.copy()
        child = np.flatnonzero(np.asarray(self.parents) >= 0)
        out[:, child] = np.swapaxes(R[:, self.parents[child]], -1, -2) @ R[:, child]
        return out

    # ---------------------------------------------------------------- frame selection
    def frames(self, index) -> "Motion":
        """A motion of the frames selected by `index` (a slice or integer array, in time order).

        Text spans are kept where they overlap the new time range (clipped to it); reference
        IMU streams with one row per frame are selected too."""
        idx = np.arange(self.n_frames)[index]
        if len(idx) == 0:
            raise MotionError(self.source or self.name, "frames", "selection is empty")
        ts = self.timestamps[idx]
        lo, hi = int(ts[0]), int(ts[-1]) + int(round(1e9 / self.fps))
        texts = tuple(replace(s, start_ns=max(s.start_ns, lo), end_ns=min(s.end_ns, hi))
                      for s in self.texts if s.end_ns > lo and s.start_ns < hi)
        ref = {k: (v[idx] if np.ndim(v) and len(v) == self.n_frames else v) for k, v in self.reference_imu.items()}
        smpl = None
        if self.smpl is not None:
            smpl = {k: (v[idx] if k in ("pose", "transl") else v) for k, v in self.smpl.items()}
        return replace(self, timestamps=ts, rotations=self.rotations[idx], root_translation=self.root_translation[idx],
                       texts=texts, reference_imu=ref, smpl=smpl, loop=False)

    def with_rotations(self, rotations, root_translation, timestamps=None, **changes) -> "Motion":
        """A copy with new rotations/translation (quaternions renormalised)."""
        return replace(self, rotations=quat_normalize(rotations), root_translation=np.asarray(root_translation, float),
                       timestamps=self.timestamps if timestamps is None else timestamps, **changes)

    def summary(self) -> str:
        kinds = sorted({s.kind for s in self.texts})
        return (f"{self.name}: {self.n_frames} frames at {self.fps:g} Hz ({self.duration:.2f} s), "
                f"{len(self.joint_names)} joints ({self.skeleton}), {len(self.texts)} text spans"
                + (f" ({', '.join(kinds)})" if kinds else "")
                + (f", reference IMU: {', '.join(sorted(self.reference_imu))}" if self.reference_imu else ""))


def timestamps_from_rate(n: int, fps: float, start_ns: int = 0) -> np.ndarray:
    """(n,) int64 ns timestamps of a uniform rate."""
    return start_ns + np.round(np.arange(n) * (1e9 / fps)).astype(np.int64)


def global_from_local(parents, local_R) -> np.ndarray:
    """(T, J, 3, 3) local (parent-relative) rotations -> global, root's local being global."""
    G = np.empty_like(np.asarray(local_R, dtype=np.float64))
    for j, par in enumerate(parents):
        G[:, j] = local_R[:, j] if par < 0 else G[:, par] @ local_R[:, j]
    return G
