"""Device presets, research sets, segment rules and user placement files, on the default body and
on a body-like SMPL fixture (T-pose, written in the real model format)."""

import json
from dataclasses import replace

import numpy as np
import pytest

import anymo_sim
from anymo_sim.bodies import default_body
from anymo_sim.body import SEGMENTS
from anymo_sim.placements import Placements, dense, rest_normals, sample
from anymo_sim.presets import INTENDED_SEGMENTS, PRESETS, RESEARCH, load_file, placements_for, preset, preset_names
from anymo_sim.sites import Site, SiteError, direction, resolve, rule_vertex, segment_axis
from anymo_sim.smpl import DIP_VERTICES, TRANSPOSE_VERTICES, _landmarks, smpl_body
from anymo_sim.viewer import rest_frames
from smpl_fixture import write_model


@pytest.fixture(scope="module")
def body():
    return default_body()


@pytest.fixture(scope="module")
def smpl(tmp_path_factory):
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl"
    write_model(path, geometry="limbs")
    return smpl_body(path)


def _intended(name: str) -> tuple[str, ...]:
    """Research placements are named '<set>/<side>_<part>'."""
    if name in INTENDED_SEGMENTS:
        return INTENDED_SEGMENTS[name]
    part = name.split("/", 1)[1]
    side = part.split("_")[0] if part.split("_")[0] in ("left", "right") else ""
    table = {"wrist": ("forearm", "hand"), "knee": ("thigh", "shank"), "head": ("head",), "pelvis": ("pelvis",),
             "sternum": ("torso",), "shoulder": ("torso",), "upper_arm": ("upper_arm",), "forearm": ("forearm",),
             "hand": ("hand",), "upper_leg": ("thigh",), "lower_leg": ("shank",), "foot": ("foot",)}
    kind = part[len(side) + 1:] if side else part
    return tuple(f"{side}_{s}" if side and s not in ("torso", "pelvis", "head") else s for s in table[kind])


@pytest.mark.parametrize("which", ["default", "smpl"])
def test_every_preset_lands_on_its_intended_segments(which, body, smpl):
    b = body if which == "default" else smpl
    for name in preset_names():
        pl = preset(b, name)
        assert len(pl) == len(PRESETS[name])
        for pname, seg in zip(pl.names, pl.segment):
            want = _intended(name if name in INTENDED_SEGMENTS else pname)
            assert SEGMENTS[seg] in want, (which, name, pname, SEGMENTS[seg], want)


@pytest.mark.parametrize("which", ["default", "smpl"])
def test_left_presets_are_on_the_left(which, body, smpl):
    b = body if which == "default" else smpl
    for name in preset_names():
        pl = preset(b, name)
        x = pl.surface_points(b.rest_vertices)[:, 0]
        for pname, xi in zip(pl.names, x):
            if "left" in pname:
                assert xi < -0.02, (which, pname, xi)  # the body's left is -x
            elif "right" in pname:
                assert xi > 0.02, (which, pname, xi)


def test_rules_find_the_hand_picked_landmarks_on_the_default_body(body):
    """Where a preset has both, its segment rule (what bodies without landmarks get) lands within
    5 cm of the landmark picked by hand on the default body."""
    x = body.rest_vertices
    checked = 0
    for sites in PRESETS.values():
        for s in sites:
            if s.landmark in body.landmarks and s.rule is not None:
                v = rule_vertex(body, s.rule.segment, s.rule.along, s.rule.facing, s.name)
                assert np.linalg.norm(x[v] - x[body.landmarks[s.landmark]]) < 0.05, s.name
                checked += 1
    assert checked >= 20


def test_device_axes_point_where_the_presets_say(body, smpl):
    for b in (body, smpl):
        for name, axis, want in [("watch_left", 0, "distal"), ("watch_right", 0, "proximal"),
                                 ("phone_front_pocket_left", 1, "up"), ("phone_back_pocket_right", 1, "up"),
                                 ("upper_arm_band_left", 1, "proximal"), ("chest_strap", 1, "up"),
                                 ("dip6", 0, "distal"), ("xsens17", 1, "up")]:
            pl = preset(b, name)
            _, R = rest_frames(b, pl)
            seg = SEGMENTS[pl.segment[0]]
            d = direction(b, seg, want, name)
            n = R[0, :, 2]
            d = d - (d @ n) * n
            assert R[0, :, axis] @ d / np.linalg.norm(d) > 0.999, (b.name, name)
            assert pl.offset[0] > 0


