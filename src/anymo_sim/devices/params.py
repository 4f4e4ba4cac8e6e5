"""Device parameters: the SI dataclasses, the unit-aware preset files, and the randomizer.

A preset describes a *part type* (datasheet noise, range, resolution, rate) plus the part-to-part
spreads (`tolerance`) that `randomize` draws from to make individual units. Everything inside
is SI: m/s², rad/s, tesla, seconds, Hz; densities per √Hz; random walks per √s. Preset files
may write values with units ("160 ug/sqrt(Hz)", "10 deg/h"); docs/devices.md lists them.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

G = 9.80665
_DEG = math.pi / 180.0

# unit -> (kind, factor to SI)
_UNITS: dict[str, tuple[str, float]] = {
    "m/s^2": ("accel", 1.0), "m/s2": ("accel", 1.0), "g": ("accel", G), "mg": ("accel", 1e-3 * G),
    "ug": ("accel", 1e-6 * G), "µg": ("accel", 1e-6 * G),
    "rad/s": ("rate", 1.0), "deg/s": ("rate", _DEG), "dps": ("rate", _DEG), "mdps": ("rate", 1e-3 * _DEG),
    "deg/h": ("rate", _DEG / 3600.0),
    "T": ("field", 1.0), "mT": ("field", 1e-3), "uT": ("field", 1e-6), "µT": ("field", 1e-6),
    "nT": ("field", 1e-9), "gauss": ("field", 1e-4), "mgauss": ("field", 1e-7),
    "s": ("time", 1.0), "ms": ("time", 1e-3), "us": ("time", 1e-6), "µs": ("time", 1e-6), "ns": ("time", 1e-9),
    "h": ("time", 3600.0), "Hz": ("freq", 1.0), "kHz": ("freq", 1e3),
    "%": ("ratio", 1e-2), "ppm": ("ratio", 1e-6), "": ("ratio", 1.0),
    "deg": ("angle", _DEG), "rad": ("angle", 1.0), "m/s": ("velocity", 1.0),
    "deg/s/g": ("g_sensitivity", _DEG / G), "rad/s/(m/s^2)": ("g_sensitivity", 1.0),
}
_ROOT = {"/sqrt(Hz)": 1.0, "/sqrt(s)": 1.0, "/sqrt(h)": 1.0 / 60.0}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def _unit(unit: str) -> tuple[str, float]:
    for suffix, f in _ROOT.items():
        if unit.endswith(suffix):
            kind, factor = _UNITS[unit[: -len(suffix)].strip()]
            if suffix == "/sqrt(Hz)":
                return kind + "_density", factor
            # per √time: an angle or a velocity per √s is a white-noise density of the rate
            # (angle/velocity random walk); a rate or acceleration per √s is a bias random walk
            to = {"angle": "rate_density", "velocity": "accel_density"}.get(kind, kind + "_walk")
            return to, factor * f
    return _UNITS[unit]


def parse_quantity(value, kind: str, where: str) -> float:
    """A number (already SI) or a string "<number> <unit>" whose unit is of `kind`, in SI."""
    if isinstance(value, bool):
        raise TypeError(f"{where}: expected a number or '<number> <unit>', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not (m := _NUMBER.match(value)):
        raise ValueError(f"{where}: expected a number or '<number> <unit>', got {value!r}")
    number, unit = float(m.group(1)), m.group(2).replace(" ", "")
    try:
        got_kind, factor = _unit(unit)
    except KeyError:
        raise ValueError(f"{where}: unknown unit {unit!r} in {value!r} (see docs/devices.md for units)") from None
    if got_kind != kind and not (kind == "ratio" and unit == ""):
        raise ValueError(f"{where}: {value!r} is a {got_kind.replace('_', ' ')}, expected a {kind.replace('_', ' ')}")
    return number * factor


@dataclass
class SensorModel:
    """One triad (accelerometer, gyroscope or magnetometer), SI units of that sensor.

    Per-axis fields take a scalar, (3,) per axis, or (P, 3) per placement; scalar fields take
    () or (P,); matrices (3, 3) or (P, 3, 3).
    """

    noise_density: Any = 0.0  # white noise, SI/√Hz; std per sample = density √odr
    bias: Any = 0.0  # turn-on bias, SI (per axis)
    bias_instability: Any = 0.0  # Allan-deviation peak of the Gauss–Markov drift, SI (per axis)
    bias_correlation_time: Any = 100.0  # s, Gauss–Markov correlation time (scalar)
    bias_random_walk: Any = 0.0  # SI/√s: the bias wanders by this much in one second (per axis)
    scale: Any = 0.0  # scale-factor error, fraction (per axis)
    cross_axis: Any = 0.0  # (3, 3) misalignment/cross-axis fractions; the diagonal is ignored
    range: Any = math.inf  # full scale, ± SI (scalar)
    bits: Any = 0  # ADC resolution; 0 = no quantization (scalar)


@dataclass
class DeviceParams:
    """A device: its sensors, clock, mounting and strap. See docs/devices.md for each term."""

    name: str = "custom"
    description: str = ""
    odr: float | None = 100.0  # output data rate, Hz (one per call); None = the motion's rate
    accel: SensorModel = field(default_factory=SensorModel)
    gyro: SensorModel = field(default_factory=SensorModel)
    mag: SensorModel | None = None  # magnetometer (needs rotations) or None
    g_sensitivity: Any = 0.0  # (3, 3) gyro rate error per specific force, rad/s per m/s²
    mag_field: Any = (0.0, 2.0e-5, -4.3e-5)  # world field, T (z up; here +y is magnetic north)
    hard_iron: Any = 0.0  # T, (3,) or (P, 3)
    soft_iron: Any = None  # (3, 3) or (P, 3, 3); None = identity
    clock_error: Any = 0.0  # clock rate error, a fraction (50e-6 = 50 ppm): the device clock runs fast
    time_offset: Any = 0.0  # s, added to the reported timestamps
    timestamp_jitter: Any = 0.0  # s, std of Gaussian noise on the reported timestamps
    mount_rotation: Any = 0.0  # rotation vector (rad) of the device relative to the placement frame
    strap_frequency: Any = 0.0  # Hz, natural frequency of the loose-strap spring–damper; 0 = rigid
    strap_damping: Any = 0.7  # damping ratio of the strap
    tolerance: dict = field(default_factory=dict)  # 1-sigma spreads for randomize(), SI
    source: str = ""  # preset file it came from

    def replace(self, **changes) -> "DeviceParams":
        return dataclasses.replace(self, **changes)


# ---- preset files ----------------------------------------------------------------------------
_SENSOR_KINDS = {"accel": "accel", "gyro": "rate", "mag": "field"}
_SENSOR_FIELDS = {  # key -> kind, with {s} the sensor's own kind
    "noise_density": "{s}_density", "bias": "{s}", "bias_instability": "{s}", "bias_correlation_time": "time",
    "bias_random_walk": "{s}_walk", "scale": "ratio", "cross_axis": "ratio", "range": "{s}", "bits": "int",
}
_TOLERANCE_FIELDS = {  # tolerance key -> kind (per-sensor keys nest under accel/gyro/mag)
    "bias": "{s}", "scale": "ratio", "cross_axis": "ratio", "noise": "ratio", "hard_iron": "field",
    "soft_iron": "ratio", "g_sensitivity": "g_sensitivity",
}
_DEVICE_TOLERANCES = {"clock_error": "ratio", "time_offset": "time", "mount_tilt": "angle", "strap_frequency": "ratio"}
_DEVICE_FIELDS = {
    "odr": "freq", "clock_error": "ratio", "time_offset": "time", "timestamp_jitter": "time",
    "strap_frequency": "freq", "strap_damping": "ratio",
}


def _data_dir():
    return resources.files("anymo_sim") / "data" / "devices"


def preset_names() -> list[str]:
    """Names of the bundled presets (files in anymo_sim/data/devices)."""
    return sorted(p.name[:-5] for p in _data_dir().iterdir() if p.name.endswith(".yaml"))


def _check_keys(d: dict, allowed, where: str) -> None:
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")


def _sensor_from_dict(d: dict, sensor: str, where: str) -> SensorModel:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected a mapping of sensor parameters, got {d!r}")
    _check_keys(d, _SENSOR_FIELDS, where)
    out = {}
    for key, value in d.items():
        kind = _SENSOR_FIELDS[key].format(s=_SENSOR_KINDS[sensor])
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 32:
                raise ValueError(f"{where}.{key}: expected an integer number of bits in [0, 32], got {value!r}")
            out[key] = value
        elif isinstance(value, list):
            out[key] = np.array([parse_quantity(v, kind, f"{where}.{key}[{i}]") for i, v in enumerate(value)])
        else:
            out[key] = parse_quantity(value, kind, f"{where}.{key}")
    return SensorModel(**out)


def _tolerance_from_dict(d: dict, where: str) -> dict:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected a mapping, got {d!r}")
    _check_keys(d, list(_SENSOR_KINDS) + list(_DEVICE_TOLERANCES), where)
    out = {}
    for key, value in d.items():
        if key in _SENSOR_KINDS:
            if not isinstance(value, dict):
                raise ValueError(f"{where}.{key}: expected a mapping, got {value!r}")
            _check_keys(value, _TOLERANCE_FIELDS, f"{where}.{key}")
            out[key] = {k: parse_quantity(v, _TOLERANCE_FIELDS[k].format(s=_SENSOR_KINDS[key]), f"{where}.{key}.{k}")
                        for k, v in value.items()}
        else:
            out[key] = parse_quantity(value, _DEVICE_TOLERANCES[key], f"{where}.{key}")
    return out


def params_from_dict(d: dict, where: str = "device") -> DeviceParams:
    """Build DeviceParams from a preset mapping (as in the YAML files)."""
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected a mapping at the top level, got {type(d).__name__}")
    allowed = ["name", "description", "odr", "accel", "gyro", "mag", "mag_field", "hard_iron", "tolerance"]
    _check_keys(d, allowed + list(_DEVICE_FIELDS), where)
    kw: dict[str, Any] = {"name": str(d.get("name", "custom")), "description": str(d.get("description", ""))}
    if "odr" not in d:
        raise ValueError(f"{where}: missing 'odr' (output data rate, e.g. '100 Hz')")
    for key in ("accel", "gyro", "mag"):
        if key in d:
            kw[key] = _sensor_from_dict(d[key], key, f"{where}.{key}")
    for key, kind in _DEVICE_FIELDS.items():
        if key == "odr" and d[key] == "motion":
            kw[key] = None  # the motion's own rate
        elif key in d:
            kw[key] = parse_quantity(d[key], kind, f"{where}.{key}")
    for key in ("mag_field", "hard_iron"):
        if key in d:
            v = d[key]
            if not isinstance(v, list) or len(v) != 3:
                raise ValueError(f"{where}.{key}: expected a list of 3 field values, got {v!r}")
            kw[key] = np.array([parse_quantity(x, "field", f"{where}.{key}[{i}]") for i, x in enumerate(v)])
    if "tolerance" in d:
        kw["tolerance"] = _tolerance_from_dict(d["tolerance"], f"{where}.tolerance")
    return DeviceParams(**kw)


def load_preset(name_or_path: str | Path) -> DeviceParams:
    """A bundled preset by name (see preset_names()) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"device preset file {str(path)!r} does not exist")
        where = str(path)
        data = _parse_yaml(path.read_text(), where)
    else:
        names = preset_names()
        if str(name_or_path) not in names:
            raise ValueError(f"unknown device preset {str(name_or_path)!r}; available: {', '.join(names)}")
        where = f"preset {name_or_path}"
        data = copy.deepcopy(_bundled_preset(str(name_or_path)))
    return params_from_dict(data, where).replace(source=where)


