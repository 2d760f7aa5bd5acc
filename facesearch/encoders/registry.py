"""The encoder registry, a leaf module in the style of timm's: families register here.

A *family* is a factory ``f(variant, weights) -> network``: a PyTorch ``nn.Module`` (exported
to ONNX to run) or a :class:`~facesearch.encoders.graphs.GraphNet` (an ONNX graph already),
carrying its own ``arch``, ``preprocess`` (:class:`~facesearch.types.Preprocess`) and
``embedding_dim``, and ``trained = True`` when it holds trained weights (``create_encoder``
refuses it otherwise; an optional ``weights_hint`` says how to get them). Weights built into
the family may be named by ``weights_checksum``; others are hashed.
Built-in families: ``sface`` registers when ``facesearch.encoders`` is imported; the PyTorch
ones (:data:`TORCH_FAMILIES`) when first named, so that only they need the ``train`` extra.
Third-party ones come from package entry points in the ``facesearch.encoders`` group or from
the modules named in ``$FACESEARCH_PLUGINS``, loaded on first use.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Callable

from ..config import PLUGIN_GROUP
from ..config import PLUGINS_ENV, settings
from ..errors import EncoderError

_FAMILIES: dict[str, Callable] = {}
TORCH_FAMILIES = {"mobilefacenet": "facesearch.encoders.mobilefacenet", "facenet": "facesearch.encoders.facenet",
                  "timm": "facesearch.encoders.timm_backbone"}
_plugins_loaded: set[str] = set()


def register_encoder(name: str):
    """Decorator: register ``factory(variant, weights) -> nn.Module`` under ``name``."""

    def wrap(factory: Callable) -> Callable:
        _FAMILIES[name] = factory
        return factory

    return wrap


def load_plugins() -> None:
    """Import encoder plugins (entry points, then $FACESEARCH_PLUGINS), each once."""
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.value not in _plugins_loaded:
            _plugins_loaded.add(ep.value)
            try:
                ep.load()
            except Exception as e:  # a broken plugin must say which one
                raise EncoderError(f"cannot load encoder plugin {ep.name!r} ({ep.value}): {e}") from None
    for mod in settings().plugins:
        if mod not in _plugins_loaded:
            try:
                importlib.import_module(mod)
            except ImportError as e:
                raise EncoderError(f"cannot import encoder plugin {mod!r} from ${PLUGINS_ENV}: {e}") from None
            _plugins_loaded.add(mod)


def list_encoders() -> list[str]:
    load_plugins()
    return sorted({*_FAMILIES, *TORCH_FAMILIES})


def build_family(arch: str, weights: str | None = None):
    """The bare network for ``family[:variant]``, with ``weights`` loaded by the family."""
    load_plugins()
    family, _, variant = arch.partition(":")
    if family not in _FAMILIES and family in TORCH_FAMILIES:
        from ..runtime import require_torch

        require_torch(f"--model {family}")
        importlib.import_module(TORCH_FAMILIES[family])
    if family not in _FAMILIES:
        raise EncoderError(f"unknown encoder {arch!r}; known: {', '.join(list_encoders())}, "
                           "or a path to a facesearch checkpoint (.pt) or graph (.onnx)")
    return _FAMILIES[family](variant or None, weights)
