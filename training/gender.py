"""``facesearch train --task gender``: a small head on the face embedding.

Photos come in one folder per class (``<root>/{female,male}/<identity>_NNNN.jpg``); each is
aligned and embedded exactly as ``facesearch analyze`` does (largest, most central face,
flip-averaged). Candidates (logistic regression over C, a one-hidden-layer MLP) are scored
by balanced accuracy in a k-fold split of the *training* identities, with class-balanced
weights; the best is refitted on all of train and its decision threshold is the one that
was best on the out-of-fold predictions. ``--val`` is only reported: whole, on its
identities that train lacks, and by the same recipe refitted without val's identities.
"""
from __future__ import annotations

import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesearch.attributes import AttributeCard, AttributeHead
from facesearch.config import IMAGE_EXTENSIONS
from facesearch.errors import DataError
from facesearch.evaluation.metrics import classification
from facesearch.files import atomic_write, sha256_file

from . import data

log = logging.getLogger(__name__)

# (kind, parameter): C of logistic regression, L2 alpha of the MLP (64 hidden units)
CANDIDATES = [("logreg", c) for c in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)] + [("mlp", a) for a in (1e-3, 1e-2, 1e-1)]
THRESHOLDS = np.round(np.arange(0.2, 0.81, 0.025), 3)


@dataclass
class ClassPhotos:
    """Photos of a folder-per-class tree and what is known about each."""

    paths: list[Path]
    labels: np.ndarray      # index into ``classes``
    classes: list[str]
    identities: list[str]


def identity_of(path: str | Path) -> str:
    """``Ai_Sugiyama_0003.jpg`` -> ``Ai_Sugiyama``; ``007_frontal.jpg`` -> ``007_frontal``."""
    return re.sub(r"_\d+$", "", Path(path).stem)


