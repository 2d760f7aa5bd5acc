"""PyTorch networks run through their cached ONNX export: same outputs, safe fallbacks."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from facesearch.encoders import torch_net  # noqa: E402
from facesearch.types import Preprocess  # noqa: E402


class Tiny(nn.Module):
    arch, preprocess, embedding_dim = "tiny", Preprocess(16), 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x))).mean((2, 3))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACESEARCH_ONNX_CACHE", str(tmp_path / "onnx"))
    monkeypatch.setenv("FACESEARCH_RUNTIME", "onnx")
    return tmp_path / "onnx"


def eager(net, x):
    with torch.no_grad():
        return net.eval()(torch.from_numpy(x)).numpy()


def test_export_matches_torch_and_is_cached_by_weights(cache):
    net = Tiny().eval()
    x = np.random.default_rng(0).normal(size=(5, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(torch_net.torch_forward(net)(x), eager(net, x), atol=1e-5)
    torch_net.torch_forward(net)
    assert len(list(cache.glob("*.onnx"))) == 1
    with torch.no_grad():
        net.conv.weight.add_(1.0)
    np.testing.assert_allclose(torch_net.torch_forward(net)(x), eager(net, x), atol=1e-4)
    assert len(list(cache.glob("*.onnx"))) == 2  # new weights, new export


def test_damaged_or_unwritable_cache_still_serves(cache, tmp_path, monkeypatch):
    net = Tiny().eval()
    torch_net.torch_forward(net)
    (path,) = cache.glob("*.onnx")
    path.write_bytes(b"not a model")
    x = np.zeros((1, 3, 16, 16), np.float32)
    np.testing.assert_allclose(torch_net.torch_forward(net)(x), eager(net, x), atol=1e-5)
    assert path.stat().st_size > 100
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("FACESEARCH_ONNX_CACHE", str(tmp_path / "file" / "onnx"))  # cannot mkdir under a file
    np.testing.assert_allclose(torch_net.torch_forward(net)(x), eager(net, x), atol=1e-5)


def test_torch_runtime_and_export_failure_fall_back_to_pytorch(cache, monkeypatch):
    net = Tiny().eval()
    x = np.ones((2, 3, 16, 16), np.float32)
    monkeypatch.setenv("FACESEARCH_RUNTIME", "torch")
    np.testing.assert_allclose(torch_net.torch_forward(net)(x), eager(net, x), atol=1e-5)
    assert not list(cache.glob("*.onnx"))
    monkeypatch.setenv("FACESEARCH_RUNTIME", "onnx")
    monkeypatch.setattr(torch_net, "export_onnx", lambda *a, **k: 1 / 0)  # any exporter error
    np.testing.assert_allclose(torch_net.torch_forward(net)(x), eager(net, x), atol=1e-5)
