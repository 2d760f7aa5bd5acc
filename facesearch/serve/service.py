"""What the routes share: the warm :class:`Service` and the FastAPI dependencies that hand
its parts to a route (``Depends``), and the request helpers every router uses.

Reads go to one Gallery (``ReaderGallery``): it re-reads the database's generation on every
search, so writes by the CLI (or anyone) are seen on the next request. Writes go one at a
time (``WriterGallery`` holds the writer lock for the route's run) through a twin Gallery
under the CLI's writer protocol (file lock + generation), so a CLI and a server share one
database safely. Concurrent searches are batched (:mod:`.batching`).
"""
from __future__ import annotations

import logging
import threading
import unicodedata
from contextlib import contextmanager
from typing import Annotated, Iterator

from fastapi import Depends, Request, UploadFile

from ..errors import GalleryError, ImageError
from ..gallery import Gallery, PhotoBytes
from ..gallery.reembed import follow_switch
from ..types import shown
from .batching import Batcher
from .errors import request_id

log = logging.getLogger("facesearch.serve")
MAX_FILE_NAME = 255  # characters of an upload's file name (it is stored with the photo)
# Failures of the photo's data, not of the server: with the batcher isolating each photo,
# such an exception belongs to the one photo it was raised for (422, traceback in the log).
PHOTO_FAILURES = (ValueError, IndexError, ArithmeticError)


class Service:
    """The warm gallery, its writer twin behind a lock, the search batcher, and how results
    name photos (``expose_paths``, see :mod:`.photos`)."""

    def __init__(self, gallery: Gallery, max_batch: int = 16, expose_paths: bool = False):
        self.reader = gallery
        self.writer = gallery.twin()
        self.write_lock = threading.Lock()
        self.batcher = Batcher(self._identify, max_batch)
        self.expose_paths = expose_paths

    def _identify(self, key, photos: list, k: list[int]) -> list:
        all_faces, threshold, attributes = key  # k: each photo's own (the gallery cuts each answer to it)
        follow_switch(self.reader)  # after a `reembed --switch` (here or by the CLI): the new encoder
        return self.reader.identify(photos, k=k, threshold=threshold, all_faces=all_faces, attributes=attributes)

    @contextmanager
    def writing(self) -> Iterator[Gallery]:
        """The writer twin, for one write at a time (after a model switch, on the new encoder)."""
        with self.write_lock:
            follow_switch(self.writer)
            yield self.writer

    def write(self, action, *args):
        with self.writing():
            return action(*args)

    def close(self) -> None:
        """Close the database connections, once a write in progress is done (SQLite folds
        its write-ahead log into the file as its last connection closes)."""
        with self.write_lock:
            for gallery in (self.reader, self.writer):
                gallery.store.engine.dispose()


def service(request: Request) -> Service:
    return request.app.state.service


def reader(served: Annotated[Service, Depends(service)]) -> Gallery:
    """The reader gallery as the database is now (re-read; after a model switch, the new encoder)."""
    follow_switch(served.reader)
    return served.reader


def writer(served: Annotated[Service, Depends(service)]) -> Iterator[Gallery]:
    """The writer twin, for one route's run at a time."""
    with served.writing() as gallery:
        yield gallery


def expose_paths(served: Annotated[Service, Depends(service)]) -> bool:
    return served.expose_paths


Served = Annotated[Service, Depends(service)]
ReaderGallery = Annotated[Gallery, Depends(reader)]
# scope="function": the lock is released as the route returns, before the response is sent
WriterGallery = Annotated[Gallery, Depends(writer, scope="function")]
ExposePaths = Annotated[bool, Depends(expose_paths)]


def upload(photo: UploadFile) -> PhotoBytes:
    """An uploaded file as a photo to enrol or search (its file name is stored with it)."""
    name = photo.filename or "image"
    if len(name) > MAX_FILE_NAME or any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise GalleryError(f"upload file name {shown(name[:80])!r} is longer than {MAX_FILE_NAME} characters "
                           "or holds control characters: rename the file")
    return PhotoBytes(name, photo.file.read())


@contextmanager
def photo_failures(request: Request):
    """A photo that breaks the pipeline fails its request with 422 (the traceback goes to the log)."""
    try:
        yield
    except PHOTO_FAILURES:
        log.exception("request %s: a photo could not be processed", request_id(request))
        raise ImageError("a photo of this request could not be processed (the server log has the details)") from None
