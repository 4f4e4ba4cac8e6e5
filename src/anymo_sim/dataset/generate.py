"""`anymo-sim generate`: motions -> retargeted onto a body -> ideal IMU at every placement ->
a device per placement and window -> windows in a sharded store (store.py).

The work is cut into jobs of `windows_per_job` consecutive windows; a job is one shard of the
store. Everything a job writes is a function of the plan and the job index alone (each
window's devices and noise are seeded from (seed, window index)), so jobs can run in any
order, on several machines (`num_shards`/`shard_index`: job j belongs to shard j mod N) or
processes (`workers`), be resumed after a kill, and still give the same bytes."""

from __future__ import annotations

import errno
import json
import math
import os
import queue
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from ..bodies import load_body
from ..devices import apply_device, mix
from ..devices.params import as_params
from .. import engine
from .._memory import keep_freed_memory
from ..motion.resample import resample
from ..motion.retarget import retarget
from ..presets import placements_for
from ..viewer import rest_frames
from .store import CHANNELS, FORMAT, FORMAT_VERSION, UNITS, Hdf5Writer, Layout, ZarrWriter

DEFAULT_DEVICES = ("watch-bmi270", "phone-lsm6dso", "wearable-icm42688p", "suit-xsens-dot", "glasses-aria")
# Frames simulated on each side of a job's windows so that their edge frames get the engine's
# central differences, not the one-sided ones of a motion's ends: its stencils reach one frame
# (docs/engine.md; without a low-pass, which generate does not use). Wider gives the same bytes.
ENGINE_MARGIN_FRAMES = 2


class GenerateError(RuntimeError):
    """A generation problem to report to the user (bad options, no usable motion, disk full)."""


