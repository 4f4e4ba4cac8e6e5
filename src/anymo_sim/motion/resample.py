"""Resampling and augmentation of motions: sampling at any times (cubic spline for positions,
slerp or a C² rotation spline for rotations), a new frame rate, windows, looping, left/right
mirroring and time warping. Every function returns a new Motion; text spans follow the time map."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation, RotationSpline

from .rotations import matrix_to_quat, quat_continuous, quat_normalize, quat_to_matrix
from .types import Motion, MotionError, global_from_local, timestamps_from_rate


def _slerp(q0, q1, u):
    """Slerp between (..., 4) unit quaternions at fractions u (...)."""
    dot = np.einsum("...i,...i->...", q0, q1)
    q1 = np.where(dot[..., None] < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    s = np.sin(theta)
    small = s < 1e-9
    w0 = np.where(small, 1.0 - u, np.sin((1.0 - u) * theta) / np.where(small, 1.0, s))
    w1 = np.where(small, u, np.sin(u * theta) / np.where(small, 1.0, s))
    return quat_normalize(w0[..., None] * q0 + w1[..., None] * q1)


def sample(motion: Motion, times_s, rotation: str = "slerp") -> tuple[np.ndarray, np.ndarray]:
    """Rotations (N, J, 4) and root translation (N, 3) at `times_s` (seconds since the first
    frame, within the motion). rotation: "slerp" (piecewise) or "spline" (C² cubic rotation
    spline through the frames, scipy's RotationSpline). Positions: not-a-knot cubic spline."""
    t = motion.times
    x = np.asarray(times_s, dtype=np.float64)
    if x.size and (x.min() < t[0] - 1e-9 or x.max() > t[-1] + 1e-9):
        raise ValueError(f"sample: times {x.min():.4f}..{x.max():.4f} s outside the motion's 0..{t[-1]:.4f} s")
    x = np.clip(x, t[0], t[-1])
    if motion.n_frames < 2:
        return np.repeat(motion.rotations, len(x), 0), np.repeat(motion.root_translation, len(x), 0)
    if motion.n_frames < 4:
        pos = np.stack([np.interp(x, t, motion.root_translation[:, k]) for k in range(3)], 1)
    else:
        pos = CubicSpline(t, motion.root_translation, axis=0)(x)
    q = quat_continuous(motion.rotations)
    if rotation == "slerp":
        i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, len(t) - 2)
        u = (x - t[i]) / (t[i + 1] - t[i])
        rot = _slerp(q[i], q[i + 1], np.broadcast_to(u[:, None], (len(x), q.shape[1])))
    elif rotation == "spline":
        rot = np.empty((len(x),) + q.shape[1:])
        for j in range(q.shape[1]):
            spl = RotationSpline(t, Rotation.from_matrix(quat_to_matrix(q[:, j])))
            rot[:, j] = matrix_to_quat(spl(x).as_matrix())
    else:
        raise ValueError(f"rotation: expected 'slerp' or 'spline', got {rotation!r}")
    return rot, pos


def _remap_texts(motion: Motion, new_ts: np.ndarray, old_times_of_new) -> tuple:
    """Move spans through a monotone time map given as old time (s) at each new frame."""
    if not motion.texts:
        return ()
    t0 = int(motion.timestamps[0])
    old = np.asarray(old_times_of_new, dtype=np.float64)
    new = (new_ts - new_ts[0]).astype(np.float64) * 1e-9
    out = []
    for s in motion.texts:
        a, b = (s.start_ns - t0) * 1e-9, (s.end_ns - t0) * 1e-9
        if b <= old[0] or a >= old[-1] + 1e-12:
            continue
        na, nb = np.interp([a, b], old, new, left=new[0], right=new[-1] + (new[1] - new[0] if len(new) > 1 else 0))
        out.append(replace(s, start_ns=int(new_ts[0] + round(na * 1e9)), end_ns=int(new_ts[0] + round(nb * 1e9))))
    return tuple(out)


def _rebuild(motion: Motion, rot, pos, fps, old_times, note, **changes) -> Motion:
    ts = timestamps_from_rate(len(pos), fps, int(motion.timestamps[0]))
    return replace(motion, timestamps=ts, fps=float(fps), rotations=quat_normalize(rot), root_translation=pos,
                   texts=_remap_texts(motion, ts, old_times), reference_imu={}, smpl=None,
                   notes=motion.notes + (note,), **changes)


