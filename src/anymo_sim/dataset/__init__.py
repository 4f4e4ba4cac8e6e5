"""Stored datasets: `anymo-sim generate` writes them (generate.py), `open_dataset` reads them
(store.py). Layout and the reasons for its chunk and shard shapes: docs/dataset.md."""

from .store import StoredDataset, open_dataset

__all__ = ["StoredDataset", "open_dataset"]
