"""apply_device: ideal readings (specific force, body rate, sensor frames) at the motion's rate
in, device readings at the device's rate out. Validates parameters, turns them into the
per-placement coefficient tables the kernels read (csrc/include/anymo/device.h), and runs the
C++/CUDA drivers or the float64 numpy reference (devices/reference.py). docs/devices.md
defines every term."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import engine
from .._arrays import is_cuda, is_torch, to_numpy
from ..synthetic import rotation_matrix
from ..validate import require_finite, require_fps, shape_error
from . import reference
from .params import DeviceParams, SensorModel, as_params

# Resampling kernels (docs/devices.md "Output data rate"), Blackman-windowed sincs. Downsampling
# (odr < fps): anti-alias low-pass, -6 dB at 0.4 odr, half-width 16 / odr seconds. Otherwise
# the motion already is band-limited below the device's Nyquist frequency, and a short
# interpolator (cutoff fps / 2, half-width 4 frames) reconstructs it at a quarter of the taps.
CUTOFF_FRACTION = 0.4
HALF_WIDTH_PERIODS = 16.0
INTERP_CUTOFF_FRACTION = 0.5
INTERP_HALF_WIDTH_FRAMES = 4.0
TABLE_PER_FRAME = 256
_SENSORS = ("accel", "gyro", "mag")


def _markov_peak() -> float:
    """Peak of the Allan deviation of a unit-variance first-order Gauss–Markov process,
    max over x = tau / T of (1/x) sqrt(4 e^-x - e^-2x + 2x - 3) (about 0.6183 at x = 1.89)."""
    x = np.linspace(0.5, 5.0, 20001)
    return float(np.max(np.sqrt(4 * np.exp(-x) - np.exp(-2 * x) + 2 * x - 3) / x))


MARKOV_PEAK = _markov_peak()


@dataclass(frozen=True)
class DeviceReadings:
    """Device output at N samples and P placements.

    timestamps: (N, P) int64 ns in the device's clock (clock error, offset, jitter applied);
        None from apply_device(..., timestamps=False).
    accel, gyro, mag: (N, P, 3) float32 in the device frame, SI (m/s², rad/s, T); mag None
    without a magnetometer. units: the unit of each; convention: 'rep145' (+g up at rest).
    """

    timestamps: Any
    accel: Any
    gyro: Any
    mag: Any = None
    odr: float = 0.0
    units: tuple = ("m/s^2", "rad/s", "T")
    convention: str = "rep145"


# ---- parameter tables -------------------------------------------------------------------------
def _arr(name, value, P, tail, default=0.0, nonneg=False, finite=True):
    """Broadcast a parameter to (P, *tail): scalar, tail-shaped, or (P, *tail)."""
    a = np.asarray(default if value is None else value, dtype=np.float64)
    if a.ndim == 0 or a.shape == tuple(tail):
        a = np.broadcast_to(a, (P, *tail))
    elif tail == () and a.shape != (P,) or tail != () and a.shape != (P, *tail):
        want = f"(), ({P},)" if tail == () else f"(), {tuple(tail)} or ({P}, {', '.join(map(str, tail))})"
        raise shape_error(name, want, a.shape)
    if finite:
        require_finite(name, a)
    if nonneg and (np.isnan(a).any() or (a < 0).any()):
        raise ValueError(f"{name}: expected values >= 0, got {a[np.isnan(a) | (a < 0)].ravel()[0]!r}")
    return np.ascontiguousarray(a)


def _sensor_tables(s: SensorModel, name: str, P: int, odr: float) -> dict:
    N = _arr(f"{name}.noise_density", s.noise_density, P, (3,), nonneg=True)
    B = _arr(f"{name}.bias_instability", s.bias_instability, P, (3,), nonneg=True)
    tau = _arr(f"{name}.bias_correlation_time", s.bias_correlation_time, P, ())
    if not (tau > 0).all() or not np.isfinite(tau).all():
        raise ValueError(f"{name}.bias_correlation_time: expected a positive time in s, got {tau.min()!r}")
    K = _arr(f"{name}.bias_random_walk", s.bias_random_walk, P, (3,), nonneg=True)
    scale = _arr(f"{name}.scale", s.scale, P, (3,))
    if (scale <= -1).any():
        raise ValueError(f"{name}.scale: a scale-factor error must be > -1 (-100 %), got {scale.min()!r}")
    cross = _arr(f"{name}.cross_axis", s.cross_axis, P, (3, 3)).copy()
    cross[:, [0, 1, 2], [0, 1, 2]] = 0.0
    rng = _arr(f"{name}.range", s.range, P, (), finite=False)
    if np.isnan(rng).any() or (rng <= 0).any():
        raise ValueError(f"{name}.range: expected a positive full scale, got {rng.min()!r}")
    bits = np.asarray(s.bits)
    if bits.dtype.kind not in "iu" and not (bits == np.round(bits)).all() or (bits < 0).any() or (bits > 32).any():
        raise ValueError(f"{name}.bits: expected an integer number of ADC bits in [0, 32] (0 = none), got {s.bits!r}")
    bits = np.broadcast_to(bits.astype(np.int64), (P,))
    if ((bits > 0) & ~np.isfinite(rng)).any():
        raise ValueError(f"{name}.bits: quantization needs a finite {name}.range (LSB = 2 range / 2^bits)")
    lsb = np.where(bits > 0, 2.0 * np.where(np.isfinite(rng), rng, 0.0) / 2.0 ** bits, 0.0)
    q = lsb > 0
    safe = np.where(q, lsb, 1.0)
    phi = np.exp(-1.0 / (odr * tau))
    sigma_b = B / MARKOV_PEAK
    return {
        "bias": _arr(f"{name}.bias", s.bias, P, (3,)),
        "sens": (np.eye(3) + scale[:, :, None] * np.eye(3)) @ (np.eye(3) + cross),
        "white": N * math.sqrt(odr),
        "markov_phi": phi,
        "markov_q": sigma_b * np.sqrt(1.0 - phi ** 2)[:, None],
        "markov_s0": sigma_b,
        "walk_q": K / math.sqrt(odr),
        # lo, hi, lsb, then the codes of lo and hi (device.h adc; same IEEE division and rint)
        "clip": np.stack([-rng, rng - lsb, lsb, np.where(q, np.rint(-rng / safe), 0.0),
                          np.where(q, np.rint((rng - lsb) / safe), 0.0)], axis=1),
    }


def expm_stack(M: np.ndarray) -> np.ndarray:
    """exp of a stack of small matrices (..., n, n): Taylor series (12 terms) at 1-norm <= 1/4,
    then squaring; ~1e-12 relative. Stacked matmul (numpy's own loop for matrices this small,
    3x faster than einsum) rather than scipy.linalg.expm on purpose: scipy's BLAS leaves its
    worker threads spinning for a while after the call, and the OpenMP kernels that follow ran
    up to ~2x slower on a 2-core machine."""
    norm = np.abs(M).sum(axis=-2).max(axis=-1)
    s = np.maximum(0, np.ceil(np.log2(np.maximum(norm, 1e-300) / 0.25))).astype(int)
    A = M / (2.0 ** s)[..., None, None]
    E = np.broadcast_to(np.eye(M.shape[-1]), M.shape).copy()
    term = E.copy()
    for k in range(1, 13):
        term = np.matmul(term, A) / k
        E = E + term
    for i in range(int(s.max(initial=0))):
        E = np.where((s > i)[..., None, None], np.matmul(E, E), E)
    return E


def strap_coefficients(frequency_hz: np.ndarray, damping: np.ndarray, fps: float) -> np.ndarray:
    """(P, 10) exact first-order-hold discretisation of e'' + 2 zeta w e' + w^2 e = u at the
    motion's frame rate: Phi (4), Ga (2), Gb (2), w^2, 2 zeta w; rows of rigid placements 0."""
    P = len(frequency_hz)
    out = np.zeros((P, 10))
    live = frequency_hz > 0
    if not live.any():
        return out
    w = 2 * np.pi * frequency_hz[live]
    z = damping[live]
    h = 1.0 / fps
    M = np.zeros((live.sum(), 4, 4))
    M[:, 0, 1] = 1.0
    M[:, 1, 0], M[:, 1, 1] = -w ** 2, -2 * z * w
    M[:, 1, 2] = 1.0
    M[:, 2, 3] = 1.0 / h
    E = expm_stack(M * h)  # Van Loan: blocks give Phi, the held-input and the ramp-input responses
    gamma1, gamma2 = E[:, :2, 2], E[:, :2, 3]
    out[live, 0:4] = E[:, :2, :2].reshape(-1, 4)
    out[live, 4:6] = gamma1 - gamma2
    out[live, 6:8] = gamma2
    out[live, 8] = w ** 2
    out[live, 9] = 2 * z * w
    return out


