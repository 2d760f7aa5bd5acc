"""Shared fixtures: a fake deterministic encoder and generated photo folders.

The fake encoder is registered as ``--model fake`` so CLI tests run the real code paths
(registry, Encoder wrapper, store, index) in milliseconds, with no weights and no network.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from facesearch.encoders import register_encoder
from facesearch.types import Preprocess


class FakeNet(nn.Module):
    """Fixed random projection of an 8x8 thumbnail: same picture -> same vector."""

    arch = "fake"
    preprocess = Preprocess(32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    embedding_dim = 16

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proj = nn.Linear(3 * 8 * 8, self.embedding_dim, bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(self.embedding_dim, 192, generator=g))

    def forward(self, x):
        return self.proj(nn.functional.adaptive_avg_pool2d(x, 8).flatten(1))


@register_encoder("fake")
def fake_encoder(variant, weights):
    net = FakeNet()
    if weights:
        net.load_state_dict(torch.load(weights, weights_only=True))
    return net


def person_image(seed: int, size: int = 64, noise: float = 0.0, rng_seed: int = 0) -> Image.Image:
    """A blocky picture unique to ``seed``; ``noise`` adds a 'distortion'."""
    base = np.random.default_rng(seed).integers(0, 256, (4, 4, 3)).astype(np.float32)
    img = np.kron(base, np.ones((size // 4, size // 4, 1), np.float32))
    if noise:
        img += np.random.default_rng(rng_seed + 1000).normal(0, noise, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


@pytest.fixture
def gallery_dir(tmp_path: Path) -> Path:
    """Three people, two photos each, plus one FACECOM-style distorted copy."""
    root = tmp_path / "gallery"
    for i, name in enumerate(["alice", "bob", "carol"]):
        (root / name / "distortion").mkdir(parents=True)
        person_image(i).save(root / name / f"{name}_0001.jpg", quality=95)
        person_image(i, noise=6, rng_seed=1).save(root / name / f"{name}_0002.png")
        person_image(i, noise=25, rng_seed=2).save(root / name / "distortion" / f"{name}_0001_noisy.jpg")
    return root


@pytest.fixture
def fake_encoder_obj():
    from facesearch.encoders import create_encoder

    return create_encoder("fake")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "fs.db"