def test_research_sets_use_the_published_smpl_vertices(body):
    lm = _landmarks(6890)
    assert [lm[f"dip_{n}"] for n in ("left_wrist", "right_wrist", "left_knee", "right_knee", "head", "pelvis")] == \
        list(DIP_VERTICES)
    assert lm["transpose_right_wrist"] == TRANSPOSE_VERTICES[1] and lm["nose_tip"] == 332 and lm["left_ear"] == 583
    # a body that has these landmarks (a real SMPL mesh) gets exactly those vertices

    b = replace(body, landmarks={k: v for k, v in lm.items() if k.startswith(("dip_", "transpose_"))})
    assert preset(b, "dip6").anchors[:, 0].tolist() == list(DIP_VERTICES)
    assert preset(b, "transpose6").anchors[:, 0].tolist() == list(TRANSPOSE_VERTICES)
    assert len(preset(body, "xsens17")) == 17 and set(RESEARCH) == {"dip6", "transpose6", "xsens17"}


def test_frames_at_presets_are_orthonormal_right_handed_and_outward(body, smpl):
    for b in (body, smpl):
        pl = placements_for(b, ",".join(preset_names()))
        pos, R = rest_frames(b, pl)
        assert np.allclose(np.einsum("pji,pjk->pik", R, R), np.eye(3), atol=1e-5)
        assert np.allclose(np.linalg.det(R), 1.0, atol=1e-5)
        # outward against the surface: 2 mm in along -z is inside the mesh; on the default body (one
        # closed surface; the fixture's tubes overlap at the joints) 2 mm out is outside
        skin = pl.surface_points(b.rest_vertices)
        assert np.all(_winding(b, skin - 0.002 * R[:, :, 2]) > 0.5)
        if b is body:
            assert np.all(_winding(b, skin + 0.002 * R[:, :, 2]) < 0.5)


def _winding(b, q):
    """Generalised winding number of points q w.r.t. the closed rest mesh (1 inside, 0 outside)."""
    tri = b.rest_vertices[b.faces]
    out = []
    for p in q:
        a, bb, c = (tri[:, i] - p for i in range(3))
        la, lb, lc = (np.linalg.norm(v, axis=1) for v in (a, bb, c))
        num = np.einsum("fi,fi->f", a, np.cross(bb, c))
        den = la * lb * lc + np.einsum("fi,fi->f", a, bb) * lc + np.einsum("fi,fi->f", bb, c) * la + \
            np.einsum("fi,fi->f", c, a) * lb
        out.append(np.sum(2 * np.arctan2(num, den)) / (4 * np.pi))
    return np.array(out)


def test_unknown_presets_segments_landmarks_and_vertices_are_clear_errors(body):
    with pytest.raises(KeyError, match="unknown placement preset 'watch_middle'.*watch_left"):
        preset(body, "watch_middle")
    with pytest.raises(KeyError, match="unknown placement preset 'nope'"):
        placements_for(body, "watch_left,nope")
    with pytest.raises(SiteError, match="unknown segment 'left_wing'.*left_forearm"):
        resolve(body, Site("x", segment="left_wing", facing="front"))
    with pytest.raises(SiteError, match="no landmark 'third_eye'"):
        resolve(body, Site("x", landmark="third_eye"))
    with pytest.raises(SiteError, match=r"vertex must be an integer id in \[0, 13380\)"):
        resolve(body, Site("x", vertex=13380))
    with pytest.raises(SiteError, match="unknown direction 'upwards'"):
        resolve(body, Site("x", segment="torso", facing="upwards"))
    with pytest.raises(SiteError, match="along must be in"):
        resolve(body, Site("x", segment="torso", along=1.5, facing="front"))
    with pytest.raises(SiteError, match="'lateral' needs a left_ or right_ segment"):
        resolve(body, Site("x", segment="torso", facing="lateral"))
    with pytest.raises(SiteError, match="exactly one of"):
        resolve(body, Site("x", vertex=3, landmark="navel"))


