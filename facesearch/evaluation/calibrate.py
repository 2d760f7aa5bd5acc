"""Calibration (choose and store a threshold) and evaluation on a labelled folder, with
the gallery's encoder. Embeddings are cached in the DB by file hash and model."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..types import FileError
from . import metrics
from .labelled import Labelled, embed_folder, identification_scores, pair_scores
from .protocols import protocols

FAR_POINTS = (1e-3, 1e-2, 1e-1)


def choose_threshold(data: Labelled, objective: str = "far", target: float = 0.01) -> tuple[float, dict]:
    """Threshold and the rates it gives. far: per impostor comparison; fpir: per query of a
    person not enrolled (open set, against every other identity); f1: best pair F1."""
    genuine, impostor = pair_scores(data)
    if not len(genuine) or not len(impostor):
        raise DataError("calibration needs at least two identities with photos")
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
    except DataError as e:
        raise DataError(f"{root}: {e}") from None
    info = {"threshold": t, "objective": objective, "target": None if objective == "f1" else target_far,
            **{k: v for k, v in rates.items() if not k.startswith("_")}, "data": str(Path(root).resolve()),
            "model_checksum": gallery.encoder.card.checksum,
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
    report: dict = {"data": str(Path(root).resolve()), "encoder": gallery.meta.card.arch,
                    "model_checksum": gallery.encoder.card.checksum, "photos": len(data.paths),
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


__all__ = ["calibrate", "choose_threshold", "evaluate", "open_set"]
