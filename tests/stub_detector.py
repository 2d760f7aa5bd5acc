"""A stand-in for MTCNN: one sure face at fixed fractions of every image it is given (none
in an image of one colour), so that where a face is *reported* can be checked on photos
of any size in milliseconds.

In this process: ``install(monkeypatch)``. In a subprocess (a server):
``FACESEARCH_PLUGINS=tests.fake_encoder,tests.stub_detector`` installs it on import.
"""
from __future__ import annotations

import os

import numpy as np

import facesearch.faces.mtcnn
from facesearch.config import PLUGINS_ENV
from facesearch.faces.detect import ARCFACE_112

FACE = (0.30, 0.20, 0.55, 0.60)  # x1, y1, x2, y2 as fractions of the image's width and height


def expected_box(width: int, height: int) -> list[float]:
    """Where the stub's face is in a photo of ``width`` x ``height`` pixels."""
    return [FACE[0] * width, FACE[1] * height, FACE[2] * width, FACE[3] * height]


class StubMTCNN:
    def __init__(self, *args, **kwargs):
        pass

    def detect(self, images):
        out = []
        for im in images:
            if im.getextrema() == tuple((lo, lo) for lo, _ in im.getextrema()):  # one colour: no face
                out.append((None, None, None))
                continue
            box = np.array([expected_box(*im.size)])
            points = ARCFACE_112 / 112 * (box[0, 2] - box[0, 0]) + box[0, :2]
            out.append((box, np.array([0.99]), points[None]))
        return out


def install(monkeypatch=None) -> None:
    if monkeypatch is None:
        facesearch.faces.mtcnn.MTCNN = StubMTCNN
    else:
        monkeypatch.setattr(facesearch.faces.mtcnn, "MTCNN", StubMTCNN)


def large_photo(path, size=(2280, 1588), seed: int = 0):
    """A photo larger than MAX_DETECT_SIDE (searched on a smaller copy), saved at ``path``."""
    from tests.conftest import person_image

    person_image(seed).resize(size).save(path, quality=90)
    return path


if "tests.stub_detector" in os.environ.get(PLUGINS_ENV, ""):  # loaded as a plugin by a subprocess
    install()
