"""SMPL-family bodies (SMPL, SMPL-H, SMPL-X) from model files the user brings.

Model files are read here (official `.pkl` files may hold chumpy objects, which no longer
unpickle on numpy >= 1.24 / Python >= 3.11: they are mapped to plain arrays), shaped with
the betas, and turned into a `Body` in the project's frame (z up, facing +y). Poses go
through smplx's own kinematics (`smplx.lbs`), so joint transforms match smplx exactly.

Pose-dependent blend shapes (posedirs) are not applied: the engine skins with linear blend
skinning only (they move the surface by millimetres to a few centimetres near bent joints).

SMPL's canonical frame is y up, facing +z; `CANONICAL_TO_BODY` turns it into ours. A motion's
world frame is left as the motion has it (AMASS is z up already): `skinning_matrices()`
returns matrices that take the Body's rest mesh straight to that world.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .body import SEGMENTS, Body

#: (x, y, z) canonical SMPL (y up, facing +z) -> body frame (z up, facing +y); det +1.
CANONICAL_TO_BODY = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
#: The root axis-angle that stands a y-up SMPL pose upright in a z-up world facing +y (pi about
#: (0, 1, 1)/sqrt 2, i.e. CANONICAL_TO_BODY). SMPL turns the root about the pelvis joint J0, so
#: with transl = C·J0 − J0 and a zero body pose, skinning_matrices() are identities.
STANDING_ROOT = np.pi * np.array([0.0, 1.0, 1.0]) / np.sqrt(2.0)

_BODY22 = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
_FINGERS = tuple(f"{f}{i}" for f in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3))
_HANDS = tuple(f"left_{n}" for n in _FINGERS) + tuple(f"right_{n}" for n in _FINGERS)
JOINT_NAMES = {
    "smpl": _BODY22 + ("left_hand", "right_hand"),
    "smplh": _BODY22 + _HANDS,
    "smplx": _BODY22 + ("jaw", "left_eye", "right_eye") + _HANDS,
}
_FAMILY_BY_JOINTS = {len(v): k for k, v in JOINT_NAMES.items()}

_SEGMENT_OF_JOINT = {
    "pelvis": "pelvis", "spine1": "torso", "spine2": "torso", "spine3": "torso", "neck": "neck",
    "head": "head", "jaw": "head", "left_eye": "head", "right_eye": "head",
}
for _side in ("left", "right"):
    _SEGMENT_OF_JOINT.update({
        f"{_side}_hip": f"{_side}_thigh", f"{_side}_knee": f"{_side}_shank", f"{_side}_ankle": f"{_side}_foot",
        f"{_side}_foot": f"{_side}_foot", f"{_side}_collar": "torso", f"{_side}_shoulder": f"{_side}_upper_arm",
        f"{_side}_elbow": f"{_side}_forearm", f"{_side}_wrist": f"{_side}_hand", f"{_side}_hand": f"{_side}_hand",
    })
    _SEGMENT_OF_JOINT.update({f"{_side}_{n}": f"{_side}_hand" for n in _FINGERS})

#: Sensor vertices of the research sets on the real SMPL mesh (V = 6890): left wrist, right
#: wrist, left knee, right knee, head, pelvis.
DIP_VERTICES = (1962, 5431, 1096, 4583, 412, 3021)
TRANSPOSE_VERTICES = (1961, 5424, 1176, 4662, 411, 3021)
_SIX = ("left_wrist", "right_wrist", "left_knee", "right_knee", "head", "pelvis")
_SMPL_LANDMARKS = {**{f"dip_{n}": v for n, v in zip(_SIX, DIP_VERTICES)},
                   **{f"transpose_{n}": v for n, v in zip(_SIX, TRANSPOSE_VERTICES)}}
#: smplx's keypoint vertex tables (smplx.vertex_ids) under our landmark names, by mesh size.
_KEYPOINT_NAMES = {"nose": "nose_tip", "lear": "left_ear", "rear": "right_ear", "leye": "left_eye", "reye": "right_eye",
                   "LHeel": "left_heel", "RHeel": "right_heel", "LBigToe": "left_big_toe", "RBigToe": "right_big_toe",
                   "lindex": "left_index_tip", "rindex": "right_index_tip"}


def _landmarks(n_vertices: int) -> dict[str, int]:
    """Landmarks known for the real meshes: SMPL/SMPL-H (6,890 vertices) and SMPL-X (10,475)."""
    try:
        from smplx.vertex_ids import vertex_ids
    except ImportError:
        vertex_ids = {}
    table = {6890: "smplh", 10475: "smplx"}.get(n_vertices)
    out = {_KEYPOINT_NAMES[k]: int(v) for k, v in vertex_ids.get(table, {}).items() if k in _KEYPOINT_NAMES}
    if n_vertices == 6890:
        out.update(_SMPL_LANDMARKS)
    return out


class _ChumpyStandIn:
    """Receives a pickled chumpy object's state; `as_array` recovers the numbers it holds."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})

    def as_array(self, key: str, path: Path) -> np.ndarray:
        if "x" in self.__dict__:
            return np.asarray(self.__dict__["x"])
        raise ValueError(f"{path}: field {key!r} is a derived chumpy expression, not stored numbers; "
                         "re-export the model with plain arrays")


