"""A gallery: the facade (:class:`Gallery`) over the store (all SQL, SQLite or PostgreSQL)
and a vector store (FAISS or Milvus, behind the writer lock + generation protocol)."""
from __future__ import annotations

from ..errors import GalleryError
from ..faces.pipeline import PhotoBytes
from .facade import EnrollReport, Gallery, compare_photos
from .library import Library
from .uploads import UploadReport

__all__ = ["EnrollReport", "Gallery", "GalleryError", "Library", "PhotoBytes", "UploadReport", "compare_photos"]
