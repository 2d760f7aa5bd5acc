"""MTCNN face detector, adapted from facenet-pytorch 2.5.3 (MIT License, (c) 2019 Timothy
Esler; the licence text ships beside this file as LICENSE-mtcnn), without its torchvision dependency: importing torchvision costs about a second of
every cold `facesearch query`. The P/R/O-net weights are read from the installed
facenet-pytorch wheel (facenet_pytorch/data/*.pt) without importing that package.

Only the three nets run in torch (or ONNX Runtime); the work between them (pyramid, box
decoding, NMS, crops) is numpy on the CPU: on arrays of a few dozen boxes a torch call costs
several times a numpy one (moving the glue took one 224 px photo from 15.3 to 12.6 ms, with the
same detections).
"""
from __future__ import annotations

import math
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import ThreadpoolController
from torch import nn
from torch.nn.functional import interpolate

from ..runtime import SWITCH_AFTER, Accelerated, accelerate


MATRIX_POOLING_MAX_PIXELS = 512 * 512  # larger photos: _pyramid pools with interpolate


class PReLU(nn.PReLU):
    """``nn.PReLU`` whose ONNX export is ``max(x, 0) + a * min(x, 0)``: the same numbers (each
    term is exact), but ONNX Runtime's PRelu kernel broadcasts the per-channel slope slowly;
    it was half of O-net's time (O-net on 7 crops 3.2 -> 1.6 ms, R-net and P-net 15-30% less)."""

    def forward(self, x):
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        a = self.weight.view(1, -1, *([1] * (x.dim() - 2)))
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
        imgs = np.stack([np.asarray(im, dtype=np.uint8) for im in images]).transpose(0, 3, 1, 2).astype(np.float32)
        nets = [lambda x, net=net: _numpy_out(net(torch.from_numpy(x).to(self.device))) for net in self.nets]
        with blas().limit(limits=1):
            boxes, points, inds = _detect(imgs, self.min_face_size, *nets, self.thresholds, self.factor)
        out = []
        for b in range(len(images)):
            sel = inds == b
            if not sel.any():
                out.append((None, None, None))
            else:
                out.append((boxes[sel, :4], boxes[sel, 4], points[sel]))
        return out


@lru_cache(maxsize=1)
def blas():
    """numpy's BLAS, kept to one thread while detecting: OpenBLAS's worker threads spin for a
    while after each call they share, and with ONNX Runtime supplying the parallelism a second
    BLAS thread only burned the other core (CPU per search 44 -> 32 ms; two threads searching
    42 -> 67 photos/s)."""
    return ThreadpoolController().select(user_api="blas")


def _numpy_out(out) -> tuple[np.ndarray, ...]:
    return tuple(o.cpu().numpy() for o in out)


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


def batched_nms(boxes: np.ndarray, scores: np.ndarray, idxs: np.ndarray, threshold: float,
                method: str = "union") -> np.ndarray:
    """NMS within each image; kept indices sorted by decreasing score, like torchvision's."""
    if len(boxes) == 0:
        return np.empty((0,), dtype=np.int64)
    b, s = boxes.astype(np.float64), scores.astype(np.float64)
    images = np.unique(idxs)
    if len(images) == 1:  # the usual case (one photo): no per-image selection
        keep = nms(b, s, threshold, method)
    else:
        keep = np.concatenate([np.flatnonzero(idxs == i)[nms(b[idxs == i], s[idxs == i], threshold, method)]
                               for i in images])
    return keep[np.argsort(-s[keep], kind="stable")]


def _generate_boxes(reg, probs, scale, thresh):
    """P-net cells scoring >= ``thresh`` as boxes (x1, y1, x2, y2, score, 4 offsets), and their images."""
    stride, cellsize = 2, 12
    image_inds, yy, xx = np.nonzero(probs >= thresh)
    bb = np.stack([xx, yy], axis=1).astype(reg.dtype)
    q1 = np.floor((stride * bb + 1) / np.float32(scale))
    q2 = np.floor((stride * bb + cellsize - 1 + 1) / np.float32(scale))
    return np.concatenate([q1, q2, probs[image_inds, yy, xx][:, None], reg[image_inds, :, yy, xx]], axis=1), image_inds


def _bbreg(box, reg):
    w = box[:, 2] - box[:, 0] + 1
    h = box[:, 3] - box[:, 1] + 1
    box[:, :4] = np.stack([box[:, 0] + reg[:, 0] * w, box[:, 1] + reg[:, 1] * h,
                           box[:, 2] + reg[:, 2] * w, box[:, 3] + reg[:, 3] * h], axis=1)
    return box


def _square(box):
    h, w = box[:, 3] - box[:, 1], box[:, 2] - box[:, 0]
    side = np.maximum(w, h)
    box[:, 0] = box[:, 0] + w * 0.5 - side * 0.5
    box[:, 1] = box[:, 1] + h * 0.5 - side * 0.5
    box[:, 2:4] = box[:, :2] + side[:, None]
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


def _scaled(pixels: np.ndarray) -> np.ndarray:
    """0..255 pixels as the nets take them, in [-1, 1] (facenet-pytorch's scaling)."""
    return (pixels - 127.5) * 0.0078125


