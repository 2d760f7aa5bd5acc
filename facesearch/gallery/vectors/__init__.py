"""Vector stores behind one interface (:class:`.base.VectorStore`): FAISS (a file, the
embedded default) and Milvus (``pymilvus``: a Milvus Lite file or a server). Which one a
database uses is recorded in it (``--vectors`` at ``index`` time), like its encoder."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ...config import VECTOR_STORES
from ...errors import GalleryError
from .base import VectorStore

USAGE = ("--vectors takes faiss, or milvus:<uri> with <uri> a Milvus Lite file (milvus:./vectors.db) or a "
         "Milvus server (milvus:http://host:19530, token in $MILVUS_TOKEN)")


def parse_vectors(spec: str) -> str:
    """``spec`` as recorded in the database (a Milvus Lite file made absolute), or a refusal."""
    kind, _, uri = spec.strip().partition(":")
    if kind not in VECTOR_STORES or (kind == "faiss") != (not uri):
        raise GalleryError(f"{spec!r}: {USAGE}")
    if kind == "faiss":
        return "faiss"
    from .milvus import is_local, lite_problem

    if not is_local(uri):
        return f"milvus:{uri}"
    path = Path(uri).expanduser().absolute()
    if path.suffix != ".db":
        raise GalleryError(f"{spec!r}: a Milvus Lite file must end in .db ({USAGE})")
    if not path.parent.is_dir():
        raise GalleryError(f"{spec!r}: folder {path.parent} does not exist")
    if why := lite_problem(str(path)):  # said at once, not after waiting for a store that never opens
        raise GalleryError(why)
    return f"milvus:{path}"


def open_vectors(store, spec: str, on_wait: Callable[[str], None] | None = None) -> VectorStore:
    """The vector store named by a recorded ``spec`` for ``store``'s database."""
    if spec.startswith("milvus:"):
        from .milvus import MilvusVectors

        return MilvusVectors(store, spec.partition(":")[2], on_wait)
    from .faiss import FaissVectors

    return FaissVectors(store, on_wait)


__all__ = ["VectorStore", "open_vectors", "parse_vectors"]
