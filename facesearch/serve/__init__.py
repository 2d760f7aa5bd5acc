"""`facesearch serve`: the REST service (FastAPI + uvicorn) over one warm gallery, its
OpenAPI document, and a web page at ``/``."""
from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
