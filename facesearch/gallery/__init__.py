"""A gallery: the facade (:class:`Gallery`) over the store (all SQL, SQLite or PostgreSQL)
and a vector store (FAISS or Milvus, behind the writer lock + generation protocol)."""
from __future__ import annotations

from ..errors import GalleryError
from ..faces.pipeline import PhotoBytes
from .decision import compare_photos
from .enrolment import EnrollReport
from .facade import Gallery
from .uploads import UploadReport


def __getattr__(name: str):
    # Lazy: the photo library pulls in scipy's clustering, which a query never needs.
    if name == "Library":
        from .library import Library

        return Library
    raise AttributeError(f"module 'facesearch.gallery' has no attribute {name!r}")

__all__ = ["EnrollReport", "Gallery", "GalleryError", "Library", "PhotoBytes", "UploadReport", "compare_photos"]
