"""Photos -> aligned faces -> embeddings, in batches, with per-photo errors.

A photo is a file path, a :class:`PhotoBytes` (an upload: encoded bytes with a name), or
an already-decoded PIL image.
"""
from __future__ import annotations

import hashlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np
from PIL import Image

from ..config import EMBED_BATCH
from ..errors import ImageError
from ..photos.images import check_bytes, from_pil, load_rgb, read_photo
from ..runtime import call_threads, share_cpus
from ..types import AlignedFace, FileError
from .detect import Aligner
from .quality import assess

WORKERS = 2  # Embedder.batches: units of photos decoded, detected and embedded at once
WORK_UNIT = 16  # photos per unit (units of 64 left one worker idle at a run's end: benchmarks/pipeline_workers.py)


@dataclass(frozen=True)
class PhotoBytes:
    """A photo given as its encoded bytes (an upload) instead of a file; ``name`` labels it."""

    name: str
    data: bytes

    def __str__(self) -> str:
        return self.name


Source = Union[Path, PhotoBytes, Image.Image]


def as_source(photo) -> Source:
    """``photo`` (a path, ``str``, bytes, :class:`PhotoBytes` or PIL image) as a pipeline source."""
    if isinstance(photo, (PhotoBytes, Image.Image)):
        return photo
    if isinstance(photo, (bytes, bytearray, memoryview)):
        return PhotoBytes("<bytes>", bytes(photo))
    return Path(photo)


def label(source: Source) -> str:
    """How a source is named in results and errors."""
    if isinstance(source, Image.Image):
        return f"<image {source.size[0]}x{source.size[1]}>"
    return str(source)


@dataclass
class Embedded:
    path: Source
    face: AlignedFace
    vector: np.ndarray
    sha256: str  # of the bytes that were decoded and embedded (of the pixels, for a PIL image)
    faces: list[tuple[AlignedFace, np.ndarray]] | None = None  # every face, left to right (all_faces)
    main: int = 0  # position of ``face`` in ``faces``


class Comparison(float):
    """The cosine similarity of the faces in two photos: a float, as it always was, that
    also says whether a face was found in each photo (``face_found``, for a and b; False:
    that photo's centre crop was compared)."""

    face_found: tuple[bool, bool]

    def __new__(cls, score: float, face_found: tuple[bool, bool]) -> "Comparison":
        obj = super().__new__(cls, score)
        obj.face_found = (bool(face_found[0]), bool(face_found[1]))
        return obj

    def no_face(self, a, b) -> list:
        return no_face(a, b, self.face_found)


def no_face(a, b, face_found: tuple[bool, bool]) -> list:
    """Those of ``a`` and ``b`` (the photos, or their names) where no face was found."""
    return [name for name, found in zip((a, b), face_found) if not found]


def _decode(sources: list[Source]) -> list:
    """Each source's (image, sha256 of its bytes), or the ImageError that explains why it has none."""
    out = []
    for src in sources:
        try:
            if isinstance(src, Image.Image):  # no file bytes: the pixels identify it
                im = from_pil(src)
                out.append((im, hashlib.sha256(f"{im.size}".encode() + im.tobytes()).hexdigest()))
                continue
            data, digest = check_bytes(src.data) if isinstance(src, PhotoBytes) else read_photo(src)
            out.append((load_rgb(label(src), data=data), digest))
        except ImageError as e:
            out.append(e)
    return out


