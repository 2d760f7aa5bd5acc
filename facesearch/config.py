"""Defaults and enumerations, each defined once; environment variables are read by
:mod:`facesearch.settings`.

Nothing heavy here: the CLI imports this module to build its options before anything heavy
(ONNX Runtime, faiss, SQLAlchemy) is loaded.
"""
from __future__ import annotations

import os
from pathlib import Path

# -- environment (read by settings.py) --------------------------------------------------------
from .settings import DB_ENV, DEFAULT_DB, INDEX_CACHE_ENV, MILVUS_TOKEN_ENV, PLUGINS_ENV, settings  # noqa: E402,F401

PLUGIN_GROUP = "facesearch.encoders"  # package entry points that register encoder families
COMMAND_GROUP = "facesearch.commands"  # package entry points that add CLI commands (`train`)
EMBED_BATCH = settings().batch  # photos per embed/commit batch ($FACESEARCH_BATCH)

# -- enumerations (the CLI's choices come from here) ----------------------------------------
DETECTORS = ("mtcnn", "none")  # mtcnn: detect + 5-point align; none: photos are face crops
INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")
VECTOR_STORES = ("faiss", "milvus")  # --vectors faiss | milvus:<uri>
OBJECTIVES = ("far", "fpir", "f1")  # what a calibrated threshold bounds
MARGIN_KINDS = ("arcface", "cosface", "combined")
OPTIMIZERS = ("adamw", "sgd")
QUALITY_GATES = ("warn", "skip")  # what `index` does with a photo whose face is unusable
DECIDERS = ("nn", "svc")  # who `query` names: nearest neighbour, or the fitted PCA + SVC classifier

# -- photos and faces ------------------------------------------------------------------------
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
DISTORTION_DIR = "distortion"
# Larger inputs are downscaled before detection: faces stay big enough and MTCNN stays fast.
MAX_DETECT_SIDE = 1024
MAX_FILE_BYTES = 256 << 20  # a photo file larger than this is refused before it is read
# Smallest face MTCNN looks for, in pixels. Smaller faces cannot give a useful 112-px crop,
# and skipping the finest pyramid level makes detection ~1.4x faster (same val top-1).
MIN_FACE_SIZE = 40

# -- `facesearch classifier fit` (PCA + SVC on the gallery's embeddings); defaults chosen on
# FACECOM train identities by benchmarks/classifier_compare.py, never on val
CLASSIFIER_COMPONENTS = 64
CLASSIFIER_C = 100.0
SVC_KERNELS = ("linear", "rbf")
CLASSIFIER_KERNEL = "linear"

# -- the model shipped in the package ----------------------------------------------------------
PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
SHIPPED_MODEL = WEIGHTS_DIR / "mobilefacenet_facecom.pt"  # the checkpoint (training starts from it)
SHIPPED_GRAPH = WEIGHTS_DIR / "mobilefacenet_facecom.onnx"  # what runs it (exported by training/export_onnx.py)
MTCNN_GRAPHS = {net: WEIGHTS_DIR / f"mtcnn_{net}.onnx" for net in ("pnet", "rnet", "onet")}
SFACE_GRAPH = WEIGHTS_DIR / "sface_2021dec_int8bq.onnx"  # OpenCV Zoo's build, rewritten at load
TRAIN_EXTRA = "pip install 'facesearch[train]'"  # what a torch-only feature asks the user to run
SHIPPED_GENDER_MODEL = PACKAGE_DIR / "weights" / "gender_head.npz"  # reads SHIPPED_MODEL's embeddings
TRAIN_TASKS = ("identity", "gender")  # `train --task`: the encoder, or the gender head on its embeddings


def default_db() -> str:
    return settings().db


def is_database_url(db: str | os.PathLike) -> bool:
    """Whether ``--db`` names a database server (``postgresql://...``) rather than a file."""
    return "://" in str(db)


def index_cache_dir() -> Path:
    """Where the FAISS files of server databases live: ``$FACESEARCH_INDEX_CACHE``, else
    ``$XDG_CACHE_HOME/facesearch/indexes`` (``~/.cache/facesearch/indexes``)."""
    return settings().index_cache


def index_path_for(db_path: str | os.PathLike) -> Path:
    """The FAISS index file of a database, beside it: ``x.db`` -> ``x.faiss`` (as the first
    release named it), any other name gets ``.faiss`` appended (``g.v1`` -> ``g.v1.faiss``),
    so two databases never share one."""
    path = Path(db_path)
    return path.with_suffix(".faiss") if path.suffix == ".db" else path.with_name(path.name + ".faiss")


def classifier_path_for(db_path: str | os.PathLike) -> Path:
    """The fitted identity classifier of a database, beside its index file (``x.svc``)."""
    return index_path_for(db_path).with_suffix(".svc")
