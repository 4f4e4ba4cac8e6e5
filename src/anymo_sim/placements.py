"""Where devices sit: the `Placements` type and the dense `all` sampling of the wearable surface.

A placement is a surface point (three anchor vertices with barycentric weights; a vertex
placement repeats its vertex with weights (1, 0, 0)), a yaw about the outward normal (rad),
an offset along it (m, the device's thickness), the body segment it is on and a name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import SEGMENTS, Body
from .reference import vertex_normals
from .topology import placement_points


@dataclass(frozen=True)
class Placements:
    anchors: np.ndarray  # (P, 3) int64
    bary: np.ndarray  # (P, 3) float64
    yaw: np.ndarray  # (P,) rad
    offset: np.ndarray  # (P,) m
    segment: np.ndarray  # (P,) int16 index into SEGMENTS
    names: tuple[str, ...]

    def __post_init__(self):
        P = len(self.anchors)
        for key, shape in (("anchors", (P, 3)), ("bary", (P, 3)), ("yaw", (P,)), ("offset", (P,)), ("segment", (P,))):
            if getattr(self, key).shape != shape:
                raise ValueError(f"Placements.{key}: expected shape {shape}, got {getattr(self, key).shape}")
        if len(self.names) != P:
            raise ValueError(f"Placements.names: expected {P} names, got {len(self.names)}")

    def __len__(self) -> int:
        return len(self.anchors)

    def __add__(self, other: "Placements") -> "Placements":
        return Placements(*(np.concatenate([getattr(self, k), getattr(other, k)])
                            for k in ("anchors", "bary", "yaw", "offset", "segment")), self.names + other.names)

    def subset(self, index) -> "Placements":
        idx = np.arange(len(self))[index]
        return Placements(self.anchors[idx], self.bary[idx], self.yaw[idx], self.offset[idx], self.segment[idx],
                          tuple(self.names[i] for i in np.atleast_1d(idx)))

    @classmethod
    def on_vertices(cls, body: Body, vertex_ids, names=None, yaw=0.0, offset=0.0) -> "Placements":
        v = np.asarray(vertex_ids, dtype=np.int64).ravel()
        if v.size and (v.min() < 0 or v.max() >= body.n_vertices):
            bad = int(v[(v < 0) | (v >= body.n_vertices)][0])
            raise ValueError(f"vertex id {bad} is out of range for body {body.name!r} ({body.n_vertices} vertices)")
        P = len(v)
        bary = np.zeros((P, 3))
        bary[:, 0] = 1.0
        names = tuple(names) if names is not None else tuple(f"v{i}" for i in v)
        return cls(np.repeat(v[:, None], 3, 1), bary, np.broadcast_to(np.asarray(yaw, float), (P,)).copy(),
                   np.broadcast_to(np.asarray(offset, float), (P,)).copy(), body.segments[v].astype(np.int16), names)

    def surface_points(self, vertices: np.ndarray) -> np.ndarray:
        """(P, 3) points on a mesh pose (V, 3)."""
        return np.einsum("pi,pij->pj", self.bary, np.asarray(vertices)[self.anchors])

    def table(self, body: Body | None = None) -> dict[str, np.ndarray]:
        """Columns for CSV/JSON export: name, segment, anchors, barycentric, yaw, offset (and the
        rest-pose point and normal when a body is given)."""
        cols = {
            "name": np.array(self.names), "segment": np.array([SEGMENTS[s] for s in self.segment]),
            "a0": self.anchors[:, 0], "a1": self.anchors[:, 1], "a2": self.anchors[:, 2],
            "b0": self.bary[:, 0], "b1": self.bary[:, 1], "b2": self.bary[:, 2],
            "yaw": self.yaw, "offset": self.offset,
        }
        if body is not None:
            p, n = placement_points(body.rest_vertices, body.faces, self.anchors, self.bary)
            cols.update({"x": p[:, 0], "y": p[:, 1], "z": p[:, 2], "nx": n[:, 0], "ny": n[:, 1], "nz": n[:, 2]})
        return cols


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