def resample_table(fps: float, odr: float) -> tuple[np.ndarray, float]:
    """The tabulated resampling kernel (TABLE_PER_FRAME points per motion frame) and its
    half-width in frames: the anti-alias low-pass when odr < fps, else the interpolator."""
    if odr < fps:
        half, cutoff = HALF_WIDTH_PERIODS / odr * fps, CUTOFF_FRACTION * odr / fps
    else:
        half, cutoff = INTERP_HALF_WIDTH_FRAMES, INTERP_CUTOFF_FRACTION
    n = int(math.ceil(2 * half * TABLE_PER_FRAME)) + 2
    x = np.arange(n) / TABLE_PER_FRAME - half
    y = np.clip(x / half, -1.0, 1.0)
    win = 0.42 + 0.5 * np.cos(np.pi * y) + 0.08 * np.cos(2 * np.pi * y)
    table = np.sinc(2.0 * cutoff * x) * win
    table[np.abs(x) >= half] = 0.0
    return table, half


def device_tables(device: DeviceParams, P: int, fps: float) -> dict:
    """Every per-placement coefficient of the device model, validated, as float64 arrays."""
    odr = fps if device.odr is None else (float(device.odr) if np.ndim(device.odr) == 0 else None)
    if odr is None or not np.isfinite(odr) or odr <= 0:
        raise ValueError(f"odr: expected one positive output data rate in Hz, got {device.odr!r}")
    sensors = [device.accel, device.gyro] + ([device.mag] if device.mag is not None else [])
    per = [_sensor_tables(s, n, P, odr) for s, n in zip(sensors, _SENSORS)]
    t = {k: np.stack([p[k] for p in per] + [np.zeros_like(per[0][k])] * (3 - len(per)), axis=1) for k in per[0]}
    t["sens"] = t["sens"].reshape(P, 3, 9)
    eps = _arr("clock_error", device.clock_error, P, ())
    if (np.abs(eps) >= 0.01).any():
        raise ValueError(f"clock_error: expected a small fraction (|error| < 1 %, e.g. 50e-6), got {eps[np.abs(eps) >= 0.01][0]!r}")
    jitter = _arr("timestamp_jitter", device.timestamp_jitter, P, (), nonneg=True)
    if (jitter > 0.1 / odr).any():
        raise ValueError(f"timestamp_jitter: expected at most 0.1 sample period ({0.1 / odr:g} s) so timestamps stay ordered")
    freq = _arr("strap_frequency", device.strap_frequency, P, (), nonneg=True)
    if (freq >= fps / 4).any():
        raise ValueError(f"strap_frequency: the strap's natural frequency must be below fps/4 = {fps / 4:g} Hz "
                         f"to be resolved at the motion's rate, got {freq.max():g} Hz")
    damping = _arr("strap_damping", device.strap_damping, P, ())
    if (freq > 0).any() and not (damping[freq > 0] > 0).all():
        raise ValueError(f"strap_damping: expected a damping ratio > 0, got {damping.min()!r}")
    t.update(
        odr=odr,
        step=fps / (odr * (1.0 + eps)),
        clock_error=eps,
        mount=rotation_matrix(_arr("mount_rotation", device.mount_rotation, P, (3,))).reshape(P, 9),
        g_sens=_arr("g_sensitivity", device.g_sensitivity, P, (3, 3)).reshape(P, 9),
        soft_iron=_arr("soft_iron", device.soft_iron, P, (3, 3), default=np.eye(3)).reshape(P, 9),
        hard_iron=_arr("hard_iron", device.hard_iron, P, (3,)),
        mag_world=_arr("mag_field", device.mag_field, 1, (3,))[0],
        time_offset_ns=_arr("time_offset", device.time_offset, P, ()) * 1e9,
        jitter_ns=jitter * 1e9,
        strap=strap_coefficients(freq, damping, fps) if (freq > 0).any() else None,
        n_sensors=len(sensors),
    )
    return t


