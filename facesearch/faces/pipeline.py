"""Photo files -> aligned faces -> embeddings, in batches, with per-file errors."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..config import EMBED_BATCH
from ..errors import ImageError
from ..photos.images import load_rgb, read_photo
from ..types import AlignedFace, FileError
from .detect import Aligner
from .quality import assess


@dataclass
class Embedded:
    path: Path
    face: AlignedFace
    vector: np.ndarray
    sha256: str  # of the bytes that were decoded and embedded


def _decode(paths: list[Path]) -> list:
    """Each path's (image, sha256 of its bytes), or the ImageError that explains why it has none."""
    out = []
    for p in paths:
        try:
            data, digest = read_photo(p)
            out.append((load_rgb(p, data=data), digest))
        except ImageError as e:
            out.append(e)
    return out


class Embedder:
    """Glue between an :class:`Aligner` and an encoder (anything with ``embed(crops)``)."""

    def __init__(self, encoder, detector: str = "mtcnn", require_face: bool = False):
        self.encoder = encoder
        self.aligner = Aligner(encoder.preprocess.size, detector)
        self.require_face = require_face

    def run(self, paths: Iterable[Path], batch_size: int = EMBED_BATCH) -> Iterator[Embedded | FileError]:
        """Yield one result per path, in input order."""
        for results in self.batches(paths, batch_size):
            yield from results

    def batches(self, paths: Iterable[Path], batch_size: int = EMBED_BATCH) -> Iterator[list[Embedded | FileError]]:
        """Yield the results of each run of ``batch_size`` paths, in input order.

        The next batch is decoded in a background thread while this one is detected and
        embedded (PIL releases the GIL while decoding, so the two overlap).
        """
        paths = [Path(p) for p in paths]
        chunks = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_decode, chunks[0])
            for n, chunk in enumerate(chunks):
                decoded = pending.result()
                if n + 1 < len(chunks):
                    pending = pool.submit(_decode, chunks[n + 1])
                yield self._batch(chunk, decoded)

    def _batch(self, paths: list[Path], decoded: list) -> list[Embedded | FileError]:
        results: list[Embedded | FileError | None] = [None] * len(paths)
        images, digests, where = [], {}, []
        for i, (p, im) in enumerate(zip(paths, decoded)):
            if isinstance(im, ImageError):
                results[i] = FileError(str(p), str(im))
            else:
                images.append(im[0])
                digests[i] = im[1]
                where.append(i)
        faces = self.aligner.align(images)
        ok = []
        for i, face in zip(where, faces):
            if self.require_face and not face.detected:
                results[i] = FileError(str(paths[i]), "no face found (--require-face)")
            else:
                face.quality = assess(face)
                ok.append((i, face))
        if ok:
            vectors = self.encoder.embed(np.stack([f.crop for _, f in ok]))
            for (i, face), v in zip(ok, vectors):
                results[i] = Embedded(paths[i], face, v, digests[i])
        return results  # type: ignore[return-value]

    def compare(self, a: Path, b: Path) -> float | FileError:
        """Cosine similarity of the faces in two photos, or the first file's error."""
        ra, rb = self.run([Path(a), Path(b)])
        for r in (ra, rb):
            if isinstance(r, FileError):
                return r
        return float(np.dot(ra.vector, rb.vector))
