"""Allan deviation, and unit/platform conversions of device readings for export."""

from __future__ import annotations

import math

import numpy as np

from .._arrays import is_torch
from .model import DeviceReadings
from .params import G

_ACCEL_UNITS = {"m/s^2": 1.0, "g": 1.0 / G, "mg": 1e3 / G}
_GYRO_UNITS = {"rad/s": 1.0, "deg/s": 180.0 / math.pi}
_MAG_UNITS = {"T": 1.0, "uT": 1e6, "gauss": 1e4}
CONVENTIONS = ("rep145", "apple")


def allan_deviation(x, fps: float, taus=None):
    """Overlapping Allan deviation of samples x (N, ...) at fps Hz, along axis 0.

    taus: averaging times in s (rounded to whole samples; default: about 10 per decade from
    1/fps to N/(10 fps)). Returns (taus actually used (M,), adev (M, ...))."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 3:
        raise ValueError(f"x: the Allan deviation needs at least 3 samples, got {n}")
    if not fps > 0:
        raise ValueError(f"fps: expected a positive rate in Hz, got {fps!r}")
    if taus is None:
        m = np.unique(np.round(np.logspace(0, math.log10(max(n // 10, 1)), 10 * max(1, int(math.log10(max(n // 10, 2))) + 1))))
    else:
        m = np.unique(np.maximum(1, np.round(np.asarray(taus, dtype=np.float64) * fps)))
    m = m[m <= (n - 1) // 2].astype(np.int64)
    if len(m) == 0:
        raise ValueError(f"taus: every averaging time is longer than half the record ({n / fps:g} s)")
    # theta = integral of x (cumulative sum / fps); AVAR(m) = mean((th[i+2m] - 2 th[i+m] + th[i])^2) / (2 tau^2)
    theta = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)]) / fps
    out = []
    for mi in m:
        tau = mi / fps
        d = theta[2 * mi:] - 2 * theta[mi:-mi] + theta[: -2 * mi]
        out.append(np.sqrt(np.mean(d ** 2, axis=0) / (2 * tau ** 2)))
    return m / fps, np.stack(out)


def export(readings: DeviceReadings, *, accel_unit="m/s^2", gyro_unit="rad/s", mag_unit="T",
           convention="rep145") -> DeviceReadings:
    """Readings in other units or a platform's sign convention.

    accel_unit: 'm/s^2', 'g' or 'mg'; gyro_unit: 'rad/s' or 'deg/s'; mag_unit: 'T', 'uT' or
    'gauss'. convention: 'rep145' (ROS REP-145 and Android: a device at rest reads +1 g on
    the axis pointing up; the simulator's own) or 'apple' (Core Motion: the accelerometer
    reads -1 g on the axis pointing up; gyro and magnetometer unchanged)."""
    for name, unit, table in (("accel_unit", accel_unit, _ACCEL_UNITS), ("gyro_unit", gyro_unit, _GYRO_UNITS),
                              ("mag_unit", mag_unit, _MAG_UNITS)):
        if unit not in table:
            raise ValueError(f"{name}: expected one of {sorted(table)}, got {unit!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {CONVENTIONS}, got {convention!r}")
    if readings.units != ("m/s^2", "rad/s", "T") or readings.convention != "rep145":
        raise ValueError("readings: export() converts SI, REP-145 readings (as apply_device returns them)")
    sign = -1.0 if convention == "apple" else 1.0

    def scaled(x, f):
        if x is None:
            return None
        if is_torch(x):
            return x * f
        return (np.asarray(x) * np.float32(f)).astype(np.float32)

    return DeviceReadings(readings.timestamps, scaled(readings.accel, sign * _ACCEL_UNITS[accel_unit]),
                          scaled(readings.gyro, _GYRO_UNITS[gyro_unit]), scaled(readings.mag, _MAG_UNITS[mag_unit]),
                          readings.odr, (accel_unit, gyro_unit, mag_unit), convention)
