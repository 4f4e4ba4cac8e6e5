"""Plain float64 numpy reference of the device model (docs/devices.md), written for reading:
the kernels in csrc/include/anymo/device.h are tested against it on fresh random inputs.
It consumes the same coefficient tables as the kernels (devices/model.py: device_tables)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

_M32 = np.uint64(0xFFFFFFFF)
JITTER = 18  # the timestamp jitter's normal (see normals)


def white_normal(s: int) -> int:
    """First white-noise normal of sensor s (accel 0, gyro 3, mag 20); +a for axis a. The
    Gauss–Markov drives follow at markov_normal (6, 9, 23), the random-walk steps at
    walk_normal (12, 15, 26): device.h's numbering."""
    return 3 * s if s < 2 else 20


def markov_normal(s: int) -> int:
    return 6 + 3 * s if s < 2 else 23


def walk_normal(s: int) -> int:
    return 12 + 3 * s if s < 2 else 26


def philox4x32_10(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 on (4, ...) uint32 counters with a 2-word key; returns (4, ...) uint32."""
    c = [np.asarray(w, dtype=np.uint64) & _M32 for w in counter]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & _M32
            k1 = (k1 + np.uint64(0xBB67AE85)) & _M32
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & _M32, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & _M32]
    return np.stack(c).astype(np.uint32)


# float32 Box–Muller, operation for operation as device.h (box_muller_f): numpy rounds each
# float32 operation as C++ and CUDA do, so the normals are the kernels' bits.
_F = np.float32


def _h(x: str) -> np.float32:
    return _F(float.fromhex(x))


_SQRT_HALF, _LN2_HI, _LN2_LO, _HALF_PI = _h("0x1.6a09e6p-1"), _h("0x1.63p-1"), _h("-0x1.bd0106p-13"), _h("0x1.921fb6p+0")
_LOG_SERIES = [_h(x) for x in ("0x1.c71c72p-4", "0x1.24924ap-3", "0x1.99999ap-3", "0x1.555556p-2")]  # 1/9 .. 1/3
_SIN = [_h(x) for x in ("0x1.71de3ap-19", "0x1.a01a02p-13", "0x1.111112p-7", "0x1.555556p-3")]  # 1/9! .. 1/3!
_COS = [_h(x) for x in ("0x1.27e4fcp-22", "0x1.a01a02p-16", "0x1.6c16c2p-10", "0x1.555556p-5", "0x1p-1")]  # 1/10! .. 1/2!


def _log_f32(u: np.ndarray) -> np.ndarray:
    """ln u, u float32 in (0, 1): 2 atanh((m - 1) / (m + 1)) + e ln 2, m in [sqrt(1/2), sqrt(2))."""
    b = u.view(np.uint32)
    e = (b >> 23).astype(np.int32) - 126
    m = ((b & 0x7FFFFF) | (126 << 23)).astype(np.uint32).view(np.float32)
    low = m < _SQRT_HALF
    m = np.where(low, m * _F(2), m)
    e = np.where(low, e - 1, e)
    s = (m - _F(1)) / (m + _F(1))
    s2 = s * s
    p = _LOG_SERIES[0]
    for c in _LOG_SERIES[1:] + [_F(1)]:
        p = p * s2 + c
    fe = e.astype(np.float32)
    return (fe * _LN2_LO + _F(2) * s * p) + fe * _LN2_HI


def _sincos_turn_f32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of 2 pi ((x >> 8) + 0.5) / 2^24 for uint32 x."""
    q = x >> 30
    r = (((x >> 8) & 0x3FFFFF).astype(np.int32).astype(np.float32) + _F(0.5)) * _F(2.0 ** -22)
    a = (r - _F(0.5)) * _HALF_PI
    a2 = a * a
    sp = _SIN[0]
    for c in _SIN[1:]:
        sp = c - a2 * sp
    sa = a - a * a2 * sp
    cp = _COS[0]
    for c in _COS[1:]:
        cp = c - a2 * cp
    ca = _F(1) - a2 * cp
    s1, c1 = _SQRT_HALF * (sa + ca), _SQRT_HALF * (ca - sa)
    odd, half = (q & 1) != 0, (q & 2) != 0
    s2, c2 = np.where(odd, c1, s1), np.where(odd, -s1, c1)
    return np.where(half, -s2, s2), np.where(half, -c2, c2)


def box_muller(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 standard normals from uint32 words a (radius: u = (2 (a >> 9) + 1) 2^-24, so
    |z| <= 5.77) and b (angle)."""
    u = (((a >> 9) << 1) | 1).astype(np.int32).astype(np.float32) * _F(2.0 ** -24)
    r = np.sqrt(_F(-2) * _log_f32(u))
    s, c = _sincos_turn_f32(b)
    return r * c, r * s


def normals(seed: int, ids: np.ndarray, k: np.ndarray, first: int, count: int) -> np.ndarray:
    """(len(k), len(ids), count) standard normals [first, first + count) of each (placement id,
    sample k) under `seed`: normal m is Box–Muller output m % 4 of the Philox block with counter
    (k low word, k high word, placement id, m // 4)."""
    kk = np.asarray(k, dtype=np.uint64)[:, None]
    shape = (len(kk), len(ids))
    out = []
    for b in range(first // 4, (first + count - 1) // 4 + 1):
        ctr = [np.broadcast_to(kk & _M32, shape), np.broadcast_to(kk >> np.uint64(32), shape),
               np.broadcast_to(np.asarray(ids, dtype=np.uint64)[None, :], shape), np.full(shape, b, np.uint64)]
        w = philox4x32_10(np.stack(ctr), (seed & 0xFFFFFFFF, seed >> 32))
        out += [*box_muller(w[0], w[1]), *box_muller(w[2], w[3])]
    z = np.stack(out, axis=-1).astype(np.float64)
    o = first - 4 * (first // 4)
    return z[..., o:o + count]


def strap(accel: np.ndarray, rotations: np.ndarray, coef: np.ndarray, gravity: np.ndarray) -> np.ndarray:
    """Device-frame specific force behind the loose strap (rigid rows pass through)."""
    T = len(accel)
    a = np.einsum("tpij,tpj->tpi", rotations, accel) + gravity  # world kinematic acceleration
    live = coef[:, 8] > 0
    out = accel.copy()
    w2, c = coef[live, 8][:, None], coef[live, 9][:, None]
    e, v = -a[0, live] / w2, np.zeros_like(a[0, live])
    K = coef[live]
    for t in range(T):
        ad = -w2 * e - c * v
        out[t, live] = np.einsum("pji,pj->pi", rotations[t, live], ad - gravity)
        if t + 1 < T:
            u0, u1 = -a[t, live], -a[t + 1, live]
            e, v = (K[:, 0:1] * e + K[:, 1:2] * v + K[:, 4:5] * u0 + K[:, 6:7] * u1,
                    K[:, 2:3] * e + K[:, 3:4] * v + K[:, 5:6] * u0 + K[:, 7:8] * u1)
    return out


def drift(tables: dict, s: int, seed: int, ids: np.ndarray, N: int) -> np.ndarray:
    """(N, P, 3) Gauss–Markov + random-walk bias of sensor s; the Markov state starts from its
    stationary law."""
    k = np.arange(N)
    zm = normals(seed, ids, k, markov_normal(s), 3)
    x = tables["markov_q"][None, :, s] * zm
    x[0] = tables["markov_s0"][:, s] * zm[0]
    out = np.empty_like(x)
    for p in range(len(ids)):
        out[:, p] = lfilter([1.0], [1.0, -tables["markov_phi"][p, s]], x[:, p], axis=0)
    steps = tables["walk_q"][None, :, s] * normals(seed, ids, k, walk_normal(s), 3)
    steps[0] = 0.0
    return out + np.cumsum(steps, axis=0)


def resample_readings(x: np.ndarray, step: np.ndarray, N: int, table: np.ndarray, per_frame: int, half: float) -> np.ndarray:
    """(T, P, C) at the motion's rate -> (N, P, C) at device sample k, position u = k step[p]
    frames: weights from the tabulated kernel (linear interpolation), renormalised."""
    T, P, _ = x.shape
    M = int(np.floor(2 * half)) + 2
    out = np.empty((N, P, x.shape[2]))
    for k0 in range(0, N, 256):
        k = np.arange(k0, min(N, k0 + 256))[:, None]
        u = k * step[None, :]  # (K, P)
        n = np.ceil(u - half).astype(np.int64)[..., None] + np.arange(M)  # (K, P, M)
        ok = (n >= 0) & (n <= T - 1) & (n <= np.floor(u + half)[..., None])
        pos = (n - u[..., None] + half) * per_frame
        i = np.clip(pos.astype(np.int64), 0, len(table) - 2)
        w = np.where(ok, table[i] + (pos - i) * (table[i + 1] - table[i]), 0.0)
        vals = x[np.clip(n, 0, T - 1), np.arange(P)[None, :, None]]  # (K, P, M, C)
        out[k0:k0 + len(k)] = np.einsum("kpm,kpmc->kpc", w, vals) / w.sum(-1)[..., None]
    return out


def adc(y: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Clip to [lo, hi] and quantise to multiples of lsb (clip: (P, 5) lo, hi, lsb, ...)."""
    lo, hi, lsb = clip[None, :, 0:1], clip[None, :, 1:2], clip[None, :, 2:3]
    q = lsb > 0
    safe = np.where(q, lsb, 1.0)
    codes = np.clip(np.rint(y / safe), np.rint(lo / safe), np.rint(hi / safe)) * safe
    return np.where(q, codes, np.clip(y, lo, hi))


def apply_device_reference(accel, gyro, rotations, tables, *, fps, seed, ids, gravity, N, resample, table, half):
    """The whole device model in float64; returns float32 readings and int64 timestamps."""
    P = accel.shape[1]
    n_s = tables["n_sensors"]
    f = accel if tables["strap"] is None else strap(accel, rotations, tables["strap"], gravity)
    chans = [f, gyro]
    if n_s == 3:
        chans.append(np.einsum("tpji,j->tpi", rotations, tables["mag_world"]))
    x = np.concatenate(chans, axis=2)
    if resample:
        from .model import TABLE_PER_FRAME

        x = resample_readings(x, tables["step"], N, table, TABLE_PER_FRAME, half)
    else:
        x = x[:N]
    Rm = tables["mount"].reshape(P, 3, 3)
    xs = [np.einsum("pji,kpj->kpi", Rm, x[..., 3 * s:3 * s + 3]) for s in range(n_s)]
    xs[1] = xs[1] + np.einsum("pij,kpj->kpi", tables["g_sens"].reshape(P, 3, 3), xs[0])
    if n_s == 3:
        xs[2] = np.einsum("pij,kpj->kpi", tables["soft_iron"].reshape(P, 3, 3), xs[2]) + tables["hard_iron"]
    k = np.arange(N)
    out = {}
    for s, name in enumerate(("accel", "gyro", "mag")[:n_s]):
        y = np.einsum("pij,kpj->kpi", tables["sens"][:, s].reshape(P, 3, 3), xs[s])
        y = y + tables["bias"][:, s] + drift(tables, s, seed, ids, N)
        y = y + tables["white"][:, s] * normals(seed, ids, k, white_normal(s), 3)
        out[name] = adc(y, tables["clip"][:, s]).astype(np.float32)
    jitter = tables["jitter_ns"] * normals(seed, ids, k, JITTER, 1)[..., 0]
    out["timestamps"] = np.rint(k[:, None] * (1e9 / tables["odr"]) + tables["time_offset_ns"] + jitter).astype(np.int64)
    return out
