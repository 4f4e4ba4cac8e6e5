"""numpy / torch interop: inputs are used in place where their dtype and layout allow, and
outputs come back as the kind of array the caller passed (numpy in, numpy out; torch in,
torch out on the same device)."""

from __future__ import annotations

import numpy as np


def is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def is_cuda(x) -> bool:
    return is_torch(x) and x.is_cuda


def to_numpy(x) -> np.ndarray:
    """A host numpy view of x (a copy only for CUDA tensors)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def host_float(x, name: str) -> np.ndarray:
    """A C-contiguous float32/float64 numpy array, without a copy when x already is one."""
    a = to_numpy(x)
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: expected a real floating-point array, got dtype {a.dtype}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    return np.ascontiguousarray(a)


def device_float(x, name: str):
    """A contiguous float32/float64 CUDA tensor, without a copy when x already is one."""
    import torch

    if x.dtype not in (torch.float32, torch.float64):
        if x.dtype.is_complex or x.dtype == torch.bool:
            raise TypeError(f"{name}: expected a real floating-point tensor, got dtype {x.dtype}")
        x = x.to(torch.float64)
    return x.contiguous()


def wrap_like(template, arr: np.ndarray):
    """Return a host numpy result as the same kind of array as `template`."""
    if is_torch(template):
        import torch

        return torch.from_numpy(arr)
    return arr
