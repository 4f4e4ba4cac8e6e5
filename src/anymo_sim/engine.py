"""The public simulation entry points: posed meshes or a skinned rest mesh in, ideal IMU
readings (specific force, body-frame angular rate, sensor frames) out. The math is defined in
docs/engine.md; this module validates input, prepares the placement tables once, and hands
the work to the C++/CUDA kernels (anymo_sim._core) or to the numpy reference."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import reference, topology
from ._arrays import device_float, host_float, is_cuda, is_torch, to_numpy
from .validate import per_placement, require_finite, require_fps, require_indices, shape_error

try:
    from . import _core
except ImportError as exc:  # a source tree without the built extension: reference only
    _core = None
    _core_error = exc

GRAVITY = np.array([0.0, 0.0, -9.80665])
MIN_FRAMES = 4  # the one-sided second-difference stencil at the ends needs four frames
SCRATCH_BYTES = {"cpu": 64 << 20, "cuda": 512 << 20}  # per-chunk scratch budget


@dataclass(frozen=True)
class ImuResult:
    """Ideal IMU readings at P placements over T frames (float32, SI units).

    accel: (T, P, 3) specific force in the sensor frame, m/s² (+g on the up axis at rest).
    gyro: (T, P, 3) body-frame angular velocity, rad/s.
    rotations: (T, P, 3, 3) world-from-sensor rotations (columns = sensor axes), or None.
    positions: (T, P, 3) sensor positions in the world, m, or None.
    degenerate: frames where a normal or tangent was ill-defined and a fallback was used.
    """

    accel: Any
    gyro: Any
    rotations: Any = None
    positions: Any = None
    degenerate: int = 0


def available_backends() -> list[str]:
    """Backends usable here: 'reference' always, 'cpu' with the compiled extension, 'cuda'
    when the extension has CUDA kernels, a GPU is visible and torch can address it."""
    out = ["reference"]
    if _core is not None:
        out.append("cpu")
        if _core.cuda_compiled() and _core.cuda_device_count() > 0:
            try:
                import torch

                if torch.cuda.is_available():
                    out.append("cuda")
            except ImportError:
                pass
    return out


def _resolve_backend(backend: str, on_cuda: bool) -> str:
    if backend not in ("auto", "cpu", "cuda", "reference"):
        raise ValueError(f"backend: expected 'auto', 'cpu', 'cuda' or 'reference', got {backend!r}")
    if backend == "auto":
        backend = "cuda" if on_cuda else "cpu"
    if backend in ("cpu", "cuda") and _core is None:
        raise ImportError(
            f"backend {backend!r} needs the compiled extension anymo_sim._core ({_core_error}); "
            "install the package with `pip install .`, or pass backend='reference'"
        )
    if backend == "cuda" and not _core.cuda_compiled():
        raise RuntimeError("backend 'cuda': this build of anymo_sim has no CUDA kernels (no nvcc at build time)")
    if backend == "cpu" and on_cuda:
        raise ValueError("backend 'cpu' got CUDA tensors; move them to the CPU or use backend='cuda'")
    return backend


def _placements(vertex_ids, face_ids, barycentric, faces: np.ndarray, n_vertices: int):
    """Anchors (P, 3) and barycentric weights (P, 3): vertex placements first, then face ones."""
    anchors, bary = [], []
    if vertex_ids is not None:
        v = require_indices("vertex_ids", to_numpy(vertex_ids), n_vertices, "vertices")
        if v.ndim != 1:
            raise shape_error("vertex_ids", "(P,)", v.shape)
        anchors.append(np.repeat(v[:, None], 3, axis=1))
        b = np.zeros((len(v), 3))
        b[:, 0] = 1.0
        bary.append(b)
    if face_ids is not None or barycentric is not None:
        if face_ids is None or barycentric is None:
            raise ValueError("face placements need both face_ids (P,) and barycentric (P, 3)")
        f = require_indices("face_ids", to_numpy(face_ids), len(faces), "faces")
        if f.ndim != 1:
            raise shape_error("face_ids", "(P,)", f.shape)
        b = np.asarray(to_numpy(barycentric), dtype=np.float64)
        if b.shape != (len(f), 3):
            raise shape_error("barycentric", f"({len(f)}, 3)", b.shape)
        require_finite("barycentric", b)
        if np.any(b < 0) or np.any(np.abs(b.sum(axis=1) - 1.0) > 1e-6):
            raise ValueError("barycentric: weights must be >= 0 and sum to 1 in every row")
        anchors.append(faces[f])
        bary.append(b)
    if not anchors:
        raise ValueError("no placements: pass vertex_ids and/or face_ids with barycentric")
    anchors = np.concatenate(anchors)
    if len(anchors) == 0:
        raise ValueError("no placements: vertex_ids/face_ids are empty")
    return anchors, np.concatenate(bary)


def _faces(faces, n_vertices: int) -> np.ndarray:
    f = require_indices("faces", to_numpy(faces), n_vertices, "vertices")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise shape_error("faces", "(F, 3) with F >= 1", f.shape)
    repeated = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise ValueError(f"faces: face {i} {f[i].tolist()} repeats a vertex (degenerate triangle)")
    return f


def _lowpass(lowpass_hz, fps: float) -> float:
    if lowpass_hz is None:
        return 0.0
    fc = float(lowpass_hz)
    if not (0 < fc < fps / 2):
        raise ValueError(f"lowpass_hz: expected a cutoff in (0, fps/2 = {fps / 2:g}) Hz, got {lowpass_hz!r}")
    return fc


def _gravity(gravity) -> np.ndarray:
    g = np.asarray(gravity, dtype=np.float64)
    if g.shape != (3,):
        raise shape_error("gravity", "(3,)", g.shape)
    require_finite("gravity", g)
    return g


def _common_inputs(faces, V, vertex_ids, face_ids, barycentric, yaw, offset, lowpass_hz, fps, gravity, placements):
    """Validated faces, placements (anchors, bary, yaw, offset), low-pass cutoff and gravity.
    A `Placements` object brings its own anchors, weights, yaw and offset, and its tilt as the
    mount rotations applied to the outputs (None when every device sits flush)."""
    F = _faces(faces, V)
    mount = None
    if placements is not None:
        if vertex_ids is not None or face_ids is not None or yaw is not None or offset is not None:
            raise ValueError("placements: give either a Placements object or vertex_ids/face_ids/yaw/offset, not both")
        anchors = require_indices("placements.anchors", placements.anchors, V, "vertices")
        bary = np.asarray(placements.bary, dtype=np.float64)
        yaw, offset = placements.yaw, placements.offset
        if len(anchors) == 0:
            raise ValueError("placements: empty")
        if np.any(placements.tilt != 0):
            mount = placements.mount_rotations()
    else:
        anchors, bary = _placements(vertex_ids, face_ids, barycentric, F, V)
    P = len(anchors)
    return (F, anchors, bary, per_placement("yaw", yaw, P, 0.0), per_placement("offset", offset, P, 0.0),
            _lowpass(lowpass_hz, fps), _gravity(gravity), mount)


def _chunk(chunk_frames, T: int, bytes_per_frame: int, device: str, fps: float, cutoff: float) -> int:
    if chunk_frames is not None:
        c = int(chunk_frames)
        if c < 1:
            raise ValueError(f"chunk_frames: expected a positive number of frames, got {chunk_frames!r}")
        return c
    halo = 3 + (math.ceil(3 * fps / cutoff) if cutoff else 0)  # stencil + low-pass halos (docs/engine.md)
    fit = SCRATCH_BYTES[device] // max(bytes_per_frame, 1) - 2 * halo
    return int(min(T, max(16, fit)))


def _check_frames(T: int, name: str) -> None:
    if T < MIN_FRAMES:
        raise ValueError(f"{name}: got {T} frames; the finite-difference stencils need at least {MIN_FRAMES}")


class _Run:
    """Marshals one problem to the extension: keeps every buffer alive and hands out pointers
    (host numpy arrays for 'cpu', device tensors for 'cuda')."""

    def __init__(self, backend: str, like):
        self.backend = backend
        self.keep: list = []
        self.device = like.device if is_cuda(like) else None

    def tables(self, arrays: dict) -> dict:
        """Pointers to read-only tables, {name: (array, dtype)} -> {name: pointer}. On a GPU they
        travel packed in one buffer by one copy: each copy costs tens of microseconds however
        small, and a problem has a dozen tables or more."""
        parts = {k: np.ascontiguousarray(a, dtype=dtype) for k, (a, dtype) in arrays.items()}
        self.keep.extend(parts.values())
        if self.backend != "cuda":
            return {k: a.ctypes.data for k, a in parts.items()}
        import torch

        offsets, size = {}, 0
        for k, a in parts.items():
            offsets[k] = size
            size += -(-max(a.nbytes, 1) // 64) * 64  # 64-byte aligned, as the kernels' loads like
        host = np.zeros(size, np.uint8)
        for k, a in parts.items():
            host[offsets[k]:offsets[k] + a.nbytes] = a.reshape(-1).view(np.uint8)
        packed = torch.from_numpy(host).to(self.device)
        self.keep.append(packed)
        return {k: packed.data_ptr() + o for k, o in offsets.items()}

    def ptr(self, x) -> int:
        self.keep.append(x)
        return x.data_ptr() if is_torch(x) else x.ctypes.data

    def outputs(self, T: int, P: int, rotations: bool, positions: bool, as_torch: bool, given: dict | None = None):
        shapes = {"accel": (T, P, 3), "gyro": (T, P, 3)}
        if rotations:
            shapes["rotations"] = (T, P, 3, 3)
        if positions:
            shapes["positions"] = (T, P, 3)
        if given is not None:
            return _given_outputs(given, shapes)
        if as_torch:
            import torch

            out = {k: torch.empty(s, dtype=torch.float32, device=self.device or "cpu") for k, s in shapes.items()}
        else:
            out = {k: np.empty(s, dtype=np.float32) for k, s in shapes.items()}
        return out

    def execute(self, problem: dict, out: dict) -> int:
        for k, v in out.items():
            problem[k] = self.ptr(v)
        if self.backend == "cuda":
            import torch

            with torch.cuda.device(self.device):
                stream = torch.cuda.current_stream(self.device).cuda_stream
                return int(_core.run(problem, "cuda", stream))
        return int(_core.run(problem, "cpu", 0))


def _given_outputs(given: dict, shapes: dict) -> dict:
    """`out=`: the caller's arrays for every output, checked (host float32, C-contiguous)."""
    if not isinstance(given, dict) or set(given) != set(shapes):
        raise ValueError(f"out: expected a dict with exactly the keys {sorted(shapes)}, got "
                         f"{sorted(given) if isinstance(given, dict) else type(given).__name__}")
    for k, shape in shapes.items():
        a = given[k]
        if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != np.float32 or not a.flags.c_contiguous \
                or not a.flags.writeable:
            raise ValueError(f"out[{k!r}]: expected a writeable C-contiguous float32 numpy array of shape {shape}, got "
                             f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}")
    return dict(given)


