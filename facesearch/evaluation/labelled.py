"""Labelled photos embedded by a gallery's encoder, and the similarity scores built on them.

Pairs are distorted-vs-clean (FACECOM layout); for plain person folders, every photo
against every other photo.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..photos.scan import describe, walk_gallery
from ..types import FileError


@dataclass
class Labelled:
    """Embedded photos of a labelled folder (duck-types protocols()' input)."""

    paths: list[str]
    labels: np.ndarray
    names: list[str]
    kinds: list[str]
    source: list[str]
    emb: np.ndarray
    usable: np.ndarray | None = None  # face quality gate per photo (None: not measured)


def embed_folder(gallery, root: str | Path, progress=None) -> tuple[Labelled, list[FileError]]:
    """Every photo under ``root`` (clean and distorted), embedded through ``gallery``
    (:meth:`~facesearch.gallery.Gallery.embed_labelled` caches them in its database).
    DataError when there is no photo to use."""
    scan = walk_gallery(root, include_distorted=True)  # its errors (unreadable folders...) are reported
    items = scan.items
    if not items:
        raise DataError(f"no labelled photos in {root} (expected {root}/<person>/*.jpg)"
                        + "".join(f"; {str(e).removeprefix('error: ')}" for e in scan.errors[:3]))
    vectors, errors = gallery.embed_labelled([p for _, p in items], progress)
    errors = scan.errors + errors
    keep = [(n, p) for n, p in items if p in vectors]
    if not keep:
        raise DataError(f"none of the {len(items)} photos in {root} could be used"
                        + (f" ({str(errors[0]).removeprefix('error: ')})" if errors else ""))
    names = sorted({n for n, _ in keep})
    lookup = {n: i for i, n in enumerate(names)}
    kinds, source = [], []
    for n, p in keep:
        kind, stem = describe(p)
        kinds.append(kind)
        source.append(f"{n}/{stem}")
    emb = np.stack([vectors[p][0] for _, p in keep])
    usable = np.array([vectors[p][1] for _, p in keep], bool)
    return Labelled([str(p) for _, p in keep], np.array([lookup[n] for n, _ in keep], np.int64),
                    names, kinds, source, emb, usable), errors


def query_gallery(data: Labelled):
    """(similarities, query labels, gallery labels): distorted vs clean, or all vs all."""
    clean = np.array(data.kinds) == "clean"
    if (~clean).any():
        return data.emb[~clean] @ data.emb[clean].T, data.labels[~clean], data.labels[clean]
    s = data.emb @ data.emb.T
    np.fill_diagonal(s, -np.inf)  # a photo is not its own match
    return s, data.labels, data.labels


def pair_scores(data: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor cosine scores of every query-gallery pair."""
    s, ql, gl = query_gallery(data)
    same, valid = ql[:, None] == gl[None, :], np.isfinite(s)
    return s[same & valid], s[~same & valid]


def missing_pairs(data: Labelled) -> list[str]:
    """What the data lacks for genuine pairs (two photos of one identity) and impostor pairs
    (photos of two identities), in words (empty: it has both)."""
    genuine, impostor = pair_scores(data)
    facecom = "clean" in data.kinds and any(k != "clean" for k in data.kinds)
    missing = []
    if not len(genuine):
        missing.append("no genuine pairs: no identity has both a clean photo and a distorted one "
                       "(<person>/distortion/*)" if facecom else
                       "no genuine pairs: no identity has two or more photos (a person folder needs at "
                       "least two photos to compare)")
    if not len(impostor):
        present = sorted({data.names[i] for i in data.labels.tolist()})
        missing.append(f"no impostor pairs: photos of two or more identities are needed, there are only "
                       f"photos of {present[0]!r}" if len(present) < 2 else
                       "no impostor pairs: no distorted photo has a clean photo of another identity to be "
                       "compared with")
    return missing


def identification_scores(data: Labelled, product=None) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the best score of a *correct* top-1 match (-inf when top-1 is wrong), and
    the best impostor score, i.e. what the query would score if its person were not enrolled.
    ``product``: :func:`query_gallery`'s answer, when the caller has it already."""
    s, ql, gl = product if product is not None else query_gallery(data)
    same = ql[:, None] == gl[None, :]
    top = s.argmax(axis=1)
    hit = np.where(gl[top] == ql, s.max(axis=1), -np.inf)
    return hit, np.where(same, -np.inf, s).max(axis=1)
