"""Encoders: face crop -> embedding. Registry (:mod:`.registry`), spec parser
(:mod:`.spec`), builder (:mod:`.factory`), checkpoints, and the built-in families."""
from __future__ import annotations

from ..errors import EncoderError
from . import facenet, mobilefacenet, timm_backbone  # noqa: F401  (built-in families register on import)
from .base import Encoder
from .factory import create_encoder, load_net
from .registry import list_encoders, register_encoder

__all__ = ["Encoder", "EncoderError", "create_encoder", "list_encoders", "load_net", "register_encoder"]