def _placement_problem(tables: topology.AnchorTables, local, bary, yaw, offset, ref_local, ref_is_direction, run: _Run) -> dict:
    """The placement part of a problem dict, with vertex ids mapped to local indices."""
    problem = {"P": len(bary), "ref_is_direction": int(ref_is_direction)}
    problem.update(run.tables({
        "anchor_slot": (tables.anchor_slot, np.int32),
        "bary": (bary, np.float64),
        "anchor_vertex": (local(tables.anchor_vertex), np.int32),
        "adj_offsets": (tables.adj_offsets, np.int32),
        "adj_faces": (local(tables.adj_faces), np.int32),
        "ref_item": (ref_local, np.int32),
        "yaw_cs": (np.stack([np.cos(yaw), np.sin(yaw)], axis=1), np.float64),
        "offset": (offset, np.float64),
    }))
    return problem


def _mounted(out: dict, mount: np.ndarray) -> dict:
    """Readings of devices tilted on the surface: a fixed rotation M (device axes in the surface
    frame) gives f' = Mᵀf, ω' = Mᵀω (the point does not move) and R' = R·M."""
    x = out["accel"]
    if is_torch(x):
        import torch

        mount = torch.as_tensor(mount, dtype=x.dtype, device=x.device)
        mul = torch.einsum
    else:
        mount, mul = mount.astype(x.dtype), np.einsum
    out = dict(out)
    out["accel"] = mul("tpj,pji->tpi", x, mount)
    out["gyro"] = mul("tpj,pji->tpi", out["gyro"], mount)
    if out.get("rotations") is not None:
        out["rotations"] = mul("tpij,pjk->tpik", out["rotations"], mount)
    return out


