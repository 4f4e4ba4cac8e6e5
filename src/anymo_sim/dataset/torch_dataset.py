"""A PyTorch view of a generated dataset: each item is one window at a random subset of the
placements, so a model sees a different set of body sites every time it meets a window.

torch is optional for anymo_sim; this is the only module that imports it.

    from torch.utils.data import DataLoader
    from anymo_sim.dataset.torch_dataset import ImuWindows, collate

    ds = ImuWindows("train.zarr", placements=16, seed=0)
    loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=4, collate_fn=collate,
                        generator=torch.Generator().manual_seed(0))
    for batch in loader:
        batch["imu"]  # (32, 16, N, 6) accel (m/s^2) then gyro (rad/s), device frame

Reproducibility: in the main process the subsets drawn follow from `seed` alone (the k-th access
gets the k-th draw). In a DataLoader worker the generator is seeded from `seed` and the
worker's torch seed (`get_worker_info().seed`), which torch derives from the loader's
`generator` (or the global torch seed) afresh for every epoch: fix those and the batches repeat
exactly; leave them and every epoch draws new subsets, as it should."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from .store import open_dataset


def window_text(spans: list[dict]) -> str:
    """The texts of a window's spans, each once, in order, joined with '; ' ('' when none)."""
    return "; ".join(dict.fromkeys(str(s.get("text", "")) for s in spans if s.get("text")))


class ImuWindows(Dataset):
    """Windows of a generated dataset (Zarr folder or HDF5 file) for training.

    Item i is a dict: imu (p, N, 6) tensor of `dtype`; placement_index (p,) long, indices into
    the store's placements (sorted); segment (p,) long, their body segments; text (str, the
    window's span texts, '' when none; left out when return_text=False); window (int: i, or
    windows[i] when `windows` is given).

    placements: how many placements to draw per access (without replacement) from the pool;
        None: the whole pool, every time, in store order.
    placement_names: restrict the pool to these placements (names or indices); None: all.
    windows: serve only these window indices (a train/validation split); item i is then
        window windows[i]. None: every window.

    The store is opened lazily in each process that reads (and again after a fork), so no Zarr
    or HDF5 handle is ever shared between DataLoader workers."""

    def __init__(self, path, placements: int | None = 16, seed: int | None = None,
                 placement_names: Sequence[str | int] | None = None, return_text: bool = True,
                 dtype: torch.dtype = torch.float32, windows: Sequence[int] | None = None):
        self.path = Path(path)
        # Read the small tables once, then close: the handle must not outlive __init__, or a
        # forked worker would inherit it.
        ds = open_dataset(self.path)
        try:
            if not ds.complete():
                raise ValueError(f"{self.path}: generation is not finished (unwritten windows read as NaN); "
                                 "run the same `anymo-sim generate` command again to complete it")
            W, P, self.samples, _ = ds.shape
            self._n_placements = P
            self.rate = ds.rate
            self.placement_names = [str(n) for n in ds.placements["name"]]
            self._segment = np.asarray(ds.placements["segment"], dtype=np.int64)
            self._text = ds.windows["text"] if return_text else None
        finally:
            ds.close()
        self._pool = self._resolve_pool(placement_names, P)
        if placements is not None and not (isinstance(placements, (int, np.integer)) and 1 <= placements <= len(self._pool)):
            raise ValueError(f"placements: expected an integer in [1, {len(self._pool)}] (the placements in the pool "
                             f"of {self.path}) or None for all, got {placements!r}")
        self.count = None if placements is None else int(placements)
        if windows is None:
            self._windows = np.arange(W)
        else:
            self._windows = np.asarray(windows, dtype=np.int64).reshape(-1)
            bad = self._windows[(self._windows < 0) | (self._windows >= W)]
            if bad.size:
                raise ValueError(f"windows: {self.path} has windows 0..{W - 1}; got {bad[:5].tolist()}")
        if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise ValueError(f"seed: expected a non-negative integer or None, got {seed!r}")
        self.seed = seed
        self.return_text = return_text
        self.dtype = dtype
        self._store = None
        self._rng = None
        self._pid = None

    def _resolve_pool(self, chosen, P: int) -> np.ndarray:
        if chosen is None:
            return np.arange(P)
        if isinstance(chosen, (str, int)):
            chosen = [chosen]
        by_name = {n: k for k, n in enumerate(self.placement_names)}
        pool = []
        for c in chosen:
            if isinstance(c, (int, np.integer)) and 0 <= c < P:
                pool.append(int(c))
            elif isinstance(c, str) and c in by_name:
                pool.append(by_name[c])
            else:
                raise ValueError(f"placement_names: {c!r} is not a placement of {self.path} "
                                 f"(names such as {', '.join(self.placement_names[:4])}, or indices 0..{P - 1})")
        if not pool:
            raise ValueError("placement_names: empty; pass None for every placement")
        return np.unique(pool)

    def __len__(self) -> int:
        return len(self._windows)

    def __getstate__(self):
        # For spawn/forkserver workers (and any pickling): the store handle and the generator
        # stay behind; the receiving process opens and seeds its own on first access.
        state = self.__dict__.copy()
        state.update(_store=None, _rng=None, _pid=None)
        return state

    def _ensure_open(self):
        pid = os.getpid()
        if self._pid != pid:  # first access in this process, or a forked copy of one that read
            self._store = open_dataset(self.path)
            info = get_worker_info()
            if info is None:
                self._rng = np.random.default_rng(self.seed)
            else:
                # each worker its own stream; torch gives workers new seeds every epoch
                self._rng = np.random.default_rng([info.seed] if self.seed is None else [self.seed, info.seed])
            self._pid = pid
        return self._store

    def _draw(self) -> np.ndarray:
        if self.count is None:
            return self._pool
        return np.sort(self._rng.choice(self._pool, self.count, replace=False))

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i}: {self.path} serves {len(self)} windows")
        w = int(self._windows[i])
        store = self._ensure_open()
        idx = self._draw()
        item = {
            # every placement: a plain slice, which reads faster than a selection of all of them
            "imu": torch.from_numpy(store.window(w, None if len(idx) == self._n_placements else idx)).to(self.dtype),
            "placement_index": torch.from_numpy(idx.astype(np.int64)),
            "segment": torch.from_numpy(self._segment[idx]),
            "window": w,
        }
        if self.return_text:
            item["text"] = window_text(json.loads(str(self._text[w])))
        return item

    def close(self) -> None:
        if self._store is not None and self._pid == os.getpid():
            self._store.close()
        self._store, self._rng, self._pid = None, None, None


def collate(items: list[dict]) -> dict:
    """Batch ImuWindows items: imu (B, p, N, 6), placement_index and segment (B, p), window (B,);
    text stays a list of B strings (for a tokenizer)."""
    out = {
        "imu": torch.stack([it["imu"] for it in items]),
        "placement_index": torch.stack([it["placement_index"] for it in items]),
        "segment": torch.stack([it["segment"] for it in items]),
        "window": torch.tensor([it["window"] for it in items], dtype=torch.long),
    }
    if items and "text" in items[0]:
        out["text"] = [it["text"] for it in items]
    return out
