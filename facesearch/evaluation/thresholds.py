"""Choosing thresholds from labelled similarity scores.

- **verification** (``compare``): false accepts per impostor *comparison* (``far``), or the
  best pair F1 (``f1``).
- **identification** (``query``): FPIR, the share of queries of people *not enrolled*
  whose best match in a gallery of N identities is accepted. FPIR grows with N, so the
  rule is chosen for the gallery's size, by simulating galleries of N identities drawn
  from the labelled data. The rule (:class:`~facesearch.types.AcceptRule`) accepts a best
  match that scores at least a floor *and* beats the runner-up identity by a margin: a
  stranger's best match is one of many look-alikes, close to the next, while a known
  face stands out (chosen over the best score alone on training identities: at FPIR 1%
  it accepted more enrolled people and fewer strangers, docs/results.md, open set). The floor is
  the score one identity's impostors pass at the target rate (alone it is the rule for a
  gallery of one); the margin is the smallest that holds the simulated FPIR to the target.
  When the DB holds more identities than the labelled data can simulate (M, one fewer than
  it has), the rule is chosen in galleries of M for the target FPIR(M) that extrapolates to
  the wanted FPIR(N) = 1 - (1 - FPIR(M))^(N / M) (a gallery of N as N / M independent
  blocks); with M = 1 that is the best score alone at the per-identity false-match rate.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DataError
from ..types import AcceptRule
from . import metrics
from .labelled import Labelled, identification_scores, missing_pairs, pair_scores, query_gallery
from .protocols import best_per_identity

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
        raise DataError("; ".join(missing_pairs(data)))
    if not force:
        check_enough(objective, target, len(genuine), len(impostor), 0)
    t = metrics.threshold_max_f1(genuine, impostor) if objective == "f1" else metrics.threshold_at_far(impostor, target)
    return t, {**metrics.prf(genuine, impostor, t), "genuine_pairs": int(len(genuine)),
               "impostor_pairs": int(len(impostor)), "_genuine": genuine, "_impostor": impostor}


def identity_scores(data: Labelled, product=None) -> tuple[np.ndarray, np.ndarray]:
    """Per query, its best score against each identity (Q x I; its own identity -inf), and
    the query labels. ``product``: :func:`query_gallery`'s answer, when the caller has it."""
    s, ql, gl = product if product is not None else query_gallery(data)
    scores = best_per_identity(s, gl, len(data.names))
    scores[np.arange(len(ql)), ql] = -np.inf
    return scores, ql


