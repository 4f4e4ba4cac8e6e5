"""Writers of small motion files in the exact layouts of the real datasets (FORMATS.md), with
the known rotations and positions they were made from, for the motion tests."""

from __future__ import annotations

import csv
import json

import numpy as np

from anymo_sim.motion.nymeria import PARENTS, SEGMENTS
from anymo_sim.motion.rotations import axis_rotation, matrix_to_quat
from anymo_sim.motion.types import global_from_local

# XSens N-pose (all segment frames = world): facing +x, z up, the body's left at +y.
XSENS_OFFSETS = np.array([
    [0, 0, 0], [0, 0, 0.10], [0, 0, 0.10], [0, 0, 0.10], [0, 0, 0.10], [0, 0, 0.18], [0, 0, 0.10],   # .. Head
    [0, -0.03, 0.15], [0, -0.15, 0.0], [0, 0, -0.29], [0, 0, -0.26],                                 # right arm
    [0, 0.03, 0.15], [0, 0.15, 0.0], [0, 0, -0.29], [0, 0, -0.26],                                   # left arm
    [0, -0.09, 0], [0, 0, -0.44], [0, 0, -0.43], [0.13, 0, -0.06],                                   # right leg
    [0, 0.09, 0], [0, 0, -0.44], [0, 0, -0.43], [0.13, 0, -0.06],                                    # left leg
], dtype=float)
XSENS_ROOT_HEIGHT = 0.93


def xsens_walk(T: int, fps: float = 240.0):
    """A walking-like XSens motion: global rotations (T, 23, 3, 3), positions (T, 23, 3).
    The root walks along +x at 1.2 m/s; legs and arms swing in antiphase at 0.9 Hz."""
    t = np.arange(T) / fps
    ph = 2 * np.pi * 0.9 * t
    local = np.broadcast_to(np.eye(3), (T, 23, 3, 3)).copy()
    s = SEGMENTS.index
    local[:, 0] = axis_rotation("z", 0.1 * np.sin(ph))
    # flexion about the lateral axis (+y, the left): positive angle swings a hanging limb backwards... so negate
    for name, amp, sign in (("L_UpperLeg", 0.4, 1), ("R_UpperLeg", 0.4, -1), ("L_UpperArm", 0.3, -1), ("R_UpperArm", 0.3, 1)):
        local[:, s(name)] = axis_rotation("y", -sign * amp * np.sin(ph))
    for name, sign in (("L_LowerLeg", 1), ("R_LowerLeg", -1)):
        local[:, s(name)] = axis_rotation("y", 0.5 * (1 + sign * np.cos(ph)) * 0.6)
    for name in ("L_Forearm", "R_Forearm"):
        local[:, s(name)] = axis_rotation("y", -0.3 * np.ones(T))
    G = global_from_local(PARENTS, local)
    p = np.empty((T, 23, 3))
    p[:, 0] = np.stack([1.2 * t, 0 * t, XSENS_ROOT_HEIGHT + 0.02 * np.cos(2 * ph)], 1)
    for j in range(1, 23):
        p[:, j] = p[:, PARENTS[j]] + G[:, PARENTS[j]] @ XSENS_OFFSETS[j]
    return G, p


