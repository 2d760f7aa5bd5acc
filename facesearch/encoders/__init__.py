"""Encoder registry, in the style of timm: ``register_encoder`` + ``create_encoder``.

An encoder *family* is a factory ``f(variant, weights) -> nn.Module``; the module carries
its own ``preprocess`` (a :class:`~facesearch.types.Preprocess`) and ``embedding_dim``.
Model specs understood by :func:`create_encoder`:

- ``mobilefacenet``                  family name (``--weights`` gives a state dict)
- ``facenet:vggface2``               family with a variant (here: pretrained set)
- ``timm:efficientnet_b0``           any timm backbone + linear embedding
- ``runs/x/best.pt``                 a facesearch training checkpoint
- ``default``                        the model shipped in the package
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .base import Encoder, EncoderError, file_checksum

_FAMILIES: dict[str, Callable] = {}


def register_encoder(name: str):
    """Decorator: register ``factory(variant, weights) -> nn.Module`` under ``name``."""

    def wrap(factory: Callable) -> Callable:
        _FAMILIES[name] = factory
        return factory

    return wrap


def list_encoders() -> list[str]:
    _load_builtin_families()
    return sorted(_FAMILIES)


def split_spec(spec: str) -> tuple[str, str | None]:
    family, _, variant = spec.partition(":")
    return family, (variant or None)


def build_net(spec: str, weights: str | None = None):
    """Instantiate the bare network for ``spec`` (no checkpoint handling)."""
    _load_builtin_families()
    family, variant = split_spec(spec)
    if family not in _FAMILIES:
        raise EncoderError(f"unknown encoder {spec!r}; known: {', '.join(sorted(_FAMILIES))}, "
                           "or a path to a facesearch checkpoint (.pt)")
    return _FAMILIES[family](variant, weights)


def create_encoder(spec: str | None = None, weights: str | None = None, flip: bool = True,
                   device: str | None = None) -> Encoder:
    """Build a ready-to-use :class:`Encoder` from a model spec (see module doc)."""
    from . import checkpoint  # local: pulls torch

    spec = spec or "default"
    if spec == "default":
        enc = checkpoint.load_encoder(checkpoint.shipped_checkpoint(), flip=flip, device=device)
    elif Path(spec).suffix in (".pt", ".pth") or Path(spec).is_file():
        enc = checkpoint.load_encoder(spec, flip=flip, device=device)
        spec = str(Path(spec).resolve())
    else:
        net = build_net(spec, weights)
        checksum = file_checksum(weights) if weights and Path(weights).is_file() else f"{spec}:{weights}"
        enc = Encoder(net, spec, checksum=checksum, flip=flip, device=device)
        weights = str(Path(weights).resolve()) if weights and Path(weights).is_file() else weights
    enc.model_ref = {"model": spec, "weights": weights}  # enough to rebuild it later
    return enc


def _load_builtin_families() -> None:
    """Import the built-in families, and any modules named in $FACESEARCH_PLUGINS
    (comma-separated) that register more with :func:`register_encoder`."""
    import importlib
    import os

    from . import facenet, mobilefacenet, timm_backbone  # noqa: F401  (register on import)

    for mod in filter(None, os.environ.get("FACESEARCH_PLUGINS", "").split(",")):
        try:
            importlib.import_module(mod.strip())
        except ImportError as e:
            raise EncoderError(f"cannot import encoder plugin {mod!r} from $FACESEARCH_PLUGINS: {e}") from None


__all__ = ["Encoder", "EncoderError", "register_encoder", "create_encoder", "build_net",
           "list_encoders", "split_spec"]
