"""Heap settings for long generation runs.

`generate` allocates and frees ~0.5 GB of large arrays per job (ideal readings, device
readings, the packed windows). glibc returns freed memory at the top of the heap to the kernel
and serves arrays above its mmap threshold from fresh mappings, so every job's arrays are
faulted in and zeroed page by page again: ~14 % of a job on the 2-core developer machine
(benchmarks/RESULTS.md). keep_freed_memory() asks glibc to keep freed memory for reuse instead,
for the rest of the process; elsewhere it does nothing."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_done = False


def keep_freed_memory() -> bool:
    """glibc mallopt: trim threshold 1 GiB (freed memory stays in the heap), top pad 256 MiB,
    mmap threshold 32 MiB (glibc's largest: bigger arrays are still mapped afresh). Returns
    whether the settings were applied (False off glibc). The process then keeps up to its peak
    heap; a generation run's peak is what it needs anyway."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = all(mallopt(k, v) == 1 for k, v in ((_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 256 << 20),
                                                  (_M_MMAP_THRESHOLD, 32 << 20)))
    return _done
