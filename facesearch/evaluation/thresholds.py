"""Choosing thresholds from labelled similarity scores.

- **verification** (``compare``): false accepts per impostor *comparison* (``far``), or the
  best pair F1 (``f1``).
- **identification** (``query``): FPIR, the share of queries of people *not enrolled*
  whose best match in a gallery of N identities is accepted. FPIR grows with N, so the
  threshold is chosen for the gallery's size: by simulating galleries of N identities drawn
  from the labelled data when it has more than N identities, else by extrapolating from the
  per-identity false-match rate p: FPIR(N) = 1 - (1 - p)^N (identities independent).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DataError
from . import metrics
from .labelled import Labelled, identification_scores, pair_scores, query_gallery

# A rate of r is measured from at least 10 / r trials: about ten events at the target.
EVENTS_AT_TARGET = 10
MORE_DATA = "(more identities and photos), or pass --force"
SIMULATED_GALLERIES = 10


def needed(target: float) -> int:
    return math.ceil(EVENTS_AT_TARGET / target - 1e-9)  # 10 / 0.01 is 1000, not 1001


def check_enough(objective: str, target: float, genuine: int, impostor: int, queries: int) -> None:
    """DataError unless the counts can support ``target``: with too few comparisons the
    chosen threshold is the lowest score seen, and strangers pass it."""
    if objective == "far" and impostor < needed(target):
        raise DataError(f"{impostor:,} impostor comparisons cannot support --target-far {target:g}: "
                        f"at least {needed(target):,} are needed {MORE_DATA}")
    if objective == "fpir" and queries < needed(target):
        raise DataError(f"{queries:,} queries cannot support --target-fpir {target:g}: "
                        f"at least {needed(target):,} are needed {MORE_DATA}")
    if objective == "f1" and min(genuine, impostor) < EVENTS_AT_TARGET:
        raise DataError(f"{genuine:,} genuine / {impostor:,} impostor comparisons cannot support "
                        f"--objective f1: at least {EVENTS_AT_TARGET} of each are needed {MORE_DATA}")


def verification_threshold(data: Labelled, objective: str = "far", target: float = 0.01,
                           force: bool = False) -> tuple[float, dict]:
    """Threshold per comparison and the pair rates it gives (``force`` skips the data check)."""
    genuine, impostor = pair_scores(data)
    if not len(genuine) or not len(impostor):
        raise DataError("calibration needs at least two identities with photos")
    if not force:
        check_enough(objective, target, len(genuine), len(impostor), 0)
    t = metrics.threshold_max_f1(genuine, impostor) if objective == "f1" else metrics.threshold_at_far(impostor, target)
    return t, {**metrics.prf(genuine, impostor, t), "genuine_pairs": int(len(genuine)),
               "impostor_pairs": int(len(impostor)), "_genuine": genuine, "_impostor": impostor}


def identity_scores(data: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """Per query, its best score against each identity (Q x I; its own identity -inf), and
    the query labels."""
    s, ql, gl = query_gallery(data)
    scores = np.full((len(ql), len(data.names)), -np.inf, np.float32)
    for c in np.unique(gl):
        scores[:, c] = s[:, gl == c].max(axis=1)
    scores[np.arange(len(ql)), ql] = -np.inf
    return scores, ql


def stranger_scores(data: Labelled, size: int, seed: int = 0) -> np.ndarray | None:
    """Best scores of queries searched as strangers in galleries of ``size`` other
    identities, drawn at random (:data:`SIMULATED_GALLERIES` per query); None when the
    data has too few identities to draw them."""
    scores, _ = identity_scores(data)
    if np.isfinite(scores).any(axis=0).sum() < size:  # identities a stranger can be searched among
        return None
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(SIMULATED_GALLERIES):
        keys = rng.random(scores.shape)
        keys[~np.isfinite(scores)] = np.inf  # never draw the query's own identity
        kth = np.partition(keys, size - 1, axis=1)[:, size - 1:size]
        out.append(np.where(keys <= kth, scores, -np.inf).max(axis=1))
    return np.concatenate(out)


def identification_threshold(data: Labelled, target: float = 0.01, size: int = 1,
                             force: bool = False) -> tuple[float, dict]:
    """The threshold for FPIR ``target`` in a gallery of ``size`` identities, the rates it
    gives and the method used (see the module doc)."""
    if len(set(data.labels.tolist())) < 2:
        raise DataError("calibration needs at least two identities with photos")
    hit, _ = identification_scores(data)
    if not force:
        check_enough("fpir", target, 0, 0, len(hit))
    strangers = stranger_scores(data, size)
    if strangers is not None:
        t = metrics.threshold_at_far(strangers, target)
        fpir = float(np.mean(strangers >= t))
        method = f"simulated: {SIMULATED_GALLERIES} galleries of {size} labelled identities per query"
    else:
        scores, _ = identity_scores(data)
        per_identity = scores[np.isfinite(scores)]
        p = 1 - (1 - target) ** (1 / size)
        if not force and len(per_identity) < needed(p):
            raise DataError(f"{len(per_identity):,} query-identity comparisons cannot support FPIR {target:g} "
                            f"in a gallery of {size:,}: at least {needed(p):,} are needed {MORE_DATA}")
        t = metrics.threshold_at_far(per_identity, p)
        fpir = float(1 - (1 - np.mean(per_identity >= t)) ** size)
        method = (f"extrapolated from {len(data.names)} labelled identities: FPIR(N) = 1 - (1 - p)^N, "
                  "p the per-identity false-match rate")
    return t, {"fpir": fpir, "tpir": float(np.mean(hit >= t)), "gallery_size": int(size), "method": method,
               "queries": int(len(hit))}


def det_curve(data: Labelled, size: int, points: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FPIR, FNIR, thresholds) of identification in galleries of ``size`` identities;
    FNIR = enrolled queries not accepted with the right name."""
    hit, _ = identification_scores(data)
    strangers = stranger_scores(data, size)
    scores, _ = identity_scores(data)
    finite = scores[np.isfinite(scores)]
    lo, hi = float(finite.min()), float(max(finite.max(), hit[np.isfinite(hit)].max(initial=0)))
    ts = np.linspace(lo, hi, points)
    if strangers is not None:
        fpir = np.array([np.mean(strangers >= t) for t in ts])
    else:
        fpir = 1 - (1 - np.array([np.mean(finite >= t) for t in ts])) ** size
    fnir = np.array([np.mean(~(hit >= t)) for t in ts])
    return fpir, fnir, ts
