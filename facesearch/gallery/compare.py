"""Comparing two photos: the cosine similarity of their faces."""
from __future__ import annotations

from ..faces.pipeline import Comparison, Embedder
from ..types import FileError


def compare_photos(embedder: Embedder, a, b) -> Comparison | FileError:
    """Cosine similarity of the faces in two photos (paths, bytes or PIL images; centre crops
    where no face is found) and whether a face was found in each, or the first photo's error."""
    return embedder.compare(a, b)
