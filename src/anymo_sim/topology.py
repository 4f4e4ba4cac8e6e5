"""Mesh connectivity the kernels need, prepared once per call in numpy: which faces touch each
anchor vertex, which vertices the placements need, and the default tangent references of
docs/engine.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reference import vertex_normals

DOWN = np.array([0.0, 0.0, -1.0])
FORWARD = np.array([0.0, 1.0, 0.0])


def vertex_faces(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the faces incident to each vertex: faces of v are ids[offsets[v]:offsets[v+1]]."""
    flat = faces.ravel()
    order = np.argsort(flat, kind="stable")
    ids = order // 3
    return csr_offsets(np.bincount(flat, minlength=n_vertices)), ids


def csr_offsets(counts: np.ndarray) -> np.ndarray:
    """(n + 1,) int64 offsets of a CSR table from its n row lengths."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def faces_around(csr: tuple[np.ndarray, np.ndarray], vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faces incident to each of `vertices` from a vertex_faces CSR: (counts per vertex,
    face ids of all of them in CSR order, vertex after vertex)."""
    offsets, ids = csr
    counts = offsets[vertices + 1] - offsets[vertices]
    starts = np.repeat(offsets[vertices], counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return counts, ids[starts + within]


def distinct(keys: np.ndarray, upper: int) -> np.ndarray:
    """Sorted distinct values of integer keys in [0, upper), as np.unique gives them: a boolean
    mask over [0, upper) is several times faster than np.unique's sort or hash when upper is
    not much larger than the number of keys."""
    mask = np.zeros(upper, dtype=bool)
    mask[keys.ravel()] = True
    return np.flatnonzero(mask)


@dataclass
class AnchorTables:
    """Placements' anchors and their incident faces, in global vertex ids."""

    anchor_slot: np.ndarray  # (P, 3) int32 index into anchor_vertex, -1 where bary == 0
    anchor_vertex: np.ndarray  # (A,) int64
    adj_offsets: np.ndarray  # (A + 1,) int32
    adj_faces: np.ndarray  # (M, 3) int64 global vertex ids
    adj_face_ids: np.ndarray  # (M,) int64 face ids

    def needed_vertices(self) -> np.ndarray:
        """Sorted vertex ids the frames depend on: anchors and their 1-rings."""
        ids = np.concatenate([self.anchor_vertex, self.adj_faces.ravel()])
        return distinct(ids, int(ids.max()) + 1)


def anchor_tables(faces: np.ndarray, n_vertices: int, anchors: np.ndarray, bary: np.ndarray) -> AnchorTables:
    used = bary > 0
    anchor_vertex, inverse = np.unique(anchors[used], return_inverse=True)
    slot = np.full(anchors.shape, -1, dtype=np.int32)
    slot[used] = inverse.astype(np.int32)
    counts, face_ids = faces_around(vertex_faces(faces, n_vertices), anchor_vertex)
    check_not_lonely(anchor_vertex, counts)
    return AnchorTables(slot, anchor_vertex, csr_offsets(counts).astype(np.int32), faces[face_ids], face_ids)


def check_not_lonely(anchor_vertex: np.ndarray, counts: np.ndarray) -> None:
    """Every anchor a placement uses needs a face (counts: faces per anchor) for its normal."""
    lonely = anchor_vertex[counts == 0]
    if lonely.size:
        raise ValueError(
            f"vertex {int(lonely[0])} is used by a placement but belongs to no face, so it has no normal"
        )


def zero_area(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) True where a face has no area on the pose x (relative to its edges' lengths)."""
    cr = np.cross(x[faces[:, 1]] - x[faces[:, 0]], x[faces[:, 2]] - x[faces[:, 0]])
    area2 = np.linalg.norm(cr, axis=-1)
    scale = (np.linalg.norm(x[faces[:, 1]] - x[faces[:, 0]], axis=-1) ** 2
             + np.linalg.norm(x[faces[:, 2]] - x[faces[:, 0]], axis=-1) ** 2)
    return area2 <= 1e-12 * np.maximum(scale, 1e-300)


def check_faces_nondegenerate(x: np.ndarray, faces: np.ndarray, face_ids: np.ndarray, where: str,
                              flat: np.ndarray | None = None) -> None:
    """Faces a placement's normal depends on must have an area at the first frame. flat: the
    mesh's zero_area(x, faces), when known (the augmenter computes it once per body)."""
    f = faces[face_ids]
    bad = zero_area(x, f) if flat is None else flat[face_ids]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"faces: face {int(face_ids[i])} {f[i].tolist()} has zero area in {where}; a placement's normal "
            "depends on it (remove collapsed triangles or move the placement)"
        )


def placement_points(x: np.ndarray, faces: np.ndarray, anchors: np.ndarray, bary: np.ndarray):
    """Surface point and unit (Phong-interpolated) normal of each placement on one mesh pose."""
    n = vertex_normals(x, faces)
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-300)
    point = np.einsum("pi,pij->pj", bary, x[anchors])
    return point, placement_normals(n, anchors, bary)


