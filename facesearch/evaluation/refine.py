"""``calibrate`` on a model that ships its own calibration: the user's labelled photos refine
the shipped rule instead of replacing it, and few photos cannot be refused for being few.

Each threshold moves from the shipped value towards the one the user's data alone would
give, by the share of evidence they hold (a shrinkage estimate):

    new = w * own + (1 - w) * shipped,   w = n / (n + n0)

n: the user's impostor comparisons (verification) or stranger searches (identification);
n0 = 10 / target, the evidence a rate of ``target`` needs on its own (about ten events at
the target, as ``thresholds.needed``): 290 impostor comparisons at FAR 1% weigh 22%,
100,000 weigh 99%. Both rules stay in the shipped cohort's units.
"""
from __future__ import annotations

from ..types import AcceptRule
from .thresholds import needed


def weight(evidence: int, target: float) -> float:
    """The user's share ``w`` of the refined threshold."""
    return evidence / (evidence + needed(target))


def _mix(own: float | None, shipped: float | None, w: float) -> float | None:
    if own is None or shipped is None:  # a margin only one side has: a gallery of one has none
        return shipped if own is None else own
    return w * own + (1 - w) * shipped


def refine_threshold(own: float | None, shipped: float, evidence: int, target: float) -> tuple[float, dict]:
    """The verification threshold and how it moved (``own`` None: the data had no impostor)."""
    w = weight(evidence, target) if own is not None else 0.0
    value = _mix(own, shipped, w)
    return value, {"shipped": shipped, "own": own, "weight": w, "evidence": int(evidence),
                   "prior": needed(target)}


def refine_rule(own: AcceptRule | None, shipped: AcceptRule, evidence: int, target: float) -> tuple[AcceptRule, dict]:
    """The identification rule (floor and margin, each shrunk) and how it moved."""
    w = weight(evidence, target) if own is not None else 0.0
    rule = AcceptRule(_mix(own and own.score, shipped.score, w), _mix(own and own.margin, shipped.margin, w))
    return rule, {"shipped": {"threshold": shipped.score, "margin": shipped.margin},
                  "own": None if own is None else {"threshold": own.score, "margin": own.margin},
                  "weight": w, "evidence": int(evidence), "prior": needed(target)}


def why(moved: dict, what: str) -> str:
    """One line: how far the user's data moved a threshold, and why that far."""
    if moved["own"] is None:
        return f"your data hold no {what}: the shipped value is kept"
    return (f"your {moved['evidence']:,} {what} weigh {moved['weight']:.0%} against the shipped calibration "
            f"(worth {moved['prior']:,}: 10 / target)")
