"""Comparing two photos: the cosine similarity of their faces."""
from __future__ import annotations

import numpy as np

from ..faces.pipeline import Embedder, as_source
from ..types import FileError


def compare_photos(embedder: Embedder, a, b) -> float | FileError:
    """Cosine similarity of the faces in two photos (paths, bytes or PIL images), or the
    first photo's error."""
    ra, rb = embedder.run([as_source(a), as_source(b)])
    for r in (ra, rb):
        if isinstance(r, FileError):
            return r
    return float(np.dot(ra.vector, rb.vector))
