"""Rotation helpers for motions: unit quaternions are Hamilton, scalar first (w, x, y, z)
(DESIGN.md §2); matrices act on column vectors. Axis-angle -> matrix is synthetic.rotation_matrix."""

from __future__ import annotations

import numpy as np

from ..synthetic import rotation_matrix

__all__ = [
    "quat_to_matrix", "matrix_to_quat", "axis_angle_from_matrix", "quat_multiply", "quat_normalize", "quat_continuous",
    "rotation_matrix", "axis_rotation", "euler_matrix", "rotation_between", "best_rotation", "Y_UP_TO_Z_UP",
]

#: (x, y, z) in a y-up frame -> z-up frame: +90° about x, so y -> z and z -> -y (det +1).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def quat_normalize(q) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_to_matrix(q) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3, 3); the input is normalised first."""
    w, x, y, z = np.moveaxis(quat_normalize(q), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(R) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z) with w >= 0.

    Shepperd's method: build from the largest of w², x², y², z² so no division is ill-conditioned."""
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], 1)
    k = np.argmax(cand, axis=1)
    q = np.empty((len(m), 4))
    s01, s02, s12 = m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1]
    d21, d02, d10 = m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]
    rows = {
        0: (1 + tr, d21, d02, d10),
        1: (d21, 1 + 2 * m[:, 0, 0] - tr, s01, s02),
        2: (d02, s01, 1 + 2 * m[:, 1, 1] - tr, s12),
        3: (d10, s02, s12, 1 + 2 * m[:, 2, 2] - tr),
    }
    for key, comps in rows.items():
        sel = k == key
        if sel.any():
            q[sel] = np.stack([c[sel] for c in comps], 1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q.reshape(R.shape[:-2] + (4,))


def axis_angle_from_matrix(R) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) rotation vectors (angle in [0, π]), via the unit quaternion."""
    q = matrix_to_quat(R)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    return np.where(s > 1e-12, q[..., 1:] / np.maximum(s, 1e-300) * angle, 2.0 * q[..., 1:])


def quat_multiply(a, b) -> np.ndarray:
    """Hamilton product a ⊗ b of (..., 4) quaternions (rotation b first, then a)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def quat_continuous(q) -> np.ndarray:
    """Flip signs along axis 0 (time) so consecutive quaternions lie in the same hemisphere."""
    q = np.array(q, dtype=np.float64, copy=True)
    dots = np.einsum("t...i,t...i->t...", q[1:], q[:-1])
    flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    q[1:] *= flips[..., None]
    return q


def axis_rotation(axis: str, angle) -> np.ndarray:
    """Rotations by `angle` (radians, any shape) about the coordinate axis 'x', 'y' or 'z'."""
    a = np.asarray(angle, dtype=np.float64)
    vec = np.zeros(a.shape + (3,))
    vec[..., "xyz".index(axis.lower())] = a
    return rotation_matrix(vec)


def euler_matrix(order: str, angles) -> np.ndarray:
    """Intrinsic Euler rotations composed in the order listed: order 'ZXY' with angles (..., 3)
    -> Rz(a0) · Rx(a1) · Ry(a2) (BVH's convention: channels compose left to right)."""
    angles = np.asarray(angles, dtype=np.float64)
    R = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, axis in enumerate(order):
        R = R @ axis_rotation(axis, angles[..., i])
    return R


def rotation_between(a, b) -> np.ndarray:
    """The smallest rotation taking direction a (3,) to direction b (3,)."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        # opposite directions: half a turn about any axis perpendicular to a
        perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return rotation_matrix(np.pi * perp / np.linalg.norm(perp))
    return rotation_matrix(axis / s * np.arctan2(s, c))


def best_rotation(src, dst, weights=None) -> np.ndarray:
    """The rotation R minimising Σ w‖R·src_i − dst_i‖² (Kabsch): src, dst (N, 3)."""
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    H = (src * w[:, None]).T @ dst
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    return Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
