"""On-the-fly augmentation: batches of body motion in, fresh simulated IMU readings out, so a
training loop needs no stored dataset (DESIGN.md §1 item 3; docs/augment.md).

- `Augmenter(...)(transforms, fps)`: (B, T, J, 4, 4) world-from-joint transforms of the body's
  rig (numpy or torch, CPU or CUDA) -> `AugmentedBatch` with `imu` (B, P, N, 6) float32, the
  accelerometer (m/s², +g up at rest) then the gyroscope (rad/s) in each device's frame at
  `rate` Hz. Every call draws new placements on the skin, new mounting perturbations (yaw,
  tilt, offset) and a new device per placement (a preset picked at random, then its own unit
  around it, devices.mix), from a counter advanced per call: reproducible from the
  Augmenter's seed, and one batch alone from the `seed` it reports.
- `MotionWindows(motions, body, rate).sample(B, seconds)`: random windows of motions,
  retargeted onto the body and resampled to `rate` once per motion (cached), as the
  transforms batch the Augmenter takes.
- `AugmentIMU`: the Augmenter as a parameter-free torch.nn.Module (torch imported on first
  use, so numpy users never need it).

One batch is one engine call and one device-model call, whatever B: the B items' surface
patches are gathered into one small mesh driven by B × J joints (see `_batch_mesh`), so the
per-call overhead (tables, kernel launches) is paid once per batch, not per item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import engine, topology
from ._arrays import is_cuda, is_torch, to_numpy
from .bodies import default_body
from .body import Body
from .devices import DeviceParams, apply_device, load_preset, mix, preset_names
from .devices.model import _seed as _check_seed  # an integer in [0, 2^64), as the noise seeds
from .motion.rotations import axis_angle_from_matrix
from .placements import Placements, rest_normals, wearable_vertices
from .synthetic import rotation_matrix
from .validate import require_finite, require_fps, shape_error

# AugmentIMU (torch) is built on first access, see __getattr__ at the end
__all__ = ["AugmentedBatch", "Augmenter", "MotionBatch", "MotionWindows"]

_BACKENDS = ("auto", "cpu", "cuda", "reference")


def _default_devices() -> tuple[str, ...]:
    """Every real-device preset (all but 'ideal')."""
    return tuple(n for n in preset_names() if n != "ideal")


def _nonneg(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}: expected a finite value >= 0, got {value!r}")
    return v


def _rate(value) -> float:
    try:
        return require_fps(value)
    except (TypeError, ValueError):
        raise ValueError(f"rate: expected a positive output rate in Hz, got {value!r}") from None


@dataclass(frozen=True)
class AugmentedBatch:
    """One augmented batch.

    imu: (B, P, N, 6) float32, [accel m/s² | gyro rad/s] in each device's frame at `rate` Hz,
        the layout of a stored dataset's windows (anymo-sim generate, dataset.torch_dataset);
        the kind of array the transforms were (numpy; torch on their device).
    segment: (B, P) int64 index into anymo_sim.body.SEGMENTS (same kind/device as imu).
    device: (B, P) int64 index into `device_names`: which preset each placement's unit is.
    placements: per item, the Placements drawn (anchors on the body's mesh, barycentric
        weights, yaw, tilt, offset, segment, names), numpy.
    device_params: the (B·P)-placement DeviceParams used (item-major), for provenance.
    seed: `augmenter(transforms, fps, seed=seed)` reproduces this batch byte for byte.
    """

    imu: Any
    segment: Any
    device: Any
    placements: tuple[Placements, ...]
    device_names: tuple[str, ...]
    device_params: DeviceParams
    rate: float
    seed: int


class _Patch(NamedTuple):
    """The surface patches of a batch as one mesh (Augmenter._batch_mesh)."""

    rest: np.ndarray  # (n, 3)
    faces: np.ndarray  # (m, 3)
    skin_joints: np.ndarray  # (n, K), item b's joints shifted by b·J
    skin_weights: np.ndarray  # (n, K), rows summing to 1 exactly
    anchors: np.ndarray  # (Q, 3) the placements' anchors in the patch's numbering
    tables: topology.AnchorTables  # in the patch's numbering; adj_face_ids are the body's face ids
    body_vertex: np.ndarray  # (n,) the body's vertex of each patch vertex


class _SurfaceSampler:
    """placements.sample's draw (uniform by area over the wearable faces, a random point inside
    each) with the wearable-face table computed once: wearable_vertices costs ~0.1 s per body,
    far more than a batch's draw."""

    def __init__(self, body: Body, clearance: float):
        ok = np.zeros(body.n_vertices, dtype=bool)
        ok[wearable_vertices(body, clearance)] = True
        self.faces = np.flatnonzero(ok[body.faces].all(axis=1))
        tri = body.rest_vertices[body.faces[self.faces]]
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        self.p = area / area.sum()
        self.body = body

    def __call__(self, count: int, rng) -> Placements:
        f = self.faces[rng.choice(len(self.faces), size=count, p=self.p)]
        u = rng.uniform(0, 1, (count, 2))
        flip = u.sum(axis=1) > 1  # fold the unit square onto the triangle: uniform by area
        u[flip] = 1 - u[flip]
        bary = np.column_stack([1 - u.sum(axis=1), u])
        return Placements.on_faces(self.body, f, bary, names=[f"random/{i}" for i in range(count)])