def test_placement_file_yaml_and_json(tmp_path, body):
    yaml_text = """
placements:
  - landmark: left_wrist_dorsal
    name: my_watch
    x_axis: distal
    offset_m: 0.006
  - segment: right_thigh
    along: 0.4
    facing: lateral
    y_axis: up
    yaw_deg: 10
    tilt_deg: [5, 0]
  - vertex: 1890
  - preset: earbuds
"""
    p = tmp_path / "mine.yaml"
    p.write_text(yaml_text)
    pl = load_file(body, p)
    assert pl.names == ("my_watch", "placement_1", "v1890", "earbud_left", "earbud_right")
    assert pl.anchors[0, 0] == body.landmarks["left_wrist_dorsal"] and pl.offset[0] == 0.006
    assert np.allclose(pl.yaw[0], preset(body, "watch_left").yaw[0])
    assert SEGMENTS[pl.segment[1]] == "right_thigh" and pl.surface_points(body.rest_vertices)[1, 0] > 0.15
    assert np.isclose(pl.tilt[1, 0], np.deg2rad(5.0)) and pl.anchors[2, 0] == 1890
    j = tmp_path / "mine.json"
    j.write_text(json.dumps([{"landmark": "left_wrist_dorsal", "name": "my_watch", "x_axis": "distal",
                              "offset_m": 0.006}]))
    pj = load_file(body, j)
    assert pj.anchors[0, 0] == pl.anchors[0, 0] and np.isclose(pj.yaw[0], pl.yaw[0])
    assert placements_for(body, str(j)).names == ("my_watch",)


@pytest.mark.parametrize("content, message", [
    ("- {landmark: navel, colour: red}", r"placements\[0\]: unknown field\(s\) colour"),
    ("- {segment: left_wing, facing: front}", r"placements\[0\]: unknown segment 'left_wing'"),
    ("- {vertex: 99999}", r"placements\[0\]: vertex must be an integer id"),
    ("- {vertex: 12}\n- {vertex: 12}", r"placements\[1\]: duplicate placement name 'v12'"),
    ("- {segment: torso, along: high, facing: front}", r"placements\[0\]\.along: expected a number"),
    ("- {landmark: navel, x_axis: up, y_axis: up}", r"x_axis or y_axis, not both"),
    ("- {landmark: navel, offset_m: -0.01}", r"offset_m: expected >= 0"),
    ("- {preset: smartwatch}", r"placements\[0\]\.preset: unknown preset 'smartwatch'"),
    ("- {along: 0.5}", r"along/facing belong to a segment entry"),
    ("- [1, 2", r"not valid YAML"),
    ("{}", r"expected a non-empty list"),
])
def test_placement_file_errors_name_the_file_entry_and_field(tmp_path, body, content, message):
    p = tmp_path / "bad.yaml"
    p.write_text(content)
    with pytest.raises(SiteError, match=message) as info:
        load_file(body, p)
    assert str(p) in str(info.value)


def test_missing_placement_file(tmp_path, body):
    with pytest.raises(FileNotFoundError, match="nothere.yaml: placement file not found"):
        placements_for(body, str(tmp_path / "nothere.yaml"))


def test_random_sampling_is_area_uniform_deterministic_and_perturbed(body):
    a = sample(body, 4000, seed=7, yaw_deg=30, tilt_deg=12, offset_m=0.004)
    b = sample(body, 4000, seed=7, yaw_deg=30, tilt_deg=12, offset_m=0.004)
    for k in ("anchors", "bary", "yaw", "offset", "tilt"):
        assert np.array_equal(getattr(a, k), getattr(b, k))
    assert not np.array_equal(sample(body, 4000, seed=8).anchors, a.anchors)
    assert np.all(np.abs(a.yaw) <= np.deg2rad(30) + 1e-12)
    assert np.all(np.linalg.norm(a.tilt, axis=1) <= np.deg2rad(12) + 1e-12)
    assert np.all((a.offset >= 0) & (a.offset <= 0.004))
    assert np.all(a.bary >= 0) and np.allclose(a.bary.sum(axis=1), 1)
    # area-uniform: the share of points on the torso matches its share of the wearable area (3 sigma)
    from anymo_sim.placements import wearable_vertices

    ok = np.zeros(body.n_vertices, dtype=bool)
    ok[wearable_vertices(body)] = True
    faces = body.faces[ok[body.faces].all(axis=1)]
    tri = body.rest_vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    torso = SEGMENTS.index("torso")
    share = area[(body.segments[faces] == torso).all(axis=1)].sum() / area.sum()
    got = np.mean(a.segment == torso)
    assert abs(got - share) < 3 * np.sqrt(share * (1 - share) / 4000) + 0.01, (got, share)


def test_perturbed_slide_stays_on_the_segment_within_the_radius(body):
    pl = preset(body, "xsens17")
    moved = pl.perturbed(3, slide_m=0.03, body=body)
    d = np.linalg.norm(moved.surface_points(body.rest_vertices) - pl.surface_points(body.rest_vertices), axis=1)
    assert np.all(d <= 0.03 + 1e-9) and np.any(d > 0)
    assert np.array_equal(body.segments[moved.anchors[:, 0]], pl.segment)
    with pytest.raises(ValueError, match="tilt_deg: expected a finite value >= 0"):
        pl.perturbed(0, tilt_deg=-1)


