"""The Encoder: preprocessing, batching, flip-averaging, L2-normalisation, in numpy.

The network itself is any callable from a float N x 3 x S x S array to N x D: an ONNX
Runtime session (:mod:`facesearch.runtime`) for shipped graphs and for exported PyTorch
networks alike, so every path (query, index, batches, the server) runs the same graph.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import EMBED_BATCH
from ..errors import EncoderError
from ..files import sha256_file
from ..types import EncoderCard, Preprocess

Forward = Callable[[np.ndarray], np.ndarray]


def file_checksum(path) -> str:
    try:
        return sha256_file(path)
    except OSError as e:
        raise EncoderError(f"cannot read weights {path}: {e.strerror}") from None


def to_input(crops: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """uint8 N x S x S x 3 crops -> normalised float32 N x 3 x S x S."""
    x = np.asarray(crops, np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    mean = np.asarray(preprocess.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(preprocess.std, np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((x - mean) / std)


def l2_normalise(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


class Encoder:
    """Turns aligned uint8 face crops into L2-normalised float32 embeddings.

    ``forward`` runs the network on a preprocessed batch (:func:`to_input`); ``card`` says
    who made the embeddings (:class:`~facesearch.types.EncoderCard`); ``card.flip`` adds
    the embedding of the mirrored crop (one pass over both).
    """

    def __init__(self, forward: Forward, card: EncoderCard):
        self.forward, self.card = forward, card

    @property
    def preprocess(self) -> Preprocess:
        return self.card.preprocess

    @property
    def embedding_dim(self) -> int:
        return self.card.embedding_dim

    def to_input(self, crops: np.ndarray) -> np.ndarray:
        return to_input(crops, self.preprocess)

    def embed(self, crops: np.ndarray, batch_size: int = EMBED_BATCH) -> np.ndarray:
        """``crops``: N x S x S x 3 uint8 (S = preprocess.size). Returns N x D float32."""
        s = self.preprocess.size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
            raise ValueError(f"expected N x {s} x {s} x 3 crops, got {crops.shape}")
        out = []
        for i in range(0, len(crops), batch_size):
            x = self.to_input(crops[i:i + batch_size])
            if self.card.flip:
                e = np.asarray(self.forward(np.concatenate([x, x[..., ::-1]])), np.float32)
                e = e[:len(x)] + e[len(x):]
            else:
                e = np.asarray(self.forward(x), np.float32)
            out.append(l2_normalise(e))
        if not out:
            return np.zeros((0, self.embedding_dim), np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)