def resample(motion: Motion, fps: float, rotation: str = "slerp") -> Motion:
    """The motion at a uniform `fps` over the same time span. Reference IMU streams and SMPL
    parameters (per source frame) are dropped; the skeleton motion is what is resampled."""
    if not fps > 0:
        raise ValueError(f"fps: expected a positive rate, got {fps}")
    n = int(np.floor(motion.times[-1] * fps + 1e-9)) + 1
    x = np.arange(n) / fps
    rot, pos = sample(motion, x, rotation)
    return _rebuild(motion, rot, pos, fps, x, f"resampled from {motion.fps:g} Hz to {fps:g} Hz ({rotation})")


def windows(motion: Motion, seconds: float, hop: float | None = None) -> list:
    """Consecutive windows of `seconds` (frames, at the motion's rate) starting every `hop`
    seconds (default: no overlap); a tail shorter than a window is dropped."""
    n = int(round(seconds * motion.fps))
    h = n if hop is None else int(round(hop * motion.fps))
    if n < 1 or h < 1:
        raise ValueError(f"windows: {seconds} s / hop {hop} s is less than one frame at {motion.fps:g} Hz")
    return [motion.frames(slice(s, s + n)) for s in range(0, motion.n_frames - n + 1, h)]


def _cross_fade(qa, pa, qb, pb) -> tuple[np.ndarray, np.ndarray]:
    """The 2h+1 frames centred on a seam, cross-faded from one cycle into the next. qa, pa: the
    last h+1 frames of a cycle (its wrap frame last), qb, pb: the first h+1 of the next, in
    the same world frame; rotations (h+1, J, 4) parent-relative (the root's global)."""
    h = len(qa) - 1
    i = np.arange(1, h + 1)[:, None]
    # Each side carries on over the seam at its own (angular) velocity, so both exist, smooth,
    # on the whole window and so does their blend (the clip's own velocity step at the wrap,
    # e.g. crawl's root sinking at 1.2 m/s into a first frame that rises, is blended away too).
    qa = np.concatenate([qa, _slerp(qa[-2], qa[-1], 1.0 + i)])
    qb = np.concatenate([_slerp(qb[0], qb[1], -i[::-1]), qb])
    pa = np.concatenate([pa, pa[-1] + i * (pa[-1] - pa[-2])])
    pb = np.concatenate([pb[0] - i[::-1] * (pb[1] - pb[0]), pb])
    # raised cosine 0 -> 1: no slope at either end, so no velocity step where the blend starts or stops
    w = (0.5 - 0.5 * np.cos(np.pi * np.arange(2 * h + 1) / (2 * h)))[:, None]
    return _slerp(qa, qb, w), pa + w * (pb - pa)


def _seam_frames(motion: Motion, Rc: np.ndarray, pc: np.ndarray, sl) -> tuple[np.ndarray, np.ndarray]:
    """Frames `sl` as the cross-fade blends them: joints' parent-relative rotations with the
    root's world rotation turned by Rc, positions p0 + pc + Rc (p - p0)."""
    p0 = motion.root_translation[0]
    L = motion.local_rotations()[sl]
    L[:, 0] = Rc @ L[:, 0]  # the root's is a world rotation: blend it as carried, not the clip's
    return matrix_to_quat(L), p0 + pc + (motion.root_translation[sl] - p0) @ Rc.T


def smooth_splice(motion: Motion, frame: int, blend_s: float = 0.2) -> Motion:
    """Cross-fade a splice inside a clip, where the whole pose jumps between `frame` and
    `frame + 1` (two takes joined): the frames before carry on over the splice at their own
    velocity, the frames after are extended back the same way, and the two are blended over
    about `blend_s` seconds, as at loop seams. Frames outside the window are unchanged."""
    n = motion.n_frames
    h = min(int(round(blend_s * motion.fps / 2)), frame, n - 2 - frame)
    if not 1 <= frame < n - 2 or h < 1:
        raise ValueError(f"smooth_splice: frame {frame} needs {blend_s} s of frames on both sides in {n} frames")
    I, zero = np.eye(3), np.zeros(3)
    qa, pa = _seam_frames(motion, I, zero, slice(frame - h + 1, frame + 1))
    # side A's continuation to frame + 1, where side B starts: the seam of the cross-fade
    qa = np.concatenate([qa, _slerp(qa[-2], qa[-1], np.full(qa.shape[1], 2.0))[None]])
    pa = np.concatenate([pa, (2 * pa[-1] - pa[-2])[None]])
    qb, pb = _seam_frames(motion, I, zero, slice(frame + 1, frame + h + 2))
    q, p = _cross_fade(qa, pa, qb, pb)
    rot, pos = motion.rotations.copy(), motion.root_translation.copy()
    win = slice(frame + 1 - h, frame + h + 2)
    rot[win], pos[win] = matrix_to_quat(global_from_local(motion.parents, quat_to_matrix(q))), p
    return replace(motion, rotations=rot, root_translation=pos, reference_imu={}, smpl=None,
                   notes=motion.notes + (f"splice after frame {frame} cross-faded over {2 * h / motion.fps:.2f} s",))


