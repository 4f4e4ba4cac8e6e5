"""Placements: the type, the dense `all` sampling's coverage, exclusions and determinism, and
feeding the engine."""

import numpy as np
import pytest

import anymo_sim
from anymo_sim import synthetic
from anymo_sim.body import SEGMENTS, Body
from anymo_sim.placements import Placements, dense, wearable_vertices


def blob_body(spheres=((0.0, 0.0, 0.0),), radius=0.1, segments=("torso",), subdivisions=4):
    """Spheres as one rigid single-joint body (each sphere its own segment label)."""
    v, f = synthetic.icosphere(subdivisions, radius)
    verts = np.concatenate([v + c for c in spheres])
    faces = np.concatenate([f + i * len(v) for i in range(len(spheres))])
    seg = np.concatenate([np.full(len(v), SEGMENTS.index(s), np.int16) for s in segments])
    V = len(verts)
    return Body("blob", verts, faces, ("root",), np.array([-1]), np.eye(4)[None], np.zeros((V, 1), np.int32),
                np.ones((V, 1), np.float32), seg)


def test_dense_is_deterministic_even_and_sized():
    body = blob_body()
    a, b = dense(body, 300), dense(body, 300)
    assert len(a) == 300 and np.array_equal(a.anchors, b.anchors)
    assert not np.array_equal(a.anchors, dense(body, 300, seed=1).anchors)
    p = a.surface_points(body.rest_vertices)
    d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(300)
    spacing = np.sqrt(4 * np.pi * 0.1**2 / 300)  # area per point
    assert d.min() > 0.5 * spacing  # no clumps
    # coverage: every vertex of the sphere is near some placement
    dv = np.linalg.norm(body.rest_vertices[:, None] - p[None], axis=-1).min(axis=1)
    assert dv.max() < 1.5 * spacing


def test_crease_and_soles_are_not_wearable():
    # two spheres touching: the crease between them has no room for a device
    body = blob_body(spheres=((0, 0, 0.1), (0, 0, 0.302)), segments=("left_foot", "left_shank"))
    ok = wearable_vertices(body, clearance=0.02)
    x = body.rest_vertices[ok]
    contact = np.array([0, 0, 0.201])
    assert np.linalg.norm(x - contact, axis=1).min() > 0.02
    # the lower sphere is a foot: its underside (a sole) is excluded, its top near the crease too
    foot = body.segments[ok] == SEGMENTS.index("left_foot")
    n = body.rest_vertices[ok] - np.array([0, 0, 0.1])
    assert np.all(n[foot, 2] / np.linalg.norm(n[foot], axis=1) >= -0.5 - 1e-9)
    assert foot.sum() > 0.3 * (body.segments == SEGMENTS.index("left_foot")).sum()


def test_dense_rejects_impossible_counts():
    body = blob_body(subdivisions=1)
    with pytest.raises(ValueError, match="wearable vertices; asked for 1000"):
        dense(body, 1000)
    with pytest.raises(ValueError, match="positive number"):
        dense(body, 0)


def test_placements_type_helpers():
    body = blob_body(subdivisions=2)
    a = Placements.on_vertices(body, [1, 2, 3], yaw=0.5, offset=0.01)
    b = Placements.on_vertices(body, [7], names=["watch"])
    c = a + b
    assert len(c) == 4 and c.names == ("v1", "v2", "v3", "watch")
    assert c.subset([3]).names == ("watch",) and c.subset(slice(0, 2)).yaw.tolist() == [0.5, 0.5]
    t = c.table(body)
    assert t["segment"][0] == "torso" and set(t) >= {"x", "nz", "a0", "b0", "yaw", "offset"}
    np.testing.assert_allclose(np.stack([t["x"], t["y"], t["z"]], 1), body.rest_vertices[[1, 2, 3, 7]])
    with pytest.raises(ValueError, match="vertex id 99999 is out of range"):
        Placements.on_vertices(body, [99999])


def test_engine_accepts_placements():
    body = blob_body(subdivisions=2)
    pl = Placements.on_vertices(body, [0, 10, 20], yaw=[0.1, 0.2, 0.3], offset=0.005)
    A = np.broadcast_to(np.eye(4), (6, 1, 4, 4))
    args = (body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, A, 50.0)
    a = anymo_sim.skinned_imu(*args, placements=pl)
    b = anymo_sim.skinned_imu(*args, vertex_ids=[0, 10, 20], yaw=[0.1, 0.2, 0.3], offset=0.005)
    for k in ("accel", "gyro", "rotations", "positions"):
        assert np.array_equal(getattr(a, k), getattr(b, k))
    with pytest.raises(ValueError, match="not both"):
        anymo_sim.skinned_imu(*args, placements=pl, vertex_ids=[0])


def test_all_on_the_default_body_covers_every_segment():
    from anymo_sim.bodies import default_body
    from anymo_sim.placements import rest_normals

    body = default_body()
    pl = dense(body)  # the default 2,400
    assert len(pl) == 2400 and len(set(pl.anchors[:, 0])) == 2400
    counts = np.bincount(pl.segment, minlength=len(SEGMENTS))
    assert np.all(counts > 0), dict(zip(SEGMENTS, counts))
    n = rest_normals(body)[pl.anchors[:, 0]]
    seg = np.array(SEGMENTS)[pl.segment]
    feet = np.isin(seg, ["left_foot", "right_foot"])
    assert np.all(n[feet, 2] >= -0.5)  # no soles
    for side in ("left", "right"):
        palm = rest_normals(body)[body.landmarks[f"{side}_wrist_palmar"]]
        assert np.all(n[seg == f"{side}_hand"] @ palm <= 0.5)  # no palms
    # the mouth and eye cavities are closed pockets in the head: a ray out of any head placement
    # must not meet the mesh again within 8 cm (checked by brute-force ray casting)
    x = body.rest_vertices
    p = x[pl.anchors[seg == "head", 0]]
    d = n[seg == "head"]
    tri = x[body.faces]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    for o, direction in zip(p + 1e-4 * d, d):
        h = np.cross(direction, e2)
        a = np.einsum("fi,fi->f", e1, h)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 / a
            s_ = o - tri[:, 0]
            u = f * np.einsum("fi,fi->f", s_, h)
            q = np.cross(s_, e1)
            v = f * (q @ direction)
            t = f * np.einsum("fi,fi->f", e2, q)
        hit = (np.abs(a) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6) & (t < 0.08)
        assert not hit.any(), o
    assert np.array_equal(dense(body).anchors, pl.anchors)
