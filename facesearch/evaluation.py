"""Calibration and evaluation on a labelled folder, with the gallery's encoder.

Pairs are distorted-vs-clean (FACECOM layout); for plain person folders, every photo
against every other photo. Embeddings are cached in the DB by file hash and model.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import metrics
from .images import sha256_file
from .pipeline import Embedded
from .protocols import identity_topk, protocols
from .scan import scan_gallery
from .store import CachedEmbedding, from_blobs, to_blob
from .types import FileError

FAR_POINTS = (1e-3, 1e-2, 1e-1)


@dataclass
class Labelled:
    """Embedded photos of a labelled folder (duck-types protocols()' input)."""

    paths: list[str]
    labels: np.ndarray
    names: list[str]
    kinds: list[str]
    source: list[str]
    emb: np.ndarray


def embed_folder(gallery, root: str | Path, progress=None) -> tuple[Labelled, list[FileError]]:
    from .config import DISTORTION_DIR

    items = scan_gallery(root, include_distorted=True)
    checksum = gallery.encoder.checksum
    errors: list[FileError] = []
    hashes = {}
    for _, p in items:
        try:
            hashes[p] = sha256_file(p)
        except OSError as e:
            errors.append(FileError(str(p), e.strerror or str(e)))
    with Session(gallery.engine) as s:
        cached = {h: e for h, e in s.execute(select(CachedEmbedding.sha256, CachedEmbedding.embedding)
                                              .where(CachedEmbedding.model_checksum == checksum))}
    todo = [p for _, p in items if p in hashes and hashes[p] not in cached]
    if progress:
        progress(len(items) - len(todo))
    fresh = {}
    embedder = gallery.embedder()
    for r in embedder.run(todo):
        if isinstance(r, Embedded):
            fresh[hashes[r.path]] = (to_blob(r.vector), r.face.detected)
        else:
            errors.append(r)
        if progress:
            progress(1)
    if fresh:
        with Session(gallery.engine) as s, s.begin():
            for h, (blob, det) in fresh.items():
                s.merge(CachedEmbedding(sha256=h, model_checksum=checksum, embedding=blob, detected=det))
    blobs = {**cached, **{h: b for h, (b, _) in fresh.items()}}
    keep = [(n, p) for n, p in items if p in hashes and hashes[p] in blobs]
    names = sorted({n for n, _ in keep})
    lookup = {n: i for i, n in enumerate(names)}
    kinds, source = [], []
    for n, p in keep:
        distorted = p.parent.name == DISTORTION_DIR
        stem, _, kind = p.stem.rpartition("_") if distorted else (p.stem, "", "clean")
        kinds.append(kind)
        source.append(f"{n}/{stem}")
    emb = from_blobs([blobs[hashes[p]] for _, p in keep], gallery.encoder.embedding_dim)
    return Labelled([str(p) for _, p in keep], np.array([lookup[n] for n, _ in keep], np.int64),
                    names, kinds, source, emb), errors


def pair_scores(data: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor cosine scores: distorted vs clean, or all vs all."""
    kinds = np.array(data.kinds)
    clean = kinds == "clean"
    if (~clean).any():
        s = data.emb[~clean] @ data.emb[clean].T
        same = data.labels[~clean][:, None] == data.labels[clean][None, :]
        return s[same], s[~same]
    s = data.emb @ data.emb.T
    same = data.labels[:, None] == data.labels[None, :]
    upper = np.triu(np.ones_like(same), 1)
    return s[same & upper], s[~same & upper]


def choose_threshold(genuine, impostor, objective: str = "far", target_far: float = 0.01) -> float:
    if objective == "f1":
        return metrics.threshold_max_f1(genuine, impostor)
    return metrics.threshold_at_far(impostor, target_far)


def calibrate(gallery, root, objective="far", target_far=0.01, progress=None) -> tuple[dict, list[FileError]]:
    data, errors = embed_folder(gallery, root, progress)
    genuine, impostor = pair_scores(data)
    if not len(genuine) or not len(impostor):
        raise ValueError(f"{root} needs at least two identities with photos to calibrate")
    t = choose_threshold(genuine, impostor, objective, target_far)
    info = {"threshold": t, "objective": objective, "target_far": target_far if objective == "far" else None,
            **metrics.prf(genuine, impostor, t), "genuine_pairs": int(len(genuine)),
            "impostor_pairs": int(len(impostor)), "data": str(Path(root).resolve()),
            "model_checksum": gallery.encoder.checksum,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    gallery.set_threshold(t, info)
    return {**info, "_genuine": genuine, "_impostor": impostor}, errors


def open_set(data: Labelled, threshold: float) -> dict:
    """Enrol the clean photos of every other identity; query distorted photos of all."""
    kinds = np.array(data.kinds)
    clean = kinds == "clean"
    enrolled = np.arange(len(data.names)) % 2 == 0
    g = clean & enrolled[data.labels]
    q = ~clean if (~clean).any() else ~g
    sims = data.emb[q] @ data.emb[g].T
    top_score = sims.max(axis=1)
    top_label = data.labels[g][sims.argmax(axis=1)]
    known = enrolled[data.labels[q]]
    accepted = top_score >= threshold
    return {"enrolled_identities": int(enrolled.sum()), "unenrolled_identities": int((~enrolled).sum()),
            "false_accept_rate": float(accepted[~known].mean()),
            "correct_accept_rate": float((accepted & (top_label == data.labels[q]))[known].mean())}


def evaluate(gallery, root, progress=None) -> tuple[dict, list[FileError], Labelled]:
    data, errors = embed_folder(gallery, root, progress)
    genuine, impostor = pair_scores(data)
    report: dict = {"data": str(Path(root).resolve()), "encoder": gallery.meta.encoder,
                    "model_checksum": gallery.encoder.checksum, "photos": len(data.paths),
                    "identities": len(data.names)}
    report["protocols"] = protocols(data.emb, data) if "clean" in data.kinds else {}
    report["roc_auc"] = metrics.roc_auc(genuine, impostor)
    report["tar_at_far"] = {str(f): metrics.tar_at_far(genuine, impostor, f) for f in FAR_POINTS}
    t = gallery.meta.threshold
    report["threshold"] = t
    if t is not None:
        report["at_threshold"] = metrics.prf(genuine, impostor, t)
        report["open_set"] = open_set(data, t)
    report["_genuine"], report["_impostor"] = genuine, impostor
    return report, errors, data


__all__ = ["calibrate", "evaluate", "embed_folder", "pair_scores", "open_set", "identity_topk"]
