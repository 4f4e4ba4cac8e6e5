"""Procedural geometry and motions for tests, demos and benchmarks (numpy only, deterministic).

- :func:`icosphere`: a closed sphere mesh with outward (counter-clockwise) faces.
- :func:`rigid_motion`, :func:`rotation_matrix`, :func:`random_rotations`: rigid motions.
- :func:`skinned_tube`: a body-sized closed tube standing along z with a joint chain and
  smooth linear-blend skinning weights.
- :func:`tube_motion` / :func:`chain_skinning_matrices`: a smooth walking-and-bending motion
  of that chain, as skinning matrices A_j(t) = G_j(t) G_j(rest)^-1 (docs/engine.md).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "icosphere",
    "rigid_motion",
    "rotation_matrix",
    "random_rotations",
    "skinned_tube",
    "chain_skinning_matrices",
    "tube_motion",
]


# --------------------------------------------------------------------------------------
# rotations and rigid motion
# --------------------------------------------------------------------------------------


def rotation_matrix(axis_angle) -> np.ndarray:
    """Rodrigues' formula: rotation vectors (...,3) -> rotation matrices (...,3,3)."""
    v = np.asarray(axis_angle, dtype=np.float64)
    theta = np.linalg.norm(v, axis=-1)[..., None, None]
    K = np.zeros(v.shape[:-1] + (3, 3), dtype=np.float64)
    K[..., 0, 1], K[..., 0, 2] = -v[..., 2], v[..., 1]
    K[..., 1, 0], K[..., 1, 2] = v[..., 2], -v[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -v[..., 1], v[..., 0]
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    # sin(t)/t and (1 - cos t)/t^2, with their Taylor series for tiny angles
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * K + b * (K @ K)


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """n rotation matrices drawn uniformly (Haar) from SO(3), (n,3,3)."""
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    R = np.empty((n, 3, 3), dtype=np.float64)
    R[:, 0, 0] = 1 - 2 * (y * y + z * z)
    R[:, 0, 1] = 2 * (x * y - w * z)
    R[:, 0, 2] = 2 * (x * z + w * y)
    R[:, 1, 0] = 2 * (x * y + w * z)
    R[:, 1, 1] = 1 - 2 * (x * x + z * z)
    R[:, 1, 2] = 2 * (y * z - w * x)
    R[:, 2, 0] = 2 * (x * z - w * y)
    R[:, 2, 1] = 2 * (y * z + w * x)
    R[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return R


def rigid_motion(vertices0, rotations, translations) -> np.ndarray:
    """x_t = R_t x0 + t_t: vertices0 (V,3), rotations (T,3,3), translations (T,3) -> (T,V,3)."""
    x0 = np.asarray(vertices0, dtype=np.float64)
    R = np.asarray(rotations, dtype=np.float64)
    tr = np.asarray(translations, dtype=np.float64)
    return np.einsum("tab,vb->tva", R, x0) + tr[:, None, :]


# --------------------------------------------------------------------------------------
# icosphere
# --------------------------------------------------------------------------------------


def icosphere(subdivisions: int = 3, radius: float = 1.0):
    """A closed sphere mesh centred at the origin: (vertices (V,3) float64, faces (F,3) int64).

    V = 10 * 4**subdivisions + 2, F = 20 * 4**subdivisions; faces are counter-clockwise
    seen from outside (outward normals).
    """
    p = (1.0 + 5.0**0.5) / 2.0
    verts = [
        (-1, p, 0), (1, p, 0), (-1, -p, 0), (1, -p, 0),
        (0, -1, p), (0, 1, p), (0, -1, -p), (0, 1, -p),
        (p, 0, -1), (p, 0, 1), (-p, 0, -1), (-p, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    V = np.asarray(verts, dtype=np.float64)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    F = np.asarray(faces, dtype=np.int64)
    for _ in range(int(subdivisions)):
        edges = np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]])  # (3F,2)
        key = np.sort(edges, axis=1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        mid = V[uniq[:, 0]] + V[uniq[:, 1]]
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        m = inv.reshape(3, -1) + V.shape[0]  # midpoint ids of edges (01, 12, 20) per face
        a, b, c = F[:, 0], F[:, 1], F[:, 2]
        m01, m12, m20 = m[0], m[1], m[2]
        F = np.concatenate([
            np.stack([a, m01, m20], 1),
            np.stack([b, m12, m01], 1),
            np.stack([c, m20, m12], 1),
            np.stack([m01, m12, m20], 1),
        ])  # fmt: skip
        V = np.concatenate([V, mid])
    # make every face counter-clockwise seen from outside (normal along the centroid)
    cr = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    flip = np.einsum("fi,fi->f", cr, V[F].mean(axis=1)) < 0
    F[flip] = F[flip][:, ::-1]
    return V * float(radius), F


# --------------------------------------------------------------------------------------
# skinned tube
# --------------------------------------------------------------------------------------


def skinned_tube(n_joints: int = 24, rings: int = 200, segments: int = 52, length: float = 1.7,
                 radius: float = 0.12, influences: int = 4) -> dict:
    """A closed tube standing along z from z=0 to z=length, skinned to a chain of joints.

    Vertices: ``rings`` rings of ``segments`` vertices (z from 0 to length) plus one centre
    vertex per cap, V = rings*segments + 2 (10,402 by default). Faces are outward.
    Joint j sits on the axis at z = j*length/n_joints; its bone covers
    [z_j, z_j + length/n_joints]. Each vertex is skinned to the ``influences`` bones whose
    centres are nearest along z, with the smooth compact falloff
    w ∝ (1 - (d/r)^2)^2, r = influences/2 * bone length (rows sum to 1).

    Returns a dict with rest_vertices (V,3) float64, faces (F,3) int64, skin_joints (V,K)
    int32, skin_weights (V,K) float32, joint_rest_positions (J,3) float64, parents (J,)
    int64 (parents[0] = -1, parents[j] = j-1).
    """
    J, K = int(n_joints), int(influences)
    if rings < 2 or segments < 3 or J < 1 or not (1 <= K <= J):
        raise ValueError("skinned_tube needs rings >= 2, segments >= 3, n_joints >= 1 and 1 <= influences <= n_joints")
    z = np.linspace(0.0, length, rings)
    theta = 2.0 * np.pi * np.arange(segments) / segments
    side = np.stack(np.broadcast_arrays(radius * np.cos(theta)[None, :], radius * np.sin(theta)[None, :],
                                        z[:, None]), axis=-1).reshape(-1, 3)
    bottom, top = rings * segments, rings * segments + 1
    verts = np.concatenate([side, [[0.0, 0.0, 0.0], [0.0, 0.0, length]]])

    i = np.arange(rings - 1)[:, None]
    j = np.arange(segments)[None, :]
    jn = (j + 1) % segments
    v00, v01 = i * segments + j, i * segments + jn
    v10, v11 = (i + 1) * segments + j, (i + 1) * segments + jn
    quads = [np.stack(np.broadcast_arrays(v00, v01, v11), -1).reshape(-1, 3),
             np.stack(np.broadcast_arrays(v00, v11, v10), -1).reshape(-1, 3)]
    jj = np.arange(segments)
    cap_b = np.stack([np.full(segments, bottom), (jj + 1) % segments, jj], -1)
    last = (rings - 1) * segments
    cap_t = np.stack([np.full(segments, top), last + jj, last + (jj + 1) % segments], -1)
    faces = np.concatenate(quads + [cap_b, cap_t]).astype(np.int64)

    bone = length / J
    joints = np.zeros((J, 3))
    joints[:, 2] = np.arange(J) * bone
    centres = joints[:, 2] + 0.5 * bone
    d = np.abs(verts[:, 2:3] - centres[None, :])  # (V,J)
    order = np.argsort(d, axis=1, kind="stable")[:, :K]
    dk = np.take_along_axis(d, order, axis=1)
    if K == 1:
        w = np.ones_like(dk)
    else:
        r = 0.5 * K * bone
        w = np.clip(1.0 - (dk / r) ** 2, 0.0, None) ** 2
    w = w / w.sum(axis=1, keepdims=True)
    w32 = w.astype(np.float32)
    w32 /= w32.sum(axis=1, keepdims=True)
    parents = np.arange(J, dtype=np.int64) - 1
    return {
        "rest_vertices": verts,
        "faces": faces,
        "skin_joints": order.astype(np.int32),
        "skin_weights": w32,
        "joint_rest_positions": joints,
        "parents": parents,
    }


def chain_skinning_matrices(body: dict, local_rotations, root_translations) -> np.ndarray:
    """Forward kinematics of a joint tree with identity rest rotations, as skinning matrices.

    local_rotations (T,J,3,3): each joint's rotation relative to its parent (rest = identity);
    root_translations (T,3): displacement of the root joint from its rest position.
    G_j(t) = G_parent(t) [R_j(t), o_j], o_j = rest offset from the parent;
    returns A_j(t) = G_j(t) G_j(rest)^-1 = [R^w_j(t), p_j(t) - R^w_j(t) p_j^rest], (T,J,4,4).
    """
    Rl = np.asarray(local_rotations, dtype=np.float64)
    tr = np.asarray(root_translations, dtype=np.float64)
    rest = np.asarray(body["joint_rest_positions"], dtype=np.float64)
    parents = np.asarray(body["parents"], dtype=np.int64)
    T, J = Rl.shape[:2]
    Rw = np.empty_like(Rl)
    pw = np.empty((T, J, 3))
    for j in range(J):  # parents come before their children
        par = parents[j]
        if par < 0:
            Rw[:, j] = Rl[:, j]
            pw[:, j] = rest[j] + tr
        else:
            Rw[:, j] = Rw[:, par] @ Rl[:, j]
            pw[:, j] = pw[:, par] + Rw[:, par] @ (rest[j] - rest[par])
    A = np.zeros((T, J, 4, 4))
    A[..., :3, :3] = Rw
    A[..., :3, 3] = pw - np.einsum("tjab,jb->tja", Rw, rest)
    A[..., 3, 3] = 1.0
    return A


def tube_motion(body: dict, T: int, fps: float, seed: int = 0, root_speed: float = 1.2,
                amplitude: float = 1.0) -> np.ndarray:
    """A smooth, plausible motion of the tube's joint chain: skinning matrices (T,J,4,4).

    Every joint bends about the world-x and world-y directions of its parent frame, and
    twists slightly about its bone, by sinusoids of 0.5-2 Hz with amplitudes of 0.2-0.6 rad
    (x ``amplitude``; the twist a quarter of that), split over the chain so the whole tube
    sways without curling up, with random phases from ``seed``. The root walks along +y at
    ``root_speed`` m/s with a 2 Hz vertical bob of 3 cm (x ``amplitude``). With
    ``amplitude=0`` and ``root_speed=0`` every frame is the rest pose (A_j = identity).
    """
    rng = np.random.default_rng(seed)
    J = int(np.asarray(body["parents"]).shape[0])
    t = np.arange(int(T)) / float(fps)
    amp = rng.uniform(0.2, 0.6, size=(J, 3)) * float(amplitude)
    amp[:, :2] *= 1.0 / np.sqrt(J)  # total bend of the chain ~0.2-0.6 rad rms per axis
    amp[:, 2] *= 0.25 / np.sqrt(J)
    freq = rng.uniform(0.5, 2.0, size=(J, 3))
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(J, 3))
    angles = amp[None] * np.sin(2.0 * np.pi * freq[None] * t[:, None, None] + phase[None])  # (T,J,3)
    Rl = rotation_matrix(angles)
    root = np.zeros((t.shape[0], 3))
    root[:, 1] = float(root_speed) * t
    root[:, 2] = 0.03 * float(amplitude) * np.sin(2.0 * np.pi * 2.0 * t + rng.uniform(0, 2 * np.pi))
    return chain_skinning_matrices(body, Rl, root)
