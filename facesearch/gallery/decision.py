"""What decides `query`'s and `compare`'s yes/no, and why; comparing two photos.

In order: a ``--threshold`` given for the call; the user's calibration (``calibrate``,
stored in the database); the calibration shipped with the model (``weights/calibration.json``,
keyed by the encoder's checksum, so it applies to that exact model only); else none
(``accepted: null``). A shipped calibration's rules are in cohort units (``cohort.py``);
:meth:`Decider.rule_for` and :meth:`Verifier.threshold_for` turn them into the cosine rule
for one face or pair, so the answer and its explanation stay in cosine scores.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..config import CALIBRATION_SOURCES, SHIPPED_CALIBRATION
from ..faces.pipeline import Comparison, Embedder, no_face
from ..types import AcceptRule, AlignedFace, EncoderCard, FaceMatch, FileError, Match
from .cohort import Cohort

SHIPPED, USER, GIVEN = CALIBRATION_SOURCES
LOW_SCORE, AMBIGUOUS, UNUSABLE = "low score", "ambiguous", "unusable face"  # why a face is UNKNOWN


@dataclass(frozen=True)
class ShippedCalibration:
    """A model's own calibration: its impostor ``cohort``, the verification threshold and
    the identification rules by gallery size (ascending), all in cohort units."""

    cohort: Cohort
    verification: float
    rules: tuple[tuple[int, AcceptRule], ...]
    info: dict

    def rule(self, size: int) -> tuple[int, AcceptRule]:
        """The rule chosen for the smallest shipped gallery size that holds ``size``
        identities (FPIR grows with the gallery; the largest past the table)."""
        return next(((n, r) for n, r in self.rules if n >= size), self.rules[-1])

    @classmethod
    def from_dict(cls, d: dict) -> "ShippedCalibration":
        rules = tuple((int(r["gallery_size"]), AcceptRule(float(r["floor"]), r["margin"]))
                      for r in sorted(d["identification"]["rules"], key=lambda r: r["gallery_size"]))
        return cls(Cohort.from_dict(d["cohort"]), float(d["verification"]["threshold"]), rules, d)


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text())


def shipped_calibration(card: EncoderCard, path: str | Path | None = None) -> ShippedCalibration | None:
    """The calibration shipped for the encoder of ``card`` (None: it has none)."""
    path = Path(path or SHIPPED_CALIBRATION)
    if not path.is_file():
        return None
    entry = _read(str(path), path.stat().st_mtime).get(card.checksum)
    if entry is None or entry.get("flip", True) != card.flip or entry.get("embedding_dim") != card.embedding_dim:
        return None
    return ShippedCalibration.from_dict(entry)


def _cohort_of(info: dict | None, card: EncoderCard) -> Cohort | None:
    """The shipped cohort when a stored rule is in its units (``calibrate`` refined it)."""
    if not (info or {}).get("cohort"):
        return None
    shipped = shipped_calibration(card)
    return shipped.cohort if shipped is not None else None


@dataclass(frozen=True)
class Decider:
    """The identification rule (``query``), where it came from (:data:`SHIPPED`,
    :data:`USER`, :data:`GIVEN`) and, for cohort units, the cohort."""

    rule: AcceptRule
    source: str
    cohort: Cohort | None = None
    gallery_size: int | None = None  # what a shipped rule was chosen for

    def rule_for(self, vector: np.ndarray) -> AcceptRule:
        """The rule in cosine scores for the face of ``vector``: floor = cohort mean + floor x
        spread, margin x spread (a face that resembles many strangers needs more)."""
        if self.cohort is None:
            return self.rule
        mu, sd = self.cohort.stats(vector)
        margin = None if self.rule.margin is None else float(self.rule.margin * sd[0])
        return AcceptRule(float(mu[0] + self.rule.score * sd[0]), margin)


def decider_of(gallery, threshold: float | None = None, decider: str = "nn") -> Decider | None:
    """What decides ``gallery``'s queries (None: nothing calibrated, ``accepted: null``).
    With another decider than nearest neighbour only the score floor applies (the margin
    belongs to the nearest neighbour's ranking)."""
    if threshold is not None:
        return Decider(AcceptRule(threshold), GIVEN)
    meta = gallery.meta
    if meta is None:
        return None
    if meta.threshold is not None:
        out = Decider(AcceptRule.stored(meta.threshold, meta.threshold_info), USER,
                      _cohort_of(meta.threshold_info, meta.card))
    else:
        shipped = shipped_calibration(meta.card)
        if shipped is None:
            return None
        size, rule = shipped.rule(gallery.identity_count())
        out = Decider(rule, SHIPPED, shipped.cohort, size)
    if decider != "nn":
        out = Decider(AcceptRule(out.rule.score), out.source, out.cohort, out.gallery_size)
    return out


def threshold_warnings(gallery, decider: Decider | None) -> list[str]:
    """FPIR grows with the gallery: say when it outgrew the size its rule was set for (the
    user's, or the largest the shipped calibration has)."""
    size = None
    if decider is not None and decider.source == USER:
        size = (gallery.meta.threshold_info or {}).get("gallery_size")
    elif decider is not None and decider.source == SHIPPED:
        size = decider.gallery_size
    n = gallery.identity_count() if size else 0
    if size and n > 2 * size:
        return [f"the gallery has {n} identities, more than twice the {size} its threshold was calibrated "
                "for: strangers are accepted more often; run `facesearch calibrate` again"]
    return []


def why_unknown(matches: list[Match], face: AlignedFace | None, rule: AcceptRule | None) -> str | None:
    """Why the best match is not accepted, in one phrase (None: accepted or no rule)."""
    if face is not None and face.quality is not None and not face.quality.usable:
        return UNUSABLE
    if rule is None or not matches or rule.accepts(matches, face):
        return None
    return LOW_SCORE if matches[0].score < rule.score else AMBIGUOUS


def face_match(face: AlignedFace, vector: np.ndarray, matches: list[Match], k: int,
               decides: Decider | None) -> FaceMatch:
    """One face's top ``k`` of ``matches``, decided by ``decides`` (None: ``accepted`` null)."""
    if decides is None:
        return FaceMatch(face, matches[:k], None)
    rule = decides.rule_for(vector)
    return FaceMatch(face, matches[:k], rule.accepts(matches, face), calibration=decides.source,
                     reason=why_unknown(matches, face, rule), rule=rule)


@dataclass(frozen=True)
class Verifier:
    """The verification threshold (``compare``), its source and, for cohort units, the cohort."""

    threshold: float
    source: str
    cohort: Cohort | None = None

    def threshold_for(self, a: np.ndarray, b: np.ndarray) -> float:
        """The cosine score two faces need: the S-norm threshold t solved for the score,
        (2t + mu_a/sd_a + mu_b/sd_b) / (1/sd_a + 1/sd_b)."""
        if self.cohort is None:
            return self.threshold
        mu, sd = self.cohort.stats(np.stack([a, b]))
        return float((2 * self.threshold + mu[0] / sd[0] + mu[1] / sd[1]) / (1 / sd[0] + 1 / sd[1]))


def verifier_of(meta, card: EncoderCard) -> Verifier | None:
    """What decides ``compare`` for a database's ``meta`` (None: no database) and ``card``."""
    if meta is not None and meta.verify_threshold is not None:
        return Verifier(meta.verify_threshold, USER, _cohort_of(meta.verify_info, card))
    if meta is not None and meta.threshold is not None and not (meta.threshold_info or {}).get("cohort"):
        return Verifier(meta.threshold, USER)  # a first-release database has only the one threshold
    shipped = shipped_calibration(card)
    return None if shipped is None else Verifier(shipped.verification, SHIPPED, shipped.cohort)


@dataclass
class Verdict:
    """``compare``'s answer: the cosine score, whether it is one person (None: nothing
    calibrated), the score these two faces needed and which calibration decided."""

    score: float
    same: bool | None = None
    needed: float | None = None
    calibration: str | None = None
    face_found: tuple[bool, bool] = (True, True)  # False: that photo's centre crop was compared

    def record(self):
        """The JSON record, a :class:`facesearch.types.records.CompareResult` (``compare --json``,
        ``POST /v1/compare``)."""
        from ..types.records import CompareResult

        return CompareResult(score=round(self.score, 6), same=self.same,
                             threshold=None if self.needed is None else round(self.needed, 6),
                             calibration=self.calibration, face_found=dict(zip("ab", self.face_found)))

    def as_dict(self) -> dict:
        return self.record().as_dict()

    def no_face(self, a, b) -> list:
        return no_face(a, b, self.face_found)


def verdict(a: np.ndarray, b: np.ndarray, verifier: Verifier | None) -> Verdict:
    """Compare two face vectors by ``verifier``."""
    score = float(np.dot(a, b))
    if verifier is None:
        return Verdict(score)
    needed = verifier.threshold_for(a, b)
    return Verdict(score, score >= needed, needed, verifier.source)


def compare_photos(embedder: Embedder, a, b) -> Comparison | FileError:
    """Cosine similarity of the faces in two photos (paths, bytes or PIL images; centre crops
    where no face is found) and whether a face was found in each, or the first photo's error:
    the score :func:`verify_photos` decides on."""
    return embedder.compare(a, b)


def verify_photos(embedder: Embedder, a, b, verifier: Verifier | None) -> Verdict | FileError:
    """Compare the faces in two photos (paths, bytes or PIL images), or the first photo's error."""
    pair = embedder.pair(a, b)
    if isinstance(pair, FileError):
        return pair
    ra, rb = pair
    v = verdict(ra.vector, rb.vector, verifier)
    v.face_found = (bool(ra.face.detected), bool(rb.face.detected))
    return v