def placement_normals(unit_normals: np.ndarray, anchors: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Unit (Phong-interpolated) normal of each placement from the mesh's unit vertex normals."""
    normal = np.einsum("pi,pij->pj", bary, unit_normals[anchors])
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-300)
    return normal


def preferred_direction(normal: np.ndarray) -> np.ndarray:
    """World down, or world forward where the surface faces up or down (|n_z| > 0.95)."""
    return np.where(np.abs(normal[:, 2:3]) > 0.95, FORWARD, DOWN)


def default_ref_vertices(x0: np.ndarray, faces: np.ndarray, anchors: np.ndarray, bary: np.ndarray,
                         tables: AnchorTables) -> np.ndarray:
    """Per placement, the anchor or 1-ring vertex whose tangent-projected edge from the point is
    closest in direction to the preferred direction at frame 0 (docs/engine.md)."""
    point, normal = placement_points(x0, faces, anchors, bary)
    # candidate (placement, vertex) pairs: every vertex of every face around a used anchor
    P = len(anchors)
    counts = np.diff(tables.adj_offsets.astype(np.int64))
    pair_p, pair_c = [], []
    for i in range(3):
        a = tables.anchor_slot[:, i]
        has = a >= 0
        p_idx = np.flatnonzero(has)
        n_faces = counts[a[has]]
        rows = np.repeat(tables.adj_offsets[a[has]].astype(np.int64), n_faces) + (
            np.arange(n_faces.sum()) - np.repeat(np.cumsum(n_faces) - n_faces, n_faces)
        )
        pair_p.append(np.repeat(np.repeat(p_idx, n_faces), 3))
        pair_c.append(tables.adj_faces[rows].ravel())
    pp = np.concatenate(pair_p)
    cc = np.concatenate(pair_c)
    e = x0[cc] - point[pp]
    e = e - np.sum(e * normal[pp], axis=-1, keepdims=True) * normal[pp]
    length = np.linalg.norm(e, axis=-1)
    score = np.sum(e * preferred_direction(normal)[pp], axis=-1) / np.maximum(length, 1e-300)
    score[length < 1e-9] = -np.inf
    order = np.lexsort((-score, pp))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pp[order][1:] != pp[order][:-1]
    best = order[first]
    ref = np.empty(P, dtype=np.int64)
    ref[pp[best]] = cc[best]
    if np.any(~np.isfinite(score[best])):
        p = int(pp[best][~np.isfinite(score[best])][0])
        raise ValueError(f"placement {p}: no neighbouring vertex gives a tangent direction (collapsed 1-ring)")
    return ref


def default_rest_tangents(x_rest: np.ndarray, faces: np.ndarray, anchors: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Rest-pose tangent reference directions: the preferred direction projected (docs/engine.md)."""
    return tangent_references(placement_points(x_rest, faces, anchors, bary)[1])


def tangent_references(normal: np.ndarray) -> np.ndarray:
    """The preferred direction projected onto the tangent plane of each unit normal, normalised."""
    d = preferred_direction(normal)
    t = d - np.sum(d * normal, axis=-1, keepdims=True) * normal
    return t / np.linalg.norm(t, axis=-1, keepdims=True)


def dominant_anchor(anchors: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """The anchor vertex with the largest barycentric weight (first on ties)."""
    return anchors[np.arange(len(anchors)), np.argmax(bary, axis=1)]
