"""Retargeting a Motion onto a Body's rig: world-from-joint transforms G (T, J, 4, 4) for
`body.skinning_matrices(G)` and the engine.

Method (docs/motions.md):
1. A joint map says which source joint drives which target joint. The default comes from the
   role tables below (one per skeleton family); users pass their own {target: source} dict or
   a YAML file of one, which replaces or extends the default.
2. Rest-pose alignment. Both skeletons' rest poses are first brought to face the same way (the
   rotation F that best aligns the mapped source rest joints with the target's, Kabsch). Then
   for each mapped target joint j, the directions from j to its nearest mapped descendants in
   the target rest pose are matched to the same directions in the source rest pose (smallest
   rotation for one child, Kabsch for several), giving a rest correction A_j. The target
   rotation is R_j(t) = R_src(t) · A_jᵀ · R_j(rest): every mapped bone then points where the
   source bone points, whatever the two rest poses (T-pose, A-pose, arms down) look like.
   Joints without a child in the map keep the correction of their nearest mapped ancestor;
   unmapped target joints keep their rest rotation relative to their parent.
3. Root height scaling: the source root path is scaled by the ratio of the two rest heights of
   the root above the lowest mapped joint (leg length), with the floor at z = 0 in both.
SMPL-parameter motions on a SMPL body skip all this: the body's own kinematics is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..body import Body
from ..synthetic import rotation_matrix
from .rotations import best_rotation, rotation_between
from .types import Motion

#: Joint roles -> joint names, per skeleton family. The default map pairs equal roles.
ROLES = {
    # LowerBack is left to follow Hips: its short bone leans 27° back in the MakeHuman rig, and
    # matching it to a source's upright lumbar bone would tip the whole pelvis forward
    "cmu": {"pelvis": "Hips", "spine_mid": "Spine", "chest": "Spine1", "neck": "Neck",
            "head": "Head", "l_collar": "LeftShoulder", "l_shoulder": "LeftArm", "l_elbow": "LeftForeArm",
            "l_wrist": "LeftHand", "l_hip": "LeftUpLeg", "l_knee": "LeftLeg", "l_ankle": "LeftFoot",
            "l_toe": "LeftToeBase", "r_collar": "RightShoulder", "r_shoulder": "RightArm", "r_elbow": "RightForeArm",
            "r_wrist": "RightHand", "r_hip": "RightUpLeg", "r_knee": "RightLeg", "r_ankle": "RightFoot",
            "r_toe": "RightToeBase"},
    "smpl24": {"pelvis": "pelvis", "spine_low": "spine1", "spine_mid": "spine2", "chest": "spine3", "neck": "neck",
               "head": "head"},
    "xsens23": {"pelvis": "Pelvis", "spine_low": "L3", "spine_mid": "T12", "chest": "T8", "neck": "Neck",
                "head": "Head"},
    "deepmimic": {"pelvis": "root", "spine_mid": "chest", "neck": "neck", "head": "head"},
}
for _s, _side in (("l", "left"), ("r", "right")):
    ROLES["smpl24"].update({f"{_s}_collar": f"{_side}_collar", f"{_s}_shoulder": f"{_side}_shoulder",
                            f"{_s}_elbow": f"{_side}_elbow", f"{_s}_wrist": f"{_side}_wrist", f"{_s}_hip": f"{_side}_hip",
                            f"{_s}_knee": f"{_side}_knee", f"{_s}_ankle": f"{_side}_ankle", f"{_s}_toe": f"{_side}_foot"})
    X = _s.upper()
    ROLES["xsens23"].update({f"{_s}_collar": f"{X}_Shoulder", f"{_s}_shoulder": f"{X}_UpperArm",
                             f"{_s}_elbow": f"{X}_Forearm", f"{_s}_wrist": f"{X}_Hand", f"{_s}_hip": f"{X}_UpperLeg",
                             f"{_s}_knee": f"{X}_LowerLeg", f"{_s}_ankle": f"{X}_Foot", f"{_s}_toe": f"{X}_Toe"})
    ROLES["deepmimic"].update({f"{_s}_shoulder": f"{_side}_shoulder", f"{_s}_elbow": f"{_side}_elbow",
                               f"{_s}_wrist": f"{_side}_wrist", f"{_s}_hip": f"{_side}_hip", f"{_s}_knee": f"{_side}_knee",
                               f"{_s}_ankle": f"{_side}_ankle", f"{_s}_toe": f"{_side}_toe"})

#: Common BVH spellings (lower case, without '_', '-', ' ' and a 'mixamorig:'-style prefix) -> role.
BVH_ALIASES = {
    "hips": "pelvis", "pelvis": "pelvis", "root": "pelvis",
    "lowerback": "spine_low", "spine": "spine_mid", "spine1": "chest", "chest": "chest", "spine2": "chest",
    "upperchest": "chest", "neck": "neck", "neck1": None, "head": "head",
}
for _s, _side in (("l", "left"), ("r", "right")):
    for role, spellings in {"collar": ("shoulder", "clavicle", "collar"), "shoulder": ("arm", "upperarm", "humerus"),
                            "elbow": ("forearm", "lowerarm", "elbow", "radius"), "wrist": ("hand", "wrist"),
                            "hip": ("upleg", "upperleg", "thigh", "hip", "femur"),
                            "knee": ("leg", "lowerleg", "shin", "knee", "tibia", "calf"),
                            "ankle": ("foot", "ankle"), "toe": ("toebase", "toe", "toes")}.items():
        for sp in spellings:
            for prefix in (_side, _s):
                BVH_ALIASES[prefix + sp] = f"{_s}_{role}"

#: Which role table a Body uses, by its name prefix.
BODY_ROLES = {"makehuman-cmu": "cmu", "smpl": "smpl24", "smplh": "smpl24", "smplx": "smpl24"}


def _norm(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower().replace("_", "").replace("-", "").replace(" ", "")


def _roles_by_name(names) -> dict:
    """role -> the first joint whose name is a common spelling of it (BVH_ALIASES)."""
    roles = {}
    for n in names:
        role = BVH_ALIASES.get(_norm(n))
        if role and role not in roles:
            roles[role] = n
    return roles


def source_roles(motion: Motion) -> dict:
    """role -> source joint name, from the motion's skeleton family (BVH: by common names)."""
    return dict(ROLES[motion.skeleton]) if motion.skeleton in ROLES else _roles_by_name(motion.joint_names)


