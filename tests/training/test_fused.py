"""training.fused: the fused graph computes what the fusion was chosen with (gpu_recipe.fuse)."""
import json

import numpy as np
import pytest
import torch

from facesearch.encoders.mobilefacenet import MobileFaceNet
from training import fused, gpu_recipe
from training.sface import SFaceNet


@pytest.fixture
def net():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    members = [MobileFaceNet().eval(), SFaceNet().eval()]
    for m in members:  # random BatchNorm statistics, so the members are not near-constant
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_var.uniform_(0.5, 2.0)
    proj = [np.eye(128, dtype=np.float32) + rng.normal(0, 0.1, (128, 128)).astype(np.float32) for _ in range(2)]
    return fused.FusedNet(*members, proj, [0.4, 0.6]), members, proj


def test_same_as_the_fusion_it_was_chosen_with(net):
    fnet, (mfn, sface), proj = net
    crops = np.random.default_rng(1).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    with torch.no_grad():
        got = fnet(torch.from_numpy(crops).permute(0, 3, 1, 2).float()).numpy()
    members = [gpu_recipe.embed(gpu_recipe.Pixels(mfn, "mobilefacenet"), crops, torch.device("cpu")),
               gpu_recipe.embed(gpu_recipe.Pixels(sface, "sface"), crops, torch.device("cpu"))]
    want = gpu_recipe.fuse(members, proj, [0.4, 0.6])
    assert got.shape == (3, 256) and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert np.allclose(got, want, atol=1e-4)


def test_exported_graph_carries_its_card_and_gives_the_same_numbers(net, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    fnet = net[0]
    checksum = fused.export(fnet, tmp_path / "f.onnx", {"test": True})
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "f.onnx")).metadata_props}
    assert meta["facesearch.checksum"] == checksum and meta["facesearch.embedding_dim"] == "256"
    assert json.loads(meta["facesearch.preprocess"])["size"] == 112
    x = np.random.default_rng(2).uniform(0, 255, (4, 3, 112, 112)).astype(np.float32)
    got = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    with torch.no_grad():
        assert np.allclose(got, fnet(torch.from_numpy(x)).numpy(), atol=1e-4)