def test_tilted_devices_read_rotated_physics(body):
    """A tilt is a fixed device-from-surface rotation M: f' = Mᵀf, ω' = Mᵀω, R' = R·M. Checked on a
    body turning about z at a constant rate: at rest pose geometry, R'ᵀ(0, 0, g) is the gravity part."""
    pl = preset(body, "watch_left") + preset(body, "chest_strap")
    tilted = replace(pl, tilt=np.array([[0.2, -0.1], [0.0, 0.3]]))
    T, fps = 40, 100.0
    t = np.arange(T) / fps
    from anymo_sim.synthetic import rotation_matrix

    Rz = rotation_matrix(np.outer(1.5 * t, [0, 0, 1]))
    A = np.tile(np.eye(4), (T, len(body.joint_names), 1, 1))
    A[:, :, :3, :3] = Rz[:, None]
    args = (body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, A, fps)
    flush = anymo_sim.skinned_imu(*args, placements=pl)
    tilt = anymo_sim.skinned_imu(*args, placements=tilted)
    M = tilted.mount_rotations()
    assert np.allclose(tilt.accel, np.einsum("tpj,pji->tpi", flush.accel, M), atol=1e-5)
    assert np.allclose(tilt.gyro, np.einsum("tpj,pji->tpi", flush.gyro, M), atol=1e-6)
    assert np.allclose(tilt.rotations, flush.rotations @ M, atol=1e-6)
    assert np.allclose(tilt.positions, flush.positions)
    # the gyro of a body spinning about world z at 1.5 rad/s, in the tilted device frame
    w = np.einsum("tpji,j->tpi", tilt.rotations, [0.0, 0.0, 1.5])
    assert np.allclose(tilt.gyro, w, atol=1e-4)


def test_placements_for_mixes_all_random_and_presets(body):
    pl = placements_for(body, "watch_left, glasses ,random", count=50, seed=1)
    assert len(pl) == 1 + 2 + 50 and pl.names[:3] == ("watch_left", "glasses_left_temple", "glasses_right_temple")
    assert len(placements_for(body, "all", count=300)) == 300
    assert np.array_equal(placements_for(body, "all", count=300).anchors, dense(body, 300).anchors)
    with pytest.raises(ValueError, match="expected 'all'"):
        placements_for(body, " ")


def test_on_faces_and_table(body):
    pl = Placements.on_faces(body, [0, 100], [[0.2, 0.3, 0.5], [1, 0, 0]])
    assert pl.anchors.tolist() == body.faces[[0, 100]].tolist()
    cols = pl.table(body)
    assert {"tilt_x", "tilt_y", "nx"} <= set(cols) and len(cols["name"]) == 2
    n = rest_normals(body)[body.faces[100, 0]]
    assert np.allclose([cols["nx"][1], cols["ny"][1], cols["nz"][1]], n)
    with pytest.raises(ValueError, match="face id 99999 is out of range"):
        Placements.on_faces(body, [99999], [[1, 0, 0]])
    assert segment_axis(body, "left_thigh").axis[2] < -0.9  # proximal -> distal: down the thigh


@pytest.mark.parametrize("which", ["default", "smpl"])
def test_standing_still_reads_plus_g_up_and_zero_rate_at_every_placement(which, body, smpl):
    """Deliverable 6 end to end: body + rest joint transforms + placements ('all', every preset,
    random tilted ones) -> R·f = (0, 0, +g) in the world and zero angular rate."""
    b = body if which == "default" else smpl
    pl = placements_for(b, ",".join(preset_names())) + sample(b, 200, seed=5, tilt_deg=20, offset_m=0.01)
    if which == "default":
        pl = pl + dense(b, 600)
    G = np.repeat(b.joint_rest_transforms[None], 6, axis=0)
    res = anymo_sim.simulate(b, G, 120.0, pl)
    up = np.einsum("tpij,tpj->tpi", res.rotations, res.accel)
    assert np.allclose(up, [0.0, 0.0, 9.80665], atol=2e-4)
    assert np.abs(res.gyro).max() < 1e-5
    assert np.allclose(res.accel, np.einsum("tpji,j->tpi", res.rotations, [0.0, 0.0, 9.80665]), atol=2e-4)
    assert len(anymo_sim.simulate(b, G, 120.0, "watch_left").accel[0]) == 1
