"""MTCNN face detector, adapted from facenet-pytorch 2.5.3 (MIT License, (c) 2019 Timothy
Esler; the licence text ships beside this file as LICENSE-mtcnn), without its torchvision dependency: importing torchvision costs about a second of
every cold `facesearch query`. The P/R/O-net weights are read from the installed
facenet-pytorch wheel (facenet_pytorch/data/*.pt) without importing that package.
"""
from __future__ import annotations

import math
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import interpolate

from ..runtime import SWITCH_AFTER, Accelerated, accelerate


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
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
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
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


class MTCNN:
    """``detect(images)`` -> per image (boxes N x 4, probs N, landmarks N x 5 x 2) or Nones."""

    def __init__(self, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709,
                 device: str = "cpu"):
        self.min_face_size, self.thresholds, self.factor = min_face_size, thresholds, factor
        self.device = torch.device(device)
        self.nets = []
        for name, cls, example, dynamic, n_out in (("pnet", PNet, (1, 3, 24, 24), (0, 2, 3), 2),
                                                   ("rnet", RNet, (2, 3, 24, 24), (0,), 2),
                                                   ("onet", ONet, (2, 3, 48, 48), (0,), 3)):
            net = cls()
            net.load_state_dict(torch.load(weights_dir() / f"{name}.pt", map_location="cpu", weights_only=True))
            net = net.eval().to(self.device)
            # switched by photo count in detect(): R/O-net inputs are candidate boxes
            self.nets.append(accelerate(net, torch.zeros(example), dynamic, n_out, self.device, after=math.inf))
        self.images_seen = 0

    @torch.inference_mode()
    def accelerate_now(self) -> None:
        """Run the three nets through ONNX Runtime from now on, sessions opened now."""
        for net in self.nets:
            if isinstance(net, Accelerated):
                net.switch_now()
                net(net.example)

    @torch.inference_mode()
    def detect(self, images) -> list[tuple]:
        """Images must share one size (as facenet-pytorch requires for batching)."""
        self.images_seen += len(images)
        if self.images_seen >= SWITCH_AFTER:
            for net in self.nets:
                if isinstance(net, Accelerated):
                    net.switch_now()
        imgs = torch.as_tensor(np.stack([np.asarray(im, dtype=np.uint8) for im in images]), device=self.device)
        boxes, points, inds = _detect(imgs.permute(0, 3, 1, 2).float().contiguous(), self.min_face_size, *self.nets,
                                      self.thresholds, self.factor)
        out = []
        for b in range(len(images)):
            sel = inds == b
            if not sel.any():
                out.append((None, None, None))
            else:
                out.append((boxes[sel, :4], boxes[sel, 4], points[sel]))
        return out


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """Greedy NMS over one image's boxes, highest score first; returns kept indices.
    'union' is IoU as torchvision computes it; 'min' (facenet-pytorch's last stage) divides
    the overlap by the smaller box, with +1-pixel areas."""
    plus = 1.0 if method == "min" else 0.0
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[order].T
    area = (x2 - x1 + plus) * (y2 - y1 + plus)
    w = np.maximum(0.0, np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]) + plus)
    h = np.maximum(0.0, np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]) + plus)
    inter = w * h
    denom = np.minimum(area[:, None], area[None]) if method == "min" else area[:, None] + area[None] - inter
    overlaps = inter / denom > threshold
    suppressed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlaps[i]
    return order[keep]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, threshold: float,
                method: str = "union") -> torch.Tensor:
    """NMS within each image; kept indices sorted by decreasing score, like torchvision's."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    b, s, ind = boxes.cpu().double().numpy(), scores.cpu().double().numpy(), idxs.cpu().numpy()
    keep = np.concatenate([np.flatnonzero(ind == i)[nms(b[ind == i], s[ind == i], threshold, method)]
                           for i in np.unique(ind)])
    return torch.as_tensor(keep[np.argsort(-s[keep], kind="stable")])


def _generate_boxes(reg, probs, scale, thresh):
    """P-net cells scoring >= ``thresh`` as boxes (x1, y1, x2, y2, score, 4 offsets), and their images.
    In numpy: a dozen small torch ops here cost ~0.2 ms per pyramid level (per-op overhead)."""
    stride, cellsize = 2, 12
    device, reg, probs = reg.device, reg.cpu().numpy(), probs.cpu().numpy()
    image_inds, yy, xx = np.nonzero(probs >= thresh)
    bb = np.stack([xx, yy], axis=1).astype(reg.dtype)
    q1 = np.floor((stride * bb + 1) / np.float32(scale))
    q2 = np.floor((stride * bb + cellsize - 1 + 1) / np.float32(scale))
    boxes = np.concatenate([q1, q2, probs[image_inds, yy, xx][:, None], reg[image_inds, :, yy, xx]], axis=1)
    return torch.from_numpy(boxes).to(device), torch.from_numpy(image_inds).to(device)


def _bbreg(box, reg):
    w = box[:, 2] - box[:, 0] + 1
    h = box[:, 3] - box[:, 1] + 1
    box[:, :4] = torch.stack([box[:, 0] + reg[:, 0] * w, box[:, 1] + reg[:, 1] * h,
                              box[:, 2] + reg[:, 2] * w, box[:, 3] + reg[:, 3] * h]).permute(1, 0)
    return box


def _square(box):
    h, w = box[:, 3] - box[:, 1], box[:, 2] - box[:, 0]
    side = torch.max(w, h)
    box[:, 0] = box[:, 0] + w * 0.5 - side * 0.5
    box[:, 1] = box[:, 1] + h * 0.5 - side * 0.5
    box[:, 2:4] = box[:, :2] + side.repeat(2, 1).permute(1, 0)
    return box


@lru_cache(maxsize=4096)
def _pool_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): row i averages the inputs adaptive_avg_pool2d (``interpolate(mode='area')``)
    pools into output i: [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    i = np.arange(n_out)
    start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
    j = np.arange(n_in)
    m = ((j >= start[:, None]) & (j < end[:, None])).astype(np.float32)
    return m / (end - start)[:, None].astype(np.float32)


def _crops(imgs, boxes, image_inds, size):
    """(crops, boxes, image indices) of the boxes that overlap their image. facenet-pytorch
    skipped the others but kept their boxes, misaligning the two; none in practice."""
    b = boxes.trunc().int().cpu().numpy()
    h, w = imgs.shape[2:4]
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    keep = [k for k in range(len(b)) if ey[k] > y[k] - 1 and ex[k] > x[k] - 1]
    inds = image_inds.cpu().numpy()
    if not keep:
        out = torch.zeros((0, imgs.shape[1], size, size), device=imgs.device)
    elif imgs.device.type == "cpu":
        # Area pooling is separable: P_h @ crop @ P_w^T, the same numbers as interpolate(mode="area")
        # (to float rounding) at a third of its per-crop cost on these small crops.
        im = imgs.numpy()
        out = torch.from_numpy(np.stack([
            _pool_matrix(int(ey[k] - y[k] + 1), size) @ im[inds[k], :, y[k] - 1:ey[k], x[k] - 1:ex[k]]
            @ _pool_matrix(int(ex[k] - x[k] + 1), size).T for k in keep]))
    else:
        out = torch.cat([interpolate(imgs[inds[k], :, y[k] - 1:ey[k], x[k] - 1:ex[k]].unsqueeze(0),
                                     size=(size, size), mode="area") for k in keep])
    keep = torch.as_tensor(keep, dtype=torch.long, device=boxes.device)
    return (out - 127.5) * 0.0078125, boxes[keep], image_inds[keep]


def _detect(imgs, minsize, pnet, rnet, onet, threshold, factor):
    h, w = imgs.shape[2:4]
    m = 12.0 / minsize
    minl, scale, scales = min(h, w) * m, m, []
    while minl >= 12:
        scales.append(scale)
        scale, minl = scale * factor, minl * factor
    boxes, image_inds, picks, offset = [], [], [], 0
    for scale in scales:  # stage 1: proposal net over an image pyramid
        im = (interpolate(imgs, size=(int(h * scale + 1), int(w * scale + 1)), mode="area") - 127.5) * 0.0078125
        reg, probs = pnet(im)
        b, ind = _generate_boxes(reg, probs[:, 1], scale, threshold[0])
        boxes.append(b)
        image_inds.append(ind)
        picks.append(batched_nms(b[:, :4], b[:, 4], ind, 0.5) + offset)
        offset += b.shape[0]
    boxes, image_inds = torch.cat(boxes)[torch.cat(picks)], torch.cat(image_inds)[torch.cat(picks)]
    pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds = boxes[pick], image_inds[pick]
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                         boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh,
                         boxes[:, 4]]).permute(1, 0)
    boxes = _square(boxes)
    crops, boxes, image_inds = _crops(imgs, boxes, image_inds, 24)
    if len(boxes):  # stage 2: refine
        reg, probs = rnet(crops)
        ok = probs[:, 1] > threshold[1]
        boxes = torch.cat((boxes[ok, :4], probs[ok, 1].unsqueeze(1)), dim=1)
        image_inds, reg = image_inds[ok], reg[ok]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes = _square(_bbreg(boxes[pick], reg[pick]))
        image_inds = image_inds[pick]
    points = torch.zeros(0, 5, 2)
    crops, boxes, image_inds = _crops(imgs, boxes, image_inds, 48)
    if len(boxes):  # stage 3: output net with landmarks
        reg, lm, probs = onet(crops)
        ok = probs[:, 1] > threshold[2]
        boxes = torch.cat((boxes[ok, :4], probs[ok, 1].unsqueeze(1)), dim=1)
        image_inds, reg, lm = image_inds[ok], reg[ok], lm[ok]
        bw, bh = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
        px = bw[:, None] * lm[:, :5] + boxes[:, 0:1] - 1
        py = bh[:, None] * lm[:, 5:10] + boxes[:, 1:2] - 1
        points = torch.stack((px, py), dim=2)
        boxes = _bbreg(boxes, reg)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "min")
        boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]
    return boxes.cpu().numpy(), points.cpu().numpy(), image_inds.cpu().numpy()