def _finish(out: dict, degenerate: int, template, backend: str, mount=None) -> ImuResult:
    if degenerate:
        warnings.warn(
            f"{degenerate} placement-frames had an ill-defined normal or tangent (collapsed faces, or a "
            "tangent reference along the normal) and used the fallback frame of docs/engine.md",
            RuntimeWarning,
            stacklevel=3,
        )
    if is_torch(template) and backend in ("cpu", "reference") and not is_torch(out["accel"]):
        import torch

        out = {k: torch.from_numpy(v) for k, v in out.items()}
    if mount is not None:
        out = _mounted(out, mount)
    return ImuResult(
        accel=out["accel"],
        gyro=out["gyro"],
        rotations=out.get("rotations"),
        positions=out.get("positions"),
        degenerate=int(degenerate),
    )


def _reference_outputs(res: dict, rotations: bool, positions: bool) -> dict:
    out = {"accel": res["accel"].astype(np.float32), "gyro": res["gyro"].astype(np.float32)}
    if rotations:
        out["rotations"] = res["rotations"].astype(np.float32)
    if positions:
        out["positions"] = res["positions"].astype(np.float32)
    return out


def surface_imu(vertices, faces, vertex_ids, fps, *, placements=None, face_ids=None, barycentric=None, yaw=None, offset=None,
                ref_vertex_ids=None, lowpass_hz=None, gravity=GRAVITY, chunk_frames=None, backend="auto",
                return_rotations=True, return_positions=True, check_finite=True) -> ImuResult:
    """Ideal IMU readings at surface placements of a posed mesh sequence.

    vertices: (T, V, 3) posed mesh per frame (numpy, or a torch tensor on the CPU or a GPU;
        float32/float64 are read in place). faces: (F, 3) counter-clockwise from outside.
    vertex_ids: (P,) placements on vertices, or None; face_ids (P2,) with barycentric (P2, 3)
        add placements inside faces (after the vertex ones). Or `placements`: a
        anymo_sim.placements.Placements (anchors, weights, yaw and offset in one).
    fps: frame rate in Hz. yaw (rad) and offset (m, along the outward normal): scalar or per
        placement. ref_vertex_ids: (P,) vertex whose direction from the placement, projected
        onto the tangent plane, is the sensor x axis before the yaw (default: the neighbour
        pointing most nearly down at frame 0; docs/engine.md). lowpass_hz: optional cutoff.
    backend: 'auto' (CUDA for CUDA tensors, else the C++ CPU kernels), 'cpu', 'cuda' or
        'reference' (float64 numpy). Returns an ImuResult of the caller's array kind.
    """
    on_cuda = is_cuda(vertices)
    backend = _resolve_backend(backend, on_cuda)
    if backend == "cuda" and not on_cuda:
        import torch

        result = surface_imu(torch.as_tensor(to_numpy(vertices)).cuda(), faces, vertex_ids, fps, placements=placements,
                             face_ids=face_ids,
                             barycentric=barycentric, yaw=yaw, offset=offset, ref_vertex_ids=ref_vertex_ids,
                             lowpass_hz=lowpass_hz, gravity=gravity, chunk_frames=chunk_frames, backend="cuda",
                             return_rotations=return_rotations, return_positions=return_positions,
                             check_finite=check_finite)
        return _to_host_like(result, vertices)
    X = device_float(vertices, "vertices") if on_cuda else host_float(vertices, "vertices")
    if X.ndim != 3 or X.shape[2] != 3:
        raise shape_error("vertices", "(T, V, 3)", X.shape)
    T, V = int(X.shape[0]), int(X.shape[1])
    _check_frames(T, "vertices")
    fps = require_fps(fps)
    F, anchors, bary, yaw, offset, cutoff, g, mount = _common_inputs(faces, V, vertex_ids, face_ids, barycentric, yaw, offset,
                                                              lowpass_hz, fps, gravity, placements)
    P = len(anchors)
    if check_finite:
        require_finite("vertices", X)
    x0 = np.asarray(to_numpy(X[0]), dtype=np.float64)
    tables = topology.anchor_tables(F, V, anchors, bary)
    topology.check_faces_nondegenerate(x0, F, tables.adj_face_ids, "vertices[0]")
    if ref_vertex_ids is None:
        ref = topology.default_ref_vertices(x0, F, anchors, bary, tables)
    else:
        ref = require_indices("ref_vertex_ids", to_numpy(ref_vertex_ids), V, "vertices")
        if ref.shape != (P,):
            raise shape_error("ref_vertex_ids", f"({P},)", ref.shape)

    if backend == "reference":
        res = reference.reference_surface_imu(to_numpy(X).astype(np.float64), F, anchors, bary, yaw, offset, fps,
                                              ref_vertices=ref, gravity=g, lowpass_hz=cutoff or None)
        return _finish(_reference_outputs(res, return_rotations, return_positions), res["degenerate"], vertices, backend, mount)

    run = _Run(backend, X)
    problem = {
        "T": T, "fps": fps, "gravity": g.tolist(), "cutoff_hz": cutoff,
        "skinned": 0, "vertices": run.ptr(X), "vertices_f64": int(str(X.dtype).endswith("float64")), "V": V,
        "chunk": _chunk(chunk_frames, T, P * (12 * 8 + (48 if cutoff else 0)), "cuda" if on_cuda else "cpu", fps,
                        cutoff),
    }
    problem.update(_placement_problem(tables, lambda a: a, bary, yaw, offset, ref, False, run))
    out = run.outputs(T, P, return_rotations, return_positions, as_torch=on_cuda)
    degenerate = run.execute(problem, out)
    return _finish(out, degenerate, vertices, backend, mount)


