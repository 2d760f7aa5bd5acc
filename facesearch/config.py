"""Defaults and environment lookups, defined once."""
from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "FACESEARCH_DB"
DEFAULT_DB = "facesearch.db"
MODEL_ENV = "FACESEARCH_MODEL"

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
DISTORTION_DIR = "distortion"

# Larger inputs are downscaled before detection: faces stay big enough and MTCNN stays fast.
MAX_DETECT_SIDE = 1024
# Smallest face MTCNN looks for, in pixels. Smaller faces cannot give a useful 112-px crop,
# and skipping the finest pyramid level makes detection ~1.4x faster (same val top-1).
MIN_FACE_SIZE = 40
EMBED_BATCH = int(os.environ.get("FACESEARCH_BATCH", 64))  # photos per embed/commit batch

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_WEIGHTS_DIR = PACKAGE_DIR / "weights"


def default_db() -> str:
    return os.environ.get(DB_ENV, DEFAULT_DB)


def index_path_for(db_path: str | os.PathLike) -> Path:
    """The FAISS index file that belongs to a database: same folder, ``.faiss`` suffix."""
    return Path(db_path).with_suffix(".faiss")
