"""The in-memory FAISS index: vectors live in slots, a slot map names each slot's record.

HNSW cannot remove vectors, so a removed or replaced record's slot becomes a tombstone
(id -1) that searches skip; a rebuild compacts them away. Flat indexes use the same scheme so
both kinds behave identically.
"""

from __future__ import annotations

import threading
from array import array
from pathlib import Path
from typing import Any

import faiss
import numpy as np

# Filtered searches over at most this many candidates are scored exactly from stored vectors.
EXACT_FILTER_MAX = 20_000
_search_thread = threading.local()


def _single_threaded_search() -> None:
    """One OpenMP thread for one-query searches, set per calling thread (an OpenMP ICV).

    Waking a thread team for a single query costs far more than the query when the machine is
    busy (measured: flat 20k, 16 ms with 2 threads vs 0.5 ms with 1); concurrent requests are
    the parallelism. Rebuilds run in other threads and keep every core.
    """
    if not getattr(_search_thread, "done", False):
        faiss.omp_set_num_threads(1)
        _search_thread.done = True


class VectorIndex:
    """One FAISS index (flat or HNSW, inner product on unit vectors) plus its slot map."""

    def __init__(
        self,
        dimension: int,
        kind: str = "flat",
        *,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        index: Any = None,
        slot_ids: np.ndarray | None = None,
    ) -> None:
        self.dimension = dimension
        self.kind = kind
        self.ef_search = ef_search
        if index is None:
            if kind == "hnsw":
                index = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = ef_construction
            else:
                index = faiss.IndexFlatIP(dimension)
        self.index = index
        self._ids = array("q")
        self._slot: dict[int, int] = {}
        if slot_ids is not None:
            self._ids.frombytes(np.ascontiguousarray(slot_ids, dtype=np.int64).tobytes())
            self._slot = {int(i): s for s, i in enumerate(slot_ids.tolist()) if i >= 0}
        self._live_bitmap: Any = None
        self.lock = threading.RLock()

    # -- figures -------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return int(self.index.ntotal)

    @property
    def count(self) -> int:
        return len(self._slot)

    @property
    def tombstones(self) -> int:
        return self.total - self.count

    def slot_ids(self) -> np.ndarray:
        """slot -> record id (-1 for a tombstone), the index's id map."""
        return np.frombuffer(self._ids, dtype=np.int64).copy()

    def __contains__(self, memory_id: int) -> bool:
        return memory_id in self._slot

    # -- changes -------------------------------------------------------------------------------
    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        """Add or replace the vectors of these records."""
        if not ids:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        with self.lock:
            self._drop(ids)
            start = self.total
            self.index.add(vectors)
            for offset, memory_id in enumerate(ids):
                self._ids.append(memory_id)
                self._slot[memory_id] = start + offset
            self._live_bitmap = None

    def remove(self, ids: list[int]) -> None:
        with self.lock:
            self._drop(ids)
            self._live_bitmap = None

    def _drop(self, ids: list[int]) -> None:
        for memory_id in ids:
            slot = self._slot.pop(memory_id, None)
            if slot is not None:
                self._ids[slot] = -1

    # -- search --------------------------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, allowed: list[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top k (record id, cosine score); allowed limits the search to those records."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        _single_threaded_search()
        selector: Any
        with self.lock:
            if self.count == 0 or k <= 0:
                return []
            if allowed is not None:
                slots = [self._slot[i] for i in allowed if i in self._slot]
                if not slots:
                    return []
                if len(slots) <= EXACT_FILTER_MAX:
                    return self._exact(query, np.asarray(slots, dtype=np.int64), k)
                selector = faiss.IDSelectorBatch(np.asarray(slots, dtype=np.int64))
                ef = max(self.ef_search, 4 * k)
            elif self.tombstones:
                selector = faiss.IDSelectorBitmap(self.total, faiss.swig_ptr(self._bitmap()))
                ef = max(self.ef_search, k)
            else:
                selector, ef = None, max(self.ef_search, k)
            params: Any = None
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
                params.efSearch = ef
            elif selector is not None:
                params = faiss.SearchParameters()
            if selector is not None:
                params.sel = selector
            scores, labels = self.index.search(query, min(k, self.total), params=params)
            return self._label(labels[0], scores[0])

    def _exact(self, query: np.ndarray, slots: np.ndarray, k: int) -> list[tuple[int, float]]:
        vectors = self.index.reconstruct_batch(slots)
        scores = vectors @ query[0]
        top = np.argsort(-scores)[:k] if len(scores) <= k else None
        if top is None:
            part = np.argpartition(-scores, k)[:k]
            top = part[np.argsort(-scores[part])]
        return self._label(slots[top], scores[top])

    def _label(self, labels: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
        out = []
        for label, score in zip(labels.tolist(), scores.tolist(), strict=True):
            if label < 0:
                continue
            memory_id = self._ids[label]
            if memory_id >= 0:
                out.append((memory_id, float(score)))
        return out

    def _bitmap(self) -> np.ndarray:
        if self._live_bitmap is None:
            live = np.frombuffer(self._ids, dtype=np.int64) >= 0
            self._live_bitmap = np.packbits(live, bitorder="little")
        return self._live_bitmap  # type: ignore[no-any-return]

    # -- files ---------------------------------------------------------------------------------
    def write(self, folder: Path) -> None:
        """Write index.faiss and ids.npy into folder."""
        with self.lock:
            faiss.write_index(self.index, str(folder / "index.faiss"))
            np.save(folder / "ids.npy", self.slot_ids(), allow_pickle=False)

    @classmethod
    def read(cls, folder: Path, *, ef_search: int = 64) -> VectorIndex:
        """Load a folder written by write(); raises ValueError when the files do not agree."""
        try:
            index = faiss.read_index(str(folder / "index.faiss"))
        except RuntimeError as exc:
            raise ValueError(f"not a FAISS index: {str(exc).splitlines()[0][:200]}") from exc
        slot_ids = np.load(folder / "ids.npy", allow_pickle=False)
        if slot_ids.dtype != np.int64 or slot_ids.ndim != 1:
            raise ValueError("the id map is not a 1-d int64 array")
        if len(slot_ids) != index.ntotal:
            raise ValueError(f"the id map has {len(slot_ids)} ids for {index.ntotal} vectors")
        live = slot_ids[slot_ids >= 0]
        if len(np.unique(live)) != len(live):
            raise ValueError("the id map names a record twice")
        kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"
        if kind == "flat" and not isinstance(index, faiss.IndexFlat):
            raise ValueError(f"unsupported FAISS index type {type(index).__name__}")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError("the index does not use inner-product similarity")
        return cls(index.d, kind, index=index, slot_ids=slot_ids, ef_search=ef_search)


def build(
    dimension: int,
    ids: np.ndarray,
    vectors: np.ndarray,
    *,
    kind: str,
    hnsw_m: int,
    ef_construction: int,
    ef_search: int,
) -> VectorIndex:
    """A fresh compact index over these vectors."""
    vindex = VectorIndex(
        dimension, kind, hnsw_m=hnsw_m, ef_construction=ef_construction, ef_search=ef_search
    )
    vindex.add([int(i) for i in ids], vectors)
    return vindex