@dataclass
class GenerateConfig:
    """Everything that decides the dataset's content (stored in its attrs; a resume must match)."""

    motions: str | None = None  # file or folder; None: the built-in clips
    builtin_seconds: float = 10.0  # built-in looping clips are looped to this length
    body: str = "default"  # 'default' or a SMPL-family model file
    shape_std: float = 0.0  # SMPL bodies: betas ~ N(0, shape_std^2) per sequence
    placements: str = "all"
    placement_count: int = 2400  # for 'all' / 'random'
    devices: tuple = DEFAULT_DEVICES
    randomize: bool = True  # each placement and window its own unit around its preset
    rate: float = 100.0  # Hz, the dataset's sample rate (and the internal simulation rate)
    window_s: float = 2.0
    stride_s: float = 2.0
    seed: int = 0
    dtype: str = "float16"
    windows_per_job: int = 16
    placement_chunk: int = 48

    def check(self) -> "GenerateConfig":
        def positive(name, v):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise GenerateError(f"--{name.replace('_', '-')}: expected a positive number, got {v!r}")

        for name in ("rate", "window_s", "stride_s", "builtin_seconds"):
            positive(name, getattr(self, name))
        for name in ("windows_per_job", "placement_chunk", "placement_count"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise GenerateError(f"--{name.replace('_', '-')}: expected a positive integer, got {v!r}")
        if self.dtype not in ("float16", "float32"):
            raise GenerateError(f"--dtype: expected float16 or float32, got {self.dtype!r}")
        if self.shape_std < 0 or not math.isfinite(self.shape_std):
            raise GenerateError(f"--shape-std: expected a standard deviation >= 0, got {self.shape_std!r}")
        if self.shape_std > 0 and self.body in ("", "default"):
            raise GenerateError("--shape-std: the default body has no shape space; use a SMPL-family --body")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 63:
            raise GenerateError(f"--seed: expected an integer in [0, 2^63), got {self.seed!r}")
        if self.motions is not None and not Path(self.motions).exists():
            raise GenerateError(f"--motions: {self.motions}: no such file or folder")
        if not self.devices:
            raise GenerateError("--devices: expected at least one device preset")
        for d in self.devices:
            try:
                as_params(d)
            except (ValueError, FileNotFoundError, KeyError) as exc:
                raise GenerateError(f"--devices: {exc}") from None
        return self

    @property
    def samples(self) -> int:
        return int(round(self.window_s * self.rate))


@dataclass
class Sequence:
    name: str
    source: str
    license: str
    A: np.ndarray  # (T, J, 4, 4) skinning matrices at the dataset rate
    t0_ns: int
    texts: tuple
    betas: np.ndarray | None = None


@dataclass
class Plan:
    config: GenerateConfig
    sequences: list
    windows: np.ndarray  # (W, 2) int64: sequence index, start frame
    placements: object
    layout: Layout
    failures: list = field(default_factory=list)  # (source, message): motions left out
    engine_setup: object = field(default=None, repr=False, compare=False)  # built by the first job (_engine_setup)

    @property
    def n_jobs(self) -> int:
        return self.layout.n_jobs


# ---- planning ----------------------------------------------------------------------------------
def _motions(cfg: GenerateConfig):
    from .. import motions

    if cfg.motions is None:
        out = []
        for name in motions.builtin_names():
            m = motions.builtin(name)
            out.append(motions.builtin(name, seconds=cfg.builtin_seconds) if m.loop else m)
        return out, []
    try:
        res = motions.load(cfg.motions)
    except (ValueError, OSError) as exc:
        raise GenerateError(f"--motions: {exc}") from None
    return list(res.motions), [(str(p), msg) for p, msg in res.failures]


def plan(cfg: GenerateConfig) -> Plan:
    """Read, resample and retarget every motion, cut windows, fix the store's layout."""
    cfg.check()
    body = load_body(cfg.body)
    try:
        pl = placements_for(body, cfg.placements, count=cfg.placement_count, seed=cfg.seed)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise GenerateError(f"--placements: {exc}") from None
    found, failures = _motions(cfg)
    N = cfg.samples
    if N < 4:
        raise GenerateError(f"--window-s: {cfg.window_s} s at {cfg.rate:g} Hz is {N} samples; need at least 4")
    stride = max(1, int(round(cfg.stride_s * cfg.rate)))
    sequences, windows = [], []
    shape_rng = np.random.default_rng([cfg.seed, 1])
    for m in found:
        try:
            betas = None
            b = body
            if cfg.shape_std > 0:
                betas = shape_rng.normal(0.0, cfg.shape_std, 10)
                b = load_body(cfg.body, betas)
            r = retarget(resample(m, cfg.rate), b)
            A = b.skinning_matrices(r.G)
        except (ValueError, KeyError) as exc:
            failures.append((m.source or m.name, f"retargeting failed: {exc}"))
            continue
        if not np.isfinite(A).all():  # checked once here: the jobs hand these to the engine unchecked
            failures.append((m.source or m.name, "retargeting gave non-finite joint transforms"))
            continue
        T = len(A)
        if T < N:
            failures.append((m.source or m.name, f"shorter ({T / cfg.rate:.2f} s) than one window ({cfg.window_s:g} s)"))
            continue
        s = len(sequences)
        sequences.append(Sequence(m.name, m.source, m.license, A.astype(np.float32), int(m.timestamps[0]), m.texts, betas))
        windows += [(s, f) for f in range(0, T - N + 1, stride)]
    if not windows:
        detail = "; ".join(f"{s}: {msg}" for s, msg in failures[:5])
        raise GenerateError(f"no windows to generate: no usable motion ({detail or 'none found'})")
    layout = Layout(W=len(windows), P=len(pl), N=N, windows_per_job=cfg.windows_per_job,
                    placement_chunk=min(cfg.placement_chunk, len(pl)), dtype=cfg.dtype)
    return Plan(cfg, sequences, np.asarray(windows, dtype=np.int64), pl, layout, failures)


def provenance(p: Plan) -> dict:
    cfg = p.config
    config = asdict(cfg)
    config["devices"] = list(cfg.devices)
    srcs = {}
    for s in p.sequences:
        srcs.setdefault(s.license or "unknown", []).append(s.source or s.name)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "anymo_sim_version": __version__, "config": config,
        "channels": list(CHANNELS), "units": list(UNITS), "convention": "rep145 (+g up at rest), device frame",
        "devices": list(cfg.devices), "n_windows": p.layout.W, "n_placements": p.layout.P,
        "samples_per_window": p.layout.N, "windows_per_job": p.layout.windows_per_job, "n_jobs": p.n_jobs,
        "licenses": [{"license": k, "sources": v} for k, v in srcs.items()],
        "left_out": [{"source": s, "reason": m} for s, m in p.failures],
    }


