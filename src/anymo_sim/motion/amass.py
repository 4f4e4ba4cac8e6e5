"""AMASS SMPL-H (`*_poses.npz`) and SMPL-X (`*_stageii.npz`) motions, and the SMPL-parameter
motion builder that the Nymeria SMPL fits share.

A SMPL-parameter motion keeps its parameters (`Motion.smpl`: family, full pose in the family's
joint order, transl, betas, gender) so a SMPL body can be driven without retargeting, and also
carries the 24-joint SMPL skeleton as global rotations for retargeting onto other rigs. The
skeleton's rest offsets come from the model's joints when a `SmplModel` is given, else from
`SMPL_REST_JOINTS` (an approximate neutral mean shape, enough for bone directions and leg
length). SMPL's rest pose is its canonical T-pose: y up, facing +z, the body's left at +x.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..smpl import JOINT_NAMES
from .rotations import matrix_to_quat, rotation_matrix
from .types import Motion, MotionError, global_from_local, timestamps_from_rate

SMPL_PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
#: Approximate rest joints of the SMPL neutral mean shape (canonical frame, m, rounded to 1 cm;
#: left at +x, mirror-symmetric). Only directions and the leg length are used from it.
SMPL_REST_JOINTS = np.array([
    [0.00, -0.22, 0.03], [0.07, -0.31, 0.02], [-0.07, -0.31, 0.02], [0.00, -0.11, 0.00],
    [0.10, -0.68, 0.03], [-0.10, -0.68, 0.03], [0.00, 0.02, 0.03], [0.09, -1.09, -0.03],
    [-0.09, -1.09, -0.03], [0.00, 0.07, 0.03], [0.12, -1.15, 0.10], [-0.12, -1.15, 0.10],
    [0.00, 0.29, -0.01], [0.08, 0.20, -0.01], [-0.08, 0.20, -0.01], [0.00, 0.35, 0.05],
    [0.18, 0.23, -0.02], [-0.18, 0.23, -0.02], [0.43, 0.22, -0.03], [-0.43, 0.22, -0.03],
    [0.69, 0.22, -0.05], [-0.69, 0.22, -0.05], [0.78, 0.21, -0.07], [-0.78, 0.21, -0.07],
])
AMASS_LICENSE = "AMASS licence (non-commercial research; see amass.is.tue.mpg.de) and the licence of the source mocap set"


def pose24_from_family(family: str, pose: np.ndarray) -> np.ndarray:
    """(T, 3·J_family) full pose -> (T, 72) SMPL pose; SMPL's hand joints 22/23 take the first
    joint of each hand (index1) where the family has hands."""
    if family == "smpl":
        return pose
    names = JOINT_NAMES[family]
    idx = list(range(22)) + [names.index("left_index1"), names.index("right_index1")]
    return pose.reshape(len(pose), -1, 3)[:, idx].reshape(len(pose), 72)


def smpl_motion(name, family, pose, transl, fps, *, betas=None, gender="neutral", joints=None, source="",
                license="", timestamps=None, notes=(), field_prefix="") -> Motion:
    """A Motion from SMPL-family parameters: pose (T, 3·J_family) axis-angle, transl (T, 3)."""
    pose = np.asarray(pose, dtype=np.float64)
    transl = np.asarray(transl, dtype=np.float64)
    T = len(pose)
    pose24 = pose24_from_family(family, pose)
    J = SMPL_REST_JOINTS if joints is None else np.asarray(joints, dtype=np.float64)[:24]
    offsets = J - J[np.maximum(SMPL_PARENTS, 0)]
    offsets[0] = 0.0
    G = global_from_local(SMPL_PARENTS, rotation_matrix(pose24.reshape(T, 24, 3)))
    return Motion(
        name=name, timestamps=timestamps_from_rate(T, fps) if timestamps is None else timestamps, fps=float(fps),
        joint_names=JOINT_NAMES["smpl"], parents=SMPL_PARENTS.copy(), offsets=offsets, rotations=matrix_to_quat(G),
        root_translation=transl + J[0],  # SMPL turns the root about J0: pelvis = J0 + transl
        skeleton="smpl24", source=str(source), license=license,
        smpl={"family": family, "pose": pose, "transl": transl, "gender": gender,
              "betas": None if betas is None else np.asarray(betas, dtype=np.float64)},
        notes=tuple(notes) + (() if joints is not None else
                              ("SMPL skeleton offsets from the approximate neutral template (no model given)",)),
    )


def _str(v) -> str:
    v = np.asarray(v)
    v = v.item() if v.ndim == 0 else v.ravel()[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def _array(z, key, path, shape_tail, T=None):
    if key not in z:
        raise MotionError(path, key, "missing")
    a = np.asarray(z[key])
    if not np.issubdtype(a.dtype, np.number):
        raise MotionError(path, key, f"expected numbers, got dtype {a.dtype}")
    a = a.astype(np.float64)
    want = (T if T is not None else a.shape[0] if a.ndim else -1,) + tuple(shape_tail)
    if a.shape != want or a.shape[0] == 0:
        raise MotionError(path, key, f"expected shape ({'N' if T is None else T}, {', '.join(map(str, shape_tail))}) "
                          f"with N > 0, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise MotionError(path, key, f"NaN or inf at frame {int(np.flatnonzero(~np.isfinite(a).reshape(len(a), -1).all(1))[0])}")
    return a


def is_amass_file(path) -> bool:
    """An npz holding AMASS poses (SMPL-H `poses` or SMPL-X `pose_body`); shape.npz is not."""
    path = Path(path)
    if path.suffix != ".npz" or path.name == "shape.npz":
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return "poses" in z.files or "pose_body" in z.files
    except Exception:  # unreadable files are reported when read
        return True


def read_amass(path, model=None, name: str | None = None) -> Motion:
    """Read an AMASS SMPL-H `*_poses.npz` or SMPL-X `*_stageii.npz` (z up, metres).

    model: an optional `anymo_sim.smpl.SmplModel` whose joints give the exact skeleton."""
    path = Path(path)
    try:
        z = dict(np.load(path, allow_pickle=True))
    except Exception as exc:
        raise MotionError(path, "file", f"not a readable npz ({exc})") from None
    rate_key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in z), None)
    if rate_key is None:
        raise MotionError(path, "mocap_framerate", "missing (nor 'mocap_frame_rate')")
    fps = float(np.asarray(z[rate_key]).ravel()[0])
    if not (np.isfinite(fps) and fps > 0):
        raise MotionError(path, rate_key, f"expected a positive frame rate, got {fps}")
    if "poses" in z:  # SMPL-H release
        poses = _array(z, "poses", path, (156,))
        T = len(poses)
        family, pose = "smplh", poses
    elif "pose_body" in z:  # SMPL-X release
        body = _array(z, "pose_body", path, (63,))
        T = len(body)
        root = _array(z, "root_orient", path, (3,), T)
        hands = _array(z, "pose_hand", path, (90,), T) if "pose_hand" in z else np.zeros((T, 90))
        jaw = _array(z, "pose_jaw", path, (3,), T) if "pose_jaw" in z else np.zeros((T, 3))
        eye = _array(z, "pose_eye", path, (6,), T) if "pose_eye" in z else np.zeros((T, 6))
        family, pose = "smplx", np.concatenate([root, body, jaw, eye, hands], axis=1)
    else:
        raise MotionError(path, "poses", "missing (nor SMPL-X 'pose_body'): not an AMASS motion file")
    trans = _array(z, "trans", path, (3,), T)
    betas = np.asarray(z["betas"], dtype=np.float64).ravel()[:10] if "betas" in z else None
    gender = _str(z["gender"]) if "gender" in z else "neutral"
    joints = None
    if model is not None:
        joints = model.joints_canonical
    return smpl_motion(name or path.stem, family, pose, trans, fps, betas=betas, gender=gender, joints=joints,
                       source=path, license=AMASS_LICENSE, notes=(f"AMASS {family.upper()} file, rate key {rate_key!r}",))
