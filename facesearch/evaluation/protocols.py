"""The real task as a metric: gallery of clean photos, distorted queries, top-k by identity.

Protocol A: every clean photo enrolled; every distorted copy queried.
Protocol B: only the first clean photo of each identity enrolled; queried are the distorted
copies of that identity's *other* clean photos (their source is never enrolled).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np


def best_per_identity(sims: np.ndarray, gallery_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Queries x identities: each identity scored by its best photo (-inf: no photo)."""
    best = np.full((len(sims), n_classes), -np.inf, np.float32)
    for c in np.unique(gallery_labels):
        best[:, c] = sims[:, gallery_labels == c].max(axis=1)
    return best


def identity_topk(queries: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray,
                  n_classes: int, k: int = 5) -> np.ndarray:
    """Top-k identity labels per query, scoring each identity by its best photo."""
    best = best_per_identity(queries @ gallery.T, gallery_labels, n_classes)
    return np.argsort(-best, axis=1)[:, :k]


def _score(top: np.ndarray, labels: np.ndarray, kinds: list[str]) -> dict:
    hit1 = top[:, 0] == labels
    by = defaultdict(list)
    for h, kind in zip(hit1, kinds):
        by[kind].append(h)
    return {"top1": float(hit1.mean()), "top5": float((top == labels[:, None]).any(1).mean()),
            "queries": int(len(labels)), "by_distortion": {k: float(np.mean(v)) for k, v in sorted(by.items())}}


def protocols(emb: np.ndarray, crops) -> dict:
    """Protocol A and B metrics for embeddings ``emb`` of labelled photos ``crops``: any
    object with ``labels``, ``names``, ``kinds`` ("clean" or a distortion), ``source``
    (clean photo each derives from) and ``paths`` (e.g. training's CropSet). A protocol
    with no queries is left out (plain person folders have none)."""
    kinds = np.array(crops.kinds)
    clean = kinds == "clean"
    n = len(crops.names)
    out = {}
    if not (~clean).any() or not clean.any():  # both need distorted queries and a clean gallery
        return out
    top = identity_topk(emb[~clean], emb[clean], crops.labels[clean], n)
    out["A"] = _score(top, crops.labels[~clean], list(kinds[~clean]))
    first: dict[int, int] = {}
    for i in np.flatnonzero(clean):
        cur = first.get(crops.labels[i])
        if cur is None or crops.paths[i] < crops.paths[cur]:
            first[crops.labels[i]] = i
    enrolled_sources = {crops.source[i] for i in first.values()}
    g = np.array(sorted(first.values()))
    q = np.array([i for i in np.flatnonzero(~clean) if crops.source[i] not in enrolled_sources])
    if len(q):
        top = identity_topk(emb[q], emb[g], crops.labels[g], n)
        out["B"] = _score(top, crops.labels[q], list(kinds[q]))
    return out
