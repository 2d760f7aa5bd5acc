"""FAISS vectors in a file: the embedded default.

The file sits beside a SQLite database (``x.db`` -> ``x.faiss``); a server database's lives
in a cache folder keyed by the database's id (:func:`~facesearch.config.index_cache_dir`),
one per machine, rebuilt from the database whenever it is missing or stale.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ...config import index_cache_dir, index_path_for
from ...errors import IndexFileError
from ..index import VectorIndex
from ..store import GalleryMeta, Store
from .base import VectorStore, memory_index, save_failed, wanted_kind


def belongs(idx: VectorIndex, meta: GalleryMeta) -> bool:
    """Whether an index file was written for this database (files of the first release
    carry no database id and are trusted by their generation)."""
    return idx.database_id is None or idx.database_id == meta.database_id


class FaissVectors(VectorStore):
    """The index in memory, saved to one file (written atomically, stamped in its header)."""

    def __init__(self, store: Store, on_wait: Callable[[str], None] | None = None):
        super().__init__(store, on_wait)
        self._path = None if store.is_server else index_path_for(store.db_path)
        self.shared = store.is_server  # a file's index sits beside it; a server database's in a cache by id

    def owner(self, meta: GalleryMeta) -> str | None:
        try:
            header = VectorIndex.peek(self.path(meta))
        except IndexFileError:
            return None
        return header.get("owner") or "" if header.get("database_id") == meta.database_id else None

    def path(self, meta: GalleryMeta | None = None) -> Path:
        """The index file: beside a SQLite file; in the cache folder for a server database."""
        if self._path is not None:
            return self._path
        meta = meta or self.store.meta()
        return index_cache_dir() / f"{meta.key}.faiss"

    @property
    def where(self) -> str:
        return f"index file {self.path()}" if self.shared else "index"

    def load_current(self, meta: GalleryMeta) -> VectorIndex | None:
        """The index file, if it is this database's at ``meta``'s generation (header first:
        a lagging file is not read whole)."""
        path = self.path(meta)
        try:
            if VectorIndex.peek(path).get("generation") != meta.generation:
                return None
            idx = VectorIndex.load(path)
        except IndexFileError:
            return None
        if (not belongs(idx, meta) or idx.generation != meta.generation
                or (self.shared and idx.owner != self.store.instance)  # another database's (a copy), or unsigned
                or not idx.checksummed  # written before checksums: its vectors cannot be trusted unread
                or idx.dim != meta.card.embedding_dim or wanted_kind(meta, len(idx)) != idx.kind):
            return None
        return idx

    def rebuild(self, meta: GalleryMeta) -> VectorIndex:
        return memory_index(self.store, meta)

    def save(self, meta: GalleryMeta, index: VectorIndex, by_reader: bool = False) -> None:
        if by_reader and not self.store.is_server:
            return  # a reader keeps its rebuild in memory; the next writer saves the file
        path = self.path(meta)
        try:  # a server database's cache file is this machine's: a reader saves it too (writes happen elsewhere)
            path.parent.mkdir(parents=True, exist_ok=True)
            index.save(path)
        except OSError as e:  # the database is already complete: only the derived file is missing
            if not by_reader:
                raise save_failed(str(path), e) from None

    def stored(self, meta: GalleryMeta):
        path = self.path(meta)
        try:
            idx = VectorIndex.load(path)
        except IndexFileError as e:
            return None, str(e)
        if not belongs(idx, meta):
            return None, (f"index file {path} belongs to another database (id {idx.database_id}, "
                          f"this one is {meta.database_id})")
        return idx, idx.generation
