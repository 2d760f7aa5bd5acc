"""The photo library over a :class:`~facesearch.gallery.Gallery`: cluster the faces of
unsorted photos into people and name them, record corrections, erase a person for real,
read the audit log.

Thin: the SQL is in :mod:`.library_store`, the grouping in :mod:`.clustering`, the
decisions in :mod:`.assignment`, the locked writes in :mod:`.library_writes`, the erasure in
:mod:`.library_erase`, the model change in :mod:`.reembed`.
"""
from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import CLUSTER_THRESHOLD, EMBED_BATCH
from ..errors import GalleryError, ImageError, NotFoundError
from ..faces.pipeline import Embedded, PhotoBytes, as_source, label
from ..files import sha256_file
from ..types import FileError
from .clustering import cluster_faces
from .decision import decider_of
from .library_schema import vectors_key
from .library_store import LibraryStore, NewFace
from .library_erase import EraseReport, erase
from .library_writes import enrol_cluster
from .reembed import ReembedReport, reembed, switch as move
from .uploads import UPLOAD_PREFIX

Progress = Callable[[int], None] | None


@dataclass
class FaceRow:
    """One face of a library photo: where it is, its cluster and who it is accepted as."""

    photo: str
    face: int
    box: list | None
    cluster: int | None
    identity: str | None

    def as_dict(self) -> dict:
        box = None if self.box is None else [round(float(v), 1) for v in self.box]
        return {"photo": self.photo, "face": self.face, "box": box, "cluster": self.cluster,
                "identity": self.identity}


@dataclass
class ClusterReport:
    """What ``cluster`` did: every face of the photos asked about, and counts."""

    faces: list[FaceRow] = field(default_factory=list)
    photos: int = 0
    embedded: int = 0  # photos embedded by this run (the others were stored already)
    no_face: int = 0  # photos where no face was found
    errors: list[FileError] = field(default_factory=list)
    threshold: float = 0.0
    seconds: float = 0.0
    calibrated: bool = True  # identities are named only with a calibrated rule

    def summary(self) -> dict:
        clusters = {f.cluster for f in self.faces if f.cluster is not None}
        return {"photos": self.photos, "embedded": self.embedded, "faces": len(self.faces),
                "clusters": len(clusters), "unclustered": sum(f.cluster is None for f in self.faces),
                "identified": sum(f.identity is not None for f in self.faces), "no_face": self.no_face,
                "failed": len(self.errors), "threshold": round(self.threshold, 4),
                "seconds": round(self.seconds, 2)}


def _keyed(photo) -> tuple[str, str, object]:
    """How a photo is stored (absolute path, or ``upload:<sha256[:16]>/<name>``), the SHA-256
    of its bytes, and the source to embed (OSError: a file that cannot be read)."""
    if isinstance(photo, PhotoBytes):
        sha = hashlib.sha256(photo.data).hexdigest()
        key = f"{UPLOAD_PREFIX}{sha[:16]}/{photo.name}"
        return key, sha, PhotoBytes(key, photo.data)
    key = str(Path(photo).absolute())
    return key, sha256_file(Path(key)), Path(key)


