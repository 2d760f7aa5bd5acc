"""The web pages: ``/`` (search, enrol, people) and ``/clusters`` (name the library's
clusters), with their files under ``/static``."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
def page():
    return FileResponse(STATIC / "index.html")


@router.get("/clusters")
def clusters_page():
    """The clusters as rows of face thumbnails, each with a name field."""
    return FileResponse(STATIC / "clusters.html")
