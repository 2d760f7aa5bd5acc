"""Calibration (choose and store a threshold) and evaluation on a labelled folder, with
the gallery's encoder. Embeddings are cached in the DB by file hash and model."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..types import AcceptRule, FileError, Match
from . import metrics
from .labelled import Labelled, embed_folder, pair_scores
from .protocols import best_per_identity, protocols
from ..gallery.decision import decider_of, shipped_calibration, verifier_of
from .refine import refine_rule, refine_threshold
from .thresholds import (det_curve, genuine_accept_rate, identification_threshold, stranger_rate,
                         verification_threshold)

FAR_POINTS = (1e-3, 1e-2, 1e-1)
DEFAULT_TARGET_FPIR = 0.01


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _before(gallery) -> dict:
    """The rules deciding before this calibration: {"identification", "verification"}, each
    {"threshold", "margin", "calibration", "units"} or None."""
    out = {"identification": None, "verification": None}
    d = decider_of(gallery)
    if d is not None:
        out["identification"] = {"threshold": d.rule.score, "margin": d.rule.margin, "calibration": d.source,
                                 "units": "cohort" if d.cohort is not None else "cosine"}
    v = verifier_of(gallery.meta, gallery.encoder.card)
    if v is not None:
        out["verification"] = {"threshold": v.threshold, "calibration": v.source,
                               "units": "cohort" if v.cohort is not None else "cosine"}
    return out


def calibrate(gallery, root, objective: str | None = None, target_far: float = 0.01,
              target_fpir: float | None = None, progress=None, force: bool = False) -> tuple[dict, list[FileError]]:
    """Choose and store both thresholds on labelled ``root``: identification (``query``;
    FPIR ``target_fpir`` in a gallery of the DB's size) and verification (``compare``;
    ``target_far`` per comparison, or best F1 with ``objective="f1"``). ``objective="fpir"``
    without ``target_fpir`` takes ``target_far`` as the FPIR target (the first release's
    ``--objective fpir --target-far X``). For a model that ships a calibration the data
    refine the shipped rules (``refine.py``; in its cohort's units) and are never too few.

    The result describes the identification threshold at its top level (``threshold``,
    ``fpir``, ``tpir``, pair rates at it, ...), the verification one under
    ``verification``; ``replaced`` is the identification threshold it replaced, or None;
    ``previous``: the rules that decided before (shipped or user)."""
    if target_fpir is None:
        target_fpir = target_far if objective == "fpir" else DEFAULT_TARGET_FPIR
    data, errors = embed_folder(gallery, root, progress)
    shipped = shipped_calibration(gallery.encoder.card)
    if shipped is not None:
        data.cohort = shipped.cohort
    force = force or shipped is not None
    size = max(1, gallery.store.identity_count())
    problems = []
    try:
        tv, verify = verification_threshold(data, "f1" if objective == "f1" else "far", target_far, force)
    except DataError as e:
        problems.append(str(e))
    try:
        rule, ident = identification_threshold(data, target_fpir, size, force)
    except DataError as e:
        problems.append(str(e))
    if problems:  # both at once: the user fixes the data once
        raise DataError(f"{root}: {'; '.join(dict.fromkeys(problems))}")
    genuine, impostor = verify.pop("_genuine"), verify.pop("_impostor")
    common = {"data": str(Path(root).resolve()), "model_checksum": gallery.encoder.card.checksum, "date": _now(),
              "calibration": "user"}
    v_refined = i_refined = None
    if shipped is not None:
        common["cohort"] = True  # the rules are in the shipped cohort's units
        tv, v_refined = refine_threshold(tv, shipped.verification, len(impostor), target_far)
        verify.update(metrics.prf(genuine, impostor, tv))
        rule, i_refined = refine_rule(rule, shipped.rule(size)[1], ident["queries"], target_fpir)
        ident.update(fpir=stranger_rate(data, rule, size), tpir=genuine_accept_rate(data, rule, size),
                     margin=rule.margin)
    v_info = {"threshold": tv, "objective": "f1" if objective == "f1" else "far",
              "target": None if objective == "f1" else target_far, **verify, **common, "refined": v_refined}
    ti = rule.score  # the stored threshold; the margin is stored in the info beside it
    info = {"threshold": ti, "objective": "fpir", "target": target_fpir, **metrics.prf(genuine, impostor, ti),
            **ident, "genuine_pairs": v_info["genuine_pairs"], "impostor_pairs": v_info["impostor_pairs"], **common,
            "refined": i_refined}
    meta = gallery.meta
    replaced = None
    if meta is not None and meta.threshold is not None:
        replaced = {**(meta.threshold_info or {}), "threshold": meta.threshold}
    previous = _before(gallery)
    gallery.set_threshold(ti, info)
    gallery.set_verify_threshold(tv, v_info)
    det = det_curve(data, size, rule=rule)
    return {**info, "verification": v_info, "replaced": replaced, "previous": previous, "_genuine": genuine,
            "_impostor": impostor, "_det": det}, errors


def _rate(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if len(hits) else None


def open_set(data: Labelled, rule: AcceptRule) -> dict:
    """Enrol every other identity: its clean photos, or, in plain person folders (no
    distorted photos), its first photo. Query the distorted photos of all, or every photo
    not enrolled, accepted by ``rule`` as `query` does. A rate with no query to measure it
    is None."""
    kinds = np.array(data.kinds)
    clean = kinds == "clean"
    enrolled = np.arange(len(data.names)) % 2 == 0
    g = clean & enrolled[data.labels]
    if clean.all():  # keep photos of enrolled people to query
        g &= np.isin(np.arange(len(data.labels)), np.unique(data.labels, return_index=True)[1])
    q = ~clean if (~clean).any() else ~g
    known = enrolled[data.labels[q]]
    usable = data.usable[q] if data.usable is not None else np.ones(int(q.sum()), bool)
    out = {"enrolled_identities": int(enrolled.sum()), "unenrolled_identities": int((~enrolled).sum()),
           "queries": int(q.sum()), "false_accept_rate": None, "correct_accept_rate": None,
           "wrong_accept_rate": None, "unusable_queries": int((~usable).sum())}
    if g.any() and q.any():
        sims = data.emb[q] @ data.emb[g].T
        if data.cohort is not None:  # the rule is in the cohort's units
            sims = data.cohort.znorm(sims, data.emb[q])
        per_identity = best_per_identity(sims, data.labels[g], len(data.names))
        order = np.argsort(-per_identity, axis=1)[:, :2]
        top_label = order[:, 0]
        accepted = np.array([ok and rule.accepts([Match("", float(row[i]), "") for i in top if np.isfinite(row[i])], None)
                             for row, top, ok in zip(per_identity, order, usable)], bool)
        right = top_label == data.labels[q]
        out["false_accept_rate"] = _rate(accepted[~known])
        out["correct_accept_rate"] = _rate((accepted & right)[known])
        out["wrong_accept_rate"] = _rate((accepted & ~right)[known])
    return out


def evaluate(gallery, root, progress=None) -> tuple[dict, list[FileError], Labelled]:
    data, errors = embed_folder(gallery, root, progress)
    genuine, impostor = pair_scores(data)  # cosine scores: ROC, TAR at FAR
    decides = decider_of(gallery)
    data.cohort = decides.cohort if decides is not None else None  # the deciding rule's units from here
    report: dict = {"data": str(Path(root).resolve()), "encoder": gallery.meta.card.arch,
                    "model_checksum": gallery.encoder.card.checksum, "photos": len(data.paths),
                    "identities": len(data.names)}
    report["protocols"] = protocols(data.emb, data)
    report["roc_auc"] = metrics.roc_auc(genuine, impostor)
    report["tar_at_far"] = {str(f): metrics.tar_at_far(genuine, impostor, f) for f in FAR_POINTS}
    rule = None if decides is None else decides.rule
    report["threshold"] = None if rule is None else rule.score
    if rule is not None:
        report["calibration"] = decides.source
        report["units"] = "cosine" if decides.cohort is None else "cohort"
        report["margin"] = rule.margin
        report["at_threshold"] = metrics.prf(*pair_scores(data), rule.score)
        report["open_set"] = open_set(data, rule)
    report["_genuine"], report["_impostor"] = genuine, impostor
    return report, errors, data


__all__ = ["calibrate", "evaluate", "open_set"]
