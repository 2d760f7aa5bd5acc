"""One error family. The CLI and the server print a FacesearchError's message as it is
(no traceback) and exit with status 1; anything else is a bug."""
from __future__ import annotations


class FacesearchError(Exception):
    """A refusal or failure the user can act on; the message says what to do."""


class ImageError(FacesearchError):
    """A file cannot be used as a photo (missing, empty, truncated, not an image, too large)."""


class EncoderError(FacesearchError):
    """A model cannot be built or loaded."""


class StoreError(FacesearchError):
    """The database cannot be opened or is not one facesearch can use."""


class IndexFileError(FacesearchError):
    """The FAISS index file is missing, damaged or not a facesearch index."""


class GalleryError(FacesearchError):
    """A request the gallery refuses (wrong encoder or detector, unknown identity, empty gallery)."""


class DataError(FacesearchError):
    """Labelled data cannot support the request (e.g. calibration with one identity)."""


class NotFoundError(GalleryError):
    """The identity or photo named does not exist."""


class ConflictError(GalleryError):
    """The request clashes with what is stored (a name taken, a photo enrolled as someone else)."""


class SourceError(FacesearchError):
    """A video source (file, stream URL, webcam) cannot be opened or read, or an output video written."""


class OutputError(FacesearchError):
    """An output the user named (a report, plots, a video, the standard output) cannot be written."""


class ExtraMissingError(FacesearchError):
    """A feature needs an optional dependency that is not installed (the message names the extra)."""
