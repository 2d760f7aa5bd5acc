"""Optional features and the one line that says how to get them."""
from __future__ import annotations

from importlib.util import find_spec

from .config import TRAIN_EXTRA
from .errors import ExtraMissingError


def require_torch(feature: str) -> None:
    """Refuse ``feature`` with one line saying what to install when PyTorch is absent (the
    base install runs every shipped model in ONNX Runtime; training and PyTorch models need
    the ``train`` extra)."""
    if find_spec("torch") is None:
        raise ExtraMissingError(f"{feature} needs PyTorch, which the base install leaves out: {TRAIN_EXTRA}")
