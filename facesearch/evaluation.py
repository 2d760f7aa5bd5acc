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
from .protocols import protocols
from .scan import describe, scan_gallery
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
        kind, stem = describe(p)
        kinds.append(kind)
        source.append(f"{n}/{stem}")
    emb = from_blobs([blobs[hashes[p]] for _, p in keep], gallery.encoder.embedding_dim)
    return Labelled([str(p) for _, p in keep], np.array([lookup[n] for n, _ in keep], np.int64),
                    names, kinds, source, emb), errors


def _query_gallery(data: Labelled):
    """(similarities, query labels, gallery labels): distorted vs clean, or all vs all."""
    clean = np.array(data.kinds) == "clean"
    if (~clean).any():
        return data.emb[~clean] @ data.emb[clean].T, data.labels[~clean], data.labels[clean]
    s = data.emb @ data.emb.T
    np.fill_diagonal(s, -np.inf)  # a photo is not its own match
    return s, data.labels, data.labels


def pair_scores(data: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor cosine scores of every query-gallery pair."""
    s, ql, gl = _query_gallery(data)
    same, valid = ql[:, None] == gl[None, :], np.isfinite(s)
    return s[same & valid], s[~same & valid]


def identification_scores(data: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the best score of a *correct* top-1 match (-inf when top-1 is wrong), and
    the best impostor score, i.e. what the query would score if its person were not enrolled."""
    s, ql, gl = _query_gallery(data)
    same = ql[:, None] == gl[None, :]
    top = s.argmax(axis=1)
    hit = np.where(gl[top] == ql, s.max(axis=1), -np.inf)
    return hit, np.where(same, -np.inf, s).max(axis=1)


OBJECTIVES = ("far", "fpir", "f1")


def choose_threshold(data: Labelled, objective: str = "far", target: float = 0.01) -> tuple[float, dict]:
    """Threshold and the rates it gives. far: per impostor comparison; fpir: per query of a
    person not enrolled (open set, against every other identity); f1: best pair F1."""
    genuine, impostor = pair_scores(data)
    if not len(genuine) or not len(impostor):
        raise ValueError("calibration needs at least two identities with photos")
    if objective == "fpir":
        hit, stranger = identification_scores(data)
        t = metrics.threshold_at_far(stranger, target)
        rates = {"fpir": float(np.mean(stranger >= t)), "tpir": float(np.mean(hit >= t))}
    else:
        t = (metrics.threshold_max_f1(genuine, impostor) if objective == "f1"
             else metrics.threshold_at_far(impostor, target))
        rates = {}
    return t, {**metrics.prf(genuine, impostor, t), **rates, "genuine_pairs": int(len(genuine)),
               "impostor_pairs": int(len(impostor)), "_genuine": genuine, "_impostor": impostor}


def calibrate(gallery, root, objective="far", target_far=0.01, progress=None) -> tuple[dict, list[FileError]]:
    data, errors = embed_folder(gallery, root, progress)
    try:
        t, rates = choose_threshold(data, objective, target_far)
    except ValueError as e:
        raise ValueError(f"{root}: {e}") from None
    info = {"threshold": t, "objective": objective, "target": None if objective == "f1" else target_far,
            **{k: v for k, v in rates.items() if not k.startswith("_")}, "data": str(Path(root).resolve()),
            "model_checksum": gallery.encoder.checksum,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    gallery.set_threshold(t, info)
    return {**info, "_genuine": rates["_genuine"], "_impostor": rates["_impostor"]}, errors


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


__all__ = ["calibrate", "evaluate", "embed_folder", "pair_scores", "open_set"]
