"""Who a query names and accepts: the strategies of ``query --decider``, chosen once a call.

A :class:`Naming` ranks identities for face vectors and decides each photo's faces:

- :class:`NearestNeighbour` (``nn``): identities by their best photo's cosine score; the
  rule of :mod:`.decision` (the calibrated cohort rule: score floor + margin over the
  runner-up, per face) accepts, the corrections veto and faces of one photo are assigned
  distinct identities (:mod:`.assignment`).
- :class:`SupportVectors` (``svc``): identities ranked by the fitted classifier
  (:mod:`.classifier`); each keeps its best photo's cosine score, which the rule's score
  floor judges (the margin belongs to nearest neighbour's ranking, so ``decider_of`` drops it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..types import FaceMatch, Match
from .assignment import Vetoes, decide
from .classifier import Classifier
from .decision import Decider

Ranked = Callable[[np.ndarray, int], list[list[Match]]]  # vectors, k -> identities per vector


class Naming(Protocol):
    rule: Decider | None  # None: nothing calibrated, ``accepted`` is null

    def fetch(self, k: int) -> int:
        """Identities to rank so that ``k`` can be decided (a margin needs a runner-up)."""

    def rank(self, vectors: np.ndarray, k: int) -> list[list[Match]]:
        """Up to ``k`` identities per vector, best first."""

    def decide(self, pairs: list, matches: list[list[Match]], k: int) -> list[FaceMatch]:
        """The answers for the faces of one photo (``pairs``: (face, vector))."""


@dataclass
class NearestNeighbour:
    nearest: Ranked
    rule: Decider | None
    vetoes: Vetoes = field(default_factory=dict)

    def fetch(self, k: int) -> int:
        return max(k, 2) if self.rule is not None and self.rule.rule.margin is not None else k

    def rank(self, vectors: np.ndarray, k: int) -> list[list[Match]]:
        return self.nearest(vectors, k)

    def decide(self, pairs: list, matches: list[list[Match]], k: int) -> list[FaceMatch]:
        return decide(pairs, matches, self.rule, k, self.vetoes)


@dataclass
class SupportVectors(NearestNeighbour):
    classifier: Classifier | None = None

    def rank(self, vectors: np.ndarray, k: int) -> list[list[Match]]:
        if len(vectors) == 0:
            return []
        everyone = self.nearest(vectors, len(self.classifier.model.classes_))  # each identity's best photo
        out = []
        for ranked, nearest in zip(self.classifier.top(vectors, k), everyone):
            best = {m.identity: m for m in nearest}
            out.append([Match(name, best[name].score, best[name].photo, p, best[name].photo_id)
                        for name, p in ranked if name in best])
        return out
