"""Moving a gallery to another encoder without losing anyone: ``facesearch reembed``.

Every stored photo is embedded again from its file by the new encoder into a shadow table
(``reembed_shadow``) while the old vectors keep answering; each batch is saved, so an
interrupted run resumes where it stopped. The report compares both models on the gallery's
own photos: leave-one-out top-1 (each photo of a person with two or more, searched among
all the others), genuine and impostor score summaries, and how many of those answers would
change. ``switch`` then replaces every embedding and the encoder card in one transaction and
rebuilds the vectors; the old thresholds do not apply to another model, so they are cleared
(the new model's shipped calibration applies where it has one; else run ``facesearch
calibrate``), and the report says which. A running server follows the switch
(:func:`follow_switch`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select, update

from ..config import EMBED_BATCH
from ..errors import GalleryError
from ..faces.pipeline import Embedder
from ..types import FileError
from .audit import record
from .decision import shipped_calibration
from .library_schema import Feedback, ShadowEmbedding, vectors_key
from .schema import Identity, IndexMeta, Photo
from .store import META_ID, from_blobs, to_blob, vector_problem
from .uploads import UPLOAD_PREFIX

_FOLLOWING = threading.Lock()  # one thread loads the new encoder
_FOLLOWED: dict = {}  # the encoder loaded by the last switch followed, for this process's other galleries


@dataclass
class ReembedReport:
    model: str
    photos: int = 0
    embedded_now: int = 0
    resumed: int = 0  # embedded by an earlier, interrupted run
    missing: list[FileError] = field(default_factory=list)  # no file to embed again (kept, reported)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    changed: int = 0  # leave-one-out answers that differ between the two models
    switched: bool = False
    calibration: str = "kept until --switch"
    corrections_carried: int = 0  # corrections embedded again by the new model at the switch
    corrections_left: list[FileError] = field(default_factory=list)  # corrections that could not be

    def as_dict(self) -> dict:
        return {"model": self.model, "photos": self.photos, "embedded_now": self.embedded_now,
                "resumed": self.resumed, "missing": [{"photo": e.path, "error": e.reason} for e in self.missing],
                "before": self.before, "after": self.after, "answers_changed": self.changed,
                "switched": self.switched, "calibration": self.calibration,
                "corrections_carried": self.corrections_carried,
                "corrections_left": [{"photo": e.path, "error": e.reason} for e in self.corrections_left]}


def _rows(store) -> list[tuple[int, str, str, bytes]]:
    with store.session() as s:
        return list(s.execute(select(Photo.id, Photo.path, Identity.name, Photo.embedding).join(Identity)
                              .order_by(Photo.id)).all())


def _shadow(store, checksum: str, dim: int) -> dict[int, np.ndarray]:
    with store.session() as s:
        rows = s.execute(select(ShadowEmbedding.photo_id, ShadowEmbedding.embedding)
                         .where(ShadowEmbedding.model_checksum == checksum)).all()
    return {pid: np.frombuffer(b, np.float32) for pid, b in rows if vector_problem(b, dim) is None}


def _summary(vectors: np.ndarray, names: list[str]) -> tuple[dict, np.ndarray]:
    """Leave-one-out top-1 and genuine/impostor score summaries; and each photo's answer."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    labels = np.array(names)
    answers = labels[sims.argmax(axis=1)]
    counts = {n: names.count(n) for n in set(names)}
    askable = np.array([counts[n] > 1 for n in names])
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    genuine, impostor = sims[same & upper], sims[~same & upper]

    def stats(x):
        return {} if not len(x) else {"mean": round(float(x.mean()), 4), "p5": round(float(np.percentile(x, 5)), 4),
                                      "p95": round(float(np.percentile(x, 95)), 4), "pairs": int(len(x))}

    top1 = float((answers[askable] == labels[askable]).mean()) if askable.any() else None
    return ({"loo_top1": None if top1 is None else round(top1, 4), "loo_queries": int(askable.sum()),
             "genuine": stats(genuine), "impostor": stats(impostor)}, np.where(askable, answers, ""))


