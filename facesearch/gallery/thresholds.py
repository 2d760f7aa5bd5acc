"""The thresholds of a gallery (a part of :class:`~.facade.Gallery`): set by ``calibrate``,
read through :mod:`.decision`, which decides ``query`` and ``compare``."""
from __future__ import annotations

import warnings

from ..types import AcceptRule
from . import decision
from .writes import under_writer_lock


class Thresholds:
    """Mixed into :class:`~.facade.Gallery` (it has ``store``, ``meta``, ``encoder``, ``refresh``)."""

    @under_writer_lock
    def set_threshold(self, value: float, info: dict) -> None:
        """The identification threshold (``query``: FPIR for this gallery's size)."""
        self.store.set_threshold(value, info)
        self.refresh()

    @under_writer_lock
    def set_verify_threshold(self, value: float, info: dict) -> None:
        """The verification threshold (``compare``: false accepts per comparison)."""
        self.store.set_verify_threshold(value, info)
        self.refresh()

    def accept_rule(self, threshold: float | None = None, decider: str = "nn") -> AcceptRule | None:
        """Deprecated: each answer of ``identify`` carries the rule its face needed (``rule``,
        ``calibration``). The rule of :func:`.decision.decider_of`: ``threshold`` alone, else
        the user's calibration, else the model's shipped one (in cohort units, which
        ``identify`` turns into each face's cosine rule); None: neither."""
        warnings.warn("Gallery.accept_rule is deprecated: each identify() answer carries the rule its face "
                      "needed (rule, calibration); facesearch.gallery.decision.decider_of(gallery) is the "
                      "deciding rule", DeprecationWarning, stacklevel=2)
        decides = decision.decider_of(self, threshold, decider)
        return None if decides is None else decides.rule

    @property
    def verify_threshold(self) -> float | None:
        """Deprecated: ``verify(a, b).needed`` is the score a pair needed. The cosine threshold
        that decides every pair (:func:`.decision.verifier_of`'s); None where none does:
        nothing calibrated, or a calibration in cohort units (the shipped one, or yours refined
        from it), whose threshold depends on the two faces."""
        warnings.warn("Gallery.verify_threshold is deprecated: Gallery.verify(a, b).needed is the score that "
                      "pair needed (a shipped calibration's depends on the faces)", DeprecationWarning, stacklevel=2)
        if self.meta is None:
            return None
        verifier = decision.verifier_of(self.meta, self.encoder.card)
        return verifier.threshold if verifier is not None and verifier.cohort is None else None