def body_roles(body: Body) -> dict:
    family = BODY_ROLES.get(body.name.split(":", 1)[0])
    return dict(ROLES[family]) if family else _roles_by_name(body.joint_names)


def load_joint_map(spec) -> dict:
    """A {target joint: source joint} map from a dict or a YAML/JSON file of one."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {str(k): (None if v is None else str(v)) for k, v in spec.items()}
    import yaml

    path = Path(spec)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: joint map unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: joint map: expected a mapping of target joint -> source joint")
    return load_joint_map(data)


def joint_map(motion: Motion, body: Body, user=None) -> dict:
    """{target joint: source joint}: the role tables' pairs, then the user's map on top (a
    value of None removes a pair). Unknown names raise a KeyError naming them."""
    src, tgt = source_roles(motion), body_roles(body)
    m = {tgt[r]: src[r] for r in tgt if r in src}
    for k, v in load_joint_map(user).items():
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v
    bad_t = [k for k in m if k not in body.joint_names]
    bad_s = [v for v in m.values() if v not in motion.joint_names]
    if bad_t or bad_s:
        raise KeyError(f"joint map: unknown target joint(s) {bad_t} for body {body.name!r}; unknown source joint(s) "
                       f"{bad_s} for motion {motion.name!r} ({motion.skeleton})")
    root = body.joint_names[0]
    if root not in m:
        raise KeyError(f"joint map: the body's root joint {root!r} must be mapped (motion {motion.name!r}, "
                       f"skeleton {motion.skeleton}); pass a map")
    return m


@dataclass(frozen=True)
class Retargeted:
    """G (T, J, 4, 4) world-from-joint transforms of the body's rig; the map and the alignment used."""

    G: np.ndarray
    fps: float
    timestamps: np.ndarray
    joint_map: dict
    scale: float
    facing: np.ndarray
    body_name: str
    motion_name: str
    ground_shift: float = 0.0

    def skinning_matrices(self, body: Body) -> np.ndarray:
        return body.skinning_matrices(self.G)

    @property
    def positions(self) -> np.ndarray:
        return self.G[:, :, :3, 3]

    def to_motion(self, body: Body, **fields) -> Motion:
        """The retargeted motion as a Motion on the body's rig (rest pose = the body's rest pose),
        e.g. to write it as BVH."""
        from .rotations import matrix_to_quat

        Rrest = body.joint_rest_transforms[:, :3, :3]
        P = body.joint_rest_transforms[:, :3, 3]
        offsets = P - P[np.maximum(body.parents, 0)]
        offsets[0] = 0.0
        family = BODY_ROLES.get(body.name.split(":", 1)[0], "generic")
        args = dict(name=self.motion_name, timestamps=self.timestamps, fps=self.fps, joint_names=tuple(body.joint_names),
                    parents=np.asarray(body.parents), offsets=offsets,
                    rotations=matrix_to_quat(self.G[:, :, :3, :3] @ np.swapaxes(Rrest, -1, -2)),
                    root_translation=self.G[:, 0, :3, 3], skeleton=family, source=f"retargeted onto {body.name}")
        args.update(fields)
        return Motion(**args)