class _ChumpyFreeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStandIn
        return super().find_class(module, name)


REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")


def load_model_file(path) -> dict:
    """Arrays of an SMPL-family model file (.pkl, chumpy or not, or .npz), as plain numpy."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SMPL model file not found: {path}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=True) as z:
            raw = {k: z[k] for k in z.files}
    elif path.suffix == ".pkl":
        with open(path, "rb") as fh:
            try:
                raw = _ChumpyFreeUnpickler(fh, encoding="latin1").load()
            except Exception as exc:
                raise ValueError(f"{path}: not a readable SMPL model pickle ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a dict of model arrays, got {type(raw).__name__}")
    else:
        raise ValueError(f"{path}: expected an SMPL-family model file ending in .pkl or .npz")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing model field(s) {', '.join(missing)}")
    out = {}
    for key, value in raw.items():
        if isinstance(value, _ChumpyStandIn):
            value = value.as_array(key, path)
        elif hasattr(value, "toarray"):  # scipy.sparse (J_regressor)
            value = value.toarray()
        out[key] = value
    return out


def _check_model(m: dict, path) -> str:
    V = np.asarray(m["v_template"]).shape[0]
    J = np.asarray(m["weights"]).shape[1] if np.ndim(m["weights"]) == 2 else -1
    shapes = {
        "v_template": ((V, 3), np.shape(m["v_template"])),
        "weights": ((V, J), np.shape(m["weights"])),
        "J_regressor": ((J, V), np.shape(m["J_regressor"])),
        "kintree_table": ((2, J), np.shape(m["kintree_table"])),
    }
    for key, (want, got) in shapes.items():
        if tuple(got) != want:
            raise ValueError(f"{path}: field {key!r} expected shape {want}, got {tuple(got)}")
    sd = np.shape(m["shapedirs"])
    if len(sd) != 3 or sd[:2] != (V, 3):
        raise ValueError(f"{path}: field 'shapedirs' expected shape ({V}, 3, B), got {sd}")
    if J not in _FAMILY_BY_JOINTS:
        raise ValueError(f"{path}: {J} joints; expected 24 (SMPL), 52 (SMPL-H) or 55 (SMPL-X)")
    return _FAMILY_BY_JOINTS[J]


class SmplModel:
    """A loaded SMPL-family model with fixed betas: the Body, and poses -> skinning matrices."""

    def __init__(self, path, betas=None, num_betas: int = 10, influences: int = 4):
        self.path = Path(path)
        m = load_model_file(self.path)
        self.family = _check_model(m, self.path)
        shapedirs = np.asarray(m["shapedirs"], dtype=np.float64)[:, :, :num_betas]
        b = np.zeros(shapedirs.shape[2]) if betas is None else np.asarray(betas, dtype=np.float64).ravel()
        if b.shape != (shapedirs.shape[2],):
            raise ValueError(f"betas: expected {shapedirs.shape[2]} values for {self.path.name}, got {b.shape}")
        self.betas = b
        v_shaped = np.asarray(m["v_template"], dtype=np.float64) + shapedirs @ b
        self.joints_canonical = np.asarray(m["J_regressor"], dtype=np.float64) @ v_shaped  # (J, 3)
        parents = np.asarray(m["kintree_table"], dtype=np.int64)[0].copy()
        parents[0] = -1
        self.parents = parents
        self.body = self._make_body(m, v_shaped, influences)

    def _make_body(self, m: dict, v_shaped: np.ndarray, K: int) -> Body:
        C = CANONICAL_TO_BODY
        names = JOINT_NAMES[self.family]
        W = np.asarray(m["weights"], dtype=np.float64)
        K = min(K, W.shape[1])
        top = np.argsort(-W, axis=1, kind="stable")[:, :K]
        w = np.take_along_axis(W, top, axis=1)
        w = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
        rest = np.tile(np.eye(4), (len(names), 1, 1))
        rest[:, :3, :3] = C  # joint frames are SMPL's canonical axes, seen in the body frame
        rest[:, :3, 3] = self.joints_canonical @ C.T
        seg_index = np.array([SEGMENTS.index(_SEGMENT_OF_JOINT[n]) for n in names], dtype=np.int16)
        V = len(v_shaped)
        return Body(
            name=f"{self.family}:{self.path.name}",
            rest_vertices=v_shaped @ C.T,
            faces=np.asarray(m["f"], dtype=np.int64),
            joint_names=names,
            parents=self.parents,
            joint_rest_transforms=rest,
            skin_joints=top.astype(np.int32),
            skin_weights=w,
            segments=seg_index[top[:, 0]],
            landmarks=_landmarks(V),
            source=f"{self.family.upper()} model file {self.path}",
            license="SMPL-family model licence of the file's provider (not redistributed)",
        )

    def global_transforms(self, pose, transl=None) -> np.ndarray:
        """(T, J*3) axis-angle pose (root first, the family's joint order) and (T, 3) translation,
        in the motion's world frame -> (T, J, 4, 4) world-from-joint, through smplx.lbs."""
        import torch
        from smplx.lbs import batch_rigid_transform, batch_rodrigues

        J = len(self.parents)
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim != 2 or pose.shape[1] != J * 3:
            raise ValueError(f"pose: expected shape (T, {J * 3}) for {self.family}, got {pose.shape}")
        T = pose.shape[0]
        transl = np.zeros((T, 3)) if transl is None else np.asarray(transl, dtype=np.float64)
        if transl.shape != (T, 3):
            raise ValueError(f"transl: expected shape ({T}, 3), got {transl.shape}")
        rot = batch_rodrigues(torch.from_numpy(pose.reshape(-1, 3))).reshape(T, J, 3, 3)
        joints = torch.from_numpy(self.joints_canonical)[None].expand(T, -1, -1)
        _, rel = batch_rigid_transform(rot, joints.contiguous(), torch.from_numpy(self.parents), dtype=torch.float64)
        A = rel.numpy()  # canonical rest -> world: A_j = G_j(t) G_j(rest)^-1 in canonical space
        A[:, :, :3, 3] += transl[:, None, :]
        # world-from-joint: G_j(t) = A_j(t) G_j(rest), with G_j(rest) in canonical space
        rest = np.tile(np.eye(4), (J, 1, 1))
        rest[:, :3, 3] = self.joints_canonical
        return A @ rest

    def skinning_matrices(self, pose, transl=None) -> np.ndarray:
        """(T, J, 4, 4) skinning matrices that take `self.body.rest_vertices` to the motion's world.

        The body's rest joint frames are C·G_canonical(rest), so with G(t) from
        global_transforms() the body's A(t) = G(t)·(C·G_rest)⁻¹ = A_canonical(t)·C⁻¹."""
        return self.body.skinning_matrices(self.global_transforms(pose, transl))


def smpl_body(path, betas=None, num_betas: int = 10) -> Body:
    """The Body of an SMPL / SMPL-H / SMPL-X model file, shaped by `betas`."""
    return SmplModel(path, betas=betas, num_betas=num_betas).body
