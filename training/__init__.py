"""Training facesearch encoders: ArcFace fine-tuning (:mod:`.trainer`), margin losses
(:mod:`.losses`), aligned-crop data (:mod:`.data`), synthetic distortions
(:mod:`.augment`), WCCN folding (:mod:`.wccn`) and fp16 export (:mod:`.export`).

A top-level package beside ``facesearch`` (it imports facesearch, never the reverse; the
``facesearch train`` command imports it lazily). Progress is reported by logging.
"""
from __future__ import annotations

import logging


def log_to_stderr(level: int = logging.INFO) -> None:
    """Show training's log records (epochs, metrics, files written) on stderr, once."""
    log = logging.getLogger(__name__)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(level)
