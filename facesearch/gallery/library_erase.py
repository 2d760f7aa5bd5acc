"""Erasing a person for real (``people remove NAME --erase``, ``POST /v1/people/{name}/erase``).

Every copy of the person's biometric data goes: their rows and embeddings, the shadow
embeddings of an unfinished ``reembed``, the cached embeddings of their photos' bytes,
corrections naming them, library faces of clusters named after them, and also what only
*looks like* them: library faces (and the unnamed clusters they make up), corrections of
other names and cached embeddings of labelled photos that the gallery recognises as them
(:func:`recognised`). Then the vectors (the FAISS file or Milvus collection is rebuilt
from the remaining rows, so no deleted vector lingers in a file or a segment), the fitted
classifier (it holds support vectors of every person: it is deleted, to be fitted again),
and the database is compacted (SQLite: VACUUM and a truncating WAL checkpoint, with
``secure_delete`` on; PostgreSQL: VACUUM FULL of the tables that held them).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sqlalchemy import select

from ..config import CLUSTER_THRESHOLD
from ..errors import NotFoundError
from ..types import AcceptRule, Match
from .assignment import load_vetoes, vetoed
from .audit import record
from .classifier import classifier_path
from .decision import decider_of
from .library_schema import vectors_key
from .library_store import LibraryStore
from .schema import Identity, Photo

ERASED_TABLES = ("photos", "identities", "person_folders", "embedding_cache", "feedback", "library_faces",
                 "library_clusters", "reembed_shadow")
SEARCH_BATCH = 1024  # vectors searched at a time while looking for the person's look-alikes


@dataclass
class EraseReport:
    identity: str
    photos: int = 0
    removed: dict = field(default_factory=dict)  # kind -> count (cached embeddings, corrections, ...)
    classifier: bool = False  # the fitted classifier file was deleted
    compacted: str = ""  # what compaction ran
    recognised_by: str = ""  # the rule that found the faces that only look like the person

    def as_dict(self) -> dict:
        return {"erased": self.identity, "photos": self.photos, **self.removed, "classifier": self.classifier,
                "compacted": self.compacted, "recognised_by": self.recognised_by}


@dataclass
class Recognised:
    """What the gallery recognises as the person, outside their own rows (ids and hashes)."""

    faces: list[int] = field(default_factory=list)  # library faces
    clusters: list[int] = field(default_factory=list)  # unnamed clusters whose faces are mostly the person
    feedback: list[int] = field(default_factory=list)  # corrections of other names whose face is the person
    cached: list[str] = field(default_factory=list)  # sha256 of cached labelled photos of the person
    by: str = ""


def _taken_for(gallery, decides, index) -> Callable[[np.ndarray], list[str | None]]:
    """``who(vectors)``: who each vector is taken for, the person of its nearest photo in
    ``index`` (the gallery's vectors, as queries search them) when the score reaches the
    score floor of ``decides`` (the calibrated rule; None: the clustering threshold) and no
    correction says it is not them. The margin over the runner-up is not asked: erasure
    errs toward removing."""
    vetoes = load_vetoes(gallery.store, gallery.meta)

    def who(vectors: np.ndarray) -> list[str | None]:
        out: list[str | None] = []
        if not len(index):
            return [None] * len(vectors)
        for start in range(0, len(vectors), SEARCH_BATCH):
            chunk = np.asarray(vectors[start:start + SEARCH_BATCH], np.float32)
            scores, ids = index.search(chunk, 1)
            info = gallery.store.photo_info({int(i) for i in ids[:, 0] if i >= 0})
            for v, score, pid in zip(chunk, scores[:, 0], ids[:, 0]):
                rule = decides.rule_for(v) if decides is not None else AcceptRule(CLUSTER_THRESHOLD)
                match = Match(info[int(pid)][0], float(score), "") if int(pid) in info else None
                taken = match is not None and score >= rule.score and not vetoed(v, match, vetoes, rule)
                out.append(match.identity if taken else None)
        return out

    return who


def recognised(gallery, name: str, index) -> Recognised:
    """Library faces, corrections and cached embeddings (of the gallery's encoder) that the
    gallery takes for ``name`` (:func:`_taken_for`, searching ``index``); and the unnamed
    clusters where ``name`` is who most of the faces are taken for (all their faces: a
    cluster is one person)."""
    card, lib = gallery.meta.card, LibraryStore(gallery.store)
    decides = decider_of(gallery)
    out = Recognised(by=f"{decides.source} rule's score floor" if decides is not None
                     else f"clustering threshold {CLUSTER_THRESHOLD} (nothing calibrated)")
    taken_for = _taken_for(gallery, decides, index)
    faces = lib.faces(card.embedding_dim, checksum=vectors_key(card))
    who = taken_for(faces.vectors)
    out.faces = [int(f) for f, n in zip(faces.ids, who) if n == name]
    named = {cid for cid, n in lib.clusters().items() if n is not None}
    votes: dict[int, Counter] = {}
    for cid, n in zip(faces.clusters.tolist(), who):
        if cid >= 0 and cid not in named and n is not None:
            votes.setdefault(cid, Counter())[n] += 1
    out.clusters = [cid for cid, c in votes.items() if c[name] and c[name] == max(c.values())]
    ids, vectors = lib.feedback_vectors(vectors_key(card), card.embedding_dim)
    out.feedback = [int(f) for f, n in zip(ids, taken_for(vectors)) if n == name]
    cached = gallery.store.cached_embeddings(vectors_key(card), card.embedding_dim)
    if cached:
        hashes = list(cached)
        out.cached = [h for h, n in zip(hashes, taken_for(np.stack([cached[h][0] for h in hashes]))) if n == name]
    return out


def erase(gallery, name: str) -> EraseReport:
    """Remove ``name`` and every copy of their biometric data (see the module's docstring)."""
    store = gallery.store
    if name not in dict(gallery.people()):
        raise NotFoundError(f"no identity named {name!r}")
    report = EraseReport(name)
    with gallery._writing() as (meta, index):
        with store.session() as s:
            own = s.execute(select(Photo.id, Photo.sha256).join(Identity).where(Identity.name == name)).all()
        found = recognised(gallery, name, index)  # while the person is still enrolled: they are what is searched for
        report.recognised_by = found.by
        report.removed = LibraryStore(store).erase_references(name, {h for _, h in own}, [i for i, _ in own], found)
        ids = store.remove_identity(name)
        gallery.sync.remove(meta, ids)
        report.photos = len(ids)
    gallery.reindex()  # a fresh FAISS file / Milvus collection: deleted vectors linger nowhere
    path = classifier_path(gallery)
    if path.exists():
        path.unlink()
        report.classifier = True
    report.compacted = compact(store)
    with store.session() as s, s.begin():
        record(s, "erase", name, **{k: v for k, v in report.as_dict().items() if k != "erased"})
    return report


def compact(store) -> str:
    """Give the freed space back so deleted bytes are nowhere in the database's files."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL " + ", ".join(ERASED_TABLES))
        return "VACUUM FULL"
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA secure_delete=ON")
        raw.execute("VACUUM")
        busy = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return "VACUUM" + (", WAL checkpoint busy (another reader holds it: it is emptied on its next checkpoint)"
                       if busy else ", WAL truncated")
