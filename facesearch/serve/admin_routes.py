"""``/v1/health``: whether the server is ready, with counts and the encoder it serves."""
from __future__ import annotations

from fastapi import APIRouter

from . import schemas
from .photos import shown_path
from .service import ExposePaths, ReaderGallery

router = APIRouter()


@router.get("/health", response_model=schemas.Health)
def health(gallery: ReaderGallery, expose_paths: ExposePaths):
    """Ready: counts and the encoder the gallery was built with."""
    people = gallery.people()
    card = gallery.encoder.card
    return {"status": "ok", "identities": len(people), "photos": sum(n for _, n in people),
            "encoder": {"arch": card.arch, "model": shown_path(card.model, expose_paths),
                        "weights": card.weights and shown_path(card.weights, expose_paths),
                        "checksum": card.checksum, "embedding_dim": card.embedding_dim, "flip": card.flip},
            "detector": gallery.detector}