def class_photos(root: str | Path) -> ClassPhotos:
    """Every photo under ``root/<class>/``; DataError unless there are exactly two classes."""
    root = Path(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if len(classes) != 2:
        raise DataError(f"{root} must hold one folder per class, two classes (e.g. female/ and male/); "
                        f"found {classes or 'none'}")
    paths, labels = [], []
    for i, c in enumerate(classes):
        found = sorted(p for p in (root / c).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            raise DataError(f"no photos in {root / c}")
        paths += found
        labels += [i] * len(found)
    return ClassPhotos(paths, np.array(labels), classes, [identity_of(p) for p in paths])


class EmbeddingFile:
    """The store :func:`facesearch.gallery.embedding_cache.embed_cached` caches in, as one
    .npz file (the trainer has no gallery database): embeddings and face usability by file
    hash. One file per encoder, flip and detector, so the hash alone is the key."""

    def __init__(self, path: Path):
        self.path = path

    def cached_embeddings(self, checksum: str, dim: int) -> dict[str, tuple[np.ndarray, dict]]:
        if not self.path.exists():
            return {}
        with np.load(self.path) as z:
            return {str(h): (v, {"usable": bool(u)}) for h, v, u in zip(z["sha256"], z["emb"], z["usable"])
                    if v.shape == (dim,)}

    def cache_embeddings(self, checksum: str, items: dict) -> None:
        known = self.cached_embeddings(checksum, next(iter(items.values()))[0].shape[0])
        known.update({h: (v, {"usable": bool(q.usable) if q is not None else False})
                      for h, (v, _, q) in items.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path) as f:
            np.savez(f, sha256=np.array(list(known), dtype=str), emb=np.stack([v for v, _ in known.values()]),
                     usable=np.array([q["usable"] for _, q in known.values()], bool))


def embed_photos(encoder, paths: list[Path], detector: str = "mtcnn", cache_dir: Path | None = None,
                 progress=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(embeddings, face usable, errors) of ``paths`` through facesearch's pipeline; rows of
    photos that failed are NaN. Each photo is cached by its contents in ``cache_dir``
    (default: the training cache), as `calibrate` caches labelled photos in a gallery."""
    from facesearch.faces.pipeline import Embedder
    from facesearch.gallery.embedding_cache import embed_cached

    card = encoder.card
    name = f"embeddings-{card.checksum.replace(':', '_')[:40]}-flip{int(card.flip)}-{detector}.npz"
    found, failed = embed_cached(EmbeddingFile(Path(cache_dir or data.DEFAULT_CACHE) / name),
                                 Embedder(encoder, detector), card, list(paths), progress)
    emb = np.full((len(paths), encoder.embedding_dim), np.nan, np.float32)
    usable = np.zeros(len(paths), bool)
    for i, p in enumerate(paths):
        if p in found:
            emb[i], usable[i] = found[p]
    return emb, usable, [str(e) for e in failed]


def _fit(kind: str, param: float, x: np.ndarray, y: np.ndarray, seed: int):
    """A fitted pipeline (standardise, then classify) with class-balanced sample weights."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.class_weight import compute_sample_weight

    clf = (LogisticRegression(C=param, max_iter=2000) if kind == "logreg" else
           MLPClassifier((64,), alpha=param, max_iter=200, random_state=seed))
    model = make_pipeline(StandardScaler(), clf)
    with warnings.catch_warnings():  # the MLP's iteration cap is part of its recipe, not a fault
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y, **{f"{model.steps[-1][0]}__sample_weight": compute_sample_weight("balanced", y)})
    return model


def select(x: np.ndarray, y: np.ndarray, groups: list[str], folds: int = 5, seed: int = 0) -> dict:
    """Score every candidate by balanced accuracy over a ``folds``-fold split of the
    identities in ``groups`` (no identity in two folds); the best one and its threshold."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedGroupKFold

    splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, groups))
    table = []
    for kind, param in CANDIDATES:
        oof = np.zeros(len(y))
        for tr, te in splits:
            oof[te] = _fit(kind, param, x[tr], y[tr], seed).predict_proba(x[te])[:, 1]
        scores = [balanced_accuracy_score(y, oof >= t) for t in THRESHOLDS]
        best = int(np.argmax(scores))
        table.append({"kind": kind, "param": param, "cv_balanced_accuracy_at_0.5": balanced_accuracy_score(y, oof >= 0.5),
                      "threshold": float(THRESHOLDS[best]), "cv_balanced_accuracy": float(scores[best])})
        log.info("%s %g: cv balanced accuracy %.4f (threshold %.3f)", kind, param, scores[best], THRESHOLDS[best])
    return {"best": max(table, key=lambda r: r["cv_balanced_accuracy"]), "candidates": table, "folds": folds}


def to_head(model, card: AttributeCard) -> AttributeHead:
    """The sklearn pipeline as numpy layers, the scaler folded into the first layer."""
    scaler, clf = model.steps[0][1], model.steps[-1][1]
    if hasattr(clf, "coefs_"):
        layers = list(zip(clf.coefs_, clf.intercepts_))
    else:
        layers = [(clf.coef_.T, clf.intercept_)]
    w, b = layers[0]
    layers[0] = (w / scaler.scale_[:, None], b - (scaler.mean_ / scaler.scale_) @ w)
    return AttributeHead(card, layers)


def evaluate(head: AttributeHead, emb: np.ndarray, labels: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """:func:`classification` of ``head`` on the rows of ``emb`` that embedded (and ``mask``)."""
    ok = ~np.isnan(emb).any(axis=1) & (mask if mask is not None else True)
    pred = (head.probability(emb[ok]) >= head.card.threshold).astype(int)
    return classification(labels[ok], pred, list(head.card.classes))


def train_gender(train_dir: str, val_dir: str | None, out: str, encoder_spec: str = "default",
                 weights: str | None = None, seed: int = 0, folds: int = 5, detector: str = "mtcnn",
                 cache_dir: Path | None = None) -> dict:
    """Select, fit and save the gender head (``out/gender.npz``; with ``val_dir`` also
    ``gender_without_val_identities.npz``); the report is returned and written to
    ``out/report.json``, val's confusion matrices to ``out/confusion.png``."""
    from facesearch.encoders import create_encoder
    from facesearch.evaluation.plots import confusion

    encoder = create_encoder(encoder_spec, weights)
    train = class_photos(train_dir)
    emb, _, errors = embed_photos(encoder, train.paths, detector, cache_dir)
    ok = ~np.isnan(emb).any(axis=1)
    if ok.sum() < 2 * folds or len(set(train.labels[ok])) < 2:
        raise DataError(f"too few usable photos in {train_dir} to train on ({int(ok.sum())})")
    groups = [g for g, k in zip(train.identities, ok) if k]
    chosen = select(emb[ok], train.labels[ok], groups, min(folds, len(set(groups))), seed)
    best = chosen["best"]
    card = AttributeCard("gender", tuple(train.classes), encoder.card.model, encoder.card.weights,
                         encoder.card.checksum, encoder.embedding_dim, best["kind"], best["threshold"],
                         encoder.card.flip, {"train": str(train_dir), "photos": int(ok.sum()), "seed": seed,
                                             "param": best["param"], "cv_balanced_accuracy": best["cv_balanced_accuracy"]})
    head = to_head(_fit(best["kind"], best["param"], emb[ok], train.labels[ok], seed), card)
    report = {"selection": chosen, "train_errors": errors, "train": evaluate(head, emb, train.labels)}
    if val_dir:
        val = class_photos(val_dir)
        vemb, _, verrors = embed_photos(encoder, val.paths, detector, cache_dir)
        unseen = np.array([i not in set(train.identities) for i in val.identities])
        report.update(val=evaluate(head, vemb, val.labels), val_unseen=evaluate(head, vemb, val.labels, unseen),
                      val_unseen_identities=len({i for i, u in zip(val.identities, unseen) if u}), val_errors=verrors,
                      val_photos_in_train=len({sha256_file(p) for p in val.paths} & {sha256_file(p) for p in train.paths}))
        # Val's identities that train shares make its figures optimistic: the chosen recipe is
        # refitted without them (a second model, saved beside), so all of val is new to it.
        apart = ok & np.array([i not in set(val.identities) for i in train.identities])
        if len(set(train.labels[apart])) < 2:
            raise DataError(f"without the identities of {val_dir}, {train_dir} has photos of one class only")
        held_out = to_head(_fit(best["kind"], best["param"], emb[apart], train.labels[apart], seed), card)
        held_out.save(Path(out) / "gender_without_val_identities.npz")
        report["val_identities_held_out"] = {"train_photos": int(apart.sum()),
                                             "val": evaluate(held_out, vemb, val.labels)}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    head.save(out_dir / "gender.npz")
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    if val_dir:
        confusion({"val": report["val"]["confusion"], "val, identities unseen in train":
                   report["val_unseen"]["confusion"], "val, model without val's identities":
                   report["val_identities_held_out"]["val"]["confusion"]}, list(train.classes), out_dir / "confusion.png")
    return report