def skinned_imu(rest_vertices, faces, skin_joints, skin_weights, joint_transforms, fps, *, vertex_ids=None,
                placements=None, face_ids=None, barycentric=None, yaw=None, offset=None, rest_tangents=None, lowpass_hz=None,
                gravity=GRAVITY, chunk_frames=None, backend="auto", return_rotations=True, return_positions=True,
                check_finite=True, out=None) -> ImuResult:
    """Ideal IMU readings at surface placements of a linear-blend-skinned mesh.

    rest_vertices: (V, 3); faces: (F, 3); skin_joints, skin_weights: (V, K) influences (weights
    >= 0, rows sum to 1); joint_transforms: (T, J, 4, 4) or (T, J, 3, 4) skinning matrices
    (rest space -> world, G_j(t) G_j(rest)^-1), numpy or torch (its device picks the backend).
    Only the placements' vertices and their 1-rings are skinned. rest_tangents: (P, 3) rest-pose
    directions carried by the skinning that define the sensor x axis before the yaw (default:
    down, or forward where the surface faces up/down; docs/engine.md). Other arguments as in
    surface_imu. out: optional dict of writeable C-contiguous float32 arrays, one per returned
    output ('accel', 'gyro', and 'rotations' / 'positions' when asked for) of the result's shapes,
    written in place (backend 'cpu'): a loop that calls this many times reuses its memory rather
    than mapping and zeroing fresh pages for every call (dataset/generate.py). Returns an
    ImuResult of the kind of joint_transforms (its arrays are `out`'s unless placements are tilted).
    """
    on_cuda = is_cuda(joint_transforms)
    backend = _resolve_backend(backend, on_cuda)
    if out is not None and backend != "cpu":
        raise ValueError(f"out: preallocated outputs are for backend 'cpu', not {backend!r}")
    if backend == "cuda" and not on_cuda:
        import torch

        result = skinned_imu(rest_vertices, faces, skin_joints, skin_weights,
                             torch.as_tensor(to_numpy(joint_transforms)).cuda(), fps, vertex_ids=vertex_ids,
                             placements=placements, face_ids=face_ids, barycentric=barycentric, yaw=yaw, offset=offset,
                             rest_tangents=rest_tangents, lowpass_hz=lowpass_hz, gravity=gravity,
                             chunk_frames=chunk_frames, backend="cuda", return_rotations=return_rotations,
                             return_positions=return_positions, check_finite=check_finite)
        return _to_host_like(result, joint_transforms)
    A = device_float(joint_transforms, "joint_transforms") if on_cuda else host_float(joint_transforms, "joint_transforms")
    if A.ndim != 4 or A.shape[2:] not in ((4, 4), (3, 4)):
        raise shape_error("joint_transforms", "(T, J, 4, 4) or (T, J, 3, 4)", A.shape)
    _check_frames(int(A.shape[0]), "joint_transforms")
    setup = skinned_setup(rest_vertices, faces, skin_joints, skin_weights, int(A.shape[1]), fps, vertex_ids=vertex_ids,
                          placements=placements, face_ids=face_ids, barycentric=barycentric, yaw=yaw, offset=offset,
                          rest_tangents=rest_tangents, lowpass_hz=lowpass_hz, gravity=gravity)
    A34 = A[:, :, :3, :]
    if check_finite:
        require_finite("joint_transforms", A34)
    return setup.run(A34, backend=backend, chunk_frames=chunk_frames, return_rotations=return_rotations,
                     return_positions=return_positions, template=joint_transforms, out=out)