def xsens_timestamps(T: int, start_us: int = 1_690_000_000_000_000, rng=None):
    """240 Hz µs timestamps with jitter and the glitches the official loader repairs:
    a repeated timestamp followed by a double step (two bad steps) and one step 2 ms long."""
    rng = rng or np.random.default_rng(0)
    steps = 1e6 / 240 + rng.uniform(-30, 30, T - 1)
    steps[T // 3] = 0.0
    steps[T // 3 + 1] = 2e6 / 240
    steps[2 * T // 3] = 1e6 / 240 + 2000.0
    ts = start_us + np.concatenate([[0], np.cumsum(steps)])
    return np.round(ts).astype(np.int64), 3


def write_xdata_npz(path, T: int = 480, sensors: bool = True, rng=None, **override):
    """body/xdata.npz: returns the truth dict (G, p, bad quaternion frames, expected repairs)."""
    G, p = xsens_walk(T)
    q = matrix_to_quat(G) * 1.02  # slightly off unit norm, as stored values are
    q[5, 9] = 0.0                 # a dropped quaternion mid-recording
    q[0, 3] = 0.0                 # and one at frame 0
    q[200, 12] = [0.05, 0, 0, 0]
    ts, bad_steps = xsens_timestamps(T, rng=rng)
    data = {
        "timestamps_us": ts, "frameCount": np.array([T]), "frameRate": np.array([240.0]), "segmentCount": np.array([23]),
        "segment_qWXYZ": q.reshape(T, 92), "segment_tXYZ": p.reshape(T, 69),
        "tpose_segment_qWXYZ": np.tile([1.0, 0, 0, 0], 23)[None], "foot_contacts": np.zeros((T, 4), np.int8),
    }
    if sensors:
        sens = [SEGMENTS.index(n) for n in ("Pelvis", "T8", "Head", "R_Shoulder", "R_UpperArm", "R_Forearm", "R_Hand",
                                            "L_Shoulder", "L_UpperArm", "L_Forearm", "L_Hand", "R_UpperLeg", "R_LowerLeg",
                                            "R_Foot", "L_UpperLeg", "L_LowerLeg", "L_Foot")]
        data["sensor_qWXYZ"] = matrix_to_quat(G[:, sens]).reshape(T, 68)
        data["sensor_freeAcceleration"] = np.gradient(np.gradient(p[:, sens], axis=0), axis=0).reshape(T, 51) * 240.0**2
    data.update(override)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return {"G": G, "p": p, "timestamps_us": ts, "bad_steps": bad_steps, "bad_quat_frames": 3}


NARRATION_ROWS = {
    "atomic_action.csv": [("Describe my atomic actions",
                           [(100.0, 101.2, "I pick up the cup, then put it down"), (101.5, 102.9, 'I walk to the door, saying "hi"')])],
    "activity_summarization.csv": [("Describe my activity", [(100.0, 103.5, "Walking around the kitchen, tidying up")])],
    "motion_narration.csv": [("Describe my body posture", [(100.2, 101.0, "Standing, leaning forward")]),
                             ("Describe my hands/arms motion", [(100.2, 101.0, "Right hand reaches out, left hand rests")]),
                             ("Describe my legs/feet motion", [(100.2, 101.0, "Feet apart, weight on the left")]),
                             ("Describe my focus attention", [(100.2, 101.0, "The cup, then the door")])],
}


def write_narration(folder, rows=NARRATION_ROWS, outside: bool = False):
    """The three narration CSVs (csv-quoted text with commas and quotes); `outside` adds a
    span far past the end of the recording."""
    (folder / "narration").mkdir(parents=True, exist_ok=True)
    for fname, columns in rows.items():
        header = ["request_id", "gaia_id", "start_time", "end_time", "annotator", "creation_time"] + [c for c, _ in columns]
        spans = {}
        for col, items in columns:
            for a, b, text in items:
                spans.setdefault((a, b), {})[col] = text
        if outside and fname == "atomic_action.csv":
            spans[(500.0, 501.0)] = {columns[0][0]: "far past the end"}
        with open(folder / "narration" / fname, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for k, ((a, b), texts) in enumerate(sorted(spans.items())):
                w.writerow([f"req{k}", "123", a, b, "ann_7", "2023-06-07 12:00:00"] + [texts.get(c, "") for c, _ in columns])


def write_sequence(root, name="20230607_s0_james_johnson_act0_e72nhq", T=960, mvnx=False, smpl=None, **kw):
    """A Nymeria sequence folder: metadata.json, body/xdata.npz (or .mvnx), narration CSVs."""
    folder = root / name
    (folder / "body").mkdir(parents=True, exist_ok=True)
    (folder / "metadata.json").write_text(json.dumps({"sequence_name": name, "act_id": 0}))
    truth = write_xdata_mvnx(folder / "body" / "xdata.mvnx", T) if mvnx else write_xdata_npz(folder / "body" / "xdata.npz", T, **kw)
    write_narration(folder)
    if smpl is not None:
        write_smpl_fit(folder / "body" / "xdata_smpl_neutral.npz", T=T, up=smpl)
    truth["folder"] = folder
    return truth


def write_xdata_mvnx(path, T=96):
    """body/xdata.mvnx with calibration frames (skipped) and normal frames with sensor data."""
    G, p = xsens_walk(T)
    q = matrix_to_quat(G)
    fmt = lambda a: " ".join(f"{v:.6f}" for v in np.ravel(a))  # noqa: E731
    ms = np.round(np.arange(T) * 1000 / 240).astype(int)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<mvnx version="4">',
             '<subject label="s0" frameRate="240" segmentCount="23">', "<segments>"]
    lines += [f'<segment label="{n}" id="{i + 1}"/>' for i, n in enumerate(SEGMENTS)]
    lines += ["</segments>", "<frames>"]
    for kind in ("identity", "tpose"):
        lines.append(f'<frame type="{kind}"><orientation>{fmt(np.tile([1.0, 0, 0, 0], 23))}</orientation>'
                     f"<position>{fmt(np.zeros(69))}</position></frame>")
    for t in range(T):
        lines.append(f'<frame time="{ms[t]}" index="{t}" ms="{ms[t]}" tc="00:00:00:00" type="normal">'
                     f"<orientation>{fmt(q[t])}</orientation><position>{fmt(p[t])}</position>"
                     f"<sensorFreeAcceleration>{fmt(np.zeros(51))}</sensorFreeAcceleration></frame>")
    lines += ["</frames>", "</subject>", "</mvnx>"]
    path.write_text("\n".join(lines))
    return {"G": G, "p": p}


def smpl_walk(T, fps=240.0):
    """SMPL parameters of a simple walk: pose (T, 72) axis-angle in SMPL's canonical frame."""
    t = np.arange(T) / fps
    ph = 2 * np.pi * 0.9 * t
    pose = np.zeros((T, 72))
    pose[:, 1 * 3 + 0] = 0.4 * np.sin(ph)     # left hip flexion about x
    pose[:, 2 * 3 + 0] = -0.4 * np.sin(ph)
    pose[:, 4 * 3 + 0] = 0.3 * (1 + np.cos(ph))  # knees
    pose[:, 5 * 3 + 0] = 0.3 * (1 - np.cos(ph))
    pose[:, 16 * 3 + 2] = -1.2                # arms down from the T-pose (about z)
    pose[:, 17 * 3 + 2] = 1.2
    return pose, t


def write_smpl_fit(path, T=480, up="y"):
    """body/xdata_smpl_neutral.npz. up="y": the fit stands in a y-up world (root orient
    identity); up="z": the root orient stands it upright in a z-up world."""
    from anymo_sim.smpl import STANDING_ROOT

    pose, t = smpl_walk(T)
    transl = np.zeros((T, 3))
    if up == "z":
        pose[:, :3] = STANDING_ROOT
        transl[:, 1] = 1.1 * t
        transl[:, 2] = 0.9
    else:
        transl[:, 2] = 1.1 * t
        transl[:, 1] = 0.9
    np.savez(path, betas=np.zeros((T, 10)), body_pose=pose[:, 3:], global_orient=pose[:, :3], transl=transl,
             timestamps=np.round(1_690_000_000_000_000 + t * 1e6).astype(np.int64))
    return pose, transl


def write_amass(path, release="smplh", T=120, fps=120.0, **override):
    """An AMASS file of either release: SMPL-H `*_poses.npz` or SMPL-X `*_stageii.npz`."""
    from anymo_sim.smpl import STANDING_ROOT

    pose24, t = smpl_walk(T, fps)
    pose24[:, :3] = STANDING_ROOT
    trans = np.stack([0 * t, 1.1 * t, 0.9 + 0 * t], 1)
    hand_l, hand_r = np.full((T, 45), 0.05), np.full((T, 45), -0.05)
    if release == "smplh":
        data = {"poses": np.concatenate([pose24[:, :66], hand_l, hand_r], 1), "trans": trans, "betas": np.zeros(16),
                "gender": np.array(b"female"), "mocap_framerate": np.array(fps), "dmpls": np.zeros((T, 8))}
    else:
        data = {"root_orient": pose24[:, :3], "pose_body": pose24[:, 3:66], "pose_hand": np.concatenate([hand_l, hand_r], 1),
                "pose_jaw": np.zeros((T, 3)), "pose_eye": np.zeros((T, 6)), "trans": trans, "betas": np.zeros(16),
                "gender": np.array("male"), "mocap_frame_rate": np.array(fps), "surface_model_type": np.array("smplx")}
    data.update(override)
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return pose24, trans