def _transforms(R, p) -> np.ndarray:
    G = np.zeros(R.shape[:2] + (4, 4))
    G[..., :3, :3], G[..., :3, 3], G[..., 3, 3] = R, p, 1.0
    return G


def _is_ancestor(parents, a: int, d: int) -> bool:
    while d >= 0:
        if d == a:
            return True
        d = int(parents[d])
    return False


def retarget(motion: Motion, body: Body, joint_map_spec=None, *, scale: float | None = None,
             floor: str = "feet") -> Retargeted:
    """Drive `body`'s rig with `motion`; see the module docstring.

    floor="feet" lifts or lowers the whole motion (by at most 5 cm) so that the toe joints'
    lowest 10 % of heights match their height when the body stands in its rest pose: the two
    skeletons' feet differ in shape, so scaled source heights leave the feet a little off the
    floor. floor="source" keeps the scaled source heights."""
    if floor not in ("feet", "source"):
        raise ValueError(f"floor: expected 'feet' or 'source', got {floor!r}")
    if motion.smpl is not None and body.name.split(":", 1)[0] in ("smpl", "smplh", "smplx") and joint_map_spec is None:
        return _smpl_direct(motion, body)
    jm = joint_map(motion, body, joint_map_spec)
    tj = {n: i for i, n in enumerate(body.joint_names)}
    sj = {n: i for i, n in enumerate(motion.joint_names)}
    tpar, spar = body.parents, motion.parents
    Pt = body.joint_rest_transforms[:, :3, 3]
    Rt_rest = body.joint_rest_transforms[:, :3, :3]
    Ps = motion.rest_positions()
    mapped_t = np.array([tj[k] for k in jm])
    mapped_s = np.array([sj[v] for v in jm.values()])
    src_of = {tj[k]: sj[v] for k, v in jm.items()}

    # facing: align the mapped rest joints (about their roots) as a whole
    F = best_rotation(Ps[mapped_s] - Ps[mapped_s].mean(0), Pt[mapped_t] - Pt[mapped_t].mean(0))

    # nearest mapped descendants of each target joint
    J = len(body.joint_names)
    children = [[] for _ in range(J)]
    for c in range(1, J):
        children[tpar[c]].append(c)

    def mapped_below(j):
        out = []
        for c in children[j]:
            out.extend([c] if c in src_of else mapped_below(c))
        return out

    A = {}
    for j in range(J):  # parents before children: an ancestor's correction is ready
        if j not in src_of:
            continue
        s = src_of[j]
        u, v = [], []
        for d in mapped_below(j):
            sd = src_of[d]
            if not _is_ancestor(spar, s, sd) or sd == s:
                continue
            a, b = Pt[d] - Pt[j], F @ (Ps[sd] - Ps[s])
            if np.linalg.norm(a) > 1e-6 and np.linalg.norm(b) > 1e-6:
                u.append(a / np.linalg.norm(a))
                v.append(b / np.linalg.norm(b))
        if len(u) == 1:
            A[j] = rotation_between(v[0], u[0]) @ F
        elif len(u) > 1:
            A[j] = best_rotation(np.array(v), np.array(u)) @ F
        else:  # a leaf of the map: keep the nearest mapped ancestor's correction
            a = tpar[j]
            while a >= 0 and a not in A:
                a = tpar[a]
            A[j] = A[a] if a >= 0 else F

    Rs = motion.rotation_matrices()
    T = motion.n_frames
    Rw = np.empty((T, J, 3, 3))
    pw = np.empty((T, J, 3))
    if scale is None:
        up_t = np.array([0.0, 0.0, 1.0])
        h_t = Pt[mapped_t[0]] @ up_t - (Pt[mapped_t] @ up_t).min()
        h_s = (F @ Ps[mapped_s[0]]) @ up_t - (Ps[mapped_s] @ F.T @ up_t).min()
        scale = float(h_t / h_s) if h_s > 1e-6 else 1.0
    root_s = src_of[0]
    src_root = motion.root_translation if root_s == 0 else motion.joint_positions()[:, root_s]
    for j in range(J):
        par = tpar[j]
        if j in src_of:
            Rw[:, j] = Rs[:, src_of[j]] @ A[j].T @ Rt_rest[j]
        else:
            Rw[:, j] = Rw[:, par] @ (Rt_rest[par].T @ Rt_rest[j])
        if par < 0:
            pw[:, j] = scale * src_root
        else:
            pw[:, j] = pw[:, par] + Rw[:, par] @ (Rt_rest[par].T @ (Pt[j] - Pt[par]))
    shift = 0.0
    troles = body_roles(body)
    feet = [tj[troles[r]] for r in ("l_toe", "r_toe") if r in troles and troles[r] in jm]
    if floor == "feet" and feet:
        shift = float(Pt[feet, 2].min() - np.percentile(pw[:, feet, 2].min(axis=1), 10))
        shift = shift if abs(shift) <= 0.05 else 0.0
        pw[..., 2] += shift
    return Retargeted(G=_transforms(Rw, pw), fps=motion.fps, timestamps=motion.timestamps, joint_map=jm, scale=scale, facing=F,
                      body_name=body.name, motion_name=motion.name, ground_shift=shift)