@dataclass
class SkinnedSetup:
    """skinned_imu's checked inputs that do not depend on the motion: the mesh, its skin tables,
    the placements, their anchor tables and rest tangents, for J joints at `fps`. A loop over
    many motions of one body (dataset/generate.py) builds it once and calls run per motion."""

    rest: np.ndarray
    F: np.ndarray
    sj: np.ndarray
    sw: np.ndarray
    anchors: np.ndarray
    bary: np.ndarray
    yaw: np.ndarray
    offset: np.ndarray
    tangents: np.ndarray
    tables: topology.AnchorTables
    J: int
    fps: float
    cutoff: float
    gravity: np.ndarray
    mount: np.ndarray | None

    def run(self, A34, *, backend: str, chunk_frames=None, return_rotations: bool = True, return_positions: bool = True,
            template=None, out: dict | None = None) -> ImuResult:
        """Readings for skinning matrices A34 (T, J, 3, 4), finite, on the backend's device
        (numpy for 'cpu' / 'reference'; checked by the caller); backend resolved."""
        if A34.ndim != 4 or A34.shape[1:] != (self.J, 3, 4):
            raise shape_error("joint_transforms", f"(T, {self.J}, 3, 4)", tuple(A34.shape))
        _check_frames(int(A34.shape[0]), "joint_transforms")
        return _skinned(self.rest, self.F, self.sj, self.sw, A34, self.fps, self.anchors, self.bary, self.yaw,
                        self.offset, self.tangents, self.tables, cutoff=self.cutoff, gravity=self.gravity,
                        mount=self.mount, backend=backend, chunk_frames=chunk_frames, return_rotations=return_rotations,
                        return_positions=return_positions, template=A34 if template is None else template, out=out)