def check_target(gallery, encoder) -> None:
    """GalleryError when there is nothing to move: an empty gallery, or one on ``encoder`` already."""
    gallery.refresh()
    if gallery.meta is None:
        raise GalleryError(f"{gallery.store.label} is empty: nothing to embed again")
    if gallery.meta.card.same_embeddings(encoder.card):
        raise GalleryError(f"{gallery.store.label} already uses {encoder.card}")


def reembed(gallery, encoder, progress=None) -> ReembedReport:
    """Embed every stored photo with ``encoder`` into the shadow table (resuming), and report."""
    store, card = gallery.store, encoder.card
    check_target(gallery, encoder)
    rows = _rows(store)
    report = ReembedReport(str(card), photos=len(rows))
    done = _shadow(store, vectors_key(card), card.embedding_dim)
    report.resumed = sum(pid in done for pid, *_ in rows)
    todo = []
    for pid, path, _, _ in rows:
        if pid in done:
            continue
        file, _, face = path.partition("#face")  # a face of a group photo named by `cluster name`
        if path.startswith(UPLOAD_PREFIX) or not Path(file).is_file():
            report.missing.append(FileError(path, "no file to embed again (an upload, or moved or deleted)"))
        else:
            todo.append((pid, Path(file), int(face) if face.isdigit() else None))
    embedder = Embedder(encoder, gallery.detector)
    for start in range(0, len(todo), EMBED_BATCH):
        batch = todo[start:start + EMBED_BATCH]
        results = list(embedder.run([p for _, p, _ in batch], all_faces=True))
        with store.session() as s, s.begin():
            # photos removed meanwhile (a server takes writes while this runs) get no shadow row
            alive = set(s.scalars(select(Photo.id).where(Photo.id.in_([pid for pid, _, _ in batch]))))
            for (pid, path, face), r in zip(batch, results):
                if pid not in alive:
                    continue
                if isinstance(r, FileError) or (face is not None and face >= len(r.faces)):
                    report.missing.append(r if isinstance(r, FileError) else FileError(str(path), f"no face {face}"))
                    continue
                vector = r.vector if face is None else r.faces[face][1]
                s.merge(ShadowEmbedding(photo_id=pid, model_checksum=vectors_key(card), embedding=to_blob(vector)))
                report.embedded_now += 1
        if progress:
            progress(len(batch))
    if report.embedded_now:
        with store.session() as s, s.begin():
            record(s, "reembed", None, model=card.model, embedded=report.embedded_now, missing=len(report.missing))
    _compare(gallery, card, rows, report)
    return report


def _compare(gallery, card, rows, report: ReembedReport) -> None:
    new = _shadow(gallery.store, vectors_key(card), card.embedding_dim)
    both = [(pid, name, blob) for pid, _, name, blob in rows if pid in new]
    if len(both) < 2:
        return
    old_dim = gallery.meta.card.embedding_dim
    names = [n for _, n, _ in both]
    report.before, old_answers = _summary(from_blobs([b for *_, b in both], old_dim), names)
    report.after, new_answers = _summary(np.stack([new[pid] for pid, _, _ in both]), names)
    report.changed = int((old_answers != new_answers).sum())


