"""MobileFaceNet (Chen et al. 2018), 112x112 -> 128-d.

Tensor names follow the common MS1M-trained MobileFaceNet release (conv1, dw_conv,
features.N.conv, conv2, gdconv, conv3, bn), so such a state dict loads with strict=True.
"""
from __future__ import annotations

from torch import nn

from ..errors import EncoderError
from ..types import Preprocess
from .torch_net import load_state_dict
from .registry import register_encoder

IMAGENET = Preprocess(112, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# (expansion t, out channels c, repeats n, first stride s)
BLOCKS = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]


def conv_bn(cin, cout, k=1, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            conv_bn(cin, hidden),
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class DepthwiseSeparable(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pointwise = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.bn1(self.depthwise(x)))
        return self.relu(self.bn2(self.pointwise(x)))


class GlobalDepthwise(nn.Module):
    def __init__(self, c, k=7):
        super().__init__()
        self.depthwise = nn.Conv2d(c, c, k, groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return self.bn(self.depthwise(x))


class MobileFaceNet(nn.Module):
    """112x112 RGB -> 128-d (unnormalised) embedding."""

    arch = "mobilefacenet"
    preprocess = IMAGENET
    embedding_dim = 128

    def __init__(self, embedding_dim: int = 128):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.conv1 = conv_bn(3, 64, 3, 2)
        self.dw_conv = DepthwiseSeparable(64)
        blocks, cin = [], 64
        for t, c, n, s in BLOCKS:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.features = nn.Sequential(*blocks)
        self.conv2 = conv_bn(cin, 512)
        self.gdconv = GlobalDepthwise(512)
        self.conv3 = nn.Conv2d(512, embedding_dim, 1)
        self.bn = nn.BatchNorm2d(embedding_dim)
        self.flatten = nn.Flatten(1)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The forward pass as named steps; the trainer freezes a prefix of these."""
        return ([("conv1", self.conv1), ("dw_conv", self.dw_conv)]
                + [(f"features.{i}", b) for i, b in enumerate(self.features)]
                + [("conv2", self.conv2), ("gdconv", self.gdconv), ("conv3", self.conv3), ("bn", self.bn),
                   ("flatten", self.flatten)])

    def forward(self, x):
        for _, stage in self.stages():
            x = stage(x)
        return x


@register_encoder("mobilefacenet")
def mobilefacenet(variant: str | None, weights: str | None) -> MobileFaceNet:
    if variant:
        raise EncoderError("mobilefacenet has no variants; pass a state dict with --weights")
    net = MobileFaceNet()
    if weights:
        try:
            net.load_state_dict(load_state_dict(weights))
        except RuntimeError as e:
            raise EncoderError(f"{weights} does not fit MobileFaceNet: {str(e).splitlines()[0]}") from None
        net.trained = True  # strict loading: every tensor came from the file
    return net