def static_tables(p: Plan) -> dict:
    body = load_body(p.config.body)
    pl = p.placements
    position, rotation = rest_frames(body, pl)
    from ..body import SEGMENTS

    return {
        "placements": {"name": list(pl.names), "segment": pl.segment.astype(np.int16), "anchors": pl.anchors,
                       "bary": pl.bary, "yaw": pl.yaw, "offset": pl.offset, "tilt": pl.tilt,
                       "position": position, "normal": rotation[:, :, 2]},
        "sequences": {"name": [s.name for s in p.sequences], "source": [s.source for s in p.sequences],
                      "license": [s.license for s in p.sequences],
                      "duration_s": np.array([len(s.A) / p.config.rate for s in p.sequences])},
        "segments": {"name": list(SEGMENTS)},
    }


# ---- one job -------------------------------------------------------------------------------------
def window_seed(seed: int, window: int) -> int:
    return int(np.random.SeedSequence([seed, window]).generate_state(1, np.uint64)[0])


def window_devices(devices, P: int, seed: int, rate: float, randomize: bool):
    """The devices of one window: each placement's preset drawn from `devices` (names, files or
    DeviceParams) and, with `randomize`, its own unit around it; accelerometer and gyroscope only
    (the store holds no magnetometer). Returns (DeviceParams with (P, ...) fields, (P,) preset
    index). A function of its arguments and the presets alone, so a stored window's devices can
    be rebuilt from its seed (StoredDataset.device_params)."""
    return mix([as_params(d).replace(mag=None) for d in devices], P, seed=seed, odr=rate, randomized=randomize)


def _texts(seq: Sequence, start: int, N: int, rate: float) -> str:
    t0 = seq.t0_ns + int(round(start / rate * 1e9))
    t1 = t0 + int(round(N / rate * 1e9))
    spans = [{"start_s": max(0.0, (s.start_ns - t0) * 1e-9), "end_s": min(N / rate, (s.end_ns - t0) * 1e-9),
              "kind": s.kind, "text": s.text, **({"approximate": True} if s.approximate else {})}
             for s in seq.texts if s.start_ns < t1 and s.end_ns > t0]
    return json.dumps(spans, ensure_ascii=False)