def loop(motion: Motion, seconds: float, blend_s: float = 0.2) -> Motion:
    """Repeat a looping clip to at least `seconds`. The clip's last frame is the first frame of
    the next cycle (DeepMimic 'wrap'); each cycle continues from where the last one ended: the
    root's horizontal displacement and its heading change accumulate. Clips do not close
    exactly (the wrap frame differs from the first), so each seam is cross-faded over `blend_s`
    seconds (at most half a cycle; 0: none): joints' parent-relative rotations by slerp, the
    root's rotation and position in the next cycle's carried frame."""
    if motion.n_frames < 3:
        raise MotionError(motion.source or motion.name, "frames", "a loop needs at least 3 frames")
    if not blend_s >= 0:
        raise ValueError(f"blend_s: expected seconds >= 0, got {blend_s}")
    R = motion.rotation_matrices()[:, 0]
    # heading change over one cycle: the twist about world z of the root's rotation from the
    # first frame to the last (swing-twist; well defined whichever way the root's axes point,
    # where the yaw of one projected axis is not, e.g. a crawl's body axis pointing down)
    Rr = R[-1] @ R[0].T
    dyaw = float(np.arctan2(Rr[1, 0] - Rr[0, 1], Rr[0, 0] + Rr[1, 1]))
    Rz = np.array([[np.cos(dyaw), -np.sin(dyaw), 0.0], [np.sin(dyaw), np.cos(dyaw), 0.0], [0.0, 0.0, 1.0]])
    cycle_t = motion.times[-1]
    cycles = max(1, int(np.ceil(seconds / cycle_t)))
    p0 = motion.root_translation[0]
    rots, poss, ts, carried = [], [], [], []
    Rk, pk = np.eye(3), np.zeros(3)
    Rg = motion.rotation_matrices()
    for k in range(cycles):
        sl = slice(0, motion.n_frames - 1) if k < cycles - 1 else slice(0, motion.n_frames)
        rots.append(matrix_to_quat(Rk @ Rg[sl]))
        poss.append(p0 + pk + (motion.root_translation[sl] - p0) @ Rk.T)
        ts.append(motion.timestamps[sl] - motion.timestamps[0] + int(round(k * cycle_t * 1e9)))
        carried.append((Rk, pk))
        end = (motion.root_translation[-1] - p0)
        step = end @ Rk.T
        step[2] = 0.0  # height does not accumulate
        pk = pk + step
        Rk = Rz @ Rk
    rot, pos = np.concatenate(rots), np.concatenate(poss)
    note = f"looped {cycles} cycles of {cycle_t:.3f} s"
    n = motion.n_frames - 1  # frames per cycle
    h = min(int(round(blend_s * motion.fps / 2)), n // 4)  # half the blend window, in frames
    if cycles > 1 and h > 0:
        for k in range(1, cycles):
            q, p = _cross_fade(*_seam_frames(motion, *carried[k - 1], slice(n - h, n + 1)),
                               *_seam_frames(motion, *carried[k], slice(0, h + 1)))
            win = slice(k * n - h, k * n + h + 1)
            rot[win], pos[win] = matrix_to_quat(global_from_local(motion.parents, quat_to_matrix(q))), p
        note += f", seams cross-faded over {2 * h / motion.fps:.2f} s"
    ts = motion.timestamps[0] + np.concatenate(ts)
    texts = tuple(replace(s, end_ns=int(ts[-1])) if s.kind == "label" else s for s in motion.texts)
    return replace(motion, timestamps=ts, rotations=rot, root_translation=pos, texts=texts, loop=False,
                   reference_imu={}, smpl=None, notes=motion.notes + (note,))


_SIDE = [(re.compile(p), r) for p, r in (
    (r"left", "right"), (r"right", "left"), (r"Left", "Right"), (r"Right", "Left"), (r"LEFT", "RIGHT"),
    (r"RIGHT", "LEFT"), (r"^L_", "R_"), (r"^R_", "L_"), (r"^l_", "r_"), (r"^r_", "l_"), (r"^L(?=[A-Z])", "R"),
    (r"^R(?=[A-Z])", "L"))]


def mirror_name(name: str) -> str:
    """The other side's joint name (left <-> right, L_/R_, LHipJoint/RHipJoint), or the name itself."""
    for pat, rep in _SIDE:
        if pat.search(name):
            other = pat.sub(rep, name, count=1)
            if other != name:
                return other
    return name


def _swap_words(text: str) -> str:
    return re.sub(r"\b(left|right|Left|Right)\b",
                  lambda m: {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}[m.group(1)], text)


def mirror(motion: Motion) -> Motion:
    """Left/right mirror image: joints swap sides and the motion is reflected across the vertical
    plane through the start position along the initial heading. Texts swap 'left'/'right'."""
    names = list(motion.joint_names)
    perm = np.array([names.index(mirror_name(n)) if mirror_name(n) in names else i for i, n in enumerate(names)])
    rest = motion.rest_positions()
    pairs = [(i, p) for i, p in enumerate(perm) if p != i]
    if not pairs:
        raise MotionError(motion.source or motion.name, "joint_names", "no left/right joint pairs to mirror")
    lat = sum(rest[i] - rest[p] for i, p in pairs if "eft" in names[i] or names[i][:1] in "Ll")
    n_rest = lat / np.linalg.norm(lat)  # rest-frame left-right axis
    S_r = np.eye(3) - 2.0 * np.outer(n_rest, n_rest)
    R = motion.rotation_matrices()
    side0 = R[0, 0] @ n_rest
    side0[2] = 0.0
    n_w = side0 / np.linalg.norm(side0)
    S_w = np.eye(3) - 2.0 * np.outer(n_w, n_w)
    Rm = S_w @ R[:, perm] @ S_r  # a reflection on both sides: a proper rotation again
    p0 = motion.root_translation[0]
    pos = p0 + (motion.root_translation - p0) @ S_w.T
    offsets = motion.offsets[perm] @ S_r.T
    parents = motion.parents.copy()  # the permutation swaps mirror pairs, which share a parent's pair
    new_par = np.array([-1 if motion.parents[perm[j]] < 0 else perm[motion.parents[perm[j]]] for j in range(len(names))])
    if not np.array_equal(new_par, parents):
        raise MotionError(motion.source or motion.name, "parents", "the skeleton is not left/right symmetric by name")
    texts = tuple(replace(s, text=_swap_words(s.text)) for s in motion.texts)
    return replace(motion, rotations=matrix_to_quat(Rm), root_translation=pos, offsets=offsets, texts=texts,
                   reference_imu={}, smpl=None, name=motion.name + "~mirror",
                   notes=motion.notes + ("mirrored left/right",))


def time_warp(motion: Motion, speed=1.0, *, wobble: float = 0.0, wobble_hz: float = 0.5, seed: int = 0,
              rotation: str = "slerp") -> Motion:
    """Play the motion `speed` times faster (output at the same frame rate), optionally with a
    smooth random speed variation of relative amplitude `wobble` (< 1) at about `wobble_hz`.
    The time map stays monotone; text spans move with it."""
    if not speed > 0 or not 0 <= wobble < 1:
        raise ValueError(f"time_warp: need speed > 0 and 0 <= wobble < 1, got {speed}, {wobble}")
    T_old = motion.times[-1]
    fine = np.linspace(0.0, T_old / speed * 1.5 + 1.0, 4096)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 3)
    rate = speed * (1.0 + wobble * np.mean([np.sin(2 * np.pi * wobble_hz * f * fine + p)
                                            for f, p in zip((0.7, 1.0, 1.6), phase)], axis=0))
    old_of_new = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(fine))])
    t_end = float(np.interp(T_old, old_of_new, fine))
    n = int(np.floor(t_end * motion.fps + 1e-9)) + 1
    x_new = np.arange(n) / motion.fps
    x_old = np.minimum(np.interp(x_new, fine, old_of_new), T_old)
    rot, pos = sample(motion, x_old, rotation)
    return _rebuild(motion, rot, pos, motion.fps, x_old,
                    f"time-warped: speed x{speed:g}" + (f", wobble {wobble:g} at {wobble_hz:g} Hz (seed {seed})" if wobble else ""),
                    name=motion.name + f"~x{speed:g}")
