"""Calibration (choose and store a threshold) and evaluation on a labelled folder, with
the gallery's encoder. Embeddings are cached in the DB by file hash and model."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..types import FileError
from . import metrics
from .labelled import Labelled, embed_folder, identification_scores, pair_scores
from .protocols import protocols

FAR_POINTS = (1e-3, 1e-2, 1e-1)
# A rate of r is measured from at least 10 / r trials: about ten events at the target.
EVENTS_AT_TARGET = 10
MORE_DATA = "(more identities and photos), or pass --force"


def _needed(target: float) -> int:
    return math.ceil(EVENTS_AT_TARGET / target - 1e-9)  # 10 / 0.01 is 1000, not 1001


def check_enough(objective: str, target: float, genuine: int, impostor: int, queries: int) -> None:
    """DataError unless the counts can support ``target``: with too few comparisons the
    chosen threshold is the lowest score seen, and strangers pass it."""
    if objective == "far" and impostor < _needed(target):
        raise DataError(f"{impostor:,} impostor comparisons cannot support --target-far {target:g}: "
                        f"at least {_needed(target):,} are needed {MORE_DATA}")
    if objective == "fpir" and queries < _needed(target):
        raise DataError(f"{queries:,} queries cannot support --objective fpir --target-far {target:g}: "
                        f"at least {_needed(target):,} are needed {MORE_DATA}")
    if objective == "f1" and min(genuine, impostor) < EVENTS_AT_TARGET:
        raise DataError(f"{genuine:,} genuine / {impostor:,} impostor comparisons cannot support "
                        f"--objective f1: at least {EVENTS_AT_TARGET} of each are needed {MORE_DATA}")


def choose_threshold(data: Labelled, objective: str = "far", target: float = 0.01,
                     force: bool = False) -> tuple[float, dict]:
    """Threshold and the rates it gives. far: per impostor comparison; fpir: per query of a
    person not enrolled (open set, against every other identity); f1: best pair F1.
    ``force`` skips :func:`check_enough`."""
    genuine, impostor = pair_scores(data)
    if not len(genuine) or not len(impostor):
        raise DataError("calibration needs at least two identities with photos")
    hit, stranger = identification_scores(data) if objective == "fpir" else (None, None)
    if not force:
        check_enough(objective, target, len(genuine), len(impostor), 0 if stranger is None else len(stranger))
    if objective == "fpir":
        t = metrics.threshold_at_far(stranger, target)
        rates = {"fpir": float(np.mean(stranger >= t)), "tpir": float(np.mean(hit >= t))}
    else:
        t = (metrics.threshold_max_f1(genuine, impostor) if objective == "f1"
             else metrics.threshold_at_far(impostor, target))
        rates = {}
    return t, {**metrics.prf(genuine, impostor, t), **rates, "genuine_pairs": int(len(genuine)),
               "impostor_pairs": int(len(impostor)), "_genuine": genuine, "_impostor": impostor}


def calibrate(gallery, root, objective="far", target_far=0.01, progress=None,
              force: bool = False) -> tuple[dict, list[FileError]]:
    """Choose and store a threshold. The result's ``replaced`` is the threshold it replaced
    (its value and stored info), or None."""
    data, errors = embed_folder(gallery, root, progress)
    try:
        t, rates = choose_threshold(data, objective, target_far, force)
    except DataError as e:
        raise DataError(f"{root}: {e}") from None
    info = {"threshold": t, "objective": objective, "target": None if objective == "f1" else target_far,
            **{k: v for k, v in rates.items() if not k.startswith("_")}, "data": str(Path(root).resolve()),
            "model_checksum": gallery.encoder.card.checksum,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    meta = gallery.meta
    replaced = None
    if meta is not None and meta.threshold is not None:
        replaced = {**(meta.threshold_info or {}), "threshold": meta.threshold}
    gallery.set_threshold(t, info)
    return {**info, "replaced": replaced, "_genuine": rates["_genuine"], "_impostor": rates["_impostor"]}, errors


def _rate(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if len(hits) else None


def open_set(data: Labelled, threshold: float) -> dict:
    """Enrol every other identity: its clean photos, or, in plain person folders (no
    distorted photos), its first photo. Query the distorted photos of all, or every photo
    not enrolled. A rate with no query to measure it is None."""
    kinds = np.array(data.kinds)
    clean = kinds == "clean"
    enrolled = np.arange(len(data.names)) % 2 == 0
    g = clean & enrolled[data.labels]
    if clean.all():  # keep photos of enrolled people to query
        g &= np.isin(np.arange(len(data.labels)), np.unique(data.labels, return_index=True)[1])
    q = ~clean if (~clean).any() else ~g
    known = enrolled[data.labels[q]]
    out = {"enrolled_identities": int(enrolled.sum()), "unenrolled_identities": int((~enrolled).sum()),
           "queries": int(q.sum()), "false_accept_rate": None, "correct_accept_rate": None}
    if g.any() and q.any():
        sims = data.emb[q] @ data.emb[g].T
        top_label = data.labels[g][sims.argmax(axis=1)]
        accepted = sims.max(axis=1) >= threshold
        out["false_accept_rate"] = _rate(accepted[~known])
        out["correct_accept_rate"] = _rate((accepted & (top_label == data.labels[q]))[known])
    return out


def evaluate(gallery, root, progress=None) -> tuple[dict, list[FileError], Labelled]:
    data, errors = embed_folder(gallery, root, progress)
    genuine, impostor = pair_scores(data)
    report: dict = {"data": str(Path(root).resolve()), "encoder": gallery.meta.card.arch,
                    "model_checksum": gallery.encoder.card.checksum, "photos": len(data.paths),
                    "identities": len(data.names)}
    report["protocols"] = protocols(data.emb, data)
    report["roc_auc"] = metrics.roc_auc(genuine, impostor)
    report["tar_at_far"] = {str(f): metrics.tar_at_far(genuine, impostor, f) for f in FAR_POINTS}
    t = gallery.meta.threshold
    report["threshold"] = t
    if t is not None:
        report["at_threshold"] = metrics.prf(genuine, impostor, t)
        report["open_set"] = open_set(data, t)
    report["_genuine"], report["_impostor"] = genuine, impostor
    return report, errors, data


__all__ = ["calibrate", "check_enough", "choose_threshold", "evaluate", "open_set"]
