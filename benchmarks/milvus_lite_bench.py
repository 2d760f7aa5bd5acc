"""Milvus Lite for ``bench_search.py``: a collection driven through pymilvus as an application
would (``MilvusClient`` on a local file), with facesearch's index kinds mapped onto Milvus
index types. Needs ``pip install pymilvus milvus-lite``.

Milvus Lite (milvus-lite 3.x) is a Python engine serving gRPC from threads of this process;
it stores rows in segments of at most ``MAX_SEGMENT_ROWS`` and builds one index per segment
with faiss-cpu, searching every segment and merging. It builds FLAT (brute force), IVF_FLAT,
IVF_SQ8, HNSW and HNSW_SQ; IVF_PQ and DISKANN are accepted by ``create_index`` but no index
is built (searches fall back to brute force), so they are not offered here.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient

from facesearch.gallery.index import DEFAULTS
from facesearch.gallery.vectors.milvus import TYPES, index_settings

NAME = "bench"


def index_spec(kind: str, n: int) -> tuple[str, dict]:
    """(Milvus index type, build params) for a facesearch kind, as facesearch's Milvus store builds it."""
    build, _ = index_settings(kind, DEFAULTS[kind], n)
    return TYPES[kind], build


def search_params(kind: str, setting: dict) -> dict:
    """Milvus search params for a bench sweep setting (``nprobe`` / ``ef_search``)."""
    if kind == "hnsw":
        return {"ef": setting["ef_search"]}
    return dict(setting)


class LiteCollection:
    """One collection of ``dim``-d vectors under ``folder``; ids are the primary keys."""

    def __init__(self, folder: str | Path, dim: int):
        self.path = Path(folder) / "milvus.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.client = MilvusClient(str(self.path))
        if self.client.has_collection(NAME):
            self.client.drop_collection(NAME)
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=dim)
        self.client.create_collection(NAME, schema=schema)
        self.indexed = False

    def insert(self, ids: np.ndarray, x: np.ndarray, batch: int = 10_000) -> float:
        """Insert and flush every row; seconds."""
        t = time.perf_counter()
        for i in range(0, len(ids), batch):
            self.client.insert(NAME, [{"id": int(k), "v": v} for k, v in zip(ids[i:i + batch], x[i:i + batch])])
        self.client.flush(NAME)
        self.drain()
        return time.perf_counter() - t

    def build(self, kind: str, n: int) -> tuple[float, dict]:
        """(seconds, build params) to (re)build the index as ``kind`` and load it."""
        if self.indexed:
            self.client.release_collection(NAME)
            self.client.drop_index(NAME, "v")
        index_type, params = index_spec(kind, n)
        spec = self.client.prepare_index_params()
        spec.add_index("v", index_type=index_type, metric_type="IP", params=params)
        t = time.perf_counter()
        self.client.create_index(NAME, spec)
        self.client.load_collection(NAME)  # Lite builds every segment's index here
        self.drain()
        self.indexed = True
        return time.perf_counter() - t, {"index": index_type, **params}

    def search(self, q: np.ndarray, k: int, params: dict) -> np.ndarray:
        hits = self.client.search(NAME, data=list(q), limit=k, search_params={"metric_type": "IP", "params": params})
        return np.array([[h["id"] for h in row] + [-1] * (k - len(row)) for row in hits], np.int64)

    def disk_bytes(self) -> int:
        """Bytes on disk: the rows (Parquet) and the index files of every segment."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def drain(self) -> None:
        """Wait for Lite's background compaction and index builds (an internal hook: without
        it a build would be timed before it is done and searches would race it)."""
        try:
            from milvus_lite.server_manager import server_manager_instance as sm

            db = sm._servers[os.path.abspath(self.path)][1]
            db.get_collection(NAME)._wait_for_bg()
        except (ImportError, KeyError, AttributeError, IndexError, TypeError):
            time.sleep(2.0)

    def close(self) -> None:
        self.client.close()