def stranger_scores(data: Labelled, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """Best and runner-up scores of queries searched as strangers in galleries of ``size``
    other identities, drawn at random (:data:`SIMULATED_GALLERIES` per query; runner-up
    -inf in a gallery of one); None when the data has too few identities to draw them."""
    scores, _ = identity_scores(data)
    return _strangers(scores, size, seed) if _others_per_query(scores) >= size else None


def _hits_and_identity_scores(data: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """:func:`identification_scores`' hits and :func:`identity_scores`' matrix, from one
    query x gallery product."""
    product = query_gallery(data)
    return identification_scores(data, product)[0], identity_scores(data, product)[0]


def _strangers(scores: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stranger_scores` on :func:`identity_scores`' matrix, computed once by the caller."""
    rng = np.random.default_rng(seed)
    best, second = [], []
    for _ in range(SIMULATED_GALLERIES):
        keys = rng.random(scores.shape)
        keys[~np.isfinite(scores)] = np.inf  # never draw the query's own identity
        kth = np.partition(keys, size - 1, axis=1)[:, size - 1:size]
        drawn = np.where(keys <= kth, scores, -np.inf)
        top2 = -np.partition(-drawn, 1, axis=1)[:, :2] if drawn.shape[1] > 1 else np.c_[drawn, np.full(len(drawn), -np.inf)]
        best.append(top2[:, 0])
        second.append(top2[:, 1])
    return np.concatenate(best), np.concatenate(second)


def _margins(best: np.ndarray, second: np.ndarray, floor: float) -> np.ndarray:
    """What the margin condition sees: best - runner-up where the floor is met (+inf with no
    runner-up: the floor decides alone), -inf where it is not (never accepted)."""
    with np.errstate(invalid="ignore"):
        m = np.where(np.isfinite(second), best - second, np.inf)
    return np.where(best >= floor, m, -np.inf)


def identification_threshold(data: Labelled, target: float = 0.01, size: int = 1,
                             force: bool = False, min_floor: float = -np.inf) -> tuple[AcceptRule, dict]:
    """The accept rule for FPIR ``target`` in a gallery of ``size`` identities, the rates it
    gives and the method used (see the module doc). ``min_floor``: the score floor is at
    least this (a stricter floor chosen by the caller, e.g. for the hardest group)."""
    if len(set(data.labels.tolist())) < 2:
        raise DataError("; ".join(missing_pairs(data)))
    hit, scores = _hits_and_identity_scores(data)
    if not force:
        check_enough("fpir", target, 0, 0, len(hit))
    per_identity = scores[np.isfinite(scores)]
    sim = min(size, _others_per_query(scores))  # the largest gallery the data can simulate
    # beyond it: FPIR(N) = 1 - (1 - FPIR(M))^(N / M), galleries as independent blocks of M
    sim_target = target if sim == size else 1 - (1 - target) ** (sim / size)
    trials = len(per_identity) if sim == 1 else len(hit) * SIMULATED_GALLERIES  # stranger searches simulated
    if not force and sim < size and trials < needed(sim_target):
        raise DataError(f"{trials:,} simulated stranger searches cannot support FPIR {target:g} in a gallery of "
                        f"{size:,} (extrapolated from galleries of {sim}): at least {needed(sim_target):,} are "
                        f"needed {MORE_DATA}")
    if sim == 1:  # no runner-up to simulate: the best score alone, per identity
        rule = AcceptRule(max(metrics.threshold_at_far(per_identity, sim_target), min_floor))
        fpir_sim = float(np.mean(per_identity >= rule.score))
    else:
        floor = max(metrics.threshold_at_far(per_identity, target), min_floor)  # alone, it holds a gallery of one
        margins = _margins(*_strangers(scores, sim, 0), floor)
        rule = AcceptRule(floor, max(0.0, metrics.threshold_at_far(margins, sim_target)))
        fpir_sim = float(np.mean(margins >= rule.margin))
    fpir = fpir_sim if sim == size else float(1 - (1 - fpir_sim) ** (size / sim))
    how = ("best score alone" if rule.margin is None else "best score >= floor and best - runner-up >= margin")
    method = (f"simulated: {SIMULATED_GALLERIES} galleries of {size} labelled identities per query; {how}"
              if sim == size else
              f"simulated in galleries of {sim} labelled identities ({SIMULATED_GALLERIES} per query) for FPIR "
              f"{sim_target:.3g}, extrapolated to {size}: FPIR(N) = 1 - (1 - FPIR({sim}))^(N / {sim}); {how}")
    return rule, {"fpir": fpir, "tpir": _genuine_rate(hit, scores, rule, size), "gallery_size": int(size),
                  "method": method, "queries": int(len(hit)), "margin": rule.margin}


def genuine_accept_rate(data: Labelled, rule: AcceptRule, size: int, seed: int = 1) -> float:
    """TPIR: the share of enrolled people's queries accepted with the right name, the
    runner-up drawn from ``size - 1`` other identities (all of them when fewer)."""
    hit, scores = _hits_and_identity_scores(data)
    return _genuine_rate(hit, scores, rule, size, seed)


def _genuine_rate(hit: np.ndarray, scores: np.ndarray, rule: AcceptRule, size: int, seed: int = 1) -> float:
    if rule.margin is None:
        return float(np.mean(hit >= rule.score))
    return float(np.mean(_genuine_margins(hit, scores, rule.score, size, seed) >= rule.margin))


def _genuine_margins(hit: np.ndarray, scores: np.ndarray, floor: float, size: int, seed: int) -> np.ndarray:
    """:func:`_margins` of enrolled people's queries, the runner-up drawn from ``size - 1``
    other identities (all of them when fewer; none in a gallery of one)."""
    if size == 1:
        return _margins(hit, np.full(len(hit), -np.inf), floor)
    runner_up, _ = _strangers(scores, min(size - 1, _others_per_query(scores)), seed)
    return _margins(hit, runner_up[:len(hit)], floor)


def _others_per_query(scores: np.ndarray) -> int:
    """Identities every query can meet as a stranger (its own excluded)."""
    return int(np.isfinite(scores).sum(axis=1).min())


def det_curve(data: Labelled, size: int, points: int = 200, rule: AcceptRule | None = None):
    """(FPIR, FNIR, score thresholds) of identification by the best score alone in galleries
    of ``size`` identities (FNIR = enrolled queries not accepted with the right name), and,
    for a ``rule`` with a margin, its own curve at its floor: {"fpir", "fnir", "point"}
    (``point``: the rule's operating point); else None."""
    hit, scores = _hits_and_identity_scores(data)
    strangers = _strangers(scores, size, 0) if _others_per_query(scores) >= size else None
    finite = scores[np.isfinite(scores)]
    lo, hi = float(finite.min()), float(max(finite.max(), hit[np.isfinite(hit)].max(initial=0)))
    ts = np.linspace(lo, hi, points)
    if strangers is not None:
        fpir = np.array([np.mean(strangers[0] >= t) for t in ts])
    else:
        fpir = 1 - (1 - np.array([np.mean(finite >= t) for t in ts])) ** size
    fnir = np.array([np.mean(~(hit >= t)) for t in ts])
    margin_curve = None
    if rule is not None and rule.margin is not None and strangers is not None and size > 1:
        s_m = _margins(*strangers, rule.score)
        g_m = _genuine_margins(hit, scores, rule.score, size, 1)
        ms = np.linspace(0, 1, points)
        margin_curve = {"fpir": np.array([np.mean(s_m >= m) for m in ms]),
                        "fnir": np.array([np.mean(~(g_m >= m)) for m in ms]),
                        "point": (float(np.mean(s_m >= rule.margin)), float(np.mean(~(g_m >= rule.margin))))}
    return fpir, fnir, ts, margin_curve


def stranger_rate(data: Labelled, rule: AcceptRule, size: int, seed: int = 0) -> float:
    """FPIR of ``rule`` in galleries of ``size``: the share of queries searched as strangers
    in simulated galleries whose best match it accepts; past the largest gallery the data
    can simulate (M), extrapolated as FPIR(N) = 1 - (1 - FPIR(M))^(N / M)."""
    scores, _ = identity_scores(data)
    sim = min(size, _others_per_query(scores))
    best, second = _strangers(scores, sim, seed)
    if rule.margin is None:
        rate = float(np.mean(best >= rule.score))
    else:
        rate = float(np.mean(_margins(best, second, rule.score) >= rule.margin))
    return rate if sim == size else float(1 - (1 - rate) ** (size / sim))
