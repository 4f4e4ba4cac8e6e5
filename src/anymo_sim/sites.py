"""Named sites on any body: a landmark, a vertex id, or a rule "on this segment, this far along
it, on the side facing that way", resolved on the body's rest mesh.

Rules make presets work on bodies that have no landmark table (a SMPL model, a user's mesh):
every body labels its vertices with the canonical SEGMENTS, and a segment's axis and extent
come from its rest vertices. Directions are words in the body frame (z up, facing +y, the
body's left at −x): front, back, up, down, left, right, the segment-relative lateral, medial,
distal, proximal, and sums of them ("back+left"), or an explicit 3-vector. On arms and legs
the words mean the limb hanging straight down by the side, palms facing the thighs (so
"lateral" on a forearm is the back of the wrist whether the rest pose is a T or an A).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .body import SEGMENTS, Body
from .placements import Placements, rest_normals
from .topology import default_rest_tangents

WORLD_DIRECTIONS = {
    "front": (0.0, 1.0, 0.0), "back": (0.0, -1.0, 0.0), "up": (0.0, 0.0, 1.0), "down": (0.0, 0.0, -1.0),
    "left": (-1.0, 0.0, 0.0), "right": (1.0, 0.0, 0.0),
}
RELATIVE_DIRECTIONS = ("lateral", "medial", "distal", "proximal")
_UPRIGHT = ("head", "neck", "torso", "pelvis")  # axis: world up
_LIMBS = ("upper_arm", "forearm", "hand", "thigh", "shank")  # axis: away from the trunk
_ALONG_WINDOW = 0.04  # half-width of the band of the segment a rule picks from (fraction of its length)
_MIN_CANDIDATES = 12


class SiteError(ValueError):
    """A site that does not resolve on a body (unknown landmark/segment/direction, bad vertex id...)."""


@dataclass(frozen=True)
class SegmentAxis:
    """A segment's rest-pose axis: unit direction from its proximal to its distal end (up for the
    head, neck, torso and pelvis; heel to toe for the feet) and the extent of its vertices on it."""

    center: np.ndarray
    axis: np.ndarray
    lo: float
    hi: float

    def along(self, x: np.ndarray) -> np.ndarray:
        """0 at the proximal end, 1 at the distal end."""
        return ((x - self.center) @ self.axis - self.lo) / (self.hi - self.lo)


@dataclass(frozen=True)
class Site:
    """Where one device goes. Exactly one of landmark / vertex / segment; a landmark the body
    lacks falls back to `rule` when one is given. x_axis (or y_axis): direction the device's x
    (or y) axis points, projected onto the skin; yaw_deg added on top; offset_m along the normal;
    tilt_deg (tx, ty) off the tangent plane."""

    name: str
    landmark: str | None = None
    vertex: int | None = None
    segment: str | None = None
    along: float = 0.5
    facing: object = None
    rule: "Site | None" = None
    x_axis: object = None
    y_axis: object = None
    yaw_deg: float = 0.0
    offset_m: float = 0.0
    tilt_deg: tuple[float, float] = (0.0, 0.0)


def segment_axis(body: Body, segment: str) -> SegmentAxis:
    ids = _segment_vertices(body, segment)
    x = body.rest_vertices[ids]
    c = x.mean(axis=0)
    kind = segment.split("_", 1)[-1]
    if segment in _UPRIGHT:
        a = np.array([0.0, 0.0, 1.0])
    else:
        a = np.linalg.eigh(np.cov((x - c).T))[1][:, -1]  # principal axis
        if kind == "foot":
            a = a * np.sign(a[1] or 1.0)  # toes forward
        elif kind in _LIMBS:
            trunk = body.rest_vertices[np.isin(body.segments, [SEGMENTS.index("torso"), SEGMENTS.index("pelvis")])]
            away = c - trunk.mean(axis=0)
            a = a * np.sign(a @ away or 1.0)
    t = (x - c) @ a
    return SegmentAxis(c, a, float(t.min()), float(t.max()))


def hanging_rotation(body: Body, segment: str) -> np.ndarray:
    """For an arm or leg segment, the smallest rotation taking world down onto the segment's rest
    axis: direction words on limbs mean the limb hanging straight down by the side (palms facing
    the thighs), so a rule means the same place in a T-pose, an A-pose or this body's rest pose.
    Identity for the head, neck, torso, pelvis and feet."""
    if segment.split("_", 1)[-1] not in _LIMBS:
        return np.eye(3)
    from .motion.rotations import rotation_between

    return rotation_between([0.0, 0.0, -1.0], segment_axis(body, segment).axis)


def direction(body: Body, segment: str | None, spec, where: str) -> np.ndarray:
    """A unit direction in the body's rest frame from words (on an arm or leg, meant for the limb
    hanging by the side, see hanging_rotation) or from a 3-vector (in the rest frame as it is)."""
    if isinstance(spec, (list, tuple, np.ndarray)):
        v = np.asarray(spec, dtype=np.float64)
        if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-9:
            raise SiteError(f"{where}: a direction vector must be 3 finite numbers, not all zero; got {spec!r}")
        return v / np.linalg.norm(v)
    if not isinstance(spec, str) or not spec.strip():
        raise SiteError(f"{where}: expected a direction word or [x, y, z], got {spec!r}")
    total = np.zeros(3)
    limb = segment is not None and segment.split("_", 1)[-1] in _LIMBS
    for word in spec.replace(" ", "").split("+"):
        if word in WORLD_DIRECTIONS:
            total += WORLD_DIRECTIONS[word]
        elif word in RELATIVE_DIRECTIONS:
            if segment is None:
                raise SiteError(f"{where}: {word!r} is relative to a segment; this site has none")
            if word in ("lateral", "medial"):
                side = segment.split("_")[0]
                if side not in ("left", "right"):
                    raise SiteError(f"{where}: {word!r} needs a left_ or right_ segment, not {segment!r}")
                total += (-1.0 if (side == "left") == (word == "lateral") else 1.0) * np.array([1.0, 0.0, 0.0])
            else:
                along = np.array([0.0, 0.0, -1.0]) if limb else segment_axis(body, segment).axis
                total += (1.0 if word == "distal" else -1.0) * along
        else:
            raise SiteError(f"{where}: unknown direction {word!r}; use {', '.join(WORLD_DIRECTIONS)}, "
                            f"{', '.join(RELATIVE_DIRECTIONS)}, sums like 'back+left', or [x, y, z]")
    if np.linalg.norm(total) < 1e-9:
        raise SiteError(f"{where}: direction {spec!r} cancels out")
    total = hanging_rotation(body, segment) @ total if limb else total
    return total / np.linalg.norm(total)


def rule_vertex(body: Body, segment: str, along: float, facing, where: str) -> int:
    """The vertex of `segment` about `along` of the way down its axis that faces `facing` most:
    within a band of the segment, the best sum of normal·facing and of the direction from the axis
    to the vertex · facing (the part across the axis)."""
    if not np.isfinite(along) or not 0.0 <= along <= 1.0:
        raise SiteError(f"{where}: along must be in [0, 1] (0 proximal end, 1 distal end), got {along!r}")
    ids = _segment_vertices(body, segment, where)
    ax = segment_axis(body, segment)
    f = direction(body, segment, facing, f"{where}.facing")
    x = body.rest_vertices[ids]
    s = ax.along(x)
    gap = np.abs(s - along)
    band = gap <= _ALONG_WINDOW
    if band.sum() < _MIN_CANDIDATES:
        band = gap <= np.sort(gap)[min(_MIN_CANDIDATES, len(gap)) - 1]
    radial = x - ax.center - np.outer((x - ax.center) @ ax.axis, ax.axis)
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
    across = f - (f @ ax.axis) * ax.axis
    across = across / np.linalg.norm(across) if np.linalg.norm(across) > 1e-6 else np.zeros(3)
    score = rest_normals(body)[ids] @ f + radial @ across
    score[~band] = -np.inf
    return int(ids[np.argmax(score)])


def resolve(body: Body, site: Site, where: str | None = None) -> Placements:
    """One placement for `site` on `body` (yaw relative to the engine's default skinned tangent)."""
    where = where or f"site {site.name!r}"
    kinds = [k for k in ("landmark", "vertex", "segment") if getattr(site, k) is not None]
    if len(kinds) != 1:
        raise SiteError(f"{where}: give exactly one of landmark, vertex, segment (got {kinds or 'none'})")
    if site.landmark is not None:
        if site.landmark in body.landmarks:
            v = body.landmarks[site.landmark]
        elif site.rule is not None:
            return resolve(body, _with_mounting(site.rule, site), where)
        else:
            raise SiteError(f"{where}: body {body.name!r} has no landmark {site.landmark!r}; landmarks: "
                            f"{', '.join(sorted(body.landmarks)) or 'none'}")
    elif site.vertex is not None:
        v = site.vertex
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < body.n_vertices:
            raise SiteError(f"{where}: vertex must be an integer id in [0, {body.n_vertices}) for body "
                            f"{body.name!r}, got {v!r}")
    else:
        if site.facing is None:
            raise SiteError(f"{where}: a segment site needs 'facing' (e.g. front, back+left, lateral)")
        v = rule_vertex(body, site.segment, site.along, site.facing, where)
    pl = Placements.on_vertices(body, [int(v)], names=[site.name], offset=site.offset_m)
    yaw = np.deg2rad(site.yaw_deg)
    if site.x_axis is not None and site.y_axis is not None:
        raise SiteError(f"{where}: give x_axis or y_axis, not both")
    for key, quarter in (("x_axis", 0.0), ("y_axis", np.pi / 2)):  # y = x turned +90° about the normal
        if getattr(site, key) is not None:
            d = direction(body, SEGMENTS[pl.segment[0]], getattr(site, key), f"{where}.{key}")
            yaw += yaw_towards(body, int(v), d, f"{where}.{key}") - quarter
    tilt = np.deg2rad(np.asarray(site.tilt_deg, dtype=np.float64)).reshape(1, 2)
    yaw = (yaw + np.pi) % (2 * np.pi) - np.pi
    return replace(pl, yaw=np.array([yaw]), tilt=tilt)


def yaw_towards(body: Body, vertex: int, d: np.ndarray, where: str) -> float:
    """Yaw about the rest normal at `vertex` turning the engine's default rest tangent (the skinned
    path's x axis before yaw, docs/engine.md) onto `d` projected onto the tangent plane."""
    anchors = np.array([[vertex] * 3])
    bary = np.array([[1.0, 0.0, 0.0]])
    n = rest_normals(body)[vertex]
    t0 = default_rest_tangents(body.rest_vertices, body.faces, anchors, bary)[0]
    dp = d - (d @ n) * n
    if np.linalg.norm(dp) < 0.1:
        raise SiteError(f"{where}: x_axis points almost along the surface normal here; pick a direction in the skin")
    return float(np.arctan2(n @ np.cross(t0, dp), t0 @ dp))


def _with_mounting(rule: Site, site: Site) -> Site:
    """The rule, carrying the site's name and mounting (x axis, yaw, offset, tilt)."""
    return Site(name=site.name, segment=rule.segment, along=rule.along, facing=rule.facing, x_axis=site.x_axis,
                y_axis=site.y_axis, yaw_deg=site.yaw_deg, offset_m=site.offset_m, tilt_deg=site.tilt_deg)


def _segment_vertices(body: Body, segment: str, where: str = "segment") -> np.ndarray:
    if segment not in SEGMENTS:
        raise SiteError(f"{where}: unknown segment {segment!r}; segments: {', '.join(SEGMENTS)}")
    ids = np.flatnonzero(body.segments == SEGMENTS.index(segment))
    if len(ids) < 3:
        raise SiteError(f"{where}: body {body.name!r} has {len(ids)} vertices on segment {segment!r}")
    return ids
