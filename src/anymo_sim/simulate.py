"""Body + joint motion + placements -> ideal IMU readings: the skinned path of the engine with
the body's own mesh, weights and rest transforms."""

from __future__ import annotations

from .body import Body
from .engine import ImuResult, skinned_imu
from .placements import Placements


def simulate(body: Body, global_transforms, fps: float, placements: Placements | str = "all", **engine_options
             ) -> ImuResult:
    """Ideal readings at `placements` (a Placements, or what presets.placements_for takes: 'all',
    preset names, a .yaml/.json file) of `body` driven by (T, J, 4, 4) world-from-joint transforms
    of its rig (z up, metres; e.g. from retargeting a motion). `engine_options` go to skinned_imu
    (lowpass_hz, backend, chunk_frames, ...)."""
    if isinstance(placements, str):
        from .presets import placements_for

        placements = placements_for(body, placements)
    A = body.skinning_matrices(global_transforms)
    return skinned_imu(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, A, fps,
                       placements=placements, **engine_options)