class Library:
    """The library tables of ``gallery``'s database, used through its encoder and rules."""

    def __init__(self, gallery):
        self.gallery = gallery
        self.store = LibraryStore(gallery.store)

    # -- clustering ------------------------------------------------------------------------
    def cluster(self, photos: list, threshold: float | None = None, progress: Progress = None) -> ClusterReport:
        """Detect and embed the faces of ``photos`` (paths, or :class:`PhotoBytes` uploads,
        stored as ``upload:<sha256[:16]>/<name>``) not stored yet (same path, same bytes: not
        embedded again), group every library face into clusters (``threshold``: mean cosine
        similarity for two groups to merge; default :data:`~facesearch.config.CLUSTER_THRESHOLD`)
        and name the faces of ``photos`` that the decision rule accepts as enrolled people."""
        started = time.perf_counter()
        gallery = self.gallery
        meta = gallery.ensure_meta()
        report = ClusterReport(threshold=CLUSTER_THRESHOLD if threshold is None else float(threshold))
        seen, todo, shown_as = self.store.seen(vectors_key(meta.card)), [], {}
        for photo in photos:
            try:
                key, sha, source = _keyed(photo)
            except OSError as e:
                report.errors.append(FileError(str(photo), e.strerror or str(e)))
                continue
            shown_as[key] = str(photo)
            if seen.get(key) != sha:
                todo.append(source)
        report.photos = len(shown_as) + len(report.errors)  # so far, the errors are the unreadable files
        report.embedded, report.no_face = self._embed(todo, shown_as, report.errors, progress)
        if progress:
            progress(len(shown_as) - len(todo))
        everything = self.store.faces(meta.card.embedding_dim, checksum=vectors_key(meta.card))  # one model's vectors
        labels = cluster_faces(everything.vectors, everything.photo_ids, report.threshold, everything.clusters)
        changed = labels != everything.clusters
        made = self.store.save_clusters(everything.ids[changed], labels[changed]) if changed.any() else {}
        labels = np.array([made.get(int(x), int(x)) for x in labels], np.int64)
        failed = {e.path for e in report.errors}
        mine = [i for i, p in enumerate(everything.paths) if p in shown_as and shown_as[p] not in failed]
        names = self._identities(everything.vectors[mine], [everything.photo_ids[i] for i in mine])
        report.calibrated = decider_of(gallery) is not None
        report.faces = [FaceRow(shown_as[everything.paths[i]], everything.index[i], everything.boxes[i],
                                None if labels[i] < 0 else int(labels[i]), name) for i, name in zip(mine, names)]
        report.seconds = time.perf_counter() - started
        return report

    def _embed(self, todo: list, shown_as: dict, errors: list, progress: Progress) -> tuple[int, int]:
        """Embed every face of the photos ``todo`` and store them, batch by batch (an
        interrupted run keeps what it stored). Returns (photos embedded, without a face)."""
        gallery, embedded, no_face = self.gallery, 0, 0
        if not todo:  # nothing new: the encoder is not even loaded
            return 0, 0
        every = gallery.detector == "none"  # photos are face crops: the crop is the face
        for results in gallery.embedder().batches(todo, EMBED_BATCH, all_faces=True):
            batch = []
            for r in results:
                if isinstance(r, FileError):
                    errors.append(FileError(shown_as.get(str(r.path), str(r.path)), r.reason))
                    continue
                faces = [NewFace(i, list(f.box) if f.box else None, f.score,
                                 {**f.quality.as_dict(), "measures": f.quality.measures} if f.quality else None, v)
                         for i, (f, v) in enumerate(r.faces) if f.detected or every]
                no_face += not faces
                batch.append((label(r.path), r.sha256, faces))
            if batch:
                self.store.add_photos(batch, vectors_key(gallery.encoder.card))
            embedded += len(batch)
            if progress:
                progress(len(results))
        return embedded, no_face

    def _identities(self, vectors: np.ndarray, photos: list[int]) -> list[str | None]:
        """Who the decision rule accepts each face as (faces of one photo never share a name)."""
        naming = self.gallery.searcher.naming()  # as query decides: each face's own rule, the corrections
        if naming.rule is None or not len(vectors):
            return [None] * len(vectors)
        fetch = 5
        matches = naming.rank(np.asarray(vectors, np.float32), fetch)
        out: list[str | None] = [None] * len(vectors)
        by_photo: dict[int, list[int]] = {}
        for i, pid in enumerate(photos):
            by_photo.setdefault(int(pid), []).append(i)
        for rows in by_photo.values():
            if not any(matches[i] for i in rows):
                continue
            answers = naming.decide([(None, vectors[i]) for i in rows], [matches[i] or [] for i in rows], fetch)
            for i, a in zip(rows, answers):
                out[i] = a.matches[0].identity if a.accepted else None
        return out

    def clusters(self) -> list[dict]:
        """Every cluster: id, name (given by ``cluster name``), its faces (photo, face, box, id)."""
        meta = self.gallery.meta
        if meta is None:
            return []
        faces = self.store.faces(meta.card.embedding_dim)
        out = {cid: {"cluster": cid, "name": name, "faces": []} for cid, name in self.store.clusters().items()}
        for fid, cid, path, i, box in zip(faces.ids.tolist(), faces.clusters.tolist(), faces.paths, faces.index,
                                          faces.boxes):
            if cid in out:
                out[cid]["faces"].append({"photo": path, "face": i, "box": box, "id": fid})
        return [c for _, c in sorted(out.items()) if c["faces"]]

    def thumbnail(self, face_id: int, size: int = 96) -> bytes:
        """A JPEG of one library face (its box with a margin, ``size`` pixels square) read
        from its photo's file (an upload keeps no file: refused)."""
        from PIL import Image

        from ..photos.images import load_rgb

        path, box = self.store.face_photo(int(face_id))
        if path.startswith(UPLOAD_PREFIX):
            raise NotFoundError(f"library face {face_id} is from an upload: no file is kept to show it")
        image = load_rgb(path, max_side=1 << 16)
        if box:
            x1, y1, x2, y2 = box
            pad = 0.2 * max(x2 - x1, y2 - y1)
            image = image.crop((int(max(0, x1 - pad)), int(max(0, y1 - pad)), int(x2 + pad), int(y2 + pad)))
        image.thumbnail((size, size), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()

    def name_cluster(self, cluster_id: int, name: str) -> int:
        """Enrol a cluster's faces as ``name`` (merged into that person if enrolled); returns
        how many photos were added."""
        return len(enrol_cluster(self.gallery, cluster_id, name))

    # -- corrections -----------------------------------------------------------------------
    def correct(self, photo, not_name: str, face: int | None = None) -> dict:
        """Record that a face of ``photo`` (path, bytes or PIL image; ``face``: its position
        left to right, default the largest, most central one) is not ``not_name``."""
        gallery = self.gallery
        if not_name not in dict(gallery.people()):
            raise NotFoundError(f"no identity named {not_name!r}")
        source = as_source(photo)
        if isinstance(source, Path):  # absolute: `reembed --switch` embeds it again from its file
            source = source.absolute()
        result = next(gallery.embedder().run([source], all_faces=True))
        if isinstance(result, FileError):
            raise ImageError(f"{result.path}: {result.reason}")
        assert isinstance(result, Embedded)
        i = result.main if face is None else int(face)
        if not 0 <= i < len(result.faces):
            raise GalleryError(f"{label(result.path)} has {len(result.faces)} face(s): --face {i} is not one of them")
        f, v = result.faces[i]
        fid = self.store.add_feedback(label(result.path), i, list(f.box) if f.box else None, not_name, v,
                                      vectors_key(gallery.encoder.card))
        return {"id": fid, "photo": label(result.path), "face": i, "not": not_name}

    def feedback(self) -> list[dict]:
        return self.store.feedback()

    def undo(self, feedback_id: int) -> str:
        return self.store.undo_feedback(int(feedback_id))

    # -- model change ----------------------------------------------------------------------
    def reembed(self, model, weights: str | None = None, flip: bool = True, switch: bool = False,
                drop_missing: bool = False, progress: Progress = None) -> ReembedReport:
        """Embed every stored photo again with another encoder (``model``: a spec as ``--model``,
        or an encoder) into a shadow table, resuming an interrupted run, and compare both
        models on the gallery's photos; ``switch``: then move the gallery to it (see
        :mod:`.reembed`; ``drop_missing``: remove the photos whose files are gone)."""
        encoder = model
        if isinstance(model, str):
            from ..encoders import create_encoder

            encoder = create_encoder(model, weights, flip=flip)
        if switch:
            return move(self.gallery, encoder, drop_missing, progress)
        return reembed(self.gallery, encoder, progress)

    # -- erasure and audit -------------------------------------------------------------------
    def erase(self, name: str) -> EraseReport:
        return erase(self.gallery, name)

    def audit(self, limit: int | None = None) -> list[dict]:
        return self.store.audit(limit)
