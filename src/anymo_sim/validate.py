"""Input checks with messages that name the argument, what was expected and what came."""

from __future__ import annotations

import numpy as np


def shape_error(name: str, expected: str, got) -> ValueError:
    return ValueError(f"{name}: expected shape {expected}, got {tuple(got)}")


def require_finite(name: str, a) -> None:
    """numpy arrays or torch tensors (checked on their device; located on the host if bad)."""
    if type(a).__module__.split(".")[0] == "torch":
        import torch

        if a.device.type != "cpu" and a.is_floating_point() and a.numel():
            # one reduction pass, no full-size temporaries: NaN reaches both ends, an inf one
            if bool(torch.isfinite(torch.stack(torch.aminmax(a))).all()):
                return
        elif bool(torch.isfinite(a).all()):
            return
        a = a.detach().cpu().numpy()
    if not _all_finite(a):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)})")


def _all_finite(a) -> bool:
    """Large float arrays on all cores (the compiled extension, no temporary); the rest, or
    without the extension, with numpy."""
    if isinstance(a, np.ndarray) and a.size >= 1 << 16 and a.dtype in (np.float32, np.float64) and a.flags.c_contiguous:
        from .engine import _core  # None where the extension is not built (engine imports it once)

        if _core is not None:
            return bool(_core.all_finite(a.ctypes.data, a.size, a.dtype.name))
    return bool(np.isfinite(a).all())


def require_indices(name: str, a, upper: int, what: str) -> np.ndarray:
    """Integer array with every value in [0, upper)."""
    a = np.asarray(a)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integer indices, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() >= upper):
        i = int(np.flatnonzero((a.ravel() < 0) | (a.ravel() >= upper))[0])
        raise ValueError(f"{name}: index {int(a.ravel()[i])} out of range for {upper} {what}")
    return a


def require_fps(fps) -> float:
    try:
        f = float(fps)
    except (TypeError, ValueError):
        raise TypeError(f"fps: expected a number of frames per second, got {fps!r}") from None
    if not np.isfinite(f) or f <= 0:
        raise ValueError(f"fps: expected a positive finite frame rate in Hz, got {fps!r}")
    return f


def per_placement(name: str, value, P: int, default: float) -> np.ndarray:
    """A scalar or (P,) float parameter as a finite (P,) float64 array."""
    if value is None:
        return np.full(P, default, dtype=np.float64)
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(P, float(a))
    if a.shape != (P,):
        raise shape_error(name, f"() or ({P},)", a.shape)
    require_finite(name, a)
    return a