def _sample_count(T: int, fps: float, tables: dict) -> tuple[int, bool]:
    """Device samples inside the motion, and whether resampling is needed at all."""
    if tables["odr"] == fps and not tables["clock_error"].any():
        return T, False
    step = float(tables["step"].max())
    N = int(math.floor((T - 1) / step)) + 1
    while N > 1 and (N - 1) * step > T - 1:
        N -= 1
    return N, True


def _seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2 ** 64:
        raise ValueError(f"seed: expected an integer in [0, 2^64), got {seed!r}")
    return int(seed)


def _inputs(accel, gyro, rotations, on_cuda: bool):
    def f32(x, name):
        if on_cuda:
            import torch

            if not is_cuda(x):
                raise ValueError(f"{name}: expected a CUDA tensor like accel, got {type(x).__name__}")
            return x.to(torch.float32).contiguous()
        a = to_numpy(x)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{name}: expected a real floating-point array, got dtype {a.dtype}")
        return np.ascontiguousarray(a, dtype=np.float32)

    A, W = f32(accel, "accel"), f32(gyro, "gyro")
    if A.ndim != 3 or A.shape[2] != 3:
        raise shape_error("accel", "(T, P, 3)", A.shape)
    if tuple(W.shape) != tuple(A.shape):
        raise shape_error("gyro", str(tuple(A.shape)), W.shape)
    R = None
    if rotations is not None:
        R = f32(rotations, "rotations")
        if tuple(R.shape) != (*A.shape[:2], 3, 3):
            raise shape_error("rotations", str((*A.shape[:2], 3, 3)), R.shape)
    for name, x in (("accel", A), ("gyro", W), ("rotations", R)):
        if x is not None:
            require_finite(name, x)
    return A, W, R


