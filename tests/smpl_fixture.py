"""A SMPL-format model file writer for tests: a tiny 24-joint model pickled with chumpy objects
and a scipy.sparse J_regressor, like the official .pkl files. Geometry: a small sphere per
joint ("spheres"), or a body-like figure of closed tubes along the bones ("limbs")."""

import pickle
import sys
import types

import numpy as np
import scipy.sparse as scipy_sparse

from anymo_sim import synthetic

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# canonical SMPL frame: y up, facing +z, the body's left on +x
JOINTS = np.array([
    [0, 0.9, 0], [0.08, 0.82, 0], [-0.08, 0.82, 0], [0, 1.0, 0], [0.09, 0.45, 0], [-0.09, 0.45, 0],
    [0, 1.12, 0], [0.09, 0.08, 0], [-0.09, 0.08, 0], [0, 1.25, 0], [0.1, 0.02, 0.1], [-0.1, 0.02, 0.1],
    [0, 1.45, 0], [0.07, 1.38, 0], [-0.07, 1.38, 0], [0, 1.6, 0.02], [0.18, 1.4, 0], [-0.18, 1.4, 0],
    [0.45, 1.4, 0], [-0.45, 1.4, 0], [0.7, 1.4, 0], [-0.7, 1.4, 0], [0.78, 1.4, 0], [-0.78, 1.4, 0],
])


def _fake_chumpy():
    """A stand-in `chumpy.ch.Ch` class so pickles reference chumpy exactly like the official files."""
    mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

        def __reduce__(self):
            return (object.__new__, (Ch,), {"x": self.x, "_dirty_vars": set()})

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch = Ch
    return mod


def _tube(a, b, radius, around=16, rows=8):
    """A closed tube (rings + two cap centres) from a to b, outward faces."""
    axis = b - a
    length = np.linalg.norm(axis)
    z = axis / length
    x = np.cross(z, [0.0, 0.0, 1.0] if abs(z[2]) < 0.9 else [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    t = np.linspace(0, 1, rows)
    phi = 2 * np.pi * np.arange(around) / around
    ring = radius * (np.cos(phi)[:, None] * x + np.sin(phi)[:, None] * y)
    v = (a + t[:, None, None] * axis + ring[None]).reshape(-1, 3)
    v = np.concatenate([v, [a, b]])
    f = []
    for r in range(rows - 1):
        for k in range(around):
            i, j = r * around + k, r * around + (k + 1) % around
            f += [[i, j, j + around], [i, j + around, i + around]]
    s, e = rows * around, rows * around + 1
    for k in range(around):
        f += [[s, (k + 1) % around, k], [e, (rows - 1) * around + k, (rows - 1) * around + (k + 1) % around]]
    return v, np.array(f)


#: tube radius of the bone that starts at each joint ("limbs" geometry)
_RADIUS = [0.1, 0.07, 0.07, 0.11, 0.05, 0.05, 0.12, 0.04, 0.04, 0.12, 0.03, 0.03,
           0.05, 0.05, 0.05, 0.09, 0.045, 0.045, 0.035, 0.035, 0.03, 0.03, 0.03, 0.03]


def _limbs(centres, parents):
    """One tube per bone (owned by the parent joint), a ball at each leaf joint (owned by it).
    Also, per joint, a vertex exactly at the joint (a tube's cap centre) for the J_regressor."""
    vs, fs, owners, n = [], [], [], 0
    at_joint = np.zeros(len(parents), dtype=np.int64)
    children = {j for j in parents if j >= 0}
    for k, p in enumerate(parents):
        parts = []
        if p >= 0:
            parts.append((_tube(centres[p], centres[k], _RADIUS[p]), p))
            tube_len = len(parts[0][0][0])
            at_joint[p], at_joint[k] = n + tube_len - 2, n + tube_len - 1  # the cap centres a and b
        if k not in children:
            sv, sf = synthetic.icosphere(1, radius=_RADIUS[k] if k != 15 else 0.1)
            parts.append(((centres[k] + sv, sf), k))
        for (v, f), owner in parts:
            vs.append(v)
            fs.append(f + n)
            owners.append(np.full(len(v), owner))
            n += len(v)
    return np.concatenate(vs), np.concatenate(fs).astype(np.uint32), np.concatenate(owners), at_joint


def write_model(path, n_joints=24, rng=None, geometry="spheres"):
    rng = rng or np.random.default_rng(0)
    J = n_joints
    centres = JOINTS if J == 24 else np.concatenate([JOINTS[:22], JOINTS[22 + (np.arange(J - 22) % 2)] +
                                                     0.01 * np.arange(J - 22)[:, None]])
    parents = PARENTS if J == 24 else PARENTS[:22] + [20 + (k % 2) for k in range(J - 22)]
    if geometry == "limbs":
        v, f, owner, at_joint = _limbs(centres, parents)
    else:
        at_joint = None
        sv, sf = synthetic.icosphere(1, radius=0.03)
        v = (centres[:, None, :] + sv[None]).reshape(-1, 3)
        f = (np.arange(J)[:, None, None] * len(sv) + sf[None]).reshape(-1, 3).astype(np.uint32)
        owner = np.repeat(np.arange(J), len(sv))
    V = len(v)
    W = np.zeros((V, J))
    W[np.arange(V), owner] = 0.7
    par = np.array(parents)[owner]
    W[np.arange(V)[par >= 0], par[par >= 0]] += 0.3
    W[np.arange(V)[par < 0], owner[par < 0]] = 1.0
    reg = np.zeros((J, V))
    if at_joint is None:
        reg[owner, np.arange(V)] = 1.0 / np.bincount(owner)[owner]
    else:
        reg[np.arange(J), at_joint] = 1.0
    chumpy = _fake_chumpy()
    data = {
        "v_template": v, "f": f, "weights": W, "posedirs": np.zeros((V, 3, (J - 1) * 9)),
        "shapedirs": chumpy.Ch(rng.normal(scale=0.01, size=(V, 3, 10))),
        "J_regressor": scipy_sparse.csc_matrix(reg),
        "kintree_table": np.array([[4294967295] + parents[1:], list(range(J))], dtype=np.int64),
        "bs_style": "lbs", "bs_type": "lrotmin",
    }
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = types.ModuleType("chumpy"), chumpy
    try:
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    return data
