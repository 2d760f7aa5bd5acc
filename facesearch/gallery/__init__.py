"""A gallery: the facade (:class:`Gallery`) over the store (all SQL), the FAISS index and
the index sync (file lock + generation protocol)."""
from __future__ import annotations

from ..errors import GalleryError
from .facade import EnrollReport, Gallery, compare_photos

__all__ = ["EnrollReport", "Gallery", "GalleryError", "compare_photos"]
