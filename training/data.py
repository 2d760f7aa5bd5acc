"""Training data: labelled photos -> aligned crops, cached on disk.

Crops are made by the same loader and aligner as ``facesearch index``, so a model trains on
exactly what it will see at query time (including centre-crop fallbacks where no face is
detected). Clean and distorted photos of one identity share its label.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facesearch.config import MIN_FACE_SIZE
from facesearch.errors import ImageError
from facesearch.faces.detect import CENTER_CROP_FRACTION, CENTER_CROP_Y, Aligner
from facesearch.files import atomic_write, sha256_file
from facesearch.photos.images import load_rgb
from facesearch.photos.scan import describe, scan_gallery

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path(os.environ.get("FACESEARCH_CACHE", Path.home() / ".cache" / "facesearch"))


@dataclass
class CropSet:
    crops: np.ndarray           # N x S x S x 3 uint8
    labels: np.ndarray          # N int64, index into ``names``
    names: list[str]            # identity names
    paths: list[str]
    kinds: list[str]            # "clean" or the distortion name
    source: list[str]           # clean photo stem each crop derives from
    detected: np.ndarray        # N bool

    def subset(self, mask: np.ndarray) -> "CropSet":
        idx = np.flatnonzero(mask)
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return CropSet(self.crops[idx], self.labels[idx], self.names, pick(self.paths),
                       pick(self.kinds), pick(self.source), self.detected[idx])

    def identities(self, keep) -> "CropSet":
        """Only the photos of the identities ``keep``, relabelled 0..len(keep)-1 in sorted
        name order (so a margin head over them has exactly their classes)."""
        keep = sorted(set(keep))
        lookup = {n: i for i, n in enumerate(keep)}
        new = np.array([lookup.get(n, -1) for n in self.names], np.int64)[self.labels]
        sub = self.subset(new >= 0)
        sub.labels, sub.names = new[new >= 0], keep
        return sub


def holdout_names(names, fraction: float, seed: int) -> list[str]:
    """The identities held out of training: ``fraction`` of ``names`` (at least 2, leaving
    at least 2 to train on), drawn with ``seed`` from the sorted names, so the same data and
    seed always hold out the same people."""
    names = sorted(names)
    if not 0 < fraction < 1:
        raise ValueError(f"holdout must be a fraction between 0 and 1, not {fraction}")
    if len(names) < 4:
        raise ValueError(f"a holdout needs at least 4 identities ({len(names)} found)")
    k = min(max(2, int(round(fraction * len(names)))), len(names) - 2)
    pick = np.random.default_rng(seed).choice(len(names), k, replace=False)
    return sorted(names[i] for i in pick)


def split_holdout(cs: CropSet, fraction: float, seed: int) -> tuple[CropSet, CropSet]:
    """(training identities, held-out identities) of ``cs``: see :func:`holdout_names`."""
    held = set(holdout_names(cs.names, fraction, seed))
    return cs.identities([n for n in cs.names if n not in held]), cs.identities(held)


def _cache_key(items, size: int, detector: str) -> str:
    """The crop cache's key: alignment settings (changing them re-aligns) and the (identity,
    photo) pairs' labels and bytes. By content, not path and modification time: the data set
    is often a fresh copy (a new session, another mount), and a key that changed with it
    re-aligned the whole training set for nothing."""
    h = hashlib.sha256(f"v2 {size} {detector} {CENTER_CROP_FRACTION} {CENTER_CROP_Y} {MIN_FACE_SIZE}".encode())
    for name, p in items:
        h.update(f"{name}\0{Path(p).name}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()[:16]


def load_crops(root: str | Path, size: int = 112, detector: str = "mtcnn",
               cache_dir: Path = DEFAULT_CACHE, batch: int = 64) -> CropSet:
    """Aligned crops of every photo (clean and distorted) under ``root``, cached."""
    items = scan_gallery(root, include_distorted=True)
    key = _cache_key(items, size, detector)
    npy, meta_path = cache_dir / f"crops-{key}.npy", cache_dir / f"crops-{key}.json"
    if npy.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        crops = np.load(npy)
    else:
        crops, meta = _build(items, size, detector, batch, root)
        with atomic_write(npy) as f:
            np.save(f, crops)
        with atomic_write(meta_path) as f:
            f.write(json.dumps(meta).encode())
        log.info("aligned crops of %s cached in %s", root, npy)
    names = sorted(set(meta["identity"]))
    lookup = {n: i for i, n in enumerate(names)}
    return CropSet(crops, np.array([lookup[n] for n in meta["identity"]], np.int64), names,
                   meta["paths"], meta["kinds"], meta["source"], np.array(meta["detected"], bool))


def _build(items, size, detector, batch, root):
    aligner = Aligner(size, detector)
    crops, meta = [], {"identity": [], "paths": [], "kinds": [], "source": [], "detected": []}
    with tqdm(total=len(items), desc=f"align {Path(root).name}", unit="photo", disable=None) as bar:
        for i in range(0, len(items), batch):
            chunk, images = [], []
            for name, p in items[i:i + batch]:
                try:
                    images.append(load_rgb(p))
                    chunk.append((name, p))
                except ImageError as e:
                    log.warning("error: %s: %s", p, e)
            for (name, p), face in zip(chunk, aligner.align(images)):
                kind, src = describe(p)
                crops.append(face.crop)
                for k, v in (("identity", name), ("paths", str(p)), ("kinds", kind),
                             ("source", f"{name}/{src}"), ("detected", bool(face.detected))):
                    meta[k].append(v)
            bar.update(len(items[i:i + batch]))
    return np.stack(crops), meta
