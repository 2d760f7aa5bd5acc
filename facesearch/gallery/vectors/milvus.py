"""Milvus vectors (``pymilvus``): a local file (Milvus Lite) or a Milvus server.

One collection per database, ``facesearch_<database id>``: primary key = photo id, one float
vector, inner product. The SQL database stays the system of record; the generation the
collection was last saved at is stamped in the database (``index_meta.vectors_generation``),
so a write that died half-way leaves the stamp behind and the next command rebuilds the
collection from the stored embeddings. Index kinds map onto Milvus index types:
``flat`` -> FLAT, ``ivf`` -> IVF_FLAT (nlist; nprobe per search), ``hnsw`` -> HNSW (M,
efConstruction; ef per search); Milvus Lite (milvus-lite >= 3) builds all three with FAISS.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ...config import settings
from ...errors import StoreError
from ..index import DEFAULTS, VectorIndex, default_nlist
from ..store import GalleryMeta, Store
from .base import VectorStore, wanted_kind

MAX_TOPK = 16384  # Milvus's largest search limit
BATCH = 4096  # vectors per insert call
OPEN_WAIT_S = settings().milvus_wait_s  # Milvus Lite: one process per file
TYPES = {"flat": "FLAT", "ivf": "IVF_FLAT", "hnsw": "HNSW"}
SEGMENT_ROWS = 100_000  # milvus-lite's MAX_SEGMENT_ROWS (a server's segments hold a few 100k 512-d rows)
KINDS = {v: k for k, v in TYPES.items()}
OWNER = "facesearch.owner"  # collection property: the Store.instance of the database that built it
_clients: dict[str, object] = {}  # uri -> MilvusClient: one per process (Milvus Lite allows no second)


def is_local(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


LITE_ENTRIES = {"LOCK", "collections", "databases"}  # what milvus-lite >= 3 keeps in its folder


def lite_problem(uri: str) -> str | None:
    """Why a local ``uri`` cannot be a Milvus Lite store (None: it is one, or will be made):
    milvus-lite keeps a folder; a file, or a folder of other things, belongs to someone else."""
    path = Path(uri).expanduser()
    if not path.exists():
        return None
    if not path.is_dir():
        return f"{uri} is not a Milvus Lite store (it is a file; Milvus Lite keeps its vectors in a folder)"
    try:
        entries = {p.name for p in path.iterdir()}
    except OSError as e:
        return f"cannot read the Milvus Lite store {uri} ({e.strerror or e})"
    if entries and not entries & LITE_ENTRIES:
        return f"{uri} is not a Milvus Lite store (a folder of other files)"
    return None


def connect(uri: str, on_wait: Callable[[str], None] | None = None):
    """The process's client for ``uri``; a Milvus Lite file held by another process is waited
    for (``$FACESEARCH_MILVUS_WAIT`` seconds), since Milvus Lite serves one process at a time.
    A local ``uri`` that is not a Milvus Lite store is refused at once."""
    if uri in _clients:
        return _clients[uri]
    if is_local(uri) and (why := lite_problem(uri)):
        raise StoreError(f"{why}: choose another --vectors milvus:<file>.db")
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # its failed opens log tracebacks
    deadline, told = time.monotonic() + OPEN_WAIT_S, False
    while True:
        try:
            client = MilvusClient(uri, token="" if is_local(uri) else settings().milvus_token)
            break
        except MilvusException as e:
            if not is_local(uri) or time.monotonic() > deadline:
                busy = (" (Milvus Lite serves one process at a time: another facesearch command has it open; "
                        "use a Milvus server for concurrent access)") if is_local(uri) else ""
                raise StoreError(f"cannot open Milvus at {uri}: {e.message}{busy}") from None
            if on_wait and not told:
                on_wait(f"the Milvus Lite file {uri} is open in another process; waiting for it")
                told = True
            time.sleep(0.5)
    _clients[uri] = client
    return client


def index_settings(kind: str, params: dict, n: int) -> tuple[dict, dict]:
    """(Milvus index params, search params) for a facesearch index kind and its settings."""
    if kind == "ivf":
        # Milvus indexes each segment on its own (Lite: at most SEGMENT_ROWS rows), so the
        # lists are sized for a segment, not the collection
        nlist = params.get("nlist") or default_nlist(min(n, SEGMENT_ROWS))
        return {"nlist": int(nlist)}, {"nprobe": int(params["nprobe"])}
    if kind == "hnsw":
        return {"M": int(params["m"]), "efConstruction": int(params["ef_construction"])}, \
            {"ef": int(params["ef_search"])}
    return {}, {}


def owner_of(described: dict | None) -> str | None:
    """The database instance a collection records ("" if none; None: no collection)."""
    if described is None:
        return None
    return str((described.get("properties") or {}).get(OWNER) or "")


class MilvusIndex:
    """A collection seen as an index (the interface of :class:`~..index.VectorIndex`)."""

    supports_remove = True

    def __init__(self, client, name: str, dim: int, kind: str, params: dict, generation: int,
                 database_id: str | None):
        self.client, self.name, self.dim, self.kind = client, name, dim, kind
        self.params = {**DEFAULTS[kind], **params}
        self.generation, self.database_id = generation, database_id
        self.owner: str | None = None  # the Store.instance recorded in the collection
        self._count: int | None = None  # counted once, not on every search (a round trip)

    def __len__(self) -> int:
        if self._count is None:
            rows = self.client.query(self.name, filter="", output_fields=["count(*)"])
            self._count = int(rows[0]["count(*)"])
        return self._count

    def set_search_params(self, **params) -> None:
        self.params.update(params)

    def add(self, ids, vectors) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._count = None
        for i in range(0, len(ids), BATCH):
            self.client.upsert(self.name, [{"id": int(pid), "vector": v.tolist()}
                                           for pid, v in zip(ids[i:i + BATCH], vectors[i:i + BATCH])])

    def remove(self, ids) -> int:
        ids, self._count = [int(i) for i in ids], None
        if ids:
            self.client.delete(self.name, ids=ids)
        return len(ids)

    def _rows(self, fields: list[str]) -> list[dict]:
        logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its iterator warns about client timestamps
        it = self.client.query_iterator(self.name, batch_size=BATCH, filter="", output_fields=fields)
        out = []
        try:
            while batch := it.next():
                out.extend(batch)
        finally:
            it.close()
        return out

    def ids(self) -> np.ndarray:
        return np.array(sorted(r["id"] for r in self._rows(["id"])), np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) as stored (for ``check``)."""
        rows = self._rows(["id", "vector"])
        return (np.array([r["id"] for r in rows], np.int64),
                np.array([r["vector"] for r in rows], np.float32).reshape(-1, self.dim))

    def search(self, queries: np.ndarray, k: int, params: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, each (n_queries, k'); missing slots have id -1. ``params``:
        ``nprobe`` / ``ef_search`` for this call only."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, MAX_TOPK))
        given = {key: v for key, v in (params or {}).items() if v}
        _, search = index_settings(self.kind, {**self.params, **given}, 0)
        if "ef" in search:
            search["ef"] = max(search["ef"], k)  # Milvus needs ef >= limit
        hits = self.client.search(self.name, data=queries.tolist(), limit=k,
                                  search_params={"metric_type": "IP", "params": search}, output_fields=[])
        width = max((len(h) for h in hits), default=0)
        scores, ids = np.zeros((len(queries), width), np.float32), np.full((len(queries), width), -1, np.int64)
        for row, found in enumerate(hits):
            for col, hit in enumerate(found):
                scores[row, col], ids[row, col] = hit["distance"], hit["id"]
        return scores, ids


class MilvusVectors(VectorStore):
    """The database's vectors in a Milvus collection (``uri``: a Milvus Lite file or a server)."""

    name = "Milvus"

    def __init__(self, store: Store, uri: str, on_wait: Callable[[str], None] | None = None):
        super().__init__(store, on_wait)
        self.uri = uri
        self._loaded: set[str] = set()  # collections loaded (searchable) in this process

    @property
    def client(self):
        return connect(self.uri, self.on_wait)

    @staticmethod
    def collection(meta: GalleryMeta) -> str:
        return f"facesearch_{meta.key}"

    @property
    def where(self) -> str:
        meta = self.store.meta()
        return f"Milvus collection {self.collection(meta) if meta else '?'} at {self.uri}"

    def _described(self, meta: GalleryMeta) -> dict | None:
        name = self.collection(meta)
        return self.client.describe_collection(name) if self.client.has_collection(name) else None

    def owner(self, meta: GalleryMeta) -> str | None:
        return owner_of(self._described(meta))

    def _open(self, meta: GalleryMeta, any_owner: bool = False) -> MilvusIndex | None:
        """The collection named by ``meta``'s id, if this database wrote it (``any_owner``: in any case)."""
        described = self._described(meta)
        if described is None or (not any_owner and owner_of(described) != self.store.instance):
            return None
        name = self.collection(meta)
        if name not in self._loaded:  # a collection opened by another process is released here
            self.client.load_collection(name)
            self._loaded.add(name)
        info = self.client.describe_index(name, "vector")
        kind = KINDS.get(info.get("index_type"), "flat")
        dim = next(int(f["params"]["dim"]) for f in described["fields"] if f["name"] == "vector")
        index = MilvusIndex(self.client, name, dim, kind, meta.index_params or {}, meta.vectors_generation or 0,
                            meta.database_id)
        index.owner = owner_of(described)
        return index

    def load_current(self, meta: GalleryMeta) -> MilvusIndex | None:
        if meta.vectors_generation != meta.generation:
            return None
        idx = self._open(meta)
        if idx is None or idx.dim != meta.card.embedding_dim or wanted_kind(meta, len(idx)) != idx.kind:
            return None
        return idx

    def rebuild(self, meta: GalleryMeta) -> MilvusIndex:
        """A new collection holding every stored embedding (the old one is dropped)."""
        from pymilvus import DataType, MilvusClient

        ids, vectors = self.store.embeddings(meta.card.embedding_dim)
        kind, name, client = wanted_kind(meta, len(ids)), self.collection(meta), self.client
        params = {**DEFAULTS[kind], **(meta.index_params or {})}
        if client.has_collection(name):
            client.drop_collection(name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=meta.card.embedding_dim)
        build, _ = index_settings(kind, params, len(ids))
        index_params = client.prepare_index_params()
        index_params.add_index(field_name="vector", index_name="vector", index_type=TYPES[kind], metric_type="IP",
                               params=build)
        client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong",
                                 properties={OWNER: self.store.instance})
        index = MilvusIndex(client, name, meta.card.embedding_dim, kind, params, meta.generation, meta.database_id)
        index.add(ids, vectors)
        return index

    def interim(self, meta: GalleryMeta):
        """The collection as the writer has it so far (an empty index if it has none yet)."""
        return self._open(meta) or VectorIndex(meta.card.embedding_dim, meta.generation)

    def save(self, meta: GalleryMeta, index: MilvusIndex, by_reader: bool = False) -> None:
        self.client.flush(index.name)
        try:
            self.store.set_vectors_generation(meta.generation)
        except StoreError:
            if not by_reader:  # a reader on a read-only database rebuilds again next time
                raise
        meta.vectors_generation = meta.generation

    def stored(self, meta: GalleryMeta):
        idx = self._open(meta, any_owner=True)
        if idx is None:
            return None, f"{self.where} does not exist: `facesearch reindex` rebuilds it"
        if not self.owner(meta):
            return None, (f"{self.where} does not say which database wrote it (made before facesearch checked "
                          "copies): `facesearch reindex` rebuilds it")
        return idx, meta.vectors_generation