def skinned_setup(rest_vertices, faces, skin_joints, skin_weights, J: int, fps, *, vertex_ids=None, placements=None,
                  face_ids=None, barycentric=None, yaw=None, offset=None, rest_tangents=None, lowpass_hz=None,
                  gravity=GRAVITY) -> SkinnedSetup:
    """Checks and tables of skinned_imu (its arguments, for J joints), for SkinnedSetup.run."""
    rest = np.asarray(host_float(rest_vertices, "rest_vertices"), dtype=np.float64)
    if rest.ndim != 2 or rest.shape[1] != 3:
        raise shape_error("rest_vertices", "(V, 3)", rest.shape)
    V = len(rest)
    require_finite("rest_vertices", rest)
    fps = require_fps(fps)
    sj, sw = _skin_tables(skin_joints, skin_weights, V, J)
    F, anchors, bary, yaw, offset, cutoff, g, mount = _common_inputs(faces, V, vertex_ids, face_ids, barycentric, yaw, offset,
                                                              lowpass_hz, fps, gravity, placements)
    P = len(anchors)
    tables = topology.anchor_tables(F, V, anchors, bary)
    topology.check_faces_nondegenerate(rest, F, tables.adj_face_ids, "rest_vertices")
    if rest_tangents is None:
        tangents = topology.default_rest_tangents(rest, F, anchors, bary)
    else:
        tangents = np.asarray(host_float(rest_tangents, "rest_tangents"), dtype=np.float64)
        if tangents.shape != (P, 3):
            raise shape_error("rest_tangents", f"({P}, 3)", tangents.shape)
        require_finite("rest_tangents", tangents)
        if np.any(np.linalg.norm(tangents, axis=1) < 1e-9):
            raise ValueError("rest_tangents: every direction must be non-zero")
    return SkinnedSetup(rest, F, sj, sw, anchors, bary, yaw, offset, tangents, tables, J, fps, cutoff, g, mount)


