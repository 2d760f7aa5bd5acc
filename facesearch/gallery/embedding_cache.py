"""Labelled photos (calibration, evaluation) embedded once per encoder: the database keeps
their embeddings by file hash and encoder (:func:`~.library_schema.vectors_key`: its checksum,
marked when not flip-averaged), so a second `calibrate` or `eval` on the same folder embeds
nothing again."""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import numpy as np

from ..faces.pipeline import Embedded, Embedder
from ..files import sha256_file
from ..types import EncoderCard, FileError
from .library_schema import vectors_key
from .store import Store


def embed_cached(store: Store, embedder: Embedder, card: EncoderCard, paths: list[Path],
                 progress: Callable[[int], None] | None = None, locked=nullcontext
                 ) -> tuple[dict[Path, tuple[np.ndarray, bool]], list[FileError]]:
    """``path -> (embedding, face usable)`` and the files that failed (a damaged or
    pre-quality cache entry is embedded again). ``locked``: the writer lock, held while the
    new embeddings are saved (not while photos are embedded)."""
    errors, hashes = [], {}
    for p in paths:
        try:
            hashes[p] = sha256_file(p)
        except OSError as e:
            errors.append(FileError(str(p), e.strerror or str(e)))
    cached = {h: (v, bool(q["usable"]))
              for h, (v, q) in store.cached_embeddings(vectors_key(card), card.embedding_dim).items()}
    out = {p: cached[h] for p, h in hashes.items() if h in cached}
    todo = [p for p in hashes if p not in out]
    if progress:
        progress(len(paths) - len(todo))
    fresh = {}
    for r in embedder.run(todo):
        if isinstance(r, Embedded):
            fresh[r.sha256] = (r.vector, r.face.detected, r.face.quality)  # keyed by the bytes embedded
            out[r.path] = (r.vector, r.face.quality.usable)
        else:
            errors.append(r)
        if progress:
            progress(1)
    if fresh:
        with locked():
            store.cache_embeddings(vectors_key(card), fresh)
    return {p: out[p] for p in hashes if p in out}, errors
