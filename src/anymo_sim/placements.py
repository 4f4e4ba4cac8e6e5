"""Where devices sit: the `Placements` type, the dense `all` sampling of the wearable surface and
random placements with mounting perturbations.

A placement is a surface point (three anchor vertices with barycentric weights; a vertex
placement repeats its vertex with weights (1, 0, 0)), a yaw about the outward normal (rad),
an offset along it (m, the device's thickness), a tilt of the device off the tangent plane
(rad, a rotation vector (tx, ty, 0) in the surface frame), the body segment it is on and a name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .body import SEGMENTS, Body
from .reference import vertex_normals
from .synthetic import rotation_matrix
from .topology import placement_points

_FIELDS = ("anchors", "bary", "yaw", "offset", "segment", "tilt")


@dataclass(frozen=True)
class Placements:
    anchors: np.ndarray  # (P, 3) int64
    bary: np.ndarray  # (P, 3) float64
    yaw: np.ndarray  # (P,) rad
    offset: np.ndarray  # (P,) m
    segment: np.ndarray  # (P,) int16 index into SEGMENTS
    names: tuple[str, ...]
    tilt: np.ndarray | None = None  # (P, 2) rad; None means flush (zeros)

    def __post_init__(self):
        P = len(self.anchors)
        if self.tilt is None:
            object.__setattr__(self, "tilt", np.zeros((P, 2)))
        for key, shape in (("anchors", (P, 3)), ("bary", (P, 3)), ("yaw", (P,)), ("offset", (P,)), ("segment", (P,)),
                           ("tilt", (P, 2))):
            if getattr(self, key).shape != shape:
                raise ValueError(f"Placements.{key}: expected shape {shape}, got {getattr(self, key).shape}")
        if len(self.names) != P:
            raise ValueError(f"Placements.names: expected {P} names, got {len(self.names)}")
        for key in ("bary", "yaw", "offset", "tilt"):
            if not np.all(np.isfinite(getattr(self, key))):
                raise ValueError(f"Placements.{key}: values must be finite")

    def __len__(self) -> int:
        return len(self.anchors)

    def __add__(self, other: "Placements") -> "Placements":
        return Placements(names=self.names + other.names,
                          **{k: np.concatenate([getattr(self, k), getattr(other, k)]) for k in _FIELDS})

    def subset(self, index) -> "Placements":
        idx = np.atleast_1d(np.arange(len(self))[index])
        return Placements(names=tuple(self.names[i] for i in idx), **{k: getattr(self, k)[idx] for k in _FIELDS})

    def renamed(self, names) -> "Placements":
        return replace(self, names=tuple(names))

    @classmethod
    def on_vertices(cls, body: Body, vertex_ids, names=None, yaw=0.0, offset=0.0) -> "Placements":
        v = np.asarray(vertex_ids, dtype=np.int64).ravel()
        _check_vertex_ids(body, v)
        P = len(v)
        bary = np.zeros((P, 3))
        bary[:, 0] = 1.0
        names = tuple(names) if names is not None else tuple(f"v{i}" for i in v)
        return cls(np.repeat(v[:, None], 3, 1), bary, np.broadcast_to(np.asarray(yaw, float), (P,)).copy(),
                   np.broadcast_to(np.asarray(offset, float), (P,)).copy(), body.segments[v].astype(np.int16), names)

    @classmethod
    def on_faces(cls, body: Body, face_ids, barycentric, names=None) -> "Placements":
        """Points inside faces; the segment is the one of the vertex with the largest weight."""
        f = np.asarray(face_ids, dtype=np.int64).ravel()
        if f.size and (f.min() < 0 or f.max() >= len(body.faces)):
            bad = int(f[(f < 0) | (f >= len(body.faces))][0])
            raise ValueError(f"face id {bad} is out of range for body {body.name!r} ({len(body.faces)} faces)")
        b = np.asarray(barycentric, dtype=np.float64).reshape(len(f), 3)
        if np.any(b < 0) or np.any(np.abs(b.sum(axis=1) - 1.0) > 1e-6):
            raise ValueError("barycentric: weights must be >= 0 and sum to 1 in every row")
        anchors = body.faces[f]
        seg = body.segments[anchors[np.arange(len(f)), np.argmax(b, axis=1)]].astype(np.int16)
        names = tuple(names) if names is not None else tuple(f"f{i}" for i in f)
        return cls(anchors, b, np.zeros(len(f)), np.zeros(len(f)), seg, names)

    def surface_points(self, vertices: np.ndarray) -> np.ndarray:
        """(P, 3) points on a mesh pose (V, 3)."""
        return np.einsum("pi,pij->pj", self.bary, np.asarray(vertices)[self.anchors])

    def mount_rotations(self) -> np.ndarray:
        """(P, 3, 3) device-from-surface-frame tilt: R = exp([tx, ty, 0]x), columns are the device
        axes in the surface frame (identity for a flush device)."""
        w = np.concatenate([self.tilt, np.zeros((len(self), 1))], axis=1)
        return rotation_matrix(w)

    def perturbed(self, seed=None, yaw_deg: float = 0.0, tilt_deg: float = 0.0, offset_m: float = 0.0,
                  slide_m: float = 0.0, body: Body | None = None) -> "Placements":
        """Mounting perturbations for augmentation: yaw += U(-yaw_deg, yaw_deg); a tilt of
        U(0, tilt_deg) about a uniformly random tangent axis; offset += U(0, offset_m) (a device
        only sits farther out); and with a body, slide_m moves each point to a random vertex
        within that distance on the same segment. `seed`: int or numpy Generator."""
        for key, val in (("yaw_deg", yaw_deg), ("tilt_deg", tilt_deg), ("offset_m", offset_m), ("slide_m", slide_m)):
            if not np.isfinite(val) or val < 0:
                raise ValueError(f"{key}: expected a finite value >= 0, got {val}")
        rng = np.random.default_rng(seed)
        P = len(self)
        out = self
        if slide_m > 0:
            if body is None:
                raise ValueError("slide_m: needs the body to slide over")
            out = _slide(out, body, slide_m, rng)
        axis = rng.uniform(-np.pi, np.pi, P)
        angle = np.deg2rad(tilt_deg) * np.sqrt(rng.uniform(0, 1, P))  # uniform over the spherical cap
        tilt = out.tilt + angle[:, None] * np.stack([np.cos(axis), np.sin(axis)], axis=1)
        return replace(out, yaw=out.yaw + np.deg2rad(yaw_deg) * rng.uniform(-1, 1, P),
                            offset=out.offset + offset_m * rng.uniform(0, 1, P), tilt=tilt)

    def table(self, body: Body | None = None) -> dict[str, np.ndarray]:
        """Columns for CSV/JSON export: name, segment, anchors, barycentric, yaw, offset, tilt (and
        the rest-pose point and normal when a body is given)."""
        cols = {
            "name": np.array(self.names), "segment": np.array([SEGMENTS[s] for s in self.segment]),
            "a0": self.anchors[:, 0], "a1": self.anchors[:, 1], "a2": self.anchors[:, 2],
            "b0": self.bary[:, 0], "b1": self.bary[:, 1], "b2": self.bary[:, 2],
            "yaw": self.yaw, "offset": self.offset, "tilt_x": self.tilt[:, 0], "tilt_y": self.tilt[:, 1],
        }
        if body is not None:
            p, n = placement_points(body.rest_vertices, body.faces, self.anchors, self.bary)
            cols.update({"x": p[:, 0], "y": p[:, 1], "z": p[:, 2], "nx": n[:, 0], "ny": n[:, 1], "nz": n[:, 2]})
        return cols


def _check_vertex_ids(body: Body, v: np.ndarray) -> None:
    if v.size and (v.min() < 0 or v.max() >= body.n_vertices):
        bad = int(v[(v < 0) | (v >= body.n_vertices)][0])
        raise ValueError(f"vertex id {bad} is out of range for body {body.name!r} ({body.n_vertices} vertices)")


def _slide(pl: Placements, body: Body, radius: float, rng) -> Placements:
    """Each placement moved to a random vertex of its own segment within `radius` of its rest point."""
    from scipy.spatial import cKDTree

    x = body.rest_vertices
    points = pl.surface_points(x)
    near = cKDTree(x).query_ball_point(points, radius)
    ids = np.empty(len(pl), dtype=np.int64)
    for i, cand in enumerate(near):
        cand = np.asarray(cand, dtype=np.int64)
        cand = cand[body.segments[cand] == pl.segment[i]]
        ids[i] = rng.choice(cand) if len(cand) else pl.anchors[i, np.argmax(pl.bary[i])]
    moved = Placements.on_vertices(body, ids, names=pl.names)
    return replace(moved, yaw=pl.yaw, offset=pl.offset, tilt=pl.tilt, segment=pl.segment)


def rest_normals(body: Body) -> np.ndarray:
    """Unit area-weighted vertex normals of the rest mesh."""
    n = vertex_normals(body.rest_vertices, body.faces)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


#: Distances (m) along the normal at which the line of sight must be clear (see wearable_vertices).
SIGHT = (0.005, 0.01, 0.02, 0.03, 0.05, 0.08)


def wearable_vertices(body: Body, clearance: float = 0.02) -> np.ndarray:
    """Vertices where a device fits, in the rest pose: open space in front of the skin, i.e. no
    other part of the body within a ball of radius 0.95·clearance resting on the skin there, nor
    within a cone (radius d/2, at most that ball's) around the normal out to 8 cm. This rules out
    the mouth and eye cavities, armpits, the crotch and between the fingers. Also excluded: soles
    (foot surface facing down) and palms (hand surface facing like the palmar wrist landmark)."""
    from scipy.spatial import cKDTree

    x, n = body.rest_vertices, rest_normals(body)
    tree = cKDTree(x)
    probes = [(clearance, 0.95 * clearance)] + [(d, min(0.5 * d, 0.95 * clearance)) for d in SIGHT]
    ok = np.ones(len(x), dtype=bool)
    for d, r in probes:
        hits = tree.query_ball_point(x + d * n, r, return_length=True)
        ok &= hits == 0
    seg = np.array(SEGMENTS)[body.segments]
    ok &= ~(np.isin(seg, ["left_foot", "right_foot"]) & (n[:, 2] < -0.5))
    for side in ("left", "right"):
        palm = body.landmarks.get(f"{side}_wrist_palmar")
        if palm is not None:
            ok &= ~((seg == f"{side}_hand") & (n @ n[palm] > 0.5))
    return np.flatnonzero(ok)


def dense(body: Body, count: int = 2400, clearance: float = 0.02, seed: int = 0) -> Placements:
    """`all`: about `count` placements spread evenly (farthest-point sampling in 3D) over the
    wearable surface, deterministic for a given body, count, clearance and seed. Yaw 0, offset 0."""
    cand = wearable_vertices(body, clearance)
    if count < 1:
        raise ValueError(f"count: expected a positive number of placements, got {count}")
    if count > len(cand):
        raise ValueError(f"count: body {body.name!r} has {len(cand)} wearable vertices; asked for {count}")
    x = body.rest_vertices[cand]
    rng = np.random.default_rng(seed)
    chosen = np.empty(count, dtype=np.int64)
    chosen[0] = int(rng.integers(len(cand)))
    dist = np.linalg.norm(x - x[chosen[0]], axis=1)
    for i in range(1, count):
        chosen[i] = int(np.argmax(dist))
        np.minimum(dist, np.linalg.norm(x - x[chosen[i]], axis=1), out=dist)
    ids = np.sort(cand[chosen])
    return Placements.on_vertices(body, ids, names=[f"all/{i}" for i in range(count)])


def sample(body: Body, count: int, seed=None, clearance: float = 0.02, yaw_deg: float = 180.0,
           tilt_deg: float = 0.0, offset_m: float = 0.0) -> Placements:
    """`count` random placements, uniform by area over the wearable surface (faces whose three
    vertices are wearable, see wearable_vertices), at random points inside the faces, with random
    mounting perturbations (see Placements.perturbed). `seed`: int or numpy Generator."""
    if count < 1:
        raise ValueError(f"count: expected a positive number of placements, got {count}")
    rng = np.random.default_rng(seed)
    ok = np.zeros(body.n_vertices, dtype=bool)
    ok[wearable_vertices(body, clearance)] = True
    faces = np.flatnonzero(ok[body.faces].all(axis=1))
    tri = body.rest_vertices[body.faces[faces]]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    f = faces[rng.choice(len(faces), size=count, p=area / area.sum())]
    u = rng.uniform(0, 1, (count, 2))
    flip = u.sum(axis=1) > 1  # fold the unit square onto the triangle: uniform by area
    u[flip] = 1 - u[flip]
    bary = np.column_stack([1 - u.sum(axis=1), u])
    pl = Placements.on_faces(body, f, bary, names=[f"random/{i}" for i in range(count)])
    return pl.perturbed(rng, yaw_deg=yaw_deg, tilt_deg=tilt_deg, offset_m=offset_m)