def switch(gallery, encoder, drop_missing: bool = False, progress=None) -> ReembedReport:
    """Replace every embedding by its shadow and the encoder card, in one transaction, then
    rebuild the vectors. Refused while a photo has no new embedding, unless ``drop_missing``
    (those photos are then removed)."""
    store, card = gallery.store, encoder.card
    report = reembed(gallery, encoder, progress)  # finishes an interrupted run first; nothing to do otherwise
    new = _shadow(store, vectors_key(card), card.embedding_dim)
    lacking = [pid for pid, *_ in _rows(store) if pid not in new]
    if lacking and not drop_missing:
        raise GalleryError(f"{len(lacking)} stored photos have no new embedding (their files are missing): "
                           "put them back and run `facesearch reembed` again, or pass --drop-missing")
    carried, report.corrections_left = _corrections(gallery, encoder)
    with gallery._writing() as (meta, _):
        with store.session() as s, s.begin():
            for fid, blob in carried.items():  # the corrections keep working with the new model
                s.execute(update(Feedback).where(Feedback.id == fid)
                          .values(embedding=blob, model_checksum=vectors_key(card)))
            if lacking:
                s.execute(delete(Photo).where(Photo.id.in_(lacking)))
            for pid, vector in new.items():
                photo = s.get(Photo, pid)
                if photo is not None:
                    photo.embedding = to_blob(vector)
            m = s.get(IndexMeta, META_ID)
            m.encoder, m.embedding_dim, m.preprocess = card.arch, card.embedding_dim, card.preprocess.as_dict()
            m.model_checksum, m.flip = card.checksum, card.flip
            m.model_ref = {"model": card.model, "weights": card.weights}
            m.threshold = m.threshold_info = m.verify_threshold = m.verify_info = None
            s.execute(delete(ShadowEmbedding))
            s.execute(delete(Identity).where(~Identity.photos.any()))
            record(s, "reembed_switch", None, model=card.model, photos=len(new), dropped=len(lacking),
                   corrections=len(carried), corrections_left=len(report.corrections_left))
        gallery.refresh()
        gallery.sync.index = gallery.sync.rebuild(gallery.meta)
    gallery.refresh()  # as saved (the vectors' generation stamp is written last)
    gallery.use_encoder(encoder)
    report.switched, report.corrections_carried = True, len(carried)
    report.calibration = ("cleared: the old thresholds do not apply to the new model; "
                          + ("the new model's shipped calibration is used (`facesearch calibrate` to fit your own)"
                             if shipped_calibration(card) is not None else "run `facesearch calibrate`"))
    return report


def _corrections(gallery, encoder) -> tuple[dict[int, bytes], list[FileError]]:
    """The corrections embedded by the new encoder from their photos' files (id -> blob), and
    those that cannot be (an upload, a file gone: kept, but they stop applying)."""
    with gallery.store.session() as s:
        rows = s.execute(select(Feedback.id, Feedback.photo, Feedback.face_index)
                         .where(Feedback.model_checksum != vectors_key(encoder.card))).all()
    todo, left, out = [], [], {}
    for fid, photo, face in rows:
        if Path(photo).is_absolute() and Path(photo).is_file():
            todo.append((fid, Path(photo), face))
        else:
            left.append(FileError(photo, "correction not carried to the new model: no file to embed again "
                                  "(an upload, or moved or deleted); make it again with `facesearch correct`"))
    results = Embedder(encoder, gallery.detector).run([p for _, p, _ in todo], all_faces=True) if todo else []
    for (fid, path, face), r in zip(todo, results):
        if isinstance(r, FileError) or face >= len(r.faces):
            left.append(FileError(str(path), f"correction not carried to the new model: face {face} not found"))
        else:
            out[fid] = to_blob(r.faces[face][1])
    return out, left


def follow_switch(gallery, encoder=None) -> bool:
    """Re-read ``gallery``'s settings and, after a ``--switch`` (by this process or another),
    use the encoder the database names now (``encoder`` if it is that one): a long-lived
    process (the server) searching the new vectors with the old encoder would give wrong
    answers, silently. The galleries of one process share the encoder loaded (a server's
    reader and writer: one model in memory, one pipeline). True when it changed."""
    gallery.refresh()
    meta = gallery.meta
    if meta is None or meta.card.same_embeddings(gallery.encoder.card):
        return False
    with _FOLLOWING:
        if meta.card.same_embeddings(gallery.encoder.card):  # (followed by another thread meanwhile)
            return False
        for candidate in (encoder, _FOLLOWED.get("encoder")):
            if candidate is not None and meta.card.same_embeddings(candidate.card):
                break
        else:
            from ..encoders import create_encoder

            candidate = create_encoder(meta.card.model, meta.card.weights, flip=meta.card.flip)
        _FOLLOWED["encoder"] = candidate
        gallery.use_encoder(candidate)
    return True
