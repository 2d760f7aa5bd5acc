"""facesearch: face identification over a gallery of person folders.

    from facesearch import Gallery
    gallery = Gallery.open("faces.db", create=True)
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["FacesearchError", "Gallery", "__version__"]


def __getattr__(name: str):
    # Lazy: `import facesearch` (the CLI does) must not load SQLAlchemy, FAISS or torch.
    if name == "Gallery":
        from .gallery import Gallery

        return Gallery
    if name == "FacesearchError":
        from .errors import FacesearchError

        return FacesearchError
    raise AttributeError(f"module 'facesearch' has no attribute {name!r}")
