"""FAISS vector index keyed by photo ids, assembled by ``faiss.index_factory``. No torch here.

Kinds: ``flat`` (exact inner product), ``ivf`` (inverted lists, trained on the stored
vectors, ``nprobe``), ``hnsw`` (graph, ``ef_search``), and ``auto`` (flat up to
AUTO_FLAT_MAX vectors, hnsw above; see docs/benchmarks.md).

``hnsw`` walks its graph over 8-bit scalar-quantised copies of the vectors (a quarter of
the memory traffic, which dominates a graph walk) and re-ranks the best
``REFINE_FACTOR * k`` exactly: at 1M photos that is 1.6x faster than a float graph at
the same recall (benchmarks/search_alternatives.py). ``storage: "flat"`` keeps the float
graph; files written before this option load as such.

Each kind is a factory string (:func:`factory_string`), e.g. ``IDMap2,HNSW32_SQ8,RFlat``.
The file on disk is one atomic unit: a magic line, a JSON header (generation, database id,
owner, dim, kind, params, factory, and the sha256 of what follows) and the FAISS-serialised
index; a file whose index does not match its sha256 is refused as damaged. ``generation`` ties the file to the database state
that produced it; a stale or missing file is rebuilt from the embeddings stored in the DB.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import faiss
import numpy as np

from ..config import INDEX_KINDS
from ..errors import IndexFileError
from ..files import NotFramed, read_framed, write_framed

MAGIC = b"FACESEARCH-FAISS 1\n"
AUTO_FLAT_MAX = 20_000  # exact single queries stay near 1 ms up to here (benchmarks/bench_search.py)
DEFAULTS = {"ivf": {"nlist": None, "nprobe": 32},
            "hnsw": {"m": 32, "ef_construction": 200, "ef_search": 320, "storage": "sq8"},
            "flat": {}}
REFINE_FACTOR = 2  # exact re-rank of 2k graph results: more did not raise recall (search_alternatives.py)
OMP_THREADS = faiss.omp_get_max_threads()  # as loaded; searches of fewer queries run on one
TRAINED_KINDS = ("ivf", "hnsw")  # hnsw's sq8 storage learns per-dimension ranges


def resolve_kind(kind: str, n: int) -> str:
    if kind not in INDEX_KINDS:
        raise ValueError(f"index type must be one of {', '.join(INDEX_KINDS)}")
    if kind == "auto":
        return "flat" if n <= AUTO_FLAT_MAX else "hnsw"
    return kind


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` training vectors: ~4 sqrt(n), at least 39 vectors per list."""
    return max(1, min(n // 39, int(4 * math.sqrt(max(n, 1)))))


def factory_string(kind: str, params: dict) -> str:
    """The ``faiss.index_factory`` description of a resolved kind with full ``params``."""
    if kind == "flat":
        return "IDMap2,Flat"
    if kind == "hnsw":
        storage = "_SQ8,RFlat" if params["storage"] == "sq8" else ",Flat"
        return f"IDMap2,HNSW{params['m']}{storage}"
    return f"IVF{params['nlist']},Flat"  # IVF lists keep the ids themselves


def _make(kind: str, dim: int, params: dict, train: np.ndarray | None):
    if kind == "ivf":
        params["nlist"] = params.get("nlist") or default_nlist(len(train))
    index = faiss.index_factory(dim, factory_string(kind, params), faiss.METRIC_INNER_PRODUCT)
    if kind == "hnsw":
        inner = faiss.downcast_index(index.index)
        graph = faiss.downcast_index(inner.base_index) if isinstance(inner, faiss.IndexRefine) else inner
        graph.hnsw.efConstruction = params["ef_construction"]
        if isinstance(inner, faiss.IndexRefine):
            inner.k_factor = REFINE_FACTOR
    if kind in TRAINED_KINDS and train is not None and not index.is_trained:
        index.train(train)
    return index


class VectorIndex:
    """Inner-product search over L2-normalised vectors with int64 ids (= photo ids)."""

    def __init__(self, dim: int, generation: int = 0, faiss_index=None, kind: str = "flat",
                 params: dict | None = None, database_id: str | None = None):
        self.dim = dim
        self.generation = generation
        self.database_id = database_id  # the database this index belongs to (None: written before ids)
        self.owner: str | None = None  # which database instance wrote it (see Store.instance; None: before)
        self.checksummed = True  # False: loaded from a file written before vectors had a checksum
        self.kind = kind
        self.params = {**DEFAULTS[kind], **(params or {})}
        self.faiss = faiss_index if faiss_index is not None else _make(kind, dim, self.params, None)
        self.set_search_params()

    def __len__(self) -> int:
        return int(self.faiss.ntotal)

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, generation: int = 0,
              kind: str = "flat", params: dict | None = None) -> "VectorIndex":
        """Index ``vectors``; ``ivf`` is trained on them (so build it from the full set)."""
        kind = resolve_kind(kind, len(ids))
        if kind in TRAINED_KINDS and len(ids) == 0:
            kind = "flat"
        p = {**DEFAULTS[kind], **(params or {})}
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        index = cls(dim, generation, _make(kind, dim, p, vectors), kind, p)
        index.add(ids, vectors)
        return index

    def set_search_params(self, **params) -> None:
        """Update ``nprobe`` (ivf) / ``ef_search`` (hnsw) and apply them."""
        self.params.update(params)
        if self.kind == "ivf":
            self.faiss.nprobe = int(self.params["nprobe"])
        elif self.kind == "hnsw":
            self._graph().hnsw.efSearch = int(self.params["ef_search"])

    def _graph(self):
        """The HNSW index inside the id map (and the re-ranking layer, with sq8 storage)."""
        inner = faiss.downcast_index(self.faiss.index)
        return faiss.downcast_index(inner.base_index) if isinstance(inner, faiss.IndexRefine) else inner

    @property
    def supports_remove(self) -> bool:
        return self.kind != "hnsw"  # HNSW graphs cannot drop nodes: rebuild instead

    def add(self, ids, vectors) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(ids):
            self.faiss.add_with_ids(vectors, ids)

    def remove(self, ids) -> int:
        if not self.supports_remove:
            raise NotImplementedError("hnsw indexes are rebuilt, not edited")
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return int(self.faiss.remove_ids(ids)) if len(ids) else 0

    def ids(self) -> np.ndarray:
        if self.kind == "ivf":
            inv = self.faiss.invlists
            parts = [faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
                     for i in range(inv.nlist) if inv.list_size(i)]
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return faiss.vector_to_array(self.faiss.id_map).astype(np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) as stored (for ``check``: compared with the database's embeddings)."""
        if self.kind == "ivf":
            inv, parts = self.faiss.invlists, []
            for i in range(inv.nlist):
                n = inv.list_size(i)
                if n:
                    codes = faiss.rev_swig_ptr(inv.get_codes(i), n * inv.code_size).copy()
                    parts.append(codes.view(np.float32).reshape(n, self.dim))
            vectors = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
            return self.ids(), vectors
        return self.ids(), self.faiss.index.reconstruct_n(0, len(self)) if len(self) else \
            np.zeros((0, self.dim), np.float32)

    def search_parameters(self, params: dict | None):
        """``nprobe`` (ivf) / ``ef_search`` (hnsw) for one search as ``faiss.SearchParameters``
        (None: the index's own). The index is shared (a server's threads search it at once),
        so a call's settings travel with the call instead of being set on it."""
        if not params:
            return None
        if self.kind == "ivf" and params.get("nprobe"):
            return faiss.SearchParametersIVF(nprobe=int(params["nprobe"]))
        if self.kind == "hnsw" and params.get("ef_search"):
            graph = faiss.SearchParametersHNSW(efSearch=int(params["ef_search"]))
            inner = faiss.downcast_index(self.faiss.index)
            if isinstance(inner, faiss.IndexRefine):  # sq8 storage: the graph's parameters go one level down
                refine = faiss.IndexRefineSearchParameters(k_factor=inner.k_factor, base_index_params=graph)
                refine.graph = graph  # the Python object must outlive the search
                return refine
            return graph
        return None

    def search(self, queries: np.ndarray, k: int, params: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, each (n_queries, k'); missing slots have id -1. Batched.
        ``params``: ``nprobe`` / ``ef_search`` for this call only (see :meth:`search_parameters`)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        settings = self.search_parameters(params)
        # FAISS spreads queries over OpenMP threads; with fewer queries than threads the extra
        # ones only add wake-ups, which on busy cores cost more than the search itself (docs/benchmarks.md,
        # "Storage backends": 16 ms against 0.9 ms for one query of a val gallery)
        if len(queries) >= OMP_THREADS:
            return self.faiss.search(queries, k, params=settings)
        faiss.omp_set_num_threads(1)
        try:
            return self.faiss.search(queries, k, params=settings)
        finally:
            faiss.omp_set_num_threads(OMP_THREADS)

    def save(self, path: str | Path) -> None:
        """Write atomically: temp file, fsync, rename. The header carries the payload's sha256:
        a file whose vectors were changed (two swapped, header intact) is never searched."""
        payload = faiss.serialize_index(self.faiss).tobytes()
        header = {"sha256": hashlib.sha256(payload).hexdigest(), "generation": self.generation, "database_id": self.database_id, "owner": self.owner, "dim": self.dim,
                  "count": len(self), "kind": self.kind, "params": self.params,
                  "factory": factory_string(self.kind, self.params)}
        write_framed(path, MAGIC, header, payload)

    @staticmethod
    def peek(path: str | Path) -> dict:
        """The header of an index file (generation, database id, ...) without its vectors."""
        header, _ = _read(path, payload=False)
        if not isinstance(header, dict):
            raise IndexFileError(f"{path} has no valid header")
        return header

    @classmethod
    def load(cls, path: str | Path) -> "VectorIndex":
        header, data = _read(path)
        if header.get("sha256") not in (None, hashlib.sha256(data).hexdigest()):
            raise IndexFileError(f"index file {path} is damaged: its vectors do not match its checksum")
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as e:
            raise IndexFileError(f"cannot read index {path}: {e}") from None
        kind, params = header.get("kind", "flat"), header.get("params") or {}
        if kind == "hnsw":
            params.setdefault("storage", "flat")  # written before sq8 storage existed
        loaded = cls(int(header["dim"]), int(header["generation"]), index, kind, params, header.get("database_id"))
        loaded.owner, loaded.checksummed = header.get("owner"), "sha256" in header
        return loaded


def _read(path: str | Path, payload: bool = True) -> tuple[object, bytes | None]:
    try:
        return read_framed(path, MAGIC, payload)
    except NotFramed:
        raise IndexFileError(f"{path} is not a facesearch index file") from None
    except (OSError, ValueError) as e:
        raise IndexFileError(f"cannot read index {path}: {e}") from None
