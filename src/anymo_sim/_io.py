"""Output files written whole or not at all."""

from __future__ import annotations

from pathlib import Path


def write_atomic(path, write) -> Path:
    """Call write(tmp) on '<path>.partial', then rename it to `path`; on failure the partial file
    is removed, so no half-written output is ever left behind."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
