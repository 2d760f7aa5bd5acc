"""Encoders: face crop -> embedding. Registry (:mod:`.registry`), spec parser
(:mod:`.spec`), builder (:mod:`.factory`), ONNX graphs (:mod:`.graphs`, :mod:`.sface`), and
the PyTorch families (``train`` extra: :mod:`.torch_net`, checkpoints, MobileFaceNet, ...)."""
from __future__ import annotations

from ..errors import EncoderError
from . import fused, sface  # noqa: F401  (register on import; the PyTorch families register when named)
from .base import Encoder
from .factory import create_encoder, load_net
from .registry import list_encoders, register_encoder

__all__ = ["Encoder", "EncoderError", "create_encoder", "list_encoders", "load_net", "register_encoder"]
