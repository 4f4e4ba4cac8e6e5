"""The `Body` type: a skinned body mesh with its rig, segment labels and landmarks.

Conventions (DESIGN.md §2): metres, z up, the body faces +y in its rest pose, rest pose
standing with the feet on z = 0. Skinning matrices map rest space to the world:
A_j(t) = G_j(t) · G_j(rest)⁻¹, with G_j the joint's world-from-joint transform.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Canonical segment labels every body maps its vertices to.
SEGMENTS = (
    "head", "neck", "torso", "pelvis",
    "left_upper_arm", "right_upper_arm", "left_forearm", "right_forearm", "left_hand", "right_hand",
    "left_thigh", "right_thigh", "left_shank", "right_shank", "left_foot", "right_foot",
)


@dataclass(frozen=True)
class Body:
    """A skinned body.

    rest_vertices (V, 3) float64 m; faces (F, 3) int64, counter-clockwise from outside;
    joint_names (J,); parents (J,) int64 (-1 for the root; parents precede children);
    joint_rest_transforms (J, 4, 4) float64 world-from-joint G_j(rest);
    skin_joints (V, K) int32 and skin_weights (V, K) float32 (rows sum to 1);
    segments (V,) int16 index into SEGMENTS; landmarks: name -> vertex id.
    """

    name: str
    rest_vertices: np.ndarray
    faces: np.ndarray
    joint_names: tuple[str, ...]
    parents: np.ndarray
    joint_rest_transforms: np.ndarray
    skin_joints: np.ndarray
    skin_weights: np.ndarray
    segments: np.ndarray
    landmarks: dict[str, int] = field(default_factory=dict)
    source: str = ""
    license: str = ""

    def __post_init__(self):
        V, J = len(self.rest_vertices), len(self.joint_names)
        checks = [
            (self.rest_vertices.shape == (V, 3), "rest_vertices", "(V, 3)", self.rest_vertices.shape),
            (self.faces.ndim == 2 and self.faces.shape[1] == 3, "faces", "(F, 3)", self.faces.shape),
            (self.parents.shape == (J,), "parents", f"({J},)", self.parents.shape),
            (self.joint_rest_transforms.shape == (J, 4, 4), "joint_rest_transforms", f"({J}, 4, 4)",
             self.joint_rest_transforms.shape),
            (self.skin_joints.shape[0] == V and self.skin_joints.shape == self.skin_weights.shape, "skin_joints/weights",
             f"({V}, K) both", (self.skin_joints.shape, self.skin_weights.shape)),
            (self.segments.shape == (V,), "segments", f"({V},)", self.segments.shape),
        ]
        for ok, name, expected, got in checks:
            if not ok:
                raise ValueError(f"Body {self.name!r}: {name} expected shape {expected}, got {got}")
        if np.any(self.parents >= np.arange(J)):
            raise ValueError(f"Body {self.name!r}: parents must precede their children")
        bad = {k: v for k, v in self.landmarks.items() if not 0 <= v < V}
        if bad:
            raise ValueError(f"Body {self.name!r}: landmark vertex ids out of range: {bad}")

    @property
    def n_vertices(self) -> int:
        return len(self.rest_vertices)

    def joint_index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"Body {self.name!r} has no joint {name!r}; joints: {', '.join(self.joint_names)}") from None

    def segment_vertices(self, segment: str) -> np.ndarray:
        if segment not in SEGMENTS:
            raise KeyError(f"unknown segment {segment!r}; segments: {', '.join(SEGMENTS)}")
        return np.flatnonzero(self.segments == SEGMENTS.index(segment))

    def skinning_matrices(self, global_transforms: np.ndarray) -> np.ndarray:
        """(T, J, 4, 4) world-from-joint transforms G_j(t) -> skinning matrices A_j(t)."""
        G = np.asarray(global_transforms, dtype=np.float64)
        if G.ndim != 4 or G.shape[1:] != (len(self.joint_names), 4, 4):
            raise ValueError(f"global_transforms: expected shape (T, {len(self.joint_names)}, 4, 4), got {G.shape}")
        return G @ np.linalg.inv(self.joint_rest_transforms)
