"""The fused encoder (``--model fused``): the shipped MobileFaceNet and SFace as one embedding.

Each member embeds the aligned face and its mirror (their sum, as every facesearch encoder
flip-averages), maps the sum by its within-class whitening (WCCN) fitted on FACECOM train,
L2-normalises it and scales it by the square root of its weight; the parts are joined. So
the cosine of two fused embeddings is the weighted mean of the members' whitened cosines.
The maps and weights are ``weights/fusion_mfn_sface.npz``, written by
``benchmarks/fusion_members.py`` (fitted on 70% of the training identities, chosen on
another 15%; its figures: docs/results/fusion_members.json). Both members run in ONNX
Runtime; the fused model costs about what both cost together.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..config import FUSION_WEIGHTS, SHIPPED_GRAPH
from ..errors import EncoderError
from ..files import sha256_file
from .base import l2_normalise, to_input
from .graphs import GraphNet, graph_net
from .registry import register_encoder
from .sface import RAW_PIXELS, sface

ARCH = "fused:mobilefacenet+sface"


def join(embeddings: list[np.ndarray], projections: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Each member's embeddings projected, L2-normalised and scaled by sqrt(weight), joined
    (also how ``training.gpu_recipe`` and ``benchmarks/fusion_members.py`` choose the fusion)."""
    return np.concatenate([np.float32(np.sqrt(w)) * l2_normalise(e @ p)
                           for e, p, w in zip(embeddings, projections, weights)], axis=1)


def fused_forward(members: list[GraphNet], projections: list[np.ndarray], weights: list[float]):
    """N x 3 x S x S RGB 0..255 (float) -> N x sum(D) joined, unit-norm embeddings."""

    def run(x: np.ndarray) -> np.ndarray:
        pixels = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # each member scales its own input
        sums = []
        for net in members:
            xi = to_input(pixels, net.preprocess)
            e = np.asarray(net.run(np.concatenate([xi, xi[..., ::-1]])), np.float32)
            sums.append(e[:len(x)] + e[len(x):])
        return join(sums, projections, weights)

    return run


@register_encoder("fused")
def fused(variant: str | None, weights: str | None) -> GraphNet:
    if variant or weights:
        raise EncoderError("fused has no variants or --weights: it is the shipped MobileFaceNet + SFace")
    if not FUSION_WEIGHTS.is_file():
        raise EncoderError(f"the fusion weights are missing from the installation ({FUSION_WEIGHTS})")
    members = [graph_net(SHIPPED_GRAPH), sface(None, None)]
    z = np.load(FUSION_WEIGHTS)
    projections = [z["proj_mobilefacenet"].astype(np.float32), z["proj_sface"].astype(np.float32)]
    checksum = hashlib.sha256(" ".join([m.weights_checksum for m in members] + [sha256_file(FUSION_WEIGHTS)])
                              .encode()).hexdigest()
    return GraphNet(fused_forward(members, projections, [float(w) for w in z["weights"]]), arch=ARCH,
                    preprocess=RAW_PIXELS, embedding_dim=sum(p.shape[1] for p in projections),
                    weights_checksum=checksum, flips_inside=True)