def _smpl_direct(motion: Motion, body: Body) -> Retargeted:
    """SMPL parameters on a SMPL-family body: SMPL's own kinematics (what smplx.lbs computes),
    with the joints read from the body (canonical = C⁻¹ · body rest joints)."""
    from ..smpl import CANONICAL_TO_BODY, JOINT_NAMES
    from .amass import pose24_from_family

    family = body.name.split(":", 1)[0]
    p = motion.smpl
    pose = p["pose"]
    if p["family"] != family:
        if family != "smpl":
            raise ValueError(f"motion {motion.name!r} holds {p['family']} parameters; body {body.name!r} is {family}: "
                             "use an SMPL (24-joint) body or retarget with an explicit joint map")
        pose = pose24_from_family(p["family"], pose)
    J = len(JOINT_NAMES[family])
    T = len(pose)
    Jc = body.joint_rest_transforms[:, :3, 3] @ CANONICAL_TO_BODY  # row-vector form of C^T p
    local = rotation_matrix(pose.reshape(T, J, 3))
    Rw = np.empty_like(local)
    pw = np.empty((T, J, 3))
    for j, par in enumerate(body.parents):
        if par < 0:
            Rw[:, j], pw[:, j] = local[:, j], Jc[j] + p["transl"]
        else:
            Rw[:, j] = Rw[:, par] @ local[:, j]
            pw[:, j] = pw[:, par] + Rw[:, par] @ (Jc[j] - Jc[par])
    return Retargeted(G=_transforms(Rw, pw), fps=motion.fps, timestamps=motion.timestamps, joint_map={n: n for n in body.joint_names},
                      scale=1.0, facing=np.eye(3), body_name=body.name, motion_name=motion.name)


def bone_direction_errors(motion: Motion, body: Body, result: Retargeted) -> dict:
    """Angle (degrees, per frame) between each mapped bone in the source and in the retargeted
    rig: bone = a mapped joint to its nearest mapped descendant. {"target->child": (T,) array}."""
    tj = {n: i for i, n in enumerate(body.joint_names)}
    sj = {n: i for i, n in enumerate(motion.joint_names)}
    src_of = {tj[k]: sj[v] for k, v in result.joint_map.items()}
    ps, pt = motion.joint_positions(), result.positions
    out = {}
    for j, s in src_of.items():
        stack = [c for c in range(len(body.parents)) if body.parents[c] == j]
        while stack:
            c = stack.pop()
            if c not in src_of:
                stack.extend(k for k in range(len(body.parents)) if body.parents[k] == c)
                continue
            sc = src_of[c]
            if sc == s or not _is_ancestor(motion.parents, s, sc):
                continue
            a, b = pt[:, c] - pt[:, j], ps[:, sc] - ps[:, s]
            na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
            if na.min() < 1e-6 or nb.min() < 1e-6:
                continue
            cos = np.clip(np.einsum("ti,ti->t", a, b) / (na * nb), -1.0, 1.0)
            out[f"{body.joint_names[j]}->{body.joint_names[c]}"] = np.degrees(np.arccos(cos))
    return out