def _parse_yaml(text: str, where: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: not valid YAML ({exc})") from None


@functools.lru_cache(maxsize=None)
def _bundled_preset(name: str):
    """The parsed YAML of a bundled preset, parsed once per process (generate loads the same
    presets for every job; the caller gets a deep copy)."""
    return _parse_yaml((_data_dir() / f"{name}.yaml").read_text(), f"preset {name}")


def as_params(device) -> DeviceParams:
    """DeviceParams, or a preset name/path loaded as one."""
    if isinstance(device, DeviceParams):
        return device
    if isinstance(device, (str, Path)):
        return load_preset(device)
    raise TypeError(f"device: expected DeviceParams or a preset name, got {type(device).__name__}")


# ---- randomizer --------------------------------------------------------------------------------
def _rotvec_small(rng, sigma: float, P: int) -> np.ndarray:
    return rng.normal(0.0, sigma, (P, 3)) if sigma > 0 else np.zeros((P, 3))


def _offdiag(rng, sigma: float, P: int) -> np.ndarray:
    m = rng.normal(0.0, sigma, (P, 3, 3)) if sigma > 0 else np.zeros((P, 3, 3))
    m[:, [0, 1, 2], [0, 1, 2]] = 0.0
    return m


def _randomize_sensor(s: SensorModel, tol: dict, rng, P: int, sensor: str) -> SensorModel:
    def per_axis(base, sigma, multiplicative=False):
        base = np.broadcast_to(np.asarray(base, dtype=np.float64), (P, 3)) if np.ndim(base) < 2 else np.asarray(base)
        if sigma <= 0:
            return np.array(base, dtype=np.float64)
        d = rng.normal(0.0, sigma, (P, 3))
        return base * np.exp(d) if multiplicative else base + d

    return dataclasses.replace(
        s,
        bias=per_axis(s.bias, tol.get("bias", 0.0)),
        scale=per_axis(s.scale, tol.get("scale", 0.0)),
        noise_density=per_axis(s.noise_density, tol.get("noise", 0.0), multiplicative=True),
        cross_axis=np.asarray(s.cross_axis, dtype=np.float64) + _offdiag(rng, tol.get("cross_axis", 0.0), P),
    )


def randomize(params: DeviceParams, placements: int, seed=None) -> DeviceParams:
    """Per-placement devices drawn around `params` from its `tolerance` spreads (1 sigma):
    turn-on bias, scale factor, cross-axis, noise density (log-normal), gyro g-sensitivity,
    hard/soft iron, clock error, time offset, mounting tilt and strap frequency (log-normal).
    `seed` is an int or a numpy Generator; the same seed gives the same devices."""
    P = int(placements)
    if P < 1:
        raise ValueError(f"placements: expected a positive count, got {placements!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    tol = params.tolerance
    out = dataclasses.replace(
        params,
        accel=_randomize_sensor(params.accel, tol.get("accel", {}), rng, P, "accel"),
        gyro=_randomize_sensor(params.gyro, tol.get("gyro", {}), rng, P, "gyro"),
    )
    if params.mag is not None:
        mt = tol.get("mag", {})
        out.mag = _randomize_sensor(params.mag, mt, rng, P, "mag")
        out.hard_iron = np.broadcast_to(np.asarray(params.hard_iron, dtype=np.float64), (P, 3)) + rng.normal(
            0.0, mt.get("hard_iron", 0.0), (P, 3))
        soft = np.eye(3) if params.soft_iron is None else np.asarray(params.soft_iron, dtype=np.float64)
        out.soft_iron = soft + rng.normal(0.0, mt.get("soft_iron", 0.0), (P, 3, 3))
    g_sens = tol.get("gyro", {}).get("g_sensitivity", 0.0)
    out.g_sensitivity = np.asarray(params.g_sensitivity, dtype=np.float64) + rng.normal(0.0, g_sens, (P, 3, 3))
    out.clock_error = np.asarray(params.clock_error, dtype=np.float64) + rng.normal(0.0, tol.get("clock_error", 0.0), P)
    out.time_offset = np.asarray(params.time_offset, dtype=np.float64) + rng.normal(0.0, tol.get("time_offset", 0.0), P)
    base_rot = np.broadcast_to(np.asarray(params.mount_rotation, dtype=np.float64), (P, 3))
    out.mount_rotation = base_rot + _rotvec_small(rng, tol.get("mount_tilt", 0.0), P)
    out.strap_frequency = np.asarray(params.strap_frequency, dtype=np.float64) * np.exp(
        rng.normal(0.0, tol.get("strap_frequency", 0.0), P))
    return out


# ---- mixing presets over placements ------------------------------------------------------------
_SENSOR_SHAPES = {"noise_density": (3,), "bias": (3,), "bias_instability": (3,), "bias_random_walk": (3,),
                  "scale": (3,), "cross_axis": (3, 3), "bias_correlation_time": (), "range": (), "bits": ()}
_DEVICE_SHAPES = {"g_sensitivity": (3, 3), "hard_iron": (3,), "soft_iron": (3, 3), "clock_error": (),
                  "time_offset": (), "timestamp_jitter": (), "mount_rotation": (3,), "strap_frequency": (),
                  "strap_damping": ()}


def _per_placement(value, tail: tuple, P: int, where: str) -> np.ndarray:
    a = np.asarray(value)
    if a.shape == (P, *tail):
        return a
    if a.shape in ((), tail):
        return np.broadcast_to(a, (P, *tail))
    raise ValueError(f"{where}: expected shape (), {tail} or {(P, *tail)}, got {a.shape}")


def mix(devices, placements: int, seed=None, *, odr: float | None = None, randomized: bool = True):
    """One device per placement drawn from several presets: each placement picks one of
    `devices` (names or DeviceParams) at random, and with `randomized` its own unit around that
    preset (randomize). Returns (DeviceParams with (P, ...) fields, (P,) index of the preset
    each placement got). `odr` replaces every preset's rate (a call has one output rate); the
    magnetometer is kept only if every preset has one."""
    P = int(placements)
    if P < 1:
        raise ValueError(f"placements: expected a positive count, got {placements!r}")
    devs = [as_params(d) for d in ([devices] if isinstance(devices, (str, Path, DeviceParams)) else devices)]
    if not devs:
        raise ValueError("devices: expected at least one preset name or DeviceParams")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    which = rng.integers(len(devs), size=P) if len(devs) > 1 else np.zeros(P, dtype=np.int64)
    groups = [np.flatnonzero(which == i) for i in range(len(devs))]
    drawn = [randomize(d, len(g), rng) if randomized and len(g) else d for d, g in zip(devs, groups)]
    keep_mag = all(d.mag is not None for d in devs)

    def merged(values, tail, where, dtype=np.float64):
        out = np.zeros((P, *tail), dtype=dtype)
        for v, g in zip(values, groups):
            if len(g):
                out[g] = _per_placement(v, tail, len(g), where)
        return out

    def sensor(name):
        models = [getattr(d, name) for d in drawn]
        return SensorModel(**{k: merged([getattr(m, k) for m in models], tail, f"{name}.{k}",
                                         np.int64 if k == "bits" else np.float64)
                              for k, tail in _SENSOR_SHAPES.items()})

    rates = {d.odr for d in devs}
    if odr is None and len(rates) > 1:
        raise ValueError(f"odr: presets {[d.name for d in devs]} have different rates {sorted(map(str, rates))}; "
                         "pass odr= (one output rate per call)")
    fields = {k: merged([np.eye(3) if k == "soft_iron" and getattr(d, k) is None else getattr(d, k) for d in drawn],
                        tail, k) for k, tail in _DEVICE_SHAPES.items()}
    mag_fields = {tuple(np.asarray(d.mag_field, dtype=float)) for d in devs}
    return DeviceParams(
        name="+".join(d.name for d in devs), description="mixed: " + ", ".join(d.name for d in devs),
        odr=odr if odr is not None else devs[0].odr, accel=sensor("accel"), gyro=sensor("gyro"),
        mag=sensor("mag") if keep_mag else None, mag_field=next(iter(mag_fields)) if len(mag_fields) == 1 else devs[0].mag_field,
        **fields,
    ), which
