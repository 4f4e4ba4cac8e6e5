"""Plain numpy float64 reference implementation of the simulation engine.

This module is the yardstick the C++/CUDA kernels are held to: it implements, formula by
formula, the definitions of ``docs/engine.md`` (surface frames, finite differences, chart
angular rates, the Blackman-windowed-sinc low-pass, linear blend skinning). It favours
readability over speed: everything is float64 and vectorised over placements; only the
whole-mesh skinning loops over frames (to bound memory).

Conventions (DESIGN.md §2): z up, SI units, gravity g = (0, 0, -9.80665) m/s^2,
accelerometer = specific force f = R_ws^T (a_w - g_w), gyroscope = body-frame rate
(R_ws' = R_ws [w]x).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "DEGENERATE_RTOL",
    "so3_log",
    "vertex_normals",
    "skin_vertices",
    "lowpass",
    "lowpass_taps",
    "finite_difference_accel",
    "body_rate",
    "surface_frames",
    "reference_surface_imu",
    "reference_skinned_imu",
]

#: A sum (normal, projected tangent) is degenerate when its length is at most this
#: fraction of its scale (engine.md, "Degenerate cases").
DEGENERATE_RTOL = 1e-12

_DEFAULT_GRAVITY = (0.0, 0.0, -9.80665)


# --------------------------------------------------------------------------------------
# rotations
# --------------------------------------------------------------------------------------


def _quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """(...,3,3) rotation matrices -> (...,4) unit quaternions (w, x, y, z), w >= 0.

    Shepperd's method: the branch is chosen by the largest of (trace, R00, R11, R22), so
    the square root is always taken of a number >= 1 and the division is well conditioned.
    """
    R = np.asarray(R, dtype=np.float64)
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    tr = m00 + m11 + m22

    with np.errstate(divide="ignore", invalid="ignore"):
        # branch 0: trace largest
        s0 = 2.0 * np.sqrt(np.maximum(1.0 + tr, 0.0))
        q0 = np.stack([0.25 * s0, (m21 - m12) / s0, (m02 - m20) / s0, (m10 - m01) / s0], -1)
        # branch 1: R00 largest
        s1 = 2.0 * np.sqrt(np.maximum(1.0 + m00 - m11 - m22, 0.0))
        q1 = np.stack([(m21 - m12) / s1, 0.25 * s1, (m01 + m10) / s1, (m02 + m20) / s1], -1)
        # branch 2: R11 largest
        s2 = 2.0 * np.sqrt(np.maximum(1.0 + m11 - m00 - m22, 0.0))
        q2 = np.stack([(m02 - m20) / s2, (m01 + m10) / s2, 0.25 * s2, (m12 + m21) / s2], -1)
        # branch 3: R22 largest
        s3 = 2.0 * np.sqrt(np.maximum(1.0 + m22 - m00 - m11, 0.0))
        q3 = np.stack([(m10 - m01) / s3, (m02 + m20) / s3, (m12 + m21) / s3, 0.25 * s3], -1)

    use0 = (tr >= m00) & (tr >= m11) & (tr >= m22)
    use1 = ~use0 & (m00 >= m11) & (m00 >= m22)
    use2 = ~use0 & ~use1 & (m11 >= m22)
    q = np.where(use0[..., None], q0, np.where(use1[..., None], q1, np.where(use2[..., None], q2, q3)))
    q = np.where(q[..., :1] < 0.0, -q, q)  # same rotation; keeps the angle in [0, pi]
    return q


def so3_log(R: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle, angle in [0, pi]) of rotation matrices (...,3,3).

    Goes through the unit quaternion q = (w, v) with w >= 0: angle = 2 atan2(|v|, w), which
    is accurate for tiny angles and near pi alike.
    """
    q = _quaternion_from_matrix(R)
    w = q[..., 0]
    v = q[..., 1:]
    n = np.linalg.norm(v, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(n > 0.0, 2.0 * np.arctan2(n, w) / n, 2.0 / w)
    return k[..., None] * v


# --------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------


def _face_cross(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(x_i1 - x_i0) x (x_i2 - x_i0) for every face: (...,F,3)."""
    x0 = np.take(vertices, faces[:, 0], axis=-2)
    e1 = np.take(vertices, faces[:, 1], axis=-2) - x0
    e2 = np.take(vertices, faces[:, 2], axis=-2) - x0
    out = np.empty_like(e1)
    out[..., 0] = e1[..., 1] * e2[..., 2] - e1[..., 2] * e2[..., 1]
    out[..., 1] = e1[..., 2] * e2[..., 0] - e1[..., 0] * e2[..., 2]
    out[..., 2] = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    return out


def _scatter_faces_to_vertices(values: np.ndarray, faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Sum a per-face quantity (...,F,C) into the three corner vertices: (...,V,C)."""
    batch = values.shape[:-2]
    F, C = values.shape[-2:]
    B = int(np.prod(batch, dtype=np.int64))
    vals = values.reshape((B, F, C))
    out = np.zeros((B, n_vertices, C), dtype=np.float64)
    if F == 0:
        return out.reshape(batch + (n_vertices, C))
    corners = faces.T.reshape(-1)  # (3F,): corner 0 of every face, then corner 1, corner 2
    chunk = max(1, 4_000_000 // max(1, 3 * F))  # bound the scratch index arrays
    for b0 in range(0, B, chunk):
        nb = min(chunk, B - b0)
        idx = (np.arange(nb)[:, None] * n_vertices + corners[None, :]).reshape(-1)
        for c in range(C):
            w = np.tile(vals[b0 : b0 + nb, :, c], (1, 3)).reshape(-1)  # matches idx order
            out[b0 : b0 + nb, :, c] = np.bincount(idx, weights=w, minlength=nb * n_vertices).reshape(nb, n_vertices)
    return out.reshape(batch + (n_vertices, C))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unnormalised area-weighted vertex normals (engine.md step 1).

    n_v = sum over faces (i0, i1, i2) containing v of (x_i1 - x_i0) x (x_i2 - x_i0).
    vertices (...,V,3), faces (F,3) -> (...,V,3) float64.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    return _scatter_faces_to_vertices(_face_cross(vertices, faces), faces, vertices.shape[-2])


def _rigid_parts(joint_transforms: np.ndarray) -> np.ndarray:
    """(T,J,4,4) or (T,J,3,4) -> (T,J,3,4) float64."""
    A = np.asarray(joint_transforms, dtype=np.float64)
    if A.ndim != 4 or A.shape[-1] != 4 or A.shape[-2] not in (3, 4):
        raise ValueError(f"joint_transforms must have shape (T, J, 4, 4) or (T, J, 3, 4), got {A.shape}")
    return A[..., :3, :]


def skin_vertices(rest_vertices, skin_joints, skin_weights, joint_transforms) -> np.ndarray:
    """Linear blend skinning of the whole mesh.

    x_v(t) = sum_k w_vk A_{j_vk}(t) [x_v^rest; 1].
    rest_vertices (V,3), skin_joints (V,K) int, skin_weights (V,K), joint_transforms
    (T,J,4,4) or (T,J,3,4) -> (T,V,3) float64. Loops over frames to bound memory.
    """
    x = np.asarray(rest_vertices, dtype=np.float64)
    j = np.asarray(skin_joints, dtype=np.int64)
    w = np.asarray(skin_weights, dtype=np.float64)
    A = _rigid_parts(joint_transforms)
    T = A.shape[0]
    out = np.empty((T, x.shape[0], 3), dtype=np.float64)
    for t in range(T):
        M = np.einsum("vk,vkab->vab", w, A[t][j])  # (V,3,4) blended matrices
        out[t] = np.einsum("vab,vb->va", M[:, :, :3], x) + M[:, :, 3]
    return out


# --------------------------------------------------------------------------------------
# time: low-pass, finite differences, chart rates
# --------------------------------------------------------------------------------------


def lowpass_taps(fps: float, cutoff_hz: float) -> np.ndarray:
    """Taps h_k, k = -H..H, of the Blackman-windowed sinc (engine.md), H = ceil(3 fps / f_c)."""
    fps = float(fps)
    cutoff_hz = float(cutoff_hz)
    if not (0.0 < cutoff_hz < 0.5 * fps):
        raise ValueError(f"lowpass cutoff must satisfy 0 < f_c < fps/2, got f_c={cutoff_hz}, fps={fps}")
    H = int(math.ceil(3.0 * fps / cutoff_hz))
    k = np.arange(-H, H + 1, dtype=np.float64)
    window = 0.42 + 0.5 * np.cos(np.pi * k / H) + 0.08 * np.cos(2.0 * np.pi * k / H)
    return np.sinc(2.0 * cutoff_hz * k / fps) * window  # np.sinc(x) = sin(pi x) / (pi x)


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float, axis: int = 0) -> np.ndarray:
    """Zero-phase Blackman-windowed-sinc FIR along ``axis``, truncated and renormalised at
    the ends: y_t = sum_k h_k x_{t+k} / sum_k h_k over the k with 0 <= t+k <= T-1."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    T = x.shape[0]
    h = lowpass_taps(fps, cutoff_hz)
    H = (h.shape[0] - 1) // 2
    num = np.zeros_like(x)
    den = np.zeros(T, dtype=np.float64)
    for i, hk in enumerate(h):
        k = i - H
        lo, hi = max(0, -k), min(T, T - k)  # output frames t with 0 <= t + k <= T - 1
        if lo >= hi:
            continue
        num[lo:hi] += hk * x[lo + k : hi + k]
        den[lo:hi] += hk
    y = num / den.reshape((T,) + (1,) * (x.ndim - 1))
    return np.moveaxis(y, 0, axis)


def _check_frames(T: int) -> None:
    if T < 4:
        raise ValueError(f"at least 4 frames are needed for the finite-difference stencils, got T={T}")


def finite_difference_accel(s: np.ndarray, fps: float) -> np.ndarray:
    """Second time derivative of positions s (T,...,3) with the stencils of engine.md:
    central inside, 2 s0 - 5 s1 + 4 s2 - s3 at the ends (exact for cubics)."""
    s = np.asarray(s, dtype=np.float64)
    T = s.shape[0]
    _check_frames(T)
    inv_h2 = float(fps) ** 2
    a = np.empty_like(s)
    a[1:-1] = (s[:-2] - 2.0 * s[1:-1] + s[2:]) * inv_h2
    a[0] = (2.0 * s[0] - 5.0 * s[1] + 4.0 * s[2] - s[3]) * inv_h2
    a[-1] = (2.0 * s[-1] - 5.0 * s[-2] + 4.0 * s[-3] - s[-4]) * inv_h2
    return a


def _chart_log(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """log(Ra^T Rb) for stacks of rotations."""
    return so3_log(np.swapaxes(Ra, -1, -2) @ Rb)


def body_rate(R: np.ndarray, fps: float) -> np.ndarray:
    """Body-frame angular velocity from rotations R (T,...,3,3) (world from sensor).

    phi_k = log(R_t^T R_{t+k}); omega_t = (phi_{+1} - phi_{-1}) / 2h inside,
    (4 phi_{+1} - phi_{+2}) / 2h at t = 0 and (phi_{-2} - 4 phi_{-1}) / 2h at t = T-1.
    """
    R = np.asarray(R, dtype=np.float64)
    T = R.shape[0]
    _check_frames(T)
    inv_2h = 0.5 * float(fps)
    w = np.empty(R.shape[:-1], dtype=np.float64)
    w[1:-1] = (_chart_log(R[1:-1], R[2:]) - _chart_log(R[1:-1], R[:-2])) * inv_2h
    w[0] = (4.0 * _chart_log(R[0], R[1]) - _chart_log(R[0], R[2])) * inv_2h
    w[-1] = (_chart_log(R[-1], R[-3]) - 4.0 * _chart_log(R[-1], R[-2])) * inv_2h
    return w


# --------------------------------------------------------------------------------------
# surface frames
# --------------------------------------------------------------------------------------


def _least_aligned_axis(n: np.ndarray) -> np.ndarray:
    """World axis least aligned with n (first of x, y, z on ties), (...,3)."""
    a = np.abs(n)
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    idx = np.where((ax <= ay) & (ax <= az), 0, np.where(ay <= az, 1, 2))
    return np.eye(3)[idx]


def _surface_frames(vertices, faces, anchors, bary, yaw, offset, ref_vertices=None, ref_dirs=None):
    """surface_frames plus the number of (frame, placement) pairs that needed a fallback."""
    X = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    anchors = np.asarray(anchors, dtype=np.int64)
    b = np.asarray(bary, dtype=np.float64)
    P = anchors.shape[0]
    yaw = np.broadcast_to(np.asarray(yaw, dtype=np.float64), (P,))
    offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), (P,))
    if (ref_vertices is None) == (ref_dirs is None):
        raise ValueError("give exactly one of ref_vertices (vertex reference) or ref_dirs (direction reference)")
    T = X.shape[0]

    # 1. area-weighted vertex normals, normalised; degenerate ones fall back to (0, 0, 1).
    # Only the faces around the anchors matter, so only they are summed (the sums at the
    # anchors are complete; those at other vertices are not used).
    near = faces[np.isin(faces, anchors).any(axis=1)]
    cr = _face_cross(X, near)  # (T,F',3)
    n_sum = _scatter_faces_to_vertices(cr, near, X.shape[1])  # (T,V,3)
    n_len = np.linalg.norm(n_sum, axis=-1)
    n_scale = _scatter_faces_to_vertices(np.linalg.norm(cr, axis=-1)[..., None], near, X.shape[1])[..., 0]
    vdeg = ~(n_len > DEGENERATE_RTOL * n_scale)  # also catches 0 <= 0 (isolated vertex)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_hat = np.where(vdeg[..., None], np.array([0.0, 0.0, 1.0]), n_sum / n_len[..., None])
    degenerate = (vdeg[:, anchors] & (b != 0.0)).any(axis=-1)  # (T,P); zero-weight anchors do not count

    # 2. placement normal (Phong interpolation)
    nb = np.einsum("pi,tpic->tpc", b, n_hat[:, anchors])  # (T,P,3)
    nb_len = np.linalg.norm(nb, axis=-1)
    nb_scale = np.abs(b).sum(axis=-1)  # sum_i b_i |n_hat| with unit n_hat
    ndeg = ~(nb_len > DEGENERATE_RTOL * nb_scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(ndeg[..., None], np.array([0.0, 0.0, 1.0]), nb / nb_len[..., None])
    degenerate |= ndeg

    # 3. surface point and sensor position
    p = np.einsum("pi,tpic->tpc", b, X[:, anchors])  # (T,P,3)
    s = p + offset[None, :, None] * n

    # 4. tangent reference
    if ref_vertices is not None:
        r = X[:, np.asarray(ref_vertices, dtype=np.int64)] - p
    else:
        r = np.broadcast_to(np.asarray(ref_dirs, dtype=np.float64), (T, P, 3))

    # 5. project onto the tangent plane, fallback from the least aligned world axis
    t = r - np.sum(r * n, axis=-1, keepdims=True) * n
    t_len = np.linalg.norm(t, axis=-1)
    tdeg = ~(t_len > DEGENERATE_RTOL * np.linalg.norm(r, axis=-1))
    e = _least_aligned_axis(n)
    t_fb = e - np.sum(e * n, axis=-1, keepdims=True) * n
    t = np.where(tdeg[..., None], t_fb, t)
    x0 = t / np.linalg.norm(t, axis=-1, keepdims=True)
    degenerate |= tdeg

    c, sn = np.cos(yaw)[None, :, None], np.sin(yaw)[None, :, None]
    x = c * x0 + sn * np.cross(n, x0)
    y = np.cross(n, x)
    R = np.stack([x, y, n], axis=-1)  # columns: sensor axes in world coordinates
    return R, s, int(degenerate.sum())


def surface_frames(vertices, faces, anchors, bary, yaw, offset, *, ref_vertices=None, ref_dirs=None):
    """Sensor frames and positions at surface placements (engine.md steps 1-6).

    vertices (T,V,3); faces (F,3); anchors (P,3) int; bary (P,3); yaw (P,) rad; offset (P,) m.
    Exactly one of ref_vertices (P,) int (vertex reference: r = x_ref - p) or ref_dirs
    (T,P,3) (direction reference, world tangent references already computed).
    Returns (R_ws (T,P,3,3), s (T,P,3)) float64; R_ws columns are the sensor x, y, z axes.
    """
    R, s, _ = _surface_frames(vertices, faces, anchors, bary, yaw, offset, ref_vertices, ref_dirs)
    return R, s


def _imu_from_frames(R, s, fps, gravity, lowpass_hz):
    g = np.asarray(gravity, dtype=np.float64).reshape(3)
    a = finite_difference_accel(s, fps)
    f = np.einsum("tpji,tpj->tpi", R, a - g)  # R^T (a - g)
    w = body_rate(R, fps)
    if lowpass_hz is not None:
        f = lowpass(f, fps, lowpass_hz, axis=0)
        w = lowpass(w, fps, lowpass_hz, axis=0)
    return f, w


def reference_surface_imu(vertices, faces, anchors, bary, yaw, offset, fps, *, ref_vertices=None, ref_dirs=None,
                          gravity=_DEFAULT_GRAVITY, lowpass_hz=None) -> dict:
    """Ideal IMU readings at surface placements of a posed mesh sequence (mesh path).

    Returns {"accel": (T,P,3) specific force, "gyro": (T,P,3) body rate, "rotations":
    (T,P,3,3) world-from-sensor, "positions": (T,P,3), "degenerate": int} (arrays float64).
    The low-pass, when given, filters accel and gyro only.
    """
    X = np.asarray(vertices, dtype=np.float64)
    _check_frames(X.shape[0])
    R, s, deg = _surface_frames(X, faces, anchors, bary, yaw, offset, ref_vertices, ref_dirs)
    f, w = _imu_from_frames(R, s, fps, gravity, lowpass_hz)
    return {"accel": f, "gyro": w, "rotations": R, "positions": s, "degenerate": deg}


def reference_skinned_imu(rest_vertices, faces, skin_joints, skin_weights, joint_transforms, anchors, bary, yaw,
                          offset, rest_tangents, fps, *, gravity=_DEFAULT_GRAVITY, lowpass_hz=None) -> dict:
    """Ideal IMU readings at surface placements of a skinned mesh (skinned path).

    Skins the whole mesh, carries each placement's rest tangent r0 (P,3) with the linear
    parts of the skinning matrices weighted by its dominant anchor's skin weights (the
    first i with the largest bary[p, i]), then applies reference_surface_imu.
    """
    A = _rigid_parts(joint_transforms)
    _check_frames(A.shape[0])
    X = skin_vertices(rest_vertices, skin_joints, skin_weights, A)
    anchors = np.asarray(anchors, dtype=np.int64)
    b = np.asarray(bary, dtype=np.float64)
    dom = anchors[np.arange(anchors.shape[0]), np.argmax(b, axis=1)]  # (P,)
    jd = np.asarray(skin_joints, dtype=np.int64)[dom]  # (P,K)
    wd = np.asarray(skin_weights, dtype=np.float64)[dom]  # (P,K)
    r0 = np.asarray(rest_tangents, dtype=np.float64).reshape(-1, 3)
    L = A[:, :, :, :3][:, jd]  # (T,P,K,3,3)
    ref_dirs = np.einsum("pk,tpkab,pb->tpa", wd, L, r0)
    return reference_surface_imu(X, faces, anchors, b, yaw, offset, fps, ref_dirs=ref_dirs, gravity=gravity,
                                 lowpass_hz=lowpass_hz)
