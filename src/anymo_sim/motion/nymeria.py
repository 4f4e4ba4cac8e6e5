"""Nymeria sequence folders (FORMATS.md): the XSens 23-segment skeleton, SMPL fits, narration.

`read_nymeria(folder)` reads `body/xdata.npz` (or streams `body/xdata.mvnx` when the npz is
missing) with the official loader's repairs, adds real XSens sensor streams when present and
the three narration CSVs as text spans. `skeleton="smpl"` reads `body/xdata_smpl_neutral.npz`
instead. Every repair and decision is reported in `Motion.notes`.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .amass import SMPL_REST_JOINTS, smpl_motion
from .rotations import Y_UP_TO_Z_UP, axis_angle_from_matrix, quat_normalize, quat_to_matrix, rotation_matrix
from .types import Motion, MotionError, TextSpan

LICENSE = "CC BY-NC 4.0 (Nymeria dataset, Meta Reality Labs)"
SEGMENTS = ("Pelvis", "L5", "L3", "T12", "T8", "Neck", "Head", "R_Shoulder", "R_UpperArm", "R_Forearm", "R_Hand",
            "L_Shoulder", "L_UpperArm", "L_Forearm", "L_Hand", "R_UpperLeg", "R_LowerLeg", "R_Foot", "R_Toe",
            "L_UpperLeg", "L_LowerLeg", "L_Foot", "L_Toe")
PARENTS = np.array([-1, 0, 1, 2, 3, 4, 5, 4, 7, 8, 9, 4, 11, 12, 13, 0, 15, 16, 17, 0, 19, 20, 21])
SENSORS = ("Pelvis", "T8", "Head", "RightShoulder", "RightUpperArm", "RightForeArm", "RightHand", "LeftShoulder",
           "LeftUpperArm", "LeftForeArm", "LeftHand", "RightUpperLeg", "RightLowerLeg", "RightFoot", "LeftUpperLeg",
           "LeftLowerLeg", "LeftFoot")
NOMINAL_FPS = 240.0
STEP_TOLERANCE_US = 1000.0  # official loader: steps off the nominal by more than 1 ms are reset
MAX_DRIFT_US = 10_000.0     # ...and the accumulated correction may not exceed 10 ms

#: narration file -> (text column -> span kind)
NARRATION = {
    "atomic_action.csv": {"Describe my atomic actions": "atomic_action"},
    "activity_summarization.csv": {"Describe my activity": "activity"},
    "motion_narration.csv": {"Describe my body posture": "body_posture",
                             "Describe my hands/arms motion": "arms_motion",
                             "Describe my legs/feet motion": "legs_motion",
                             "Describe my focus attention": "focus_attention"},
}
_SEQ_NAME = re.compile(r"^\d{8}_s\d+_.+_act\d+_[0-9a-z]+$")


def is_sequence(folder) -> bool:
    body = Path(folder) / "body"
    return any((body / f).is_file() for f in ("xdata.npz", "xdata.mvnx", "xdata_smpl_neutral.npz"))


# --------------------------------------------------------------------------- repairs
def repair_timestamps(ts_us, fps: float, path) -> tuple[np.ndarray, int]:
    """Reset steps further than 1 ms from 1e6/fps µs to the nominal step; fail if that moves the
    clock by more than 10 ms in total. Returns (int64 µs, frames touched)."""
    ts = np.asarray(ts_us, dtype=np.float64)
    nominal = 1e6 / fps
    steps = np.diff(ts)
    bad = np.abs(steps - nominal) > STEP_TOLERANCE_US
    fixed = np.where(bad, nominal, steps)
    out = ts[0] + np.concatenate([[0.0], np.cumsum(fixed)])
    drift = np.abs(out - ts).max() if len(ts) else 0.0
    if drift > MAX_DRIFT_US:
        raise MotionError(path, "timestamps_us", f"repairing {int(bad.sum())} bad steps moves the clock by "
                          f"{drift / 1000:.1f} ms (> {MAX_DRIFT_US / 1000:g} ms allowed); the timing is broken")
    return np.round(out).astype(np.int64), int(bad.sum())


def repair_quaternions(q) -> tuple[np.ndarray, int]:
    """(T, S, 4): quaternions with norm < 0.1 take the previous frame's (identity at frame 0),
    then all are normalised. Returns (quaternions, frames touched)."""
    q = np.array(q, dtype=np.float64, copy=True)
    small = np.linalg.norm(q, axis=-1) < 0.1
    if small[0].any():
        q[0, small[0]] = (1.0, 0.0, 0.0, 0.0)
    for t in np.flatnonzero(small[1:].any(axis=1)) + 1:
        q[t, small[t]] = q[t - 1, small[t]]
    return quat_normalize(q), int(small.any(axis=1).sum())


# --------------------------------------------------------------------------- XSens skeleton
def _xsens_motion(name, ts_ns, fps, q, pos, path, notes, reference) -> Motion:
    R = quat_to_matrix(q)
    # rest offsets: each segment's position in its parent's frame, constant for the rigid MVN model
    off = np.zeros((len(SEGMENTS), 3))
    for j, par in enumerate(PARENTS):
        if par >= 0:
            off[j] = np.median(np.einsum("tba,tb->ta", R[:, par], pos[:, j] - pos[:, par]), axis=0)
    return Motion(name=name, timestamps=ts_ns, fps=fps, joint_names=SEGMENTS, parents=PARENTS.copy(), offsets=off,
                  rotations=q, root_translation=pos[:, 0], skeleton="xsens23", source=str(path), license=LICENSE,
                  reference_imu=reference, notes=tuple(notes))


def _npz_field(z, key, path, width, T=None, optional=False):
    if key not in z:
        if optional:
            return None
        raise MotionError(path, key, "missing")
    a = np.asarray(z[key], dtype=np.float64)
    n = T if T is not None else len(a)
    if a.ndim == 3 and a.shape[1] * a.shape[2] == width:
        a = a.reshape(len(a), width)
    if a.shape != (n, width) or n == 0:
        raise MotionError(path, key, f"expected shape ({'N' if T is None else T}, {width}) with N > 0, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise MotionError(path, key, f"NaN or inf at frame {int(np.flatnonzero(~np.isfinite(a).all(1))[0])}")
    return a


def read_xdata_npz(path, name=None) -> Motion:
    path = Path(path)
    try:
        z = dict(np.load(path, allow_pickle=False))
    except Exception as exc:
        raise MotionError(path, "file", f"not a readable npz ({exc})") from None
    S = int(np.asarray(z.get("segmentCount", [23])).ravel()[0])
    if S != 23:
        raise MotionError(path, "segmentCount", f"expected 23 XSens segments, got {S}")
    if "timestamps_us" not in z:
        raise MotionError(path, "timestamps_us", "missing")
    ts = np.asarray(z["timestamps_us"]).ravel()
    if len(ts) == 0:
        raise MotionError(path, "timestamps_us", "zero-length recording")
    if not np.all(np.isfinite(ts)):
        raise MotionError(path, "timestamps_us", "NaN or inf")
    T = len(ts)
    fps = float(np.asarray(z.get("frameRate", [NOMINAL_FPS])).ravel()[0])
    if not (np.isfinite(fps) and fps > 0):
        raise MotionError(path, "frameRate", f"expected a positive rate, got {fps}")
    if "frameCount" in z and int(np.asarray(z["frameCount"]).ravel()[0]) != T:
        raise MotionError(path, "frameCount", f"says {int(np.asarray(z['frameCount']).ravel()[0])}, timestamps_us has {T}")
    q = _npz_field(z, "segment_qWXYZ", path, 92, T).reshape(T, 23, 4)
    pos = _npz_field(z, "segment_tXYZ", path, 69, T).reshape(T, 23, 3)
    ts_us, n_t = repair_timestamps(ts, fps, path)
    q, n_q = repair_quaternions(q)
    notes = [f"timestamps: {n_t} of {T - 1} frame steps were off the nominal {1e6 / fps:.1f} µs by > 1 ms and were reset",
             f"quaternions: {n_q} frames had a segment quaternion with norm < 0.1, replaced by the previous frame's"]
    reference = {}
    sq = _npz_field(z, "sensor_qWXYZ", path, 17 * 4, T, optional=True)
    sa = _npz_field(z, "sensor_freeAcceleration", path, 17 * 3, T, optional=True)
    if sq is not None:
        reference["xsens_sensor_orientation"], _ = repair_quaternions(sq.reshape(T, 17, 4))
    if sa is not None:
        reference["xsens_free_acceleration"] = sa.reshape(T, 17, 3)
    if reference:
        reference["xsens_sensor_names"] = SENSORS
        notes.append("real XSens sensor streams: " + ", ".join(k for k in reference if k != "xsens_sensor_names"))
    return _xsens_motion(name or path.parent.parent.name, ts_us * 1000, fps, q, pos, path, notes, reference)


def read_xdata_mvnx(path, name=None) -> Motion:
    """Stream an MVNX file: frames of type 'normal' only (calibration poses are skipped)."""
    path = Path(path)
    fps, ms, quats, poss, accs, sors = None, [], [], [], [], []
    segs = []

    def numbers(el, n, what, index):
        vals = np.array(el.text.split(), dtype=np.float64) if el is not None and el.text else np.zeros(0)
        if len(vals) != n:
            raise MotionError(path, what, f"frame {index}: expected {n} numbers, got {len(vals)}")
        return vals

    try:
        for _, el in ET.iterparse(path, events=("end",)):
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "segment" and el.get("label"):
                segs.append(el.get("label"))
            elif tag == "subject":
                fps = float(el.get("frameRate", "nan"))
            elif tag == "frame":
                if el.get("type", "normal") == "normal":
                    kids = {c.tag.rsplit("}", 1)[-1]: c for c in el}
                    idx = el.get("index", "?")
                    ms.append(float(el.get("ms", "nan")))
                    quats.append(numbers(kids.get("orientation"), 92, "orientation", idx))
                    poss.append(numbers(kids.get("position"), 69, "position", idx))
                    if "sensorFreeAcceleration" in kids:
                        accs.append(numbers(kids["sensorFreeAcceleration"], 51, "sensorFreeAcceleration", idx))
                    if "sensorOrientation" in kids:
                        sors.append(numbers(kids["sensorOrientation"], 68, "sensorOrientation", idx))
                el.clear()  # streamed: keep memory flat however long the file
    except ET.ParseError as exc:
        raise MotionError(path, "xml", f"not well-formed ({exc})") from None
    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise MotionError(path, "subject.frameRate", "missing or not a positive number")
    if not quats:
        raise MotionError(path, "frame", "no frames of type 'normal'")
    if segs and tuple(segs[:23]) != SEGMENTS and len(segs) != 23:
        raise MotionError(path, "segments", f"expected the 23 XSens segments, got {len(segs)}")
    ms_arr = np.array(ms)
    if not np.all(np.isfinite(ms_arr)):
        raise MotionError(path, "frame.ms", "missing or non-numeric")
    T = len(quats)
    ts_us, n_t = repair_timestamps(ms_arr * 1000.0, fps, path)
    q, n_q = repair_quaternions(np.array(quats).reshape(T, 23, 4))
    reference = {}
    if len(accs) == T:
        reference["xsens_free_acceleration"] = np.array(accs).reshape(T, 17, 3)
    if len(sors) == T:
        reference["xsens_sensor_orientation"], _ = repair_quaternions(np.array(sors).reshape(T, 17, 4))
    if reference:
        reference["xsens_sensor_names"] = SENSORS
    notes = ["read from xdata.mvnx (no xdata.npz)",
             f"timestamps: {n_t} of {T - 1} frame steps reset to the nominal step",
             f"quaternions: {n_q} frames repaired (norm < 0.1)"]
    return _xsens_motion(name or path.parent.parent.name, ts_us * 1000, fps, q, np.array(poss).reshape(T, 23, 3),
                         path, notes, reference)


# --------------------------------------------------------------------------- SMPL fits
def read_smpl_fit(path, name=None, model=None) -> Motion:
    """body/xdata_smpl_neutral.npz. The up axis is decided from the data: the head-minus-feet
    direction of the posed skeleton; y-up fits are turned to z up (global_orient and
    transl' = R(transl + J0) − J0)."""
    path = Path(path)
    try:
        z = dict(np.load(path, allow_pickle=False))
    except Exception as exc:
        raise MotionError(path, "file", f"not a readable npz ({exc})") from None
    if "timestamps" not in z:
        raise MotionError(path, "timestamps", "missing")
    ts = np.asarray(z["timestamps"], dtype=np.float64).ravel()
    T = len(ts)
    if T == 0:
        raise MotionError(path, "timestamps", "zero-length")
    go = _npz_field(z, "global_orient", path, 3, T)
    bp = _npz_field(z, "body_pose", path, 69, T)
    tr = _npz_field(z, "transl", path, 3, T)
    betas = np.asarray(z["betas"], dtype=np.float64) if "betas" in z else None
    fps = 1e6 / float(np.median(np.diff(ts))) if T > 1 else NOMINAL_FPS
    ts_us, n_t = repair_timestamps(ts, fps, path)
    joints = model.joints_canonical if model is not None else SMPL_REST_JOINTS
    probe = smpl_motion("probe", "smpl", np.concatenate([go, bp], 1), tr, fps, joints=joints)
    p = probe.joint_positions()
    head, feet = p[:, 15], p[:, [10, 11]].mean(axis=1)
    up = np.median(head - feet, axis=0)
    up /= np.linalg.norm(up)
    notes = [f"SMPL fit at {fps:.1f} Hz; timestamps: {n_t} steps reset"]
    if up[2] > 0.8:
        notes.append(f"up axis: z (median head-minus-feet direction {np.round(up, 2).tolist()}); nothing applied")
    elif up[1] > 0.8:
        R = Y_UP_TO_Z_UP
        go = axis_angle_from_matrix(R @ rotation_matrix(go))
        tr = (tr + joints[0]) @ R.T - joints[0]
        notes.append(f"up axis: y (median head-minus-feet direction {np.round(up, 2).tolist()}); turned to z up")
    else:
        raise MotionError(path, "global_orient", f"cannot tell the up axis: median head-minus-feet direction "
                          f"{np.round(up, 2).tolist()} is neither +z nor +y")
    return smpl_motion(name or path.parent.parent.name, "smpl", np.concatenate([go, bp], 1), tr, fps,
                    betas=None if betas is None else np.median(betas.reshape(-1, betas.shape[-1]), axis=0),
                    joints=None if model is None else joints, source=path, license=LICENSE,
                    timestamps=ts_us * 1000, notes=notes)


# --------------------------------------------------------------------------- narration
def read_narration(folder, start_ns: int, end_ns: int, offset_s: float = 0.0) -> tuple[list, list]:
    """Spans from the narration CSVs. Their clock is the head Aria device's, which cannot be
    converted here: the earliest span is anchored at the body start + offset_s, durations and
    gaps are kept, spans are marked approximate, and spans outside the body recording are
    dropped (counted in the notes). Returns (spans, notes)."""
    folder = Path(folder)
    rows = []  # (file, start, end, kind, text)
    for fname, columns in NARRATION.items():
        path = folder / "narration" / fname
        if not path.is_file():
            continue
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                header = reader.fieldnames or []
                for col in ("start_time", "end_time"):
                    if col not in header:
                        raise MotionError(path, col, f"column missing (columns: {', '.join(header) or 'none'})")
                texts = [c for c in columns if c in header]
                if not texts:
                    raise MotionError(path, " / ".join(columns), "no text column found")
                for i, row in enumerate(reader, start=2):
                    try:
                        a, b = float(row["start_time"]), float(row["end_time"])
                    except (TypeError, ValueError):
                        raise MotionError(path, "start_time/end_time", f"line {i}: not numbers "
                                          f"({row.get('start_time')!r}, {row.get('end_time')!r})") from None
                    if not (np.isfinite(a) and np.isfinite(b)) or b < a:
                        raise MotionError(path, "start_time/end_time", f"line {i}: bad interval [{a}, {b}]")
                    for col in texts:
                        text = (row.get(col) or "").strip()
                        if text:
                            rows.append((a, b, columns[col], text))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise MotionError(path, "csv", f"unreadable ({exc})") from None
    if not rows:
        return [], []
    t0 = min(r[0] for r in rows)
    spans, dropped = [], 0
    for a, b, kind, text in sorted(rows):
        s = start_ns + int(round((a - t0 + offset_s) * 1e9))
        e = start_ns + int(round((b - t0 + offset_s) * 1e9))
        if s < start_ns or e > end_ns:
            dropped += 1
            continue
        spans.append(TextSpan(s, e, kind, text, approximate=True))
    notes = [f"narration: {len(spans)} spans anchored at the body start + {offset_s:g} s (approximate: the "
             f"head-device clock is not converted)" + (f"; {dropped} spans outside the body recording dropped" if dropped else "")]
    return spans, notes


# --------------------------------------------------------------------------- sequence
def read_nymeria(folder, skeleton: str = "xsens", narration_offset_s: float = 0.0, model=None) -> Motion:
    """One Nymeria sequence folder -> Motion (XSens skeleton, or the SMPL fit with skeleton="smpl")."""
    from dataclasses import replace

    folder = Path(folder)
    body = folder / "body"
    name = folder.name
    if skeleton == "xsens":
        if (body / "xdata.npz").is_file():
            m = read_xdata_npz(body / "xdata.npz", name)
        elif (body / "xdata.mvnx").is_file():
            m = read_xdata_mvnx(body / "xdata.mvnx", name)
        else:
            raise MotionError(folder, "body/xdata.npz", "missing (and no body/xdata.mvnx)")
    elif skeleton == "smpl":
        if not (body / "xdata_smpl_neutral.npz").is_file():
            raise MotionError(folder, "body/xdata_smpl_neutral.npz", "missing")
        m = read_smpl_fit(body / "xdata_smpl_neutral.npz", name, model=model)
    else:
        raise ValueError(f"skeleton: expected 'xsens' or 'smpl', got {skeleton!r}")
    end = int(m.timestamps[-1]) + int(round(1e9 / m.fps))
    spans, notes = read_narration(folder, int(m.timestamps[0]), end, narration_offset_s)
    if not _SEQ_NAME.match(name):
        notes.append(f"folder name {name!r} does not follow <date>_s<session>_<name>_act<k>_<uid>")
    return replace(m, texts=tuple(spans), notes=m.notes + tuple(notes), source=str(folder))
