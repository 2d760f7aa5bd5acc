"""MTCNN's three nets in PyTorch (facenet-pytorch 2.5.3, MIT License, (c) 2019 Timothy Esler;
licence text in facesearch/weights/LICENSE-mtcnn), for ``python -m training.export_onnx``,
which exports them once to the ONNX graphs the package ships. The weights are read from the
installed facenet-pytorch wheel (facenet_pytorch/data/*.pt) without importing that package.
"""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import torch
from torch import nn


class PReLU(nn.PReLU):
    """``nn.PReLU`` exported in a form ONNX Runtime runs fast, with the same numbers.

    On images (N x C x H x W) the export is ``relu(x) + conv1x1(relu(conv1x1(x, -1)), -a)``,
    per channel: relu(-x) scaled by -a (each term exact, one of the two is zero). ONNX
    Runtime keeps 1x1 per-channel convolutions, their Relu and the Add (folded into the
    convolution) in its blocked NCHWc layout; the elementwise Mul of ``max(x, 0) + a *
    min(x, 0)`` (the previous export) sent every activation back to NCHW and forth: O-net's
    first PReLU and those reorders were two thirds of its time. On vectors (after a Linear
    layer) the export stays ``max(x, 0) + a * min(x, 0)``: ONNX Runtime's PRelu kernel
    broadcasts the per-channel slope slowly."""

    def forward(self, x):
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        if x.dim() == 4:
            c = self.weight.numel()
            minus = torch.relu(nn.functional.conv2d(x, -torch.ones(c, 1, 1, 1), groups=c))  # relu(-x)
            return torch.relu(x) + nn.functional.conv2d(minus, -self.weight.view(c, 1, 1, 1), groups=c)
        a = self.weight.view(1, -1)
        return torch.clamp(x, min=0) + a * torch.clamp(x, max=0)


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


def weights_dir() -> Path:
    spec = find_spec("facenet_pytorch")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("facenet-pytorch is not installed: it provides the MTCNN weights")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


NETS = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def load(name: str) -> nn.Module:
    """One of the three nets with facenet-pytorch's weights, in eval mode."""
    net = NETS[name]()
    net.load_state_dict(torch.load(weights_dir() / f"{name}.pt", map_location="cpu", weights_only=True))
    return net.eval()