def run_job(p: Plan, job: int, backend: str = "auto", imu: np.ndarray | None = None) -> dict:
    """The arrays of one job (its windows), ready for the writer. imu: optional array of
    (windows_per_job, P, N, 6) in the store's dtype to fill (its first windows) instead of a
    new one (a finished job's, given back by the writer: no fresh pages to fault in)."""
    cfg, L = p.config, p.layout
    w0, w1 = L.job_windows(job)
    N, P, rate = L.N, L.P, cfg.rate
    pad = int(math.ceil(0.01 * N)) + 8  # clock error (< 1 %) and the interpolator's half-width
    margin = ENGINE_MARGIN_FRAMES
    devs = [as_params(d).replace(mag=None) for d in cfg.devices]  # the store holds accel + gyro
    need_rot = any(np.any(np.asarray(d.strap_frequency) > 0) for d in devs)  # the strap works in the world frame
    body = load_body(cfg.body)
    be = engine._resolve_backend(backend, backend == "cuda")
    if imu is None or imu.shape != (L.windows_per_job, P, N, 6) or imu.dtype != cfg.dtype:
        imu = np.empty((L.windows_per_job, P, N, 6), dtype=cfg.dtype)
    out = {"imu": imu[:w1 - w0], "sequence": np.empty(w1 - w0, np.int32),
           "start_s": np.empty(w1 - w0), "seed": np.empty(w1 - w0, np.uint64), "device": np.empty((w1 - w0, P), np.int8)}
    texts: dict = {}  # window -> its text spans (JSON), filled in any order
    win = p.windows[w0:w1]

    def window(i, s, seq, res, A, a):
        w = w0 + int(i)
        start = int(win[i, 1])
        i0 = start - a
        if i0 + N + pad <= len(A):  # a view: no copy of the frames
            idx = slice(i0, i0 + N + pad)
        else:  # past the end of the sequence: the last frame
            idx = np.minimum(np.arange(i0, i0 + N + pad), len(A) - 1)
            if backend == "cuda":
                import torch

                idx = torch.from_numpy(idx).to(res.accel.device)
        seed = window_seed(cfg.seed, w)
        device, which = window_devices(devs, P, seed, rate, cfg.randomize)
        rd = apply_device(res.accel[idx], res.gyro[idx], rate, device, seed=seed,
                          rotations=res.rotations[idx] if need_rot else None, backend=backend, timestamps=False,
                          max_samples=N)
        acc, gyr = rd.accel, rd.gyro
        if backend == "cuda":
            acc, gyr = acc.cpu().numpy(), gyr.cpu().numpy()
        pack_window(acc, gyr, out["imu"][i])
        out["sequence"][i] = s
        out["start_s"][i] = start / rate
        out["seed"][i] = seed
        out["device"][i] = which
        texts[i] = _texts(seq, start, N, rate)

    # CPU: the windows go to a two-thread pool, so one window's Python (device draws and tables,
    # ~5 ms) runs while another's kernels run without the GIL, and the next sequence's engine
    # runs while this one's last windows finish: the cores do not wait on Python between them.
    # The engine writes into one of two scratch buffers by sequence parity, so it waits for
    # the windows of the sequence two back (which read the buffer it is about to overwrite).
    in_flight: list = [[], []]  # per buffer: futures of the windows reading it
    try:
        for n, s in enumerate(np.unique(win[:, 0])):
            seq = p.sequences[s]
            b = body if seq.betas is None else load_body(cfg.body, seq.betas)
            starts = win[win[:, 0] == s, 1]
            a = max(0, int(starts.min()) - margin)
            e = min(len(seq.A), int(starts.max()) + N + pad + margin)
            A = seq.A[a:e]
            if backend == "cuda":
                import torch

                A = torch.from_numpy(A).cuda()
            for f in in_flight[n % 2]:
                f.result()  # (re-raises a window's error)
            res = _engine_setup(p, b, seq.betas is None).run(
                A[:, :, :3, :], backend=be, template=A, return_positions=False, return_rotations=need_rot,
                out=_engine_outputs(len(A), P, need_rot, n % 2) if be == "cpu" else None)
            mine = np.flatnonzero(win[:, 0] == s)
            if be == "cpu":
                in_flight[n % 2] = [_window_pool().submit(window, i, s, seq, res, A, a) for i in mine]
            else:
                for i in mine:
                    window(i, s, seq, res, A, a)
    finally:  # no window left running on a buffer a later call may reuse, error or not
        wait(in_flight[0] + in_flight[1])
    for f in in_flight[0] + in_flight[1]:
        f.result()
    out["text"] = [texts[i] for i in range(w1 - w0)]
    return out


def _window_pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(2, thread_name_prefix="anymo-window")
    return _POOL


_POOL: ThreadPoolExecutor | None = None  # run_job's, made at its first call


_SCRATCH = threading.local()  # per thread: the engine's outputs, reused from call to call


def _engine_setup(p: Plan, body, shared: bool) -> engine.SkinnedSetup:
    """The engine's checked tables of the plan's placements on `body` (the motion-independent
    part of skinned_imu), built once per plan for the plan's body (`shared`), else per call (a
    sequence's own shape). The frames themselves were checked finite when planned."""
    if shared and p.engine_setup is not None:
        return p.engine_setup
    setup = engine.skinned_setup(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights,
                                 len(body.joint_names), p.config.rate, placements=p.placements)
    if shared:
        p.engine_setup = setup
    return setup


