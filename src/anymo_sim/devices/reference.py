"""Plain float64 numpy reference of the device model (docs/devices.md), written for reading:
the kernels in csrc/include/anymo/device.h are tested against it on fresh random inputs.
It consumes the same coefficient tables as the kernels (devices/model.py: device_tables)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

_M32 = np.uint64(0xFFFFFFFF)
WHITE, MARKOV, WALK, JITTER = 0, 1, 2, 15


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


def gauss4(seed: int, ids: np.ndarray, k: np.ndarray, stream: int) -> np.ndarray:
    """(len(k), len(ids), 4) standard normals keyed by (seed, placement id, sample, stream):
    Box–Muller on the word pairs (u = (n + 0.5) / 2^32) of one Philox block."""
    kk = np.asarray(k, dtype=np.uint64)[:, None]
    shape = (len(kk), len(ids))
    ctr = [np.broadcast_to(kk & _M32, shape), np.broadcast_to(kk >> np.uint64(32), shape),
           np.broadcast_to(np.asarray(ids, dtype=np.uint64)[None, :], shape), np.full(shape, stream, np.uint64)]
    w = philox4x32_10(np.stack(ctr), (seed & 0xFFFFFFFF, seed >> 32)).astype(np.float64)
    u = (w + 0.5) / 2.0 ** 32
    out = np.empty(shape + (4,))
    for i in range(2):
        r = np.sqrt(-2.0 * np.log(u[2 * i]))
        out[..., 2 * i] = r * np.cos(2 * np.pi * u[2 * i + 1])
        out[..., 2 * i + 1] = r * np.sin(2 * np.pi * u[2 * i + 1])
    return out


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
    zm = gauss4(seed, ids, k, 4 * s + MARKOV)[..., :3]
    x = tables["markov_q"][None, :, s] * zm
    x[0] = tables["markov_s0"][:, s] * zm[0]
    out = np.empty_like(x)
    for p in range(len(ids)):
        out[:, p] = lfilter([1.0], [1.0, -tables["markov_phi"][p, s]], x[:, p], axis=0)
    steps = tables["walk_q"][None, :, s] * gauss4(seed, ids, k, 4 * s + WALK)[..., :3]
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
        y = y + tables["white"][:, s] * gauss4(seed, ids, k, 4 * s + WHITE)[..., :3]
        out[name] = adc(y, tables["clip"][:, s]).astype(np.float32)
    jitter = tables["jitter_ns"] * gauss4(seed, ids, k, JITTER)[..., 0]
    out["timestamps"] = np.rint(k[:, None] * (1e9 / tables["odr"]) + tables["time_offset_ns"] + jitter).astype(np.int64)
    return out
