"""A deterministic stand-in encoder, registered as ``fake`` on import."""
from __future__ import annotations

import os
import time

import torch
from torch import nn

from facesearch.encoders import register_encoder
from facesearch.types import Preprocess


class FakeNet(nn.Module):
    """Fixed random projection of an 8x8 thumbnail: same picture -> same vector."""

    arch = "fake"
    trained = True  # fixed deterministic weights: a usable encoder
    weights_checksum = "fake:None"  # what the previous release stored (tests/data/release_0_1)
    preprocess = Preprocess(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    embedding_dim = 16

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = nn.Linear(3 * 8 * 8, self.embedding_dim, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(self.embedding_dim, 192, generator=g))

    def forward(self, x):
        delay = float(os.environ.get("FAKE_ENCODER_DELAY", 0))  # seconds per call, for kill tests
        if delay:
            time.sleep(delay)
        return self.proj(nn.functional.adaptive_avg_pool2d(x, 8).flatten(1))


@register_encoder("fake")
def fake_encoder(variant, weights):
    net = FakeNet()
    if weights:
        net.load_state_dict(torch.load(weights, weights_only=True))
    return net


