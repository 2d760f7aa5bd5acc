"""Face quality: can this face be identified at all, and if not, why.

Measured on every enrolled photo and every query face: detector confidence, face size,
sharpness, the shares of saturated and of dark pixels inside the aligned face, and pose
from the five landmarks. A face is *usable* unless one measure passes its limit
(:data:`LIMITS`); the score is the smallest remaining margin to a limit, 0..1.

The limits were chosen on FACECOM *train* (``benchmarks/quality_limits.py``): where
identification stops being reliable, and where no other distortion is cut. Sun glare
that saturates most of the face is what they catch in practice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import AlignedFace, FaceQuality

# The inner face of an aligned crop (fractions of its side): brows to chin, cheek to cheek.
FACE_BOX = (0.18, 0.25, 0.82, 0.92)  # x0, y0, x1, y1


@dataclass(frozen=True)
class QualityLimits:
    max_saturated: float = 0.60  # share of the inner face at >= 250 grey levels
    max_dark: float = 0.90  # share at <= 8 grey levels
    min_face_px: float = 20.0  # detected face box side, in pixels of the image it was cropped from
    max_yaw: float = 0.85  # nose offset from the eyes' midpoint, in inter-eye distances


LIMITS = QualityLimits()


def sharpness(crop: np.ndarray) -> float:
    """Variance of a 4-neighbour Laplacian on the grey crop: a cheap blur score."""
    g = crop.astype(np.float32).mean(axis=2)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def inner_face(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape[:2]
    x0, y0, x1, y1 = FACE_BOX
    return crop[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]


def measure(face: AlignedFace) -> dict:
    """The raw measures (None where a measure needs a detection that did not happen)."""
    grey = inner_face(face.crop).astype(np.float32).mean(axis=2)
    m = {"det_score": face.score, "sharpness": sharpness(face.crop),
         "saturated": float((grey >= 250).mean()), "dark": float((grey <= 8).mean()),
         "face_px": None, "yaw": None, "roll": None}
    if face.box is not None:
        x0, y0, x1, y1 = face.box
        m["face_px"] = float(min(x1 - x0, y1 - y0)) / face.scale  # the detail the crop was made from
    if face.landmarks is not None:
        left, right, nose = face.landmarks[0], face.landmarks[1], face.landmarks[2]
        eyes = right - left
        span = float(np.hypot(*eyes)) or 1.0
        mid = (left + right) / 2
        m["yaw"] = float(np.dot(nose - mid, eyes) / span / span)  # 0 frontal, ~0.5 in profile
        m["roll"] = float(np.degrees(np.arctan2(eyes[1], eyes[0])))
    return m


def assess(face: AlignedFace, limits: QualityLimits = LIMITS) -> FaceQuality:
    """Usable or not, with the reasons, from :func:`measure`."""
    m = measure(face)
    margins, reasons = [], []

    def check(ok_margin: float, reason: str) -> None:
        margins.append(ok_margin)
        if ok_margin <= 0:
            reasons.append(reason)

    check(1 - m["saturated"] / limits.max_saturated,
          f"face washed out: {m['saturated']:.0%} of it is saturated (limit {limits.max_saturated:.0%})")
    check(1 - m["dark"] / limits.max_dark, f"face too dark: {m['dark']:.0%} of it is black")
    if m["face_px"] is not None:
        check(m["face_px"] / limits.min_face_px - 1, f"face too small: {m['face_px']:.0f} px"
              + (f" in the copy of the photo searched ({face.scale:.1f}x smaller)" if face.scale > 1 else ""))
    if m["yaw"] is not None:
        check(1 - abs(m["yaw"]) / limits.max_yaw, "face turned away from the camera")
    score = float(np.clip(min(margins), 0, 1))
    return FaceQuality(score=score if not reasons else 0.0, usable=not reasons, reasons=reasons, measures=m)