def _pyramid(imgs: np.ndarray, sizes) -> list[np.ndarray]:
    """``imgs`` (N x C x H x W) area-resized to each (height, width) of ``sizes``, scaled to [-1, 1].
    Area pooling is separable: the rows of every level are pooled in one matrix product (the bins
    of ``interpolate(mode="area")``), then each level's columns: a quarter of the cost of one
    ``interpolate`` call per level for a 224 px photo. The matrices are dense, so from about
    512 x 512 pixels (640 x 480: 8.8 vs 8.2 ms) ``interpolate`` is cheaper and serves."""
    n, c, h, w = imgs.shape
    if h * w > MATRIX_POOLING_MAX_PIXELS:
        t = torch.from_numpy(imgs)
        return [_scaled(interpolate(t, size=size, mode="area").numpy()) for size in sizes]
    pool_rows = np.concatenate([_pool_matrix(h, sh) for sh, _ in sizes])
    rows = (pool_rows @ imgs.transpose(2, 0, 1, 3).reshape(h, -1)).reshape(-1, n, c, w).transpose(1, 2, 0, 3)
    levels, start = [], 0
    for sh, sw in sizes:
        level = rows[:, :, start:start + sh].reshape(-1, w) @ _pool_matrix(w, sw).T
        levels.append(_scaled(level.reshape(n, c, sh, sw)))
        start += sh
    return levels


def _crops(imgs, boxes, image_inds, size):
    """(crops, boxes, image indices) of the boxes that overlap their image, the crops cut as
    ``interpolate(mode="area")`` would (to float rounding) at a third of its per-crop cost.
    facenet-pytorch skipped the other boxes but kept them, misaligning boxes and crops."""
    b = np.trunc(boxes[:, :4]).astype(np.int32)
    h, w = imgs.shape[2:4]
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    keep = np.flatnonzero((ey > y - 1) & (ex > x - 1))
    out = np.zeros((len(keep), imgs.shape[1], size, size), np.float32)
    for n, k in enumerate(keep):
        out[n] = (_pool_matrix(int(ey[k] - y[k] + 1), size) @ imgs[image_inds[k], :, y[k] - 1:ey[k], x[k] - 1:ex[k]]
                  @ _pool_matrix(int(ex[k] - x[k] + 1), size).T)
    return _scaled(out), boxes[keep], image_inds[keep]


def _detect(imgs, minsize, pnet, rnet, onet, threshold, factor):
    """facenet-pytorch's three stages over float N x 3 x H x W images, in numpy; the nets map
    arrays to tuples of arrays. Returns (boxes N x 5 with scores, landmarks N x 5 x 2, image index)."""
    h, w = imgs.shape[2:4]
    m = 12.0 / minsize
    minl, scale, scales = min(h, w) * m, m, []
    while minl >= 12:
        scales.append(scale)
        scale, minl = scale * factor, minl * factor
    if not scales:  # the image is smaller than the smallest face looked for: none to find
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.int64)
    sizes = [(int(h * scale + 1), int(w * scale + 1)) for scale in scales]
    boxes, image_inds = [np.zeros((0, 9), np.float32)], [np.zeros(0, np.int64)]
    for scale, im in zip(scales, _pyramid(imgs, sizes)):  # stage 1: proposal net over an image pyramid
        reg, probs = pnet(im)
        b, ind = _generate_boxes(reg, probs[:, 1], scale, threshold[0])
        pick = batched_nms(b[:, :4], b[:, 4], ind, 0.5)
        boxes.append(b[pick])
        image_inds.append(ind[pick])
    boxes, image_inds = np.concatenate(boxes), np.concatenate(image_inds)
    pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds = boxes[pick], image_inds[pick]
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = np.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                      boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh, boxes[:, 4]], axis=1)
    crops, boxes, image_inds = _crops(imgs, _square(boxes), image_inds, 24)
    if len(boxes):  # stage 2: refine
        reg, probs = rnet(crops)
        ok = probs[:, 1] > threshold[1]
        boxes = np.concatenate((boxes[ok, :4], probs[ok, 1:2]), axis=1)
        image_inds, reg = image_inds[ok], reg[ok]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes = _square(_bbreg(boxes[pick], reg[pick]))
        image_inds = image_inds[pick]
    points = np.zeros((0, 5, 2), np.float32)
    crops, boxes, image_inds = _crops(imgs, boxes, image_inds, 48)
    if len(boxes):  # stage 3: output net with landmarks
        reg, lm, probs = onet(crops)
        ok = probs[:, 1] > threshold[2]
        boxes = np.concatenate((boxes[ok, :4], probs[ok, 1:2]), axis=1)
        image_inds, reg, lm = image_inds[ok], reg[ok], lm[ok]
        bw, bh = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
        px = bw[:, None] * lm[:, :5] + boxes[:, 0:1] - 1
        py = bh[:, None] * lm[:, 5:10] + boxes[:, 1:2] - 1
        points = np.stack((px, py), axis=2)
        boxes = _bbreg(boxes, reg)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "min")
        boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]
    return boxes, points, image_inds
