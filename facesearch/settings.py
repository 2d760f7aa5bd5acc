"""Every environment variable facesearch reads, and its cache folders, read in one place.

``settings()`` reads the environment at each call (cheap; tests and servers change it), so
no module keeps a stale copy. Cache folders follow the platform's convention (platformdirs:
``$XDG_CACHE_HOME/facesearch`` or ``~/.cache/facesearch`` on Linux).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DB_ENV = "FACESEARCH_DB"
PLUGINS_ENV = "FACESEARCH_PLUGINS"  # comma-separated modules that register encoder families
BATCH_ENV = "FACESEARCH_BATCH"
RUNTIME_ENV = "FACESEARCH_RUNTIME"  # "onnx" (default) or "torch" (networks built in PyTorch only)
THREADS_ENV = "FACESEARCH_THREADS"  # ONNX Runtime threads per session (default: its own choice)
ONNX_CACHE_ENV = "FACESEARCH_ONNX_CACHE"  # graphs exported from PyTorch networks, rewritten graphs
INDEX_CACHE_ENV = "FACESEARCH_INDEX_CACHE"  # FAISS files of server databases
MILVUS_TOKEN_ENV = "MILVUS_TOKEN"  # token (or user:password) for a Milvus server
MILVUS_WAIT_ENV = "FACESEARCH_MILVUS_WAIT"
DEFAULT_DB = "facesearch.db"


def cache_dir() -> Path:
    """facesearch's own cache folder (platformdirs' user cache dir)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("facesearch", appauthor=False))


@dataclass(frozen=True)
class Settings:
    db: str
    plugins: tuple[str, ...]
    batch: int
    runtime: str
    threads: int | None
    onnx_cache: Path
    index_cache: Path
    milvus_token: str
    milvus_wait_s: float


def settings() -> Settings:
    env = os.environ
    return Settings(
        db=env.get(DB_ENV, DEFAULT_DB),
        plugins=tuple(filter(None, (m.strip() for m in env.get(PLUGINS_ENV, "").split(",")))),
        batch=int(env.get(BATCH_ENV, 64)),
        runtime=env.get(RUNTIME_ENV, "onnx").lower(),
        threads=int(env[THREADS_ENV]) if env.get(THREADS_ENV) else None,
        onnx_cache=Path(env[ONNX_CACHE_ENV]) if env.get(ONNX_CACHE_ENV) else cache_dir() / "onnx",
        index_cache=Path(env[INDEX_CACHE_ENV]) if env.get(INDEX_CACHE_ENV) else cache_dir() / "indexes",
        milvus_token=env.get(MILVUS_TOKEN_ENV, ""),
        milvus_wait_s=float(env.get(MILVUS_WAIT_ENV, 120)),
    )