class Embedder:
    """Glue between an :class:`Aligner` and an encoder (anything with ``embed(crops)``)."""

    def __init__(self, encoder, detector: str = "mtcnn", require_face: bool = False):
        self.encoder = encoder
        self.aligner = Aligner(encoder.preprocess.size, detector)
        self.require_face = require_face

    def warm_up(self) -> None:
        """For a long-lived process (the server): load the detector's sessions and pay every
        first-call cost here, not on the first request."""
        if self.aligner.detector == "mtcnn":
            self.aligner.mtcnn  # noqa: B018  (opens its sessions)
        self._batch([PhotoBytes("warm-up", b"")], [(Image.new("RGB", (160, 160), (128, 128, 128)), None)])

    def run(self, paths: Iterable, batch_size: int = EMBED_BATCH, all_faces: bool = False
            ) -> Iterator[Embedded | FileError]:
        """Yield one result per photo, in input order."""
        for results in self.batches(paths, batch_size, all_faces):
            yield from results

    def batches(self, paths: Iterable, batch_size: int = EMBED_BATCH, all_faces: bool = False
                ) -> Iterator[list[Embedded | FileError]]:
        """Yield the results of each run of ``batch_size`` photos, in input order.
        ``all_faces``: each result also carries every detected face (``faces``).

        More than :data:`WORK_UNIT` photos are split into units of that many, which
        :data:`WORKERS` threads decode, detect and embed at once, the CPUs shared out among
        them (:func:`~facesearch.runtime.share_cpus`): much of a unit's work (decoding, the
        detector's glue, alignment) is numpy and PIL on one core, so while one worker waits on
        it the other runs a network (they release the GIL). Units are smaller than a commit
        batch so that both workers stay busy to the last photo.
        """
        sources = [as_source(p) for p in paths]
        chunks = [sources[i:i + batch_size] for i in range(0, len(sources), batch_size)]
        if len(sources) <= WORK_UNIT:  # a query, an upload: every CPU for each call, no thread
            for chunk in chunks:
                yield self._batch(chunk, _decode(chunk), all_faces)
            return
        units = iter([(c, chunk[j:j + WORK_UNIT]) for c, chunk in enumerate(chunks)
                      for j in range(0, len(chunk), WORK_UNIT)])
        threads = share_cpus(WORKERS)

        def work(unit: list[Source]) -> list[Embedded | FileError]:
            with call_threads(threads):
                return self._batch(unit, _decode(unit), all_faces)

        if self.aligner.detector == "mtcnn":
            self.aligner.mtcnn  # noqa: B018  (its sessions opened once, before the threads share them)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            pending: deque = deque()

            def submit_more() -> None:  # a few units ahead of the one awaited, not the whole run
                while len(pending) < 2 * WORKERS and (unit := next(units, None)) is not None:
                    pending.append((unit[0], pool.submit(work, unit[1])))

            submit_more()
            done: list[Embedded | FileError] = []
            while pending:
                c, future = pending.popleft()
                done.extend(future.result())
                submit_more()
                if len(done) == len(chunks[c]):
                    yield done
                    done = []

    def _batch(self, sources: list[Source], decoded: list, all_faces: bool = False) -> list[Embedded | FileError]:
        results: list[Embedded | FileError | None] = [None] * len(sources)
        images, digests, where = [], {}, []
        for i, (src, im) in enumerate(zip(sources, decoded)):
            if isinstance(im, ImageError):
                results[i] = FileError(label(src), str(im))
            elif (why := self.aligner.too_small(im[0])) is not None:
                results[i] = FileError(label(src), why)
            else:
                images.append(im[0])
                digests[i] = im[1]
                where.append(i)
        if all_faces:
            found = self.aligner.align_all(images)
        else:
            found = [([face], 0) for face in self.aligner.align(images)]
        ok = []
        for i, (faces, main) in zip(where, found):
            if self.require_face and not faces[main].detected:
                results[i] = FileError(label(sources[i]), "no face found (--require-face)")
                continue
            for face in faces:
                face.quality = assess(face)
            ok.append((i, faces, main))
        if ok:
            vectors = iter(self.encoder.embed(np.stack([f.crop for _, faces, _ in ok for f in faces])))
            for i, faces, main in ok:
                pairs = [(f, next(vectors)) for f in faces]
                results[i] = Embedded(sources[i], faces[main], pairs[main][1], digests[i],
                                      pairs if all_faces else None, main)
        return results  # type: ignore[return-value]

    def pair(self, a, b) -> tuple[Embedded, Embedded] | FileError:
        """The faces of two photos (paths, bytes or PIL images; centre crops where no face is
        found), or the first photo's error."""
        ra, rb = self.run([as_source(a), as_source(b)])
        for r in (ra, rb):
            if isinstance(r, FileError):
                return r
        return ra, rb

    def compare(self, a, b) -> Comparison | FileError:
        """Cosine similarity of the faces in two photos and whether a face was found in each,
        or the first photo's error."""
        pair = self.pair(a, b)
        if isinstance(pair, FileError):
            return pair
        ra, rb = pair
        return Comparison(float(np.dot(ra.vector, rb.vector)), (ra.face.detected, rb.face.detected))
