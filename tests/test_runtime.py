"""ONNX Runtime serving of torch modules: same outputs, cached export, safe fallbacks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from facesearch import runtime

pytest.importorskip("onnxruntime")


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.a, self.b = nn.Conv2d(8, 2, 1), nn.Conv2d(8, 4, 1)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.a(h), torch.softmax(self.b(h), dim=1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "CACHE_DIR", tmp_path / "onnx")
    monkeypatch.setenv(runtime.RUNTIME_ENV, "onnx")
    return tmp_path / "onnx"


def test_outputs_match_torch_with_dynamic_batch_and_size(cache):
    net = TwoHeads().eval()
    fast = runtime.accelerate(net, torch.zeros(1, 3, 16, 16), (0, 2, 3), n_outputs=2, after=0)
    assert fast.backend == "onnxruntime"
    x = torch.randn(5, 3, 23, 31)
    with torch.inference_mode():
        want = net(x)
    got = fast(x)
    for w, g in zip(want, got):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-5)
    assert len(list(cache.glob("*.onnx"))) == 1


def test_cached_export_is_reused_and_keyed_by_weights(cache):
    net = TwoHeads().eval()
    runtime.accelerate(net, torch.zeros(1, 3, 8, 8), (0,), n_outputs=2, after=0)
    runtime.accelerate(net, torch.zeros(1, 3, 8, 8), (0,), n_outputs=2, after=0)
    assert len(list(cache.glob("*.onnx"))) == 1
    with torch.no_grad():
        net.a.weight.add_(1.0)
    fast = runtime.accelerate(net, torch.zeros(1, 3, 8, 8), (0,), n_outputs=2, after=0)
    assert len(list(cache.glob("*.onnx"))) == 2  # new weights, new export
    x = torch.randn(2, 3, 8, 8)
    np.testing.assert_allclose(fast(x)[0].numpy(), net(x)[0].detach().numpy(), atol=1e-5)


def test_damaged_cache_file_is_exported_again(cache):
    net = TwoHeads().eval()
    runtime.accelerate(net, torch.zeros(1, 3, 8, 8), (0,), n_outputs=2, after=0)
    (path,) = cache.glob("*.onnx")
    path.write_bytes(b"not a model")
    fast = runtime.accelerate(net, torch.zeros(1, 3, 8, 8), (0,), n_outputs=2, after=0)
    assert fast.backend == "onnxruntime" and path.stat().st_size > 100


def test_unwritable_cache_still_serves(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(runtime, "CACHE_DIR", blocker / "onnx")  # cannot mkdir under a file
    monkeypatch.setenv(runtime.RUNTIME_ENV, "onnx")
    assert runtime.accelerate(TwoHeads().eval(), torch.zeros(1, 3, 8, 8), n_outputs=2, after=0).backend == "onnxruntime"


def test_small_jobs_stay_in_torch_until_enough_inputs(cache):
    net = TwoHeads().eval()
    fast = runtime.accelerate(net, torch.zeros(1, 3, 8, 8), (0,), n_outputs=2, after=4)
    x = torch.randn(3, 3, 8, 8)
    fast(x)
    assert fast.backend == "torch" and not list(cache.glob("*.onnx"))  # one small query: no export
    np.testing.assert_allclose(fast(x)[0].numpy(), net(x)[0].detach().numpy(), atol=1e-5)
    assert fast.backend == "onnxruntime"


def test_torch_runtime_and_export_failure_fall_back_to_the_module(cache, monkeypatch):
    net = TwoHeads().eval()
    x = torch.randn(2, 3, 8, 8)
    monkeypatch.setenv(runtime.RUNTIME_ENV, "torch")
    assert runtime.accelerate(net, torch.zeros(1, 3, 8, 8), n_outputs=2, after=0) is net
    monkeypatch.setenv(runtime.RUNTIME_ENV, "onnx")
    monkeypatch.setattr(runtime, "export_onnx", lambda *a: 1 / 0)  # any exporter error
    slow = runtime.accelerate(net, torch.zeros(1, 3, 8, 8), n_outputs=2, after=0)
    assert slow.backend == "torch"
    np.testing.assert_allclose(slow(x)[0].detach().numpy(), net(x)[0].detach().numpy())


@pytest.mark.slow  # exports the real models to ONNX
def test_real_encoder_and_detector_agree_across_runtimes(cache, monkeypatch):
    from facesearch.encoders import create_encoder
    from facesearch.faces.mtcnn import MTCNN

    crops = np.random.default_rng(0).integers(0, 256, (6, 112, 112, 3), dtype=np.uint8)
    monkeypatch.setenv(runtime.RUNTIME_ENV, "torch")
    slow = create_encoder("default")
    monkeypatch.setenv(runtime.RUNTIME_ENV, "onnx")
    fast = create_encoder("default")
    fast._infer.switch_now()
    np.testing.assert_allclose(fast.embed(crops), slow.embed(crops), atol=1e-4)
    assert fast._infer.backend == "onnxruntime" and not isinstance(slow._infer, runtime.Accelerated)
    det = MTCNN()
    assert all(isinstance(n, runtime.Accelerated) for n in det.nets)


def test_detector_switches_by_photo_count_with_the_same_detections(cache, monkeypatch):
    from facesearch.faces.mtcnn import MTCNN
    from tests.conftest import person_image

    images = [person_image(i, size=96, noise=20) for i in range(runtime.SWITCH_AFTER + 2)]
    monkeypatch.setenv(runtime.RUNTIME_ENV, "torch")
    want = MTCNN(min_face_size=12).detect(images)
    monkeypatch.setenv(runtime.RUNTIME_ENV, "onnx")
    det = MTCNN(min_face_size=12)
    det.detect(images[:2])
    assert all(n.backend == "torch" for n in det.nets)  # two photos: still PyTorch
    got = det.detect(images)
    assert det.nets[0].backend == "onnxruntime"  # R/O-nets switch on their next call
    assert all(n.after == 0 for n in det.nets)
    for (wb, wp, _), (gb, gp, _) in zip(want, got):
        assert (wb is None) == (gb is None)
        if wb is not None:
            np.testing.assert_allclose(gb, wb, atol=1e-3)
            np.testing.assert_allclose(gp, wp, atol=1e-3)