def _skin_tables(skin_joints, skin_weights, V: int, J: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated (V, K) skin joints (int64) and weights, the weights as float64 rows summing
    to exactly 1 (the rest pose then reproduces the rest mesh)."""
    sw = np.asarray(host_float(skin_weights, "skin_weights"), dtype=np.float64)
    if sw.ndim != 2 or sw.shape[0] != V:
        raise shape_error("skin_weights", f"({V}, K)", sw.shape)
    sj = require_indices("skin_joints", to_numpy(skin_joints), J, "joints")
    if sj.shape != sw.shape:
        raise shape_error("skin_joints", str(sw.shape), sj.shape)
    require_finite("skin_weights", sw)
    if np.any(sw < 0) or np.any(np.abs(sw.sum(axis=1) - 1.0) > 1e-4):
        row = int(np.flatnonzero(np.any(sw < 0, axis=1) | (np.abs(sw.sum(axis=1) - 1.0) > 1e-4))[0])
        raise ValueError(f"skin_weights: row {row} {sw[row].tolist()} must be >= 0 and sum to 1")
    return sj, sw / sw.sum(axis=1, keepdims=True)


def _skinned(rest, F, sj, sw, A34, fps: float, anchors, bary, yaw, offset, tangents, tables: topology.AnchorTables, *,
             cutoff: float, gravity: np.ndarray, mount, backend: str, chunk_frames, return_rotations: bool,
             return_positions: bool, template, out: dict | None = None) -> ImuResult:
    """skinned_imu after its checks, for inputs it would accept as they are: rest (V, 3)
    float64, faces F, _skin_tables' sj/sw, A34 (T, J, 3, 4) finite on the backend's device
    (numpy for 'cpu'/'reference'), per-placement float64 arrays, rest tangents, anchor tables of
    (F, anchors, bary), a resolved backend. The augmenter builds all of these itself each batch
    and calls this directly, so it does not pay for checking them again."""
    on_cuda = is_cuda(A34)
    T, J, P = int(A34.shape[0]), int(A34.shape[1]), len(anchors)
    if backend == "reference":
        res = reference.reference_skinned_imu(rest, F, sj, sw, to_numpy(A34).astype(np.float64), anchors, bary, yaw,
                                              offset, tangents, fps, gravity=gravity, lowpass_hz=cutoff or None)
        return _finish(_reference_outputs(res, return_rotations, return_positions), res["degenerate"], template,
                       backend, mount)

    # Skin items: the needed vertices (points), then one tangent direction per placement that
    # moves with its dominant anchor's weights.
    needed = tables.needed_vertices()
    dominant = topology.dominant_anchor(anchors, bary)
    if len(needed) == len(rest):  # every vertex is needed (the augmenter's patches): items are vertex ids
        local = lambda a: a  # noqa: E731
    else:
        rest, sj, sw = rest[needed], sj[needed], sw[needed]
        local = lambda a: np.searchsorted(needed, a)  # noqa: E731 - vertex id -> item index
    dominant = local(dominant)
    n_items = len(rest) + P
    run = _Run(backend, A34)
    if on_cuda:
        import torch

        transforms = A34.to(torch.float64).contiguous()
    else:
        transforms = np.ascontiguousarray(A34, dtype=np.float64)
    problem = {
        "T": T, "fps": fps, "gravity": gravity.tolist(), "cutoff_hz": cutoff, "skinned": 1,
        "transforms": run.ptr(transforms), "J": J, "n_items": n_items, "K": sw.shape[1],
        "chunk": _chunk(chunk_frames, T, P * (12 * 8 + (48 if cutoff else 0)) + n_items * 24,
                        "cuda" if on_cuda else "cpu", fps, cutoff),
    }
    problem.update(run.tables({
        "item_rest": (np.concatenate([rest, tangents]), np.float64),
        "item_hom": (np.concatenate([np.ones(len(rest)), np.zeros(P)]), np.float64),
        "item_joints": (np.concatenate([sj, sj[dominant]]), np.int32),
        "item_weights": (np.concatenate([sw, sw[dominant]]), np.float64),
    }))
    problem.update(_placement_problem(tables, local, bary, yaw, offset, len(rest) + np.arange(P), True, run))
    out = run.outputs(T, P, return_rotations, return_positions, as_torch=on_cuda, given=out)
    degenerate = run.execute(problem, out)
    return _finish(out, degenerate, template, backend, mount)


def _to_host_like(result: ImuResult, template) -> ImuResult:
    """CUDA results for a caller who passed host arrays: same kind as the input, on the host."""
    def conv(x):
        if x is None:
            return None
        x = x.cpu()
        return x if is_torch(template) else x.numpy()

    return ImuResult(conv(result.accel), conv(result.gyro), conv(result.rotations), conv(result.positions),
                     result.degenerate)
