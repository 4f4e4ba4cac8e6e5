"""Pictures of a retargeted motion: a PNG strip (and optionally a GIF) of the posed body mesh
with the source skeleton drawn over it, so a person can check the retarget by eye.

The mesh is drawn with matplotlib (Agg) as depth-sorted, Lambert-shaded triangles in an
orthographic view: from the side of the direction of travel when the root moves, else from
the front-right of the body's initial facing; a floor grid marks z = 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import write_atomic

from ..body import Body
from .retarget import Retargeted, retarget
from .types import Motion


def posed_vertices(body: Body, G_frame: np.ndarray) -> np.ndarray:
    """Linear-blend-skinned vertices (V, 3) for one frame of world-from-joint transforms (J, 4, 4)."""
    A = body.skinning_matrices(G_frame[None])[0]
    v = body.rest_vertices
    per = np.einsum("vkab,vb->vka", A[body.skin_joints][..., :3, :3], v) + A[body.skin_joints][..., :3, 3]
    return np.einsum("vk,vka->va", body.skin_weights.astype(np.float64), per)


def view_basis(result: Retargeted, body: Body, elevation_deg: float = 12.0) -> np.ndarray:
    """Rows: screen right, screen up, towards the camera (orthonormal)."""
    root = result.positions[:, 0]
    travel = root[-1, :2] - root[0, :2]
    if np.linalg.norm(travel) > 0.5:
        d = np.append(travel / np.linalg.norm(travel), 0.0)
        toward = np.cross([0.0, 0.0, 1.0], d)  # look at the body's side: travel goes left to right
        toward = -toward
    else:
        # the body faces +y at rest: where its root turns that at the first frame
        fwd = result.G[0, 0, :3, :3] @ body.joint_rest_transforms[0, :3, :3].T @ [0.0, 1.0, 0.0]
        yaw = np.arctan2(fwd[1], fwd[0]) + np.radians(35.0)
        toward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    e = np.radians(elevation_deg)
    toward = np.cos(e) * toward / np.linalg.norm(toward) + np.sin(e) * np.array([0.0, 0.0, 1.0])
    right = np.cross([0.0, 0.0, 1.0], toward)
    right /= np.linalg.norm(right)
    up = np.cross(toward, right)
    return np.stack([right, up, toward])


def _draw_frame(ax, body, result, t, basis, src_pos, half_width):
    """One panel; the view widens past `half_width` (m) to fit the posed joints."""
    from matplotlib.collections import LineCollection, PolyCollection

    verts = posed_vertices(body, result.G[t])
    tri = verts[body.faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    facing = n @ basis[2]
    keep = facing > 0  # back faces are hidden by the closed surface
    light = basis[2] + 0.6 * basis[1] + 0.3 * basis[0]
    shade = np.clip(n[keep] @ (light / np.linalg.norm(light)), 0.0, 1.0)
    depth = tri[keep].mean(axis=1) @ basis[2]
    order = np.argsort(depth)
    proj = tri[keep][order] @ basis[:2].T
    colour = np.array([0.86, 0.70, 0.58])[None] * (0.35 + 0.65 * shade[order, None])
    cx = result.positions[t, 0] @ basis[0]
    # floor grid around the body
    c = result.positions[t, 0]
    g = np.arange(-1.5, 1.51, 0.25)
    lines = [np.array([[c[0] + a, c[1] - 1.5, 0], [c[0] + a, c[1] + 1.5, 0]]) for a in g] + \
            [np.array([[c[0] - 1.5, c[1] + a, 0], [c[0] + 1.5, c[1] + a, 0]]) for a in g]
    ax.add_collection(LineCollection([ln @ basis[:2].T for ln in lines], colors="0.8", linewidths=0.5, zorder=0))
    ax.add_collection(PolyCollection(proj, facecolors=colour, edgecolors="none", zorder=1))
    if src_pos is not None:
        segs = [np.stack([src_pos[t, j], src_pos[t, p]]) @ basis[:2].T for j, p in enumerate(src_pos.parents) if p >= 0]
        ax.add_collection(LineCollection(segs, colors="crimson", linewidths=1.0, alpha=0.8, zorder=2))
    xs = result.positions[t] @ basis[0]
    half_width = max(half_width, np.abs(xs - cx).max() + 0.25)
    ax.set_xlim(cx - half_width, cx + half_width)
    ax.set_ylim(-0.35, 2.05)
    ax.set_aspect("equal")
    ax.axis("off")


class _SourceSkeleton(np.ndarray):
    parents: np.ndarray


def _source_positions(motion: Motion, result: Retargeted):
    p = motion.joint_positions() * result.scale
    p[..., 2] += result.ground_shift
    out = p.view(_SourceSkeleton)
    out.parents = motion.parents
    return out


def render_strip(motion: Motion, body: Body, path, frames: int = 6, result: Retargeted | None = None,
                 skeleton: bool = True, gif: str | Path | None = None, gif_fps: float = 15.0) -> Path:
    """Write a PNG strip of `frames` evenly spaced frames of the retargeted body (and a GIF of
    the whole motion at up to `gif_fps` when `gif` is given). Files are written aside and renamed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = result or retarget(motion, body)
    T = result.G.shape[0]
    picks = np.unique(np.linspace(0, T - 1, max(1, frames)).round().astype(int))
    basis = view_basis(result, body)
    src = _source_positions(motion, result) if skeleton else None
    path = Path(path)
    label = next((s.text for s in motion.texts if s.kind == "label"), "")
    fig, axes = plt.subplots(1, len(picks), figsize=(2.3 * len(picks), 3.6), squeeze=False)
    for ax, t in zip(axes[0], picks):
        _draw_frame(ax, body, result, t, basis, src, 0.75)
        ax.set_title(f"t = {(motion.timestamps[t] - motion.timestamps[0]) * 1e-9:.2f} s", fontsize=9)
    fig.suptitle(f"{motion.name} on {body.name}" + (f": {label}" if label else "")
                 + ("  (red: source skeleton)" if skeleton else ""), fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    if gif is not None:
        _write_gif(motion, body, result, Path(gif), basis, src, gif_fps)
    return path


def _write_gif(motion, body, result, path, basis, src, fps):
    import matplotlib.pyplot as plt
    from PIL import Image

    step = max(1, int(round(motion.fps / fps)))
    fig, ax = plt.subplots(figsize=(3.2, 3.6), dpi=80)
    images = []
    for t in range(0, result.G.shape[0], step):
        ax.clear()
        _draw_frame(ax, body, result, t, basis, src, 0.9)
        ax.set_title(f"{motion.name}  t = {(motion.timestamps[t] - motion.timestamps[0]) * 1e-9:.2f} s", fontsize=9)
        fig.canvas.draw()
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]))
    plt.close(fig)
    write_atomic(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                                                  duration=int(1000 * step / motion.fps), loop=0))
