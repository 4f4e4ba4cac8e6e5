"""The on-disk layout of a generated dataset (docs/dataset.md), for Zarr v3 and HDF5.

One group; `attrs["anymo_sim"]` holds the provenance (package version, the full config,
sources and their licences, channel names and units). Arrays:

    imu                 (W, P, N, 6) float16|float32  window x placement x time x (ax ay az gx gy gz)
    windows/sequence    (W,)   int32   index into sequences/*
    windows/start_s     (W,)   float64 window start in its sequence, s
    windows/seed        (W,)   uint64  seed of the window's devices and noise
    windows/text        (W,)   str     JSON list of the text spans overlapping the window
    windows/device      (W, P) int8    index into attrs devices: the preset each placement got
    sequences/{name,source,license}  (S,) str;  sequences/duration_s (S,) float64
    placements/{name} (P,) str; {segment} (P,) int16 (attrs segments); {anchors, bary} (P, 3);
        {yaw, offset} (P,); {tilt} (P, 2); {position, normal} (P, 3) on the rest body

Zarr: `imu` is sharded with one shard per generation job (windows_per_job windows x every
placement) and inner chunks of one window x `placement_chunk` placements, so a job writes
whole shard files and independent writers never touch the same file; the window tables are
chunked per job for the same reason. Completed jobs are marked by empty files under
`progress/` inside the store (written after the job's data)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "anymo-sim-dataset"
FORMAT_VERSION = 1
CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
UNITS = ("m/s^2",) * 3 + ("rad/s",) * 3
PROGRESS = "progress"


def _zarr():
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - zarr is a dependency
        raise ImportError("anymo_sim datasets need zarr>=3 (pip install zarr)") from exc
    return zarr


def is_hdf5(path) -> bool:
    p = Path(path)
    if p.is_file():
        with open(p, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    return p.suffix in (".h5", ".hdf5")


@dataclass
class Layout:
    """Shapes of one dataset: W windows, P placements, N samples per window."""

    W: int
    P: int
    N: int
    windows_per_job: int
    placement_chunk: int
    dtype: str

    @property
    def n_jobs(self) -> int:
        return (self.W + self.windows_per_job - 1) // self.windows_per_job

    def job_windows(self, job: int) -> tuple[int, int]:
        w0 = job * self.windows_per_job
        return w0, min(self.W, w0 + self.windows_per_job)


# ---- writing ---------------------------------------------------------------------------------
def done_jobs(path) -> set[int]:
    """Indices of the jobs whose progress marker exists in the Zarr store at `path`."""
    d = Path(path) / PROGRESS
    return {int(p.stem.split("-")[1]) for p in d.glob("job-*.done")} if d.is_dir() else set()


def _str_array(values) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)


class ZarrWriter:
    """Creates the store (or opens one made with the same config) and writes jobs into it."""

    def __init__(self, path, layout: Layout, attrs: dict, static: dict):
        zarr = _zarr()
        self.path = Path(path)
        self.layout = layout
        if not (self.path / "zarr.json").exists():
            if self.path.exists() and any(self.path.iterdir()):
                raise FileExistsError(f"{self.path}: exists and is not an anymo-sim dataset; choose a new output path")
            # Build the empty store beside the target and rename it into place: the rename is
            # atomic, so of several writers starting at once exactly one creates the store and
            # the others open it (a rename onto a non-empty folder fails).
            tmp = self.path.with_name(f".{self.path.name}.creating-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                self._create(zarr, tmp, attrs, static)
                os.rename(tmp, self.path)
            except OSError:
                if not (self.path / "zarr.json").exists():
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        self.root = zarr.open_group(str(self.path), mode="r+")
        _check_same_config(self.path, self.root.attrs.get("anymo_sim", {}), attrs)
        # Every chunk is stored without first testing it against the fill value: zarr's all-NaN
        # test (write_empty_chunks=False) is a scalar float16 isnan pass over the whole job,
        # ~20 % of a write's CPU (benchmarks/RESULTS.md). Reads give the same values either way.
        self.imu = self.root["imu"].with_config({"write_empty_chunks": True})

    def _create(self, zarr, path: Path, attrs: dict, static: dict) -> None:
        L = self.layout
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # variable-length strings: no Zarr v3 spec yet, zarr says so
            root = zarr.open_group(str(path), mode="w", attributes={"anymo_sim": attrs})
            pc = L.placement_chunk
            shard_p = -(-L.P // pc) * pc
            root.create_array("imu", shape=(L.W, L.P, L.N, 6), dtype=L.dtype, chunks=(1, pc, L.N, 6),
                              shards=(L.windows_per_job, shard_p, L.N, 6), fill_value=np.nan,
                              dimension_names=("window", "placement", "time", "channel"))
            wj = L.windows_per_job
            for name, dtype, tail in (("sequence", "int32", ()), ("start_s", "float64", ()), ("seed", "uint64", ()),
                                      ("text", str, ()), ("device", "int8", (L.P,))):
                root.create_array(f"windows/{name}", shape=(L.W, *tail), dtype=dtype, chunks=(wj, *tail))
            for group, arrays in static.items():
                for name, value in arrays.items():
                    value = np.asarray(value) if not isinstance(value, (list, tuple)) else _str_array(value)
                    dtype = str if value.dtype == object else value.dtype
                    a = root.create_array(f"{group}/{name}", shape=value.shape, dtype=dtype, chunks=value.shape or (1,))
                    a[...] = value

    def done_jobs(self) -> set[int]:
        return done_jobs(self.path)

    def _clear_job(self, job: int) -> None:
        """Remove what an interrupted run left of this job: zarr updates an existing shard by
        reading it first, and a torn one would not read."""
        for array in ("imu", "windows/sequence", "windows/start_s", "windows/seed", "windows/text", "windows/device"):
            stale = self.path / array / "c" / str(job)  # chunk key "c/<job>/..." (default encoding)
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()

    def write_job(self, job: int, data: dict) -> None:
        w0, w1 = self.layout.job_windows(job)
        self._clear_job(job)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.imu[w0:w1] = data["imu"]
            for name in ("sequence", "start_s", "seed", "device"):
                self.root[f"windows/{name}"][w0:w1] = data[name]
            self.root["windows/text"][w0:w1] = _str_array(data["text"])
        # the marker comes last: a job without one is redone from scratch on resume
        (self.path / PROGRESS).mkdir(exist_ok=True)
        (self.path / PROGRESS / f"job-{job:06d}.done").touch()

    def close(self) -> None:
        pass


class Hdf5Writer:
    """The same content in one HDF5 file, written to `<path>.partial` and renamed when every
    job is in (HDF5 is not safe against a killed writer, so a stopped run starts over)."""

    def __init__(self, path, layout: Layout, attrs: dict, static: dict):
        import h5py

        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.layout = L = layout
        if self.path.exists():
            raise FileExistsError(f"{self.path}: exists; HDF5 output is written in one go, choose a new path")
        self.f = h5py.File(self.tmp, "w")
        self.f.attrs["anymo_sim"] = json.dumps(attrs)
        pc = L.placement_chunk
        self.f.create_dataset("imu", shape=(L.W, L.P, L.N, 6), dtype=L.dtype, chunks=(1, min(pc, L.P), L.N, 6),
                              compression="gzip", compression_opts=1, fillvalue=np.nan)
        sdt = h5py.string_dtype()
        for name, dtype, tail in (("sequence", "int32", ()), ("start_s", "float64", ()), ("seed", "uint64", ()),
                                  ("text", sdt, ()), ("device", "int8", (L.P,))):
            self.f.create_dataset(f"windows/{name}", shape=(L.W, *tail), dtype=dtype)
        for group, arrays in static.items():
            for name, value in arrays.items():
                if isinstance(value, (list, tuple)):
                    self.f.create_dataset(f"{group}/{name}", data=[str(v) for v in value], dtype=sdt)
                else:
                    self.f.create_dataset(f"{group}/{name}", data=np.asarray(value))

    def done_jobs(self) -> set[int]:
        return set()

    def write_job(self, job: int, data: dict) -> None:
        w0, w1 = self.layout.job_windows(job)
        self.f["imu"][w0:w1] = data["imu"]
        for name in ("sequence", "start_s", "seed", "device"):
            self.f[f"windows/{name}"][w0:w1] = data[name]
        self.f["windows/text"][w0:w1] = [str(t) for t in data["text"]]

    def close(self) -> None:
        self.f.attrs["complete"] = True  # a renamed or copied .partial file still reads as unfinished
        self.f.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


def _check_same_config(path, stored: dict, attrs: dict) -> None:
    if stored.get("format") != FORMAT:
        raise ValueError(f"{path}: not an anymo-sim dataset (attrs anymo_sim.format missing)")
    a, b = stored.get("config", {}), attrs.get("config", {})
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if diff:
        detail = "; ".join(f"{k}: stored {a.get(k)!r}, now {b.get(k)!r}" for k in diff)
        raise ValueError(f"{path}: was generated with other options ({detail}); resume with the same options "
                         "or write to a new path")


# ---- reading ---------------------------------------------------------------------------------
class StoredDataset:
    """A generated dataset opened for reading (Zarr or HDF5).

    ds.imu: the (W, P, N, 6) array (lazy: index it); ds.attrs: provenance; ds.windows: dict of
    the window table as numpy arrays; ds.placements / ds.sequences: dicts of numpy arrays;
    ds.texts(i): the window's text spans; ds.window(i, placements=None): (P', N, 6) float32."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such dataset")
        self._h5 = None
        if is_hdf5(self.path):
            import h5py

            self._h5 = h5py.File(self.path, "r")
            root = self._h5
            self.attrs = json.loads(root.attrs["anymo_sim"])
        else:
            zarr = _zarr()
            if not (self.path / "zarr.json").exists():
                raise ValueError(f"{self.path}: not a Zarr store (no zarr.json) nor an HDF5 file")
            root = zarr.open_group(str(self.path), mode="r")
            self.attrs = dict(root.attrs.get("anymo_sim", {}))
        if self.attrs.get("format") != FORMAT:
            raise ValueError(f"{self.path}: not an anymo-sim dataset (attrs anymo_sim.format missing)")
        self.root = root
        self.imu = root["imu"]
        self.windows = self._table("windows")
        self.placements = self._table("placements")
        self.sequences = self._table("sequences")

    def _table(self, group: str) -> dict:
        g = self.root[group]
        keys = list(g.keys()) if self._h5 is not None else [k for k, _ in g.arrays()]
        out = {}
        for k in sorted(keys):
            v = g[k][...]
            if self._h5 is not None and v.dtype == object:
                v = np.array([x.decode() if isinstance(x, bytes) else x for x in v], dtype=object)
            out[k] = np.asarray(v)
        return out

    def __len__(self) -> int:
        return int(self.imu.shape[0])

    @property
    def shape(self) -> tuple:
        return tuple(self.imu.shape)

    @property
    def rate(self) -> float:
        return float(self.attrs["config"]["rate"])

    @property
    def devices(self) -> list:
        return list(self.attrs["devices"])

    def texts(self, i: int) -> list[dict]:
        return json.loads(str(self.windows["text"][i]))

    def device_params(self, i: int):
        """The devices of window i as generate drew them, rebuilt from the window's seed and the
        stored options: (DeviceParams with (P, ...) fields in SI units, (P,) index into
        ds.devices), ready for apply_device. Uses the presets installed now: warns if another
        anymo-sim version made the dataset, and raises if the rebuilt presets per placement
        differ from the stored ones (windows.device)."""
        from .. import __version__
        from .generate import window_devices

        if not 0 <= i < len(self):
            raise IndexError(f"{self.path}: window {i} out of range (0..{len(self) - 1})")
        cfg = self.attrs["config"]
        made_by = self.attrs.get("anymo_sim_version")
        if made_by != __version__:
            warnings.warn(f"{self.path}: made by anymo-sim {made_by}, rebuilding its devices with {__version__}'s presets")
        dev, which = window_devices(cfg["devices"], self.shape[1], int(self.windows["seed"][i]), float(cfg["rate"]),
                                    bool(cfg["randomize"]))
        if not np.array_equal(which, self.windows["device"][i]):
            raise ValueError(f"{self.path}: window {i}: the devices rebuilt from its seed do not match the stored preset "
                             "per placement (windows/device); were the preset files changed since?")
        return dev, which

    def done_jobs(self) -> list[int]:
        """Indices of the finished generation jobs (job j holds windows j·windows_per_job onwards).
        Zarr marks each finished job; an HDF5 file is finished as a whole or not at all."""
        n = int(self.attrs["n_jobs"])
        if self._h5 is not None:
            return list(range(n)) if bool(self._h5.attrs.get("complete", False)) else []
        return sorted(j for j in done_jobs(self.path) if j < n)

    def complete(self) -> bool:
        return len(self.done_jobs()) == int(self.attrs["n_jobs"])

    def window(self, i: int, placements=None) -> np.ndarray:
        """(P', N, 6) float32 readings of window i at the given placement indices (all if None)."""
        if placements is None:
            x = self.imu[i]
        else:
            # both formats want increasing, distinct indices: read those, then put them in order
            uniq, back = np.unique(np.asarray(placements, dtype=np.int64), return_inverse=True)
            if self._h5 is not None:
                x = self.imu[i, uniq]
            else:
                x = self.imu.get_orthogonal_selection((i, uniq))
            x = np.asarray(x)[back]
        return np.asarray(x, dtype=np.float32)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()


def open_dataset(path) -> StoredDataset:
    return StoredDataset(path)
