"""Face detection (MTCNN) and 5-point similarity alignment to an encoder's template."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from ..config import DETECTORS, MIN_FACE_SIZE
from ..photos.images import original_size
from ..types import AlignedFace

# ArcFace 112x112 template: left eye, right eye, nose tip, left and right mouth corners.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
# Centre-crop fallback for photos where no face is detected. The values are the median
# alignment of detected faces on FACECOM train (LFW-style framing): the template square
# spans 0.55 of the shorter side, centred slightly above the middle. Fallback crops then
# frame a face like aligned crops do, so they stay comparable with an aligned gallery.
CENTER_CROP_FRACTION = 0.55
CENTER_CROP_Y = 0.475


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping src points onto dst; a 2x3 matrix."""
    n = len(src)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / n
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    r = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / s.var(0).sum()
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]])


def warp(image: Image.Image, m: np.ndarray, size: int) -> np.ndarray:
    """Apply the 2x3 forward matrix ``m`` and return a size x size uint8 crop."""
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    out = image.transform((size, size), Image.AFFINE, data=tuple(inv.ravel()), resample=Image.BILINEAR)
    return np.asarray(out, dtype=np.uint8)


def center_crop(image: Image.Image, size: int, fraction: float = CENTER_CROP_FRACTION,
                center_y: float = CENTER_CROP_Y) -> np.ndarray:
    w, h = image.size
    side = min(w, h) * fraction
    left, top = (w - side) / 2, max(0.0, min(h - side, h * center_y - side / 2))
    box = tuple(int(round(v)) for v in (left, top, left + side, top + side))
    return np.asarray(image.resize((size, size), Image.BILINEAR, box=box), dtype=np.uint8)


def in_photo_pixels(image: Image.Image, boxes: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Boxes (clipped to the photo) and landmarks found on ``image``, in the pixels of the
    photo it was made from (a large photo is searched on a smaller copy), and how many photo
    pixels one pixel of ``image`` spans."""
    (w, h), (ow, oh) = image.size, original_size(image)
    sx, sy = ow / w, oh / h
    boxes = np.clip(boxes * np.array([sx, sy, sx, sy]), 0, [ow, oh, ow, oh])
    return boxes, points * np.array([sx, sy]), (sx + sy) / 2


def pick_face(boxes: np.ndarray, width: int, height: int) -> int:
    """Largest face, ties broken towards the image centre."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    dist = np.hypot(cx - width / 2, cy - height / 2) / max(width, height)
    return int(np.argmax(areas / areas.max() - 0.25 * dist))


class Aligner:
    """Detects and aligns faces for one encoder input size.

    ``detector='mtcnn'`` runs MTCNN (facenet-pytorch's, as ONNX graphs); ``'none'`` treats every image as an
    already-framed face and centre-crops it (fast path for aligned crops).
    """

    def __init__(self, size: int, detector: str = "mtcnn", min_score: float = 0.9, device: str = "cpu"):
        if detector not in DETECTORS:
            raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
        self.size = size
        self.detector = detector
        self.min_score = min_score
        self.template = ARCFACE_112 * (size / 112.0)
        self._mtcnn = None
        self._device = device

    @property
    def mtcnn(self):
        if self._mtcnn is None:
            from .mtcnn import MTCNN  # its ONNX graphs ship in facesearch/weights

            self._mtcnn = MTCNN(min_face_size=MIN_FACE_SIZE, device=self._device)
        return self._mtcnn

    def too_small(self, image: Image.Image) -> str | None:
        """Why no face can be looked for in ``image`` (None: it can): MTCNN finds faces of
        MIN_FACE_SIZE pixels or more, so a smaller photo cannot hold one it would find."""
        w, h = image.size
        if self.detector != "mtcnn" or (w, h) == (self.size, self.size) or min(w, h) >= MIN_FACE_SIZE:
            return None
        return f"image too small to find a face in ({w}x{h} px; the face detector needs {MIN_FACE_SIZE} px a side)"

    def fallback(self, image: Image.Image) -> AlignedFace:
        if image.size == (self.size, self.size):
            return AlignedFace(np.asarray(image, dtype=np.uint8), detected=False)
        return AlignedFace(center_crop(image, self.size), detected=False)

    def align(self, images: Sequence[Image.Image]) -> list[AlignedFace]:
        """One AlignedFace per image, in order: the largest, most central face."""
        return [faces[main] for faces, main in self._align(images, every=False)]

    def align_all(self, images: Sequence[Image.Image]) -> list[tuple[list[AlignedFace], int]]:
        """Every face of each image, left to right, with the position of the one :meth:`align`
        picks. An image where no face is found gives its centre-crop fallback alone."""
        return self._align(images, every=True)

    def _align(self, images: Sequence[Image.Image], every: bool) -> list[tuple[list[AlignedFace], int]]:
        if self.detector == "none" or not images:
            return [([self.fallback(im)], 0) for im in images]
        out: list[tuple[list[AlignedFace], int] | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(images):  # MTCNN batches only images of one size
            if im.size == (self.size, self.size):  # already an aligned crop: no detection
                out[i] = ([AlignedFace(np.asarray(im, dtype=np.uint8), detected=True, n_faces=1)], 0)
            else:
                by_size.setdefault(im.size, []).append(i)
        for idx in by_size.values():
            for i, (b, p, pts) in zip(idx, self.mtcnn.detect([images[i] for i in idx])):
                out[i] = self._faces(images[i], b, p, pts, every)
        return out  # type: ignore[return-value]

    def _align_one(self, image, boxes, probs, points) -> AlignedFace:
        faces, main = self._faces(image, boxes, probs, points, every=False)
        return faces[main]

    def _faces(self, image, boxes, probs, points, every: bool) -> tuple[list[AlignedFace], int]:
        """The picked face (``every``: all faces, left to right) and the picked face's position."""
        if boxes is None:
            return [self.fallback(image)], 0
        keep = probs >= self.min_score
        if not keep.any():
            return [self.fallback(image)], 0
        boxes, probs, points = boxes[keep], probs[keep], points[keep]
        main, n = pick_face(boxes, *image.size), int(keep.sum())
        order = np.argsort((boxes[:, 0] + boxes[:, 2]) / 2, kind="stable") if every else np.array([main])
        faces = []
        shown_boxes, shown_points, scale = in_photo_pixels(image, boxes, points)
        for j in order:
            m = similarity_transform(points[j], self.template)
            faces.append(AlignedFace(warp(image, m, self.size), detected=True, n_faces=n,
                                     box=tuple(float(v) for v in shown_boxes[j]), score=float(probs[j]),
                                     landmarks=np.asarray(shown_points[j], np.float64), scale=scale))
        return faces, int(np.flatnonzero(order == main)[0])
