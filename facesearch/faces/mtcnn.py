"""MTCNN face detector, adapted from facenet-pytorch 2.5.3 (MIT License, (c) 2019 Timothy
Esler; the licence text ships beside the graphs as weights/LICENSE-mtcnn).

The three nets are ONNX graphs shipped in the package (``weights/mtcnn_{p,r,o}net.onnx``,
exported once from facenet-pytorch's weights by ``python -m training.export_onnx``; the
PyTorch definitions live in ``training/mtcnn_nets.py``) and run in ONNX Runtime. The work
between them (pyramid, box decoding, NMS, crops) is numpy: on arrays of a few dozen boxes a
framework call costs several times a numpy one.
"""
from __future__ import annotations

import numpy as np

from ..config import MTCNN_GRAPHS
from ..runtime import OnnxModel

# Inputs per ONNX Runtime call of each net: a large batch's activations outgrow the CPU's
# cache, and each elementwise step then waits on memory. Chunks of these sizes took O-net
# (525 candidates of 64 photos) 118 -> 90 ms and R-net (1,440) 59 -> 46 ms, same outputs.
ROWS_PER_CALL = {"pnet": 16, "rnet": 128, "onet": 32}


class MTCNN:
    """``detect(images)`` -> per image (boxes N x 4, probs N, landmarks N x 5 x 2) or Nones."""

    def __init__(self, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709,
                 device: str = "cpu"):
        self.min_face_size, self.thresholds, self.factor = min_face_size, thresholds, factor
        self.nets = [in_chunks(OnnxModel(MTCNN_GRAPHS[name]), ROWS_PER_CALL[name])
                     for name in ("pnet", "rnet", "onet")]

    def detect(self, images) -> list[tuple]:
        """Images must share one size (as facenet-pytorch requires for batching)."""
        table = _integral(np.stack([np.asarray(im, dtype=np.uint8) for im in images]))
        boxes, points, inds = _detect(table, self.min_face_size, *self.nets, self.thresholds, self.factor)
        out = []
        for b in range(len(images)):
            sel = inds == b
            if not sel.any():
                out.append((None, None, None))
            else:
                out.append((boxes[sel, :4], boxes[sel, 4], points[sel]))
        return out


def in_chunks(net, rows: int):
    """``net`` (arrays -> tuple of arrays) run on at most ``rows`` inputs per call."""

    def run(x: np.ndarray) -> tuple[np.ndarray, ...]:
        if len(x) <= rows:
            return net(x)
        parts = [net(x[i:i + rows]) for i in range(0, len(x), rows)]
        return tuple(np.concatenate(outs) for outs in zip(*parts))

    return run


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


def _integral(images: np.ndarray) -> np.ndarray:
    """Summed-area tables of uint8 N x H x W x C images, column-major: N x (W+1) x (H+1) x C
    integers, ``t[n, x, y]`` = the sum of the pixels left of column ``x`` and above row ``y``.
    Every area-pooled pixel the nets see (pyramid levels, candidate crops) is four look-ups
    in it, exact in integers.

    Each running sum is a loop of whole-slab additions along the table's second axis (numpy's
    ``cumsum`` along an inner axis was 3-4x slower), with a transposed copy between the two."""
    n, h, w, c = images.shape
    dtype = np.int32 if 255 * h * w < 2 ** 31 else np.int64
    rows = np.zeros((n, h + 1, w, c), dtype)
    rows[:, 1:] = images
    for y in range(2, h + 1):
        rows[:, y] += rows[:, y - 1]
    table = np.zeros((n, w + 1, h + 1, c), dtype)
    table[:, 1:] = rows.transpose(0, 2, 1, 3)
    for x in range(2, w + 1):
        table[:, x] += table[:, x - 1]
    return table


