"""FAISS vector index keyed by photo ids. No torch here.

The file on disk is one atomic unit: a magic line, a JSON header (generation, dim, kind)
and the FAISS-serialised index. ``generation`` ties the file to the database state that
produced it; a stale or missing file is rebuilt from the embeddings stored in the DB.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import faiss
import numpy as np

MAGIC = b"FACESEARCH-FAISS 1\n"


class IndexFileError(Exception):
    pass


class VectorIndex:
    """Inner-product search over L2-normalised vectors with int64 ids (= photo ids)."""

    def __init__(self, dim: int, generation: int = 0, faiss_index=None):
        self.dim = dim
        self.generation = generation
        self.faiss = faiss_index if faiss_index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.faiss.ntotal)

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, generation: int = 0) -> "VectorIndex":
        index = cls(dim, generation)
        index.add(ids, vectors)
        return index

    def add(self, ids, vectors) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(ids):
            self.faiss.add_with_ids(vectors, ids)

    def remove(self, ids) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return int(self.faiss.remove_ids(ids)) if len(ids) else 0

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.faiss.id_map).astype(np.int64)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, each (n_queries, k'); missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.faiss.search(queries, k)

    def save(self, path: str | Path) -> None:
        """Write atomically: temp file, fsync, rename."""
        path = Path(path)
        header = json.dumps({"generation": self.generation, "dim": self.dim, "count": len(self)}).encode()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(MAGIC + header + b"\n")
            f.write(faiss.serialize_index(self.faiss).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> "VectorIndex":
        try:
            with open(path, "rb") as f:
                if f.readline() != MAGIC:
                    raise IndexFileError(f"{path} is not a facesearch index file")
                header = json.loads(f.readline())
                data = np.frombuffer(f.read(), dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except (OSError, ValueError, RuntimeError) as e:
            raise IndexFileError(f"cannot read index {path}: {e}") from None
        return cls(int(header["dim"]), int(header["generation"]), index)
