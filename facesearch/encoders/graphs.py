"""Encoders that are ONNX graphs: the shipped model (``--model default``), SFace, and any
``--model file.onnx`` that ``python -m training.export_onnx`` wrote (no PyTorch needed).

A facesearch graph carries its card in the graph's metadata (``facesearch.*`` keys): arch,
preprocessing, embedding size, the checksum of the weights it was exported from (so a
database built by the PyTorch encoder of the same weights accepts the graph's embeddings),
and ``flip: inside`` for a graph that adds its crops' mirrors itself (its card says no flip).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import EncoderError
from ..types import Preprocess

META = "facesearch."  # prefix of the graph's metadata keys


@dataclass
class GraphNet:
    """What a family returns when its network is not a PyTorch module: a numpy forward
    (N x 3 x S x S float32 -> N x D) and its card's fields."""

    run: Callable
    arch: str
    preprocess: Preprocess
    embedding_dim: int
    weights_checksum: str
    trained: bool = True
    flips_inside: bool = False  # the graph embeds the mirror itself (metadata "facesearch.flip": "inside")


def card_metadata(arch: str, preprocess: Preprocess, embedding_dim: int, checksum: str) -> dict[str, str]:
    """The metadata an exported encoder graph carries (read back by :func:`graph_net`)."""
    return {f"{META}arch": arch, f"{META}preprocess": json.dumps(preprocess.as_dict()),
            f"{META}embedding_dim": str(embedding_dim), f"{META}checksum": checksum}


def graph_net(path: Path) -> GraphNet:
    """The encoder graph at ``path``, with the card its metadata records."""
    from ..runtime import OnnxModel
    from .base import file_checksum

    if not path.is_file():
        raise EncoderError(f"model file not found: {path}")
    try:
        model = OnnxModel(path)
    except Exception as e:
        raise EncoderError(f"{path} is not an ONNX graph ONNX Runtime can run ({str(e).splitlines()[0][:200]})") from None
    meta = model.metadata
    if f"{META}preprocess" not in meta:
        raise EncoderError(f"{path} carries no facesearch encoder card (its input size and normalisation); "
                           "export it with `python -m training.export_onnx --model <checkpoint> <out.onnx>`")
    return GraphNet(model.first, arch=meta[f"{META}arch"],
                    preprocess=Preprocess.from_dict(json.loads(meta[f"{META}preprocess"])),
                    embedding_dim=int(meta[f"{META}embedding_dim"]),
                    weights_checksum=meta.get(f"{META}checksum") or file_checksum(path),
                    flips_inside=meta.get(f"{META}flip") == "inside")
