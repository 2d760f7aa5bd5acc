"""training.sface: OpenCV Zoo's SFace ONNX graph rebuilt as a PyTorch module."""

import numpy as np
import pytest
import torch

from facesearch.config import SFACE_GRAPH
from training.sface import SFaceNet, from_onnx

SFACE = SFACE_GRAPH  # shipped in the package (facesearch/weights)


def test_shapes_and_input_scaling():
    net = SFaceNet().eval()
    with torch.no_grad():
        out = net(torch.full((2, 3, 112, 112), 127.5))
    assert out.shape == (2, 128) and torch.isfinite(out).all()


@pytest.mark.skipif(not SFACE.exists(), reason=f"{SFACE} is absent (shared weights)")
def test_same_outputs_as_the_published_graph():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(SFACE))
    keep = [i for i in model.graph.input if i.name == "data"]  # it lists its weights as inputs too
    del model.graph.input[:]
    model.graph.input.extend(keep)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    with torch.no_grad():
        ours = from_onnx(SFACE)(torch.from_numpy(x)).numpy()
    assert np.abs(ours - session.run(None, {"data": x})[0]).max() < 1e-4