def apply_device(accel, gyro, fps, device, *, seed=0, rotations=None, placement_ids=None,
                 gravity=engine.GRAVITY, backend="auto", chunk_samples=None, timestamps=True,
                 max_samples=None) -> DeviceReadings:
    """Pass ideal readings through a device model.

    accel, gyro: (T, P, 3) ideal specific force (m/s²) and body rate (rad/s) in each
        placement's frame at `fps` Hz (e.g. ImuResult.accel/.gyro); numpy, or torch on the
        CPU or a GPU (CUDA tensors run the CUDA kernels). Read as float32.
    device: DeviceParams (per-placement arrays allowed, e.g. from randomize()) or a preset name.
    rotations: (T, P, 3, 3) world-from-placement frames (ImuResult.rotations); needed for the
        magnetometer and the loose strap. seed: integer in [0, 2^64); placement_ids: (P,)
        integers keying each placement's random streams (default 0..P-1), so shards of a
        dataset can draw independent placements. timestamps=False: readings only (timestamps
        None), and the jitter's random numbers are not drawn; the readings are the same.
    max_samples: keep only the first max_samples device samples (the rest are not computed;
        the kept ones are the same as without it), e.g. a window's length when the motion
        runs past it for the resampling's sake.
    Returns DeviceReadings: (N, P) int64 ns timestamps and (N, P, 3) float32 readings at the
    device's rate, of the caller's array kind.
    """
    device = as_params(device)
    on_cuda = is_cuda(accel)
    backend = engine._resolve_backend(backend, on_cuda)
    if backend == "cuda" and not on_cuda:
        import torch

        moved = [None if x is None else torch.as_tensor(to_numpy(x)).cuda() for x in (accel, gyro, rotations)]
        res = apply_device(moved[0], moved[1], fps, device, seed=seed, rotations=moved[2], placement_ids=placement_ids,
                           gravity=gravity, backend="cuda", chunk_samples=chunk_samples, timestamps=timestamps,
                           max_samples=max_samples)
        conv = (lambda x: None if x is None else (x.cpu() if is_torch(accel) else x.cpu().numpy()))
        return DeviceReadings(conv(res.timestamps), conv(res.accel), conv(res.gyro), conv(res.mag), res.odr)
    fps = require_fps(fps)
    seed = _seed(seed)
    A, W, R = _inputs(accel, gyro, rotations, on_cuda)
    T, P = int(A.shape[0]), int(A.shape[1])
    if T < 1 or P < 1:
        raise shape_error("accel", "(T, P, 3) with T, P >= 1", A.shape)
    tables = device_tables(device, P, fps)
    if R is None and device.mag is not None:
        raise ValueError("rotations: the magnetometer needs the sensor frames (T, P, 3, 3), e.g. ImuResult.rotations")
    if R is None and tables["strap"] is not None:
        raise ValueError("rotations: the loose strap works on world-frame acceleration and needs the sensor frames "
                         "(T, P, 3, 3), e.g. ImuResult.rotations")
    ids = np.arange(P) if placement_ids is None else to_numpy(placement_ids)
    if ids.shape != (P,) or ids.dtype.kind not in "iu" or (ids < 0).any() or (ids >= 2 ** 32).any():
        raise ValueError(f"placement_ids: expected ({P},) integers in [0, 2^32), got shape {ids.shape} dtype {ids.dtype}")
    g = engine._gravity(gravity)
    N, resample = _sample_count(T, fps, tables)
    if max_samples is not None:
        if isinstance(max_samples, (bool, np.bool_)) or not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
            raise ValueError(f"max_samples: expected a positive integer, got {max_samples!r}")
        N = min(N, int(max_samples))
    table, half = resample_table(fps, tables["odr"])
    if chunk_samples is not None and (not isinstance(chunk_samples, (int, np.integer)) or chunk_samples < 1):
        raise ValueError(f"chunk_samples: expected a positive integer, got {chunk_samples!r}")
    chunk = int(chunk_samples or max(64, min(N, (32 << 20) // (P * 72))))
    kw = dict(fps=fps, seed=seed, ids=ids.astype(np.uint32), gravity=g, N=N, resample=resample, table=table, half=half)

    if backend == "reference":
        out = reference.apply_device_reference(A.astype(np.float64), W.astype(np.float64),
                                               None if R is None else R.astype(np.float64), tables, **kw)
        if not timestamps:
            out["timestamps"] = None
        return _wrap(out, accel, tables)

    run = engine._Run(backend, A)
    n_sensors = tables["n_sensors"]
    problem = {
        "T": T, "P": P, "N": N, "fps": fps, "odr": tables["odr"], "gravity": g.tolist(),
        "mag_world": tables["mag_world"].tolist(), "seed": seed, "n_sensors": n_sensors, "resample": int(resample),
        "accel": run.ptr(A), "gyro": run.ptr(W), "rotations": None if R is None else run.ptr(R),
        "table_len": len(table), "table_per_frame": float(TABLE_PER_FRAME), "half_width": half, "chunk": chunk,
    }
    coefficients = {"table": (table, np.float64), "rng_id": (ids, np.uint32)}
    for key in ("step", "sens", "bias", "white", "markov_phi", "markov_q", "markov_s0", "walk_q", "clip", "mount",
                "g_sens", "soft_iron", "hard_iron", "time_offset_ns", "jitter_ns", "strap"):
        if tables[key] is not None:
            coefficients[key] = (tables[key], np.float64)
    problem.update(run.tables(coefficients))
    if on_cuda:
        import torch

        dev = A.device
        out = {k: torch.empty((N, P, 3), dtype=torch.float32, device=dev) for k in _SENSORS[:n_sensors]}
        if timestamps:
            out["timestamps"] = torch.empty((N, P), dtype=torch.int64, device=dev)
    else:
        out = {k: np.empty((N, P, 3), dtype=np.float32) for k in _SENSORS[:n_sensors]}
        if timestamps:
            out["timestamps"] = np.empty((N, P), dtype=np.int64)
    for k, v in out.items():
        problem[k if k == "timestamps" else "out_" + k] = run.ptr(v)
    if backend == "cuda":
        import torch

        with torch.cuda.device(A.device):
            engine._core.run_device(problem, "cuda", torch.cuda.current_stream(A.device).cuda_stream)
    else:
        engine._core.run_device(problem, "cpu", 0)
    return _wrap(out, accel, tables)


def _wrap(out: dict, template, tables) -> DeviceReadings:
    if is_torch(template) and not is_torch(out["accel"]):
        import torch

        out = {k: torch.from_numpy(np.asarray(v)) for k, v in out.items() if v is not None}
    return DeviceReadings(out.get("timestamps"), out["accel"], out["gyro"], out.get("mag"), tables["odr"])
