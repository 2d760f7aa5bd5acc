"""SFace (OpenCV Zoo's ONNX) as a PyTorch module, so it can be fine-tuned and exported back.

The published graph is a MobileNet-v1 chain: ``(x - 127.5) / 128``, fourteen conv blocks
(3x3 conv, then depthwise 3x3 + pointwise 1x1 pairs, each followed by BatchNorm and PReLU),
BatchNorm, dropout, a 50,176 -> 128 fully connected layer and a final BatchNorm1d. Its
weights are int8 blocks behind ``DequantizeLinear``; :func:`from_onnx` runs those nodes
(with ONNX Runtime's reference evaluator) and copies the float weights into
:class:`SFaceNet`, which then gives the graph's outputs to float precision
(tests/training/test_sface.py). Input: N x 3 x 112 x 112 RGB in 0..255, ArcFace-aligned.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int, groups: int):
        super().__init__(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout, eps=1e-3), nn.PReLU(cout))


def _plan() -> list[tuple[int, int, int, int, int]]:
    """(cin, cout, kernel, stride, groups) of every conv of the published graph, in order."""
    plan = [(3, 32, 3, 1, 1)]
    # (channels in, channels out, stride of the depthwise conv) of blocks conv_2 .. conv_14
    dw = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
         [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    for cin, cout, stride in dw:
        plan += [(cin, cin, 3, stride, cin), (cin, cout, 1, 1, 1)]
    return plan


class SFaceNet(nn.Module):
    """SFace's network; ``forward`` takes RGB 0..255 and returns the raw 128-d embedding."""

    def __init__(self, embedding_dim: int = 128):
        super().__init__()
        self.features = nn.Sequential(*[_Block(*p) for p in _plan()])
        self.bn = nn.BatchNorm2d(1024, eps=2e-5)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024 * 7 * 7, embedding_dim)
        self.bn_fc = nn.BatchNorm1d(embedding_dim, eps=2e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 127.5) * 0.0078125
        x = self.dropout(self.bn(self.features(x)))
        return self.bn_fc(self.fc(torch.flatten(x, 1)))


def _float_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Every weight of the published graph as float32: initialisers, and the outputs of its
    DequantizeLinear / Reshape nodes (the int8 blocks), by tensor name."""
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    model = onnx.load(str(path))
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in ("DequantizeLinear", "Reshape")]
    wanted = [o for n in nodes for o in n.output]
    sub = onnx.helper.make_model(
        onnx.helper.make_graph(nodes, "weights", [], [onnx.helper.make_tensor_value_info(o, 1, None)
                                                       for o in wanted], list(model.graph.initializer)),
        opset_imports=model.opset_import)
    values.update(zip(wanted, ReferenceEvaluator(sub).run(None, {})))
    return {k: np.asarray(v, np.float32) for k, v in values.items()}


def from_onnx(path: str | Path) -> SFaceNet:
    """An :class:`SFaceNet` holding the weights of OpenCV Zoo's SFace ONNX file ``path``."""
    w = _float_weights(path)
    net = SFaceNet()
    names = ["conv_1"] + [f"conv_{i}{part}" for i in range(2, 15) for part in ("_dw", "")]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731

    def bn(mod: nn.Module, prefix: str) -> None:
        mod.weight.data, mod.bias.data = t(w[f"{prefix}_gamma"]), t(w[f"{prefix}_beta"])
        mod.running_mean.data, mod.running_var.data = t(w[f"{prefix}_moving_mean"]), t(w[f"{prefix}_moving_var"])

    for block, name in zip(net.features, names):
        conv, norm, act = block
        conv.weight.data = t(w[f"{name}_conv2d_weight_reshaped"]).reshape(conv.weight.shape)
        bn(norm, f"{name}_batchnorm")
        act.weight.data = t(w[f"{name}_relu_gamma"]).reshape(-1)
    bn(net.bn, "bn1")
    net.fc.weight.data, net.fc.bias.data = t(w["pre_fc1_weight_dequantized"]), t(w["pre_fc1_bias_dequantized"])
    bn(net.bn_fc, "fc1")
    return net.eval()
