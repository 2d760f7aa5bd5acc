"""Clips made on the spot (no camera in CI): frames written with OpenCV."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")


def write_clip(path: Path, frames, fps: float = 25.0) -> Path:
    """Write RGB frames (PIL images or arrays, all one size) as an mp4v video."""
    frames = [np.asarray(f)[:, :, ::-1] for f in frames]
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(np.ascontiguousarray(f))
    writer.release()
    return path


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n