def _bins(start, length, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The bins ``interpolate(mode="area")`` (adaptive_avg_pool2d) pools ``length`` pixels
    from ``start`` into ``n_out`` outputs: [floor(i length / n_out), ceil((i + 1) length / n_out)).
    ``start`` and ``length`` are arrays (one row of bins per box)."""
    start, length = np.asarray(start, np.int64)[:, None], np.asarray(length, np.int64)[:, None]
    i = np.arange(n_out)
    return start + (i * length) // n_out, start - ((-(i + 1) * length) // n_out)


def _pooled(table: np.ndarray, image_inds, rows, cols) -> np.ndarray:
    """Area-pooled pixels of boxes, scaled for the nets: K x C x R x S float32 from the
    images' tables, the boxes' image indices and their row and column bins ((start, end),
    each K x R or K x S)."""
    n, w1, h1, c = table.shape
    flat = table.reshape(-1, c)
    base = np.asarray(image_inds, np.int64)[:, None, None] * (w1 * h1)
    (r0, r1), (c0, c1) = rows, cols
    r0, r1, c0, c1 = r0[:, :, None], r1[:, :, None], c0[:, None, :], c1[:, None, :]
    area = ((r1 - r0) * (c1 - c0)).astype(np.float32)[..., None]
    left, right = base + c0 * h1, base + c1 * h1  # the bins' start and end columns in ``flat``

    def at(i):
        return np.take(flat, i, axis=0)  # a third of the time of ``flat[i]``

    sums = (at(right + r1) - at(right + r0) - at(left + r1) + at(left + r0)).astype(np.float32)
    sums /= area
    return _scaled(sums).transpose(0, 3, 1, 2)


def _scaled(pixels: np.ndarray) -> np.ndarray:
    """0..255 pixels as the nets take them, in [-1, 1] (facenet-pytorch's scaling)."""
    return (pixels - np.float32(127.5)) * np.float32(0.0078125)


def _pyramid(table: np.ndarray, sizes) -> list[np.ndarray]:
    """The images of ``table`` (:func:`_integral`) area-resized to each (height, width) of
    ``sizes``, as interpolate(mode="area") resizes them, scaled to [-1, 1]: N x C x h x w each."""
    n, w1, h1, _ = table.shape
    inds = np.arange(n)
    return [_pooled(table, inds, [np.repeat(b, n, 0) for b in _bins([0], [h1 - 1], sh)],
                    [np.repeat(b, n, 0) for b in _bins([0], [w1 - 1], sw)]) for sh, sw in sizes]


def _crops(table, boxes, image_inds, size):
    """(crops, boxes, image indices) of the boxes that overlap their image, each crop the
    box's pixels (clipped to the image) area-resized to ``size`` (interpolate(mode="area")).
    facenet-pytorch skipped the other boxes but kept them, misaligning boxes and crops."""
    b = np.trunc(boxes[:, :4]).astype(np.int64)
    w, h = table.shape[1] - 1, table.shape[2] - 1
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    keep = np.flatnonzero((ey > y - 1) & (ex > x - 1))
    x, y, ex, ey = x[keep], y[keep], ex[keep], ey[keep]
    crops = _pooled(table, image_inds[keep], _bins(y - 1, ey - y + 1, size), _bins(x - 1, ex - x + 1, size))
    return crops, boxes[keep], image_inds[keep]


def _detect(table, minsize, pnet, rnet, onet, threshold, factor):
    """facenet-pytorch's three stages over images given as their summed-area tables
    (:func:`_integral`), in numpy; the nets map arrays to tuples of arrays. Returns
    (boxes N x 5 with scores, landmarks N x 5 x 2, image index)."""
    w, h = table.shape[1] - 1, table.shape[2] - 1
    m = 12.0 / minsize
    minl, scale, scales = min(h, w) * m, m, []
    while minl >= 12:
        scales.append(scale)
        scale, minl = scale * factor, minl * factor
    if not scales:  # the image is smaller than the smallest face looked for: none to find
        return np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros(0, np.int64)
    sizes = [(int(h * scale + 1), int(w * scale + 1)) for scale in scales]
    boxes, image_inds = [np.zeros((0, 9), np.float32)], [np.zeros(0, np.int64)]
    for scale, im in zip(scales, _pyramid(table, sizes)):  # stage 1: proposal net over an image pyramid
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
    crops, boxes, image_inds = _crops(table, _square(boxes), image_inds, 24)
    if len(boxes):  # stage 2: refine
        reg, probs = rnet(crops)
        ok = probs[:, 1] > threshold[1]
        boxes = np.concatenate((boxes[ok, :4], probs[ok, 1:2]), axis=1)
        image_inds, reg = image_inds[ok], reg[ok]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes = _square(_bbreg(boxes[pick], reg[pick]))
        image_inds = image_inds[pick]
    points = np.zeros((0, 5, 2), np.float32)
    crops, boxes, image_inds = _crops(table, boxes, image_inds, 48)
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