def _engine_outputs(T: int, P: int, rotations: bool, slot: int = 0) -> dict:
    """skinned_imu's `out` for (T, P) on the CPU: views of float32 buffer `slot` (0 or 1) of the
    calling thread, which grows to the largest call and is then reused. Fresh arrays of this
    size (~60 MB a call) would be new memory maps the kernel zeroes page by page on first
    write, every call."""
    sizes = {"accel": (T, P, 3), "gyro": (T, P, 3), **({"rotations": (T, P, 3, 3)} if rotations else {})}
    n = sum(math.prod(v) for v in sizes.values())
    bufs = _SCRATCH.__dict__.setdefault("engine", [None, None])
    buf = bufs[slot]
    if buf is None or buf.size < n:
        buf = bufs[slot] = np.empty(n, np.float32)
    out, i = {}, 0
    for k, shape in sizes.items():
        out[k] = buf[i:i + math.prod(shape)].reshape(shape)
        i += math.prod(shape)
    return out


def pack_window(accel, gyro, out: np.ndarray, *, hardware: bool = True) -> None:
    """accel, gyro (N, P, 3) float32 into out (P, N, 6), the store's window layout, as float16
    (IEEE round to nearest even, numpy's astype) or float32. In C++ (csrc/pack.cpp: one pass,
    all cores, no GIL, F16C where the CPU has it; `hardware=False` forces its portable cast)
    when the extension is built, else numpy; the bytes are the same."""
    accel, gyro = np.ascontiguousarray(accel, np.float32), np.ascontiguousarray(gyro, np.float32)
    N, P = accel.shape[:2]
    if accel.shape != (N, P, 3) or gyro.shape != accel.shape or out.shape != (P, N, 6):
        raise ValueError(f"pack_window: expected accel and gyro (N, P, 3) and out (P, N, 6), got "
                         f"{accel.shape}, {gyro.shape}, {out.shape}")
    if out.dtype not in (np.float16, np.float32):
        raise ValueError(f"pack_window: out must be float16 or float32, got {out.dtype}")
    if engine._core is not None and out.flags.c_contiguous:
        engine._core.pack_imu(accel.ctypes.data, gyro.ctypes.data, N, P, out.ctypes.data, out.dtype.name, hardware)
        return
    # cast while contiguous (numpy's fast path), then transpose into (P, N, 6)
    dst = out.transpose(1, 0, 2)
    dst[..., :3] = accel.astype(out.dtype, copy=False)
    dst[..., 3:] = gyro.astype(out.dtype, copy=False)


# ---- running -------------------------------------------------------------------------------------
@dataclass
class Progress:
    job: int
    windows: int
    samples: int  # placement-samples written by this job
    done_jobs: int
    total_jobs: int


_WORKER: dict = {}


def _worker_init(p: Plan, backend: str, store: tuple | None):
    """Per worker process: the plan, the backend and, for Zarr, a writer of its own on the store
    (jobs are shards, so workers write them side by side; HDF5 has one writer, the parent)."""
    keep_freed_memory()
    _WORKER.update(plan=p, backend=backend, writer=ZarrWriter(*store) if store else None)


def _worker_job(job: int) -> tuple[int, int, dict | None]:
    """(job, windows, data): data is None when the worker wrote the job itself."""
    data = run_job(_WORKER["plan"], job, _WORKER["backend"], _WORKER.pop("spare", None))
    if _WORKER["writer"] is None:
        return job, len(data["sequence"]), data
    _WORKER["writer"].write_job(job, data)
    _WORKER["spare"] = data["imu"].base  # the next job fills it
    return job, len(data["sequence"]), None


def my_jobs(n_jobs: int, num_shards: int = 1, shard_index: int = 0) -> list[int]:
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise GenerateError(f"--shard-index: expected 0 <= shard index < --num-shards ({num_shards}), got {shard_index}")
    return [j for j in range(n_jobs) if j % num_shards == shard_index]


def writer_for(p: Plan, out, fmt: str, attrs: dict | None = None, static: dict | None = None):
    attrs = provenance(p) if attrs is None else attrs
    static = static_tables(p) if static is None else static
    if fmt == "zarr":
        return ZarrWriter(out, p.layout, attrs, static)
    if fmt == "hdf5":
        return Hdf5Writer(out, p.layout, attrs, static)
    raise GenerateError(f"--format: expected zarr or hdf5, got {fmt!r}")


