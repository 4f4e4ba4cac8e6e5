"""anymo-sim: simulated wearable IMUs anywhere on a moving body surface.

The engine entry points are `surface_imu` (posed meshes in) and `skinned_imu` (a skinned rest
mesh and joint transforms in); both return an `ImuResult` of specific force, body-frame
angular velocity, sensor frames and positions. Definitions: docs/engine.md. `simulate` runs
a `Body` (bodies.default_body(), smpl.smpl_body()) with placements ('all', presets, files).
`apply_device` passes ideal readings through a device model (anymo_sim.devices, docs/devices.md).
"""

from .engine import GRAVITY, ImuResult, available_backends, skinned_imu, surface_imu
from .simulate import simulate
from . import devices
from .devices import apply_device

__version__ = "0.1.0"

__all__ = ["GRAVITY", "ImuResult", "apply_device", "available_backends", "devices", "simulate", "skinned_imu", "surface_imu", "__version__"]
