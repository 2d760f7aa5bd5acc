"""Photo files -> aligned faces -> embeddings, in batches, with per-file errors."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .config import EMBED_BATCH
from .detect import Aligner
from .images import ImageError, load_rgb
from .types import AlignedFace, FileError


@dataclass
class Embedded:
    path: Path
    face: AlignedFace
    vector: np.ndarray


def sharpness(crop: np.ndarray) -> float:
    """Variance of a 4-neighbour Laplacian on the grey crop: a cheap blur/quality score."""
    g = crop.astype(np.float32).mean(axis=2)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


class Embedder:
    """Glue between an :class:`Aligner` and an encoder (anything with ``embed(crops)``)."""

    def __init__(self, encoder, detector: str = "mtcnn", require_face: bool = False):
        self.encoder = encoder
        self.aligner = Aligner(encoder.preprocess.size, detector)
        self.require_face = require_face

    def run(self, paths: Iterable[Path], batch_size: int = EMBED_BATCH) -> Iterator[Embedded | FileError]:
        """Yield one result per path, in input order."""
        batch: list[Path] = []
        for path in paths:
            batch.append(Path(path))
            if len(batch) == batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, paths: list[Path]) -> list[Embedded | FileError]:
        results: list[Embedded | FileError | None] = [None] * len(paths)
        images, where = [], []
        for i, p in enumerate(paths):
            try:
                images.append(load_rgb(p))
                where.append(i)
            except ImageError as e:
                results[i] = FileError(str(p), str(e))
        faces = self.aligner.align(images)
        ok = []
        for i, face in zip(where, faces):
            if self.require_face and not face.detected:
                results[i] = FileError(str(paths[i]), "no face found (--require-face)")
            else:
                ok.append((i, face))
        if ok:
            vectors = self.encoder.embed(np.stack([f.crop for _, f in ok]))
            for (i, face), v in zip(ok, vectors):
                results[i] = Embedded(paths[i], face, v)
        return results  # type: ignore[return-value]