def generate(p: Plan, out, *, fmt: str = "zarr", workers: int = 1, num_shards: int = 1, shard_index: int = 0,
             backend: str = "auto", on_progress: Callable[[Progress], None] | None = None) -> dict:
    """Run this shard's jobs that are not done yet and write them to `out`. Returns a summary.
    Keeps freed heap memory for reuse for the rest of the process (_memory.keep_freed_memory)."""
    if workers < 1:
        raise GenerateError(f"--workers: expected a positive integer, got {workers}")
    keep_freed_memory()
    jobs = my_jobs(p.n_jobs, num_shards, shard_index)
    attrs, static = provenance(p), static_tables(p)
    try:
        writer = writer_for(p, out, fmt, attrs, static)
    except (FileExistsError, ValueError) as exc:
        raise GenerateError(str(exc)) from None
    done = writer.done_jobs()
    todo = [j for j in jobs if j not in done]
    count = {"jobs": 0, "windows": 0}

    def written(job, n):
        count["jobs"] += 1
        count["windows"] += n
        if on_progress:
            on_progress(Progress(job, n, n * p.layout.P * p.layout.N, len(done) + count["jobs"], len(jobs)))

    def write(job, data):
        with _write_errors(out, job, count):
            writer.write_job(job, data)
        written(job, len(data["sequence"]))

    try:
        if workers == 1:
            _run_inline(p, todo, backend, write)
        else:
            store = (out, p.layout, attrs, static) if fmt == "zarr" else None
            _run_pool(p, todo, backend, workers, store, write, written, out, count)
    except BaseException:
        if fmt == "hdf5":
            writer.abort()
        raise
    writer.close()
    return {"jobs_written": count["jobs"], "windows_written": count["windows"], "jobs_skipped": len(jobs) - len(todo),
            "jobs_in_shard": len(jobs), "n_jobs": p.n_jobs}


@contextmanager
def _write_errors(out, job: int, count: dict):
    """OSErrors while writing job `job` (here or in a worker) as GenerateErrors a user can act on."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise GenerateError(f"{out}: disk full while writing job {job}; the {count['jobs']} jobs written before "
                                "it are complete; free space and run the same command again to resume") from None
        raise GenerateError(f"{out}: could not write job {job}: {exc}") from None


def _run_inline(p: Plan, todo, backend, write):
    """Simulate in this thread while a writer thread stores the previous job (one in flight).
    The writer gives each written job's imu array back for a later job to fill."""
    q: queue.Queue = queue.Queue(maxsize=1)
    spare: queue.SimpleQueue = queue.SimpleQueue()
    failed: list = []

    def writer_loop():
        while (item := q.get()) is not None:
            if not failed:
                try:
                    write(*item)
                except BaseException as exc:  # reported by the main thread
                    failed.append(exc)
            spare.put(item[1]["imu"].base)

    t = threading.Thread(target=writer_loop, daemon=True)
    t.start()
    try:
        for job in todo:
            if failed:
                break
            q.put((job, run_job(p, job, backend, None if spare.empty() else spare.get())))
    finally:
        q.put(None)
        t.join()
    if failed:
        raise failed[0]


def _run_pool(p: Plan, todo, backend, workers, store, write, written, out, count):
    """Jobs in worker processes. Zarr: each worker writes its jobs itself (no 100 MB job
    crossing a pipe); HDF5: the parent writes what the workers return."""
    import multiprocessing as mp

    # each worker's OpenMP gets its share of the cores (read when the extension loads)
    threads = max(1, (os.cpu_count() or 1) // workers)
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                 initargs=(p, backend, store)) as ex:
            futures = {ex.submit(_worker_job, j): j for j in todo}
            try:
                for f in as_completed(futures):
                    with _write_errors(out, futures[f], count):
                        job, n, data = f.result()
                    if data is None:
                        written(job, n)
                    else:
                        write(job, data)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


def describe(p: Plan) -> dict:
    """What a run would produce (for --dry-run and the summary)."""
    L = p.layout
    per = L.P * L.N * 6 * (2 if L.dtype == "float16" else 4)
    return {"sequences": len(p.sequences), "windows": L.W, "placements": L.P, "samples_per_window": L.N,
            "rate_hz": p.config.rate, "jobs": p.n_jobs, "placement_samples": L.W * L.P * L.N,
            "imu_bytes": L.W * per, "dtype": L.dtype, "left_out": len(p.failures)}