def _like(x, template):
    """x as the caller's kind of array: numpy for numpy, torch on the template's device."""
    if not is_torch(template):
        return to_numpy(x)
    if not is_torch(x):
        import torch

        x = torch.from_numpy(x)
    return x if x.device == template.device else x.to(template.device)


class Augmenter:
    """Fresh placements, mounting perturbations and devices on every call.

    body: the Body whose rig the transforms drive (default: bodies.default_body()).
    placements: an int P (P random placements per item, uniform by area over the wearable
        skin) or a spec for presets.placements_for ('all', 'watch_left,phone_front_pocket_right',
        a file): those P placements for every item, with fresh mounting perturbations each call.
    devices: preset names / DeviceParams to mix over placements (each placement picks one at
        random and gets its own unit around it, devices.mix), or one name such as 'ideal'.
        Default: every preset but 'ideal'. All run at `rate` (one output rate per batch).
    rate: output rate, Hz. Transforms at another fps are simulated at their own rate and the
        device model resamples (anti-alias low-pass down, band-limited interpolation up);
        MotionWindows already delivers them at `rate`, the cheaper and more faithful case.
    yaw_deg: yaw about the normal drawn in ±yaw_deg (default 180 for random placements, whose
        yaw means nothing, and 10 for named ones, to keep their orientation); tilt_deg: a tilt
        off the tangent plane up to tilt_deg; offset_m: 0..offset_m farther out along the
        normal; slide_m: named placements slide to a random vertex within this distance on
        their segment (Placements.perturbed).
    backend: 'auto' (CUDA for CUDA tensors, else the C++ CPU kernels), 'cpu', 'cuda' (host
        arrays go to the GPU and come back) or 'reference' (float64 numpy, slow).
    seed: integer; None draws one (kept in .seed). Call k uses a seed derived from (seed, k).
    """

    def __init__(self, body: Body | None = None, placements: int | str = 64, devices=None, rate: float = 100.0, *,
                 yaw_deg: float | None = None, tilt_deg: float = 10.0, offset_m: float = 0.005, slide_m: float = 0.0,
                 clearance: float = 0.02, backend: str = "auto", seed: int | None = None):
        self.body = default_body() if body is None else body
        if not isinstance(self.body, Body):
            raise ValueError(f"body: expected an anymo_sim Body (bodies.default_body(), smpl.smpl_body()), "
                             f"got {type(body).__name__}")
        self.rate = _rate(rate)
        if backend not in _BACKENDS:
            raise ValueError(f"backend: expected one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}")
        self.backend = backend
        self._fixed: Placements | None = None
        self._sampler: _SurfaceSampler | None = None
        if isinstance(placements, (int, np.integer)) and not isinstance(placements, (bool, np.bool_)):
            if placements < 1:
                raise ValueError(f"placements: expected a positive count of placements per item, got {placements}")
            self.count = int(placements)
            self._sampler = _SurfaceSampler(self.body, clearance)
        elif isinstance(placements, str):
            from .presets import placements_for

            try:
                self._fixed = placements_for(self.body, placements)
            except (KeyError, FileNotFoundError) as exc:
                raise ValueError(f"placements: {exc.args[0] if exc.args else exc}") from None
            self.count = len(self._fixed)
        else:
            raise ValueError("placements: expected a positive int or a spec such as 'all' or "
                             f"'watch_left,phone_front_pocket_right', got {placements!r}")
        self.yaw_deg = _nonneg("yaw_deg", (180.0 if self._fixed is None else 10.0) if yaw_deg is None else yaw_deg)
        self.tilt_deg = _nonneg("tilt_deg", tilt_deg)
        self.offset_m = _nonneg("offset_m", offset_m)
        self.slide_m = _nonneg("slide_m", slide_m)
        self.devices = self._load_devices(_default_devices() if devices is None else devices)
        self.device_names = tuple(d.name for d in self.devices)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.seed = _check_seed(seed)
        self.calls = 0  # batches drawn from the counter so far
        # What depends on the body alone, computed once instead of by the engine on every batch's
        # patch mesh: incidence, inverse rest transforms, checked skin tables, rest normals (a
        # patch keeps every face around its anchors, so its normals there are the body's, bit for
        # bit) and the faces without area.
        body = self.body
        self._csr = topology.vertex_faces(body.faces, body.n_vertices)
        self._inv_rest = np.linalg.inv(body.joint_rest_transforms)
        self._torch_inv_rest = {}  # torch device -> the same, as a tensor there
        self._rest = np.asarray(body.rest_vertices, dtype=np.float64)
        require_finite("body.rest_vertices", self._rest)
        sj, self._skin_weights = engine._skin_tables(body.skin_joints, body.skin_weights, body.n_vertices,
                                                     len(body.joint_names))
        self._skin_joints = sj.astype(body.skin_joints.dtype)
        self._normals = rest_normals(body)
        self._flat = topology.zero_area(self._rest, body.faces)

    @staticmethod
    def _load_devices(devices) -> tuple[DeviceParams, ...]:
        items = [devices] if isinstance(devices, (str, DeviceParams)) else list(devices)
        if not items:
            raise ValueError("devices: expected at least one preset name or DeviceParams")
        out = []
        for d in items:
            if isinstance(d, DeviceParams):
                out.append(d)
            elif isinstance(d, str):
                try:
                    out.append(load_preset(d))
                except (ValueError, FileNotFoundError) as exc:  # the message lists the presets
                    raise ValueError(f"devices: {exc}") from None
            else:
                raise ValueError(f"devices: expected preset names or DeviceParams, got {type(d).__name__}")
        return tuple(out)

    def __repr__(self) -> str:
        what = f"{self.count} random" if self._fixed is None else f"{self.count} named"
        return (f"Augmenter(body={self.body.name!r}, placements={what}, devices={list(self.device_names)}, "
                f"rate={self.rate:g}, seed={self.seed}, calls={self.calls})")

    def output_length(self, frames: int, fps: float) -> int:
        """N, the samples per window of `frames` frames at `fps`: the device instants k/rate
        inside the window (frames when fps == rate)."""
        fps = require_fps(fps)
        if fps == self.rate:
            return int(frames)
        step = fps / self.rate
        n = int(np.floor((frames - 1) / step)) + 1
        while n > 1 and (n - 1) * step > frames - 1:  # floor of a ratio that rounded up
            n -= 1
        return n

    # ---- the draw ------------------------------------------------------------------------------
    def draw(self, batch_size: int, seed: int):
        """Placements (item-major, B·P), devices (DeviceParams for B·P, preset index per
        placement) and the noise seed of one batch, all from `seed`."""
        rng = np.random.default_rng(seed)
        Q = batch_size * self.count
        if self._fixed is None:
            pl = self._sampler(Q, rng)
        else:
            pl = self._fixed.subset(np.tile(np.arange(self.count), batch_size))
        pl = pl.perturbed(rng, yaw_deg=self.yaw_deg, tilt_deg=self.tilt_deg, offset_m=self.offset_m,
                          slide_m=self.slide_m, body=self.body if self.slide_m > 0 else None)
        dev, which = mix(self.devices, Q, rng, odr=self.rate)
        # A device clock off by ~100 ppm moves a 2-s window's samples by 0.2 ms, a fraction of a
        # period, but would make some windows one sample shorter; windows of one fixed length
        # matter more to a training batch, so the clock is taken as exact here.
        # The output is accelerometer + gyroscope: a magnetometer would only cost time.
        dev = dev.replace(clock_error=0.0, mag=None)
        return pl, dev, which, int(rng.integers(0, 2 ** 63))

    # ---- the simulation ------------------------------------------------------------------------
    def _batch_mesh(self, anchors: np.ndarray, bary: np.ndarray, batch_size: int):
        """The surface patches B items need, as one mesh: for each item the faces around its
        placements' anchor vertices (all of them: the normals and frames are then exactly the
        full mesh's) and their vertices, with skin joints of item b shifted by b·J so that item b
        is driven by joints b·J .. b·J+J-1 of a (T, B·J, ...) transform array.

        anchors, bary: (Q, 3) vertex ids and weights, item-major (Q = B·P). Returns a _Patch: the
        mesh (its skin weights normalised as engine._skin_tables does), the anchors in its
        numbering and the engine's anchor tables of the placements on it, gathered here with the
        patch instead of by topology.anchor_tables (which sorts the whole patch's incidence).
        (item, vertex) and (item, face) pairs are single integers; sets of them are boolean
        masks over B·V and B·F (topology.distinct)."""
        body = self.body
        V, F, J = body.n_vertices, len(body.faces), len(body.joint_names)
        item = np.repeat(np.arange(batch_size), len(anchors) // batch_size)
        anchor_keys = item[:, None] * V + anchors
        keys = topology.distinct(anchor_keys, batch_size * V)
        it, v = np.divmod(keys, V)
        counts, ids = topology.faces_around(self._csr, v)
        adj_keys = np.repeat(it, counts) * F + ids  # every anchor's faces, anchor after anchor
        face_keys = topology.distinct(adj_keys, batch_size * F)
        f_item, f = np.divmod(face_keys, F)
        face_vertex_keys = f_item[:, None] * V + body.faces[f]
        vertex_keys = topology.distinct(np.concatenate([face_vertex_keys.ravel(), keys]), batch_size * V)
        local = np.empty(batch_size * V, dtype=np.int64)  # (item, vertex) -> index in the new mesh
        local[vertex_keys] = np.arange(len(vertex_keys))
        v_item, vv = np.divmod(vertex_keys, V)
        faces = local[face_vertex_keys]
        # The tables topology.anchor_tables would make on this mesh (without sorting its whole
        # incidence): the anchors with a weight > 0, sorted, each one's faces by face id (the
        # order of the body's incidence, kept by the patch).
        used = bary > 0
        used_keys = keys if used.all() else topology.distinct(anchor_keys[used], batch_size * V)
        if len(used_keys) < len(keys):  # an anchor whose weights are all 0 (a face edge) has no entry
            keep = np.isin(keys, used_keys)
            adj_keys, ids, counts = adj_keys[np.repeat(keep, counts)], ids[np.repeat(keep, counts)], counts[keep]
        topology.check_not_lonely(used_keys % V, counts)
        slot = np.full(anchors.shape, -1, dtype=np.int32)
        slot[used] = np.searchsorted(used_keys, anchor_keys[used])
        tables = topology.AnchorTables(slot, local[used_keys], topology.csr_offsets(counts).astype(np.int32),
                                       faces[np.searchsorted(face_keys, adj_keys)], ids)
        return _Patch(self._rest[vv], faces,
                      self._skin_joints[vv] + (v_item[:, None] * J).astype(self._skin_joints.dtype),
                      self._skin_weights[vv], local[anchor_keys], tables, vv)

    def _skinning(self, G, B: int, T: int):
        """(B, T, J, 4, 4) world-from-joint -> (T, B·J, 3, 4) skinning matrices G · G_rest⁻¹."""
        J = len(self.body.joint_names)
        if is_torch(G):
            import torch

            key = str(G.device)
            if key not in self._torch_inv_rest:
                self._torch_inv_rest[key] = torch.as_tensor(self._inv_rest, dtype=torch.float64, device=G.device)
            A = G[..., :3, :].to(torch.float64) @ self._torch_inv_rest[key]
            return A.transpose(0, 1).reshape(T, B * J, 3, 4).contiguous()
        # Written in the engine's (time, joint) order: no extra copy. The batch axes are (joint,
        # row, item) and the matrices (T, 4) @ (4, 4), both strided views: 3·J·B products of T
        # rows instead of T·B·J products of 3 rows: ~3× faster, the same BLAS kernel per entry.
        A = np.empty((T, B, J, 3, 4))
        G = np.asarray(G, dtype=np.float64)
        np.matmul(G.transpose(2, 3, 0, 1, 4)[:, :3], self._inv_rest[:, None, None], out=A.transpose(2, 3, 1, 0, 4))
        return A.reshape(T, B * J, 3, 4)

    def _ideal(self, A, fps: float, pl: Placements, B: int, backend: str, rotations: bool) -> engine.ImuResult:
        """Ideal readings of the batch's placements `pl` (item-major, B·P), flush on the skin,
        from skinning matrices A (T, B·J, 3, 4): one engine call on the items' patches. The
        engine's checks and tables are skipped (engine._skinned): all but A are built here from
        the body checked once in __init__, and A is checked here."""
        require_finite("transforms", A)  # as the engine checked them (an index in its message is into A)
        patch = self._batch_mesh(pl.anchors, pl.bary, B)
        topology.check_faces_nondegenerate(self._rest, self.body.faces, patch.tables.adj_face_ids,
                                           "the body's rest pose", flat=self._flat)
        tangents = topology.tangent_references(topology.placement_normals(self._normals, pl.anchors, pl.bary))
        return engine._skinned(patch.rest, patch.faces, patch.skin_joints, patch.skin_weights, A, fps, patch.anchors,
                               pl.bary, pl.yaw, pl.offset, tangents, patch.tables, cutoff=0.0, gravity=engine.GRAVITY,
                               mount=None, backend=backend, chunk_frames=None, return_rotations=rotations,
                               return_positions=False, template=A)

    def __call__(self, transforms, fps: float, seed: int | None = None) -> AugmentedBatch:
        """Simulate one batch. transforms: (B, T, J, 4, 4) world-from-joint transforms of the
        body's rig at `fps` Hz (z up, metres), numpy or torch (CUDA tensors run on their GPU).
        seed: None takes the next seed from the counter; an AugmentedBatch.seed replays one."""
        J = len(self.body.joint_names)
        shape = tuple(transforms.shape) if hasattr(transforms, "shape") else np.shape(transforms)
        if len(shape) != 5 or shape[2:] != (J, 4, 4):
            raise shape_error("transforms", f"(B, T, {J}, 4, 4) world-from-joint transforms of body {self.body.name!r}",
                              shape)
        B, T = int(shape[0]), int(shape[1])
        if B < 1 or T < engine.MIN_FRAMES:
            raise ValueError(f"transforms: expected B >= 1 items of T >= {engine.MIN_FRAMES} frames, got B={B}, T={T}")
        fps = require_fps(fps)
        if seed is None:
            seed = int(np.random.SeedSequence([self.seed, self.calls]).generate_state(1, np.uint64)[0])
            self.calls += 1
        else:
            seed = _check_seed(seed)
        pl, dev, which, noise_seed = self.draw(B, seed)

        template = transforms
        G = transforms if is_torch(transforms) else np.asarray(transforms)
        if self.backend == "cuda" and not is_cuda(G):
            import torch

            G = torch.as_tensor(to_numpy(G)).cuda()
        needs_frames = bool(np.any(np.asarray(dev.strap_frequency) > 0))  # a loose strap works in the world frame
        backend = engine._resolve_backend("auto" if self.backend == "cuda" else self.backend, is_cuda(G))
        res = self._ideal(self._skinning(G, B, T), fps, pl, B, backend, needs_frames)
        # The placement's tilt M and the unit's mounting rotation R_m compose (x_dev = R_mᵀ Mᵀ x):
        # the device kernel applies M·R_m in its per-placement loop, cheaper than the engine
        # rotating every output sample first. The frames a loose strap reads stay the surface
        # frames, as apply_device expects.
        unit = np.broadcast_to(np.asarray(dev.mount_rotation, dtype=np.float64), (len(pl), 3))
        mount = pl.mount_rotations() @ rotation_matrix(unit)
        out = apply_device(res.accel, res.gyro, fps, dev.replace(mount_rotation=axis_angle_from_matrix(mount)),
                           seed=noise_seed, rotations=res.rotations, backend=backend)
        N, P = out.accel.shape[0], self.count
        segment = pl.segment.astype(np.int64).reshape(B, P)
        device = np.asarray(which, dtype=np.int64).reshape(B, P)
        if is_torch(out.accel):
            import torch

            imu = torch.cat([out.accel, out.gyro], dim=-1).reshape(N, B, P, 6).permute(1, 2, 0, 3).contiguous()
        else:  # each sensor copied straight into place: no concatenated (N, B·P, 6) intermediate
            imu = np.empty((B, P, N, 6), dtype=np.float32)
            imu[..., :3] = out.accel.reshape(N, B, P, 3).transpose(1, 2, 0, 3)
            imu[..., 3:] = out.gyro.reshape(N, B, P, 3).transpose(1, 2, 0, 3)
        imu = _like(imu, template)
        if is_torch(imu):
            import torch

            segment, device = (torch.as_tensor(a, device=imu.device) for a in (segment, device))
        items = tuple(pl.subset(slice(b * P, (b + 1) * P)) for b in range(B))
        return AugmentedBatch(imu=imu, segment=segment, device=device, placements=items, device_names=self.device_names,
                              device_params=dev, rate=self.rate, seed=seed)


# ---- motion windows --------------------------------------------------------------------------
@dataclass(frozen=True)
class MotionBatch:
    """Random windows of motions on a body's rig.

    transforms: (B, T, J, 4, 4) float64 world-from-joint transforms at `fps` Hz (numpy; move
        them with torch.from_numpy(...).cuda() to simulate on a GPU).
    motion_index: (B,) int64 index into `names`; start_s: (B,) window start in its motion, s;
    texts: per item, the text of the motion's spans that overlap the window (labels, narration).
    """

    transforms: np.ndarray
    fps: float
    motion_index: np.ndarray
    names: tuple[str, ...]
    start_s: np.ndarray
    texts: tuple[tuple[str, ...], ...]


class MotionWindows:
    """Random windows of a motion collection, as transform batches for the Augmenter.

    motions: None (the built-in clips, motions.builtin()), a Motion, a list of Motions or a
    {name: Motion} dict. Each motion is resampled to `rate` (C² rotation spline, cubic root
    path) and retargeted onto `body` once, on first use; looping clips are looped to cover
    windows longer than themselves; a non-looping motion shorter than the window is left out.
    Windows are drawn uniformly over all window positions in the collection.
    """

    def __init__(self, motions=None, body: Body | None = None, rate: float = 100.0, joint_map=None):
        from .motion.types import Motion

        if motions is None:
            from .motions import builtin

            motions = builtin()
        if isinstance(motions, Motion):
            motions = [motions]
        items = list(motions.values()) if isinstance(motions, dict) else list(motions)
        bad = [type(m).__name__ for m in items if not isinstance(m, Motion)]
        if not items or bad:
            raise ValueError(f"motions: expected Motions (a Motion, a list or a dict of them), got "
                             f"{'nothing' if not items else ', '.join(bad)}")
        self.motions = tuple(items)
        self.names = tuple(m.name for m in items)
        self.body = default_body() if body is None else body
        self.rate = _rate(rate)
        self.joint_map = joint_map
        self._cache: dict[int, tuple[np.ndarray, Any]] = {}  # motion -> (G at rate, the Motion at rate)

    def _prepared(self, i: int, seconds: float):
        """(G (T, J, 4, 4), motion at `rate`) covering at least `seconds`, or None if it can't."""
        from .motion.resample import loop, resample
        from .motion.retarget import retarget

        m = self.motions[i]
        cached = self._cache.get(i)
        if cached is not None and (len(cached[0]) - 1) / self.rate + 1e-9 >= seconds:
            return cached
        if cached is not None and not m.loop:
            return None
        if m.duration < seconds + 1.0 / m.fps:
            if not m.loop:
                return None
            m = loop(m, seconds + m.duration)  # one cycle more than the window: every phase can start it
        if m.fps != self.rate:
            m = resample(m, self.rate, rotation="spline")  # C²: no kinks for the accelerometer to see
        G = retarget(m, self.body, self.joint_map).G
        self._cache[i] = (G, m)
        return self._cache[i] if (len(G) - 1) / self.rate + 1e-9 >= seconds else None

    def sample(self, batch_size: int, seconds: float, seed=None) -> MotionBatch:
        """`batch_size` windows of `seconds` (round(seconds · rate) frames), uniform over window
        positions. seed: int, numpy Generator or None (fresh)."""
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        try:
            T = int(round(float(seconds) * self.rate))
        except (TypeError, ValueError, OverflowError):  # not a number, inf, nan
            T = 0
        if T < engine.MIN_FRAMES:
            raise ValueError(f"seconds: expected a window of at least {engine.MIN_FRAMES} frames at {self.rate:g} Hz, "
                             f"got {seconds!r}")
        span = (T - 1) / self.rate
        ready = {i: self._prepared(i, span) for i in range(len(self.motions))}
        ready = {i: v for i, v in ready.items() if v is not None}
        if not ready:
            longest = max(m.duration for m in self.motions)
            raise ValueError(f"seconds: no motion is long enough for {seconds} s windows (none loops; the longest "
                             f"lasts {longest:.2f} s)")
        idx = np.array(sorted(ready))
        starts = np.array([len(ready[i][0]) - T + 1 for i in idx])
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        pick = idx[rng.choice(len(idx), size=batch_size, p=starts / starts.sum())]
        first = np.array([rng.integers(len(ready[i][0]) - T + 1) for i in pick])
        G = np.stack([ready[i][0][s:s + T] for i, s in zip(pick, first)])
        texts = []
        for i, s in zip(pick, first):
            ts = ready[i][1].timestamps
            lo, hi = int(ts[s]), int(ts[s + T - 1])
            texts.append(tuple(sp.text for sp in ready[i][1].texts if sp.end_ns > lo and sp.start_ns <= hi))
        return MotionBatch(transforms=G, fps=self.rate, motion_index=pick.astype(np.int64), names=self.names,
                           start_s=first / self.rate, texts=tuple(texts))


# ---- torch module ------------------------------------------------------------------------------
def _module_class():
    import torch

    class AugmentIMU(torch.nn.Module):
        """The Augmenter as a torch module without parameters: forward(transforms, fps) ->
        imu (B, P, N, 6) float32 on the transforms' device, fresh draws on every call. Pass an
        Augmenter or its arguments; the last batch's placements and devices are in `.last`."""

        def __init__(self, augmenter: Augmenter | None = None, **augmenter_options):
            super().__init__()
            if augmenter is not None and augmenter_options:
                raise ValueError("augmenter: pass an Augmenter or its options, not both")
            self.augmenter = augmenter if augmenter is not None else Augmenter(**augmenter_options)
            self.last: AugmentedBatch | None = None

        def forward(self, transforms, fps: float):
            with torch.no_grad():  # readings are data, not a function of anything being trained
                self.last = self.augmenter(transforms, fps)
            return self.last.imu

        def extra_repr(self) -> str:
            return repr(self.augmenter)

    return AugmentIMU


def __getattr__(name: str):
    # torch is imported only when AugmentIMU is asked for, so numpy users never need it
    if name == "AugmentIMU":
        cls = _module_class()
        globals()["AugmentIMU"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
