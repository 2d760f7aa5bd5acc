"""Defaults, enumerations and the environment, each defined once.

Every environment variable facesearch reads is read by :func:`settings`, in one place, at
each call (cheap; tests and servers change the environment), so no module keeps a stale
copy. Cache folders follow the platform's convention (platformdirs: ``$XDG_CACHE_HOME/facesearch``
or ``~/.cache/facesearch`` on Linux).

Nothing heavy here: the CLI imports this module to build its options before anything heavy
(ONNX Runtime, faiss, SQLAlchemy) is loaded.
"""
from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# -- environment -------------------------------------------------------------------------------
DB_ENV = "FACESEARCH_DB"
PLUGINS_ENV = "FACESEARCH_PLUGINS"  # comma-separated modules that register encoder families
BATCH_ENV = "FACESEARCH_BATCH"
RUNTIME_ENV = "FACESEARCH_RUNTIME"  # "onnx" (default) or "torch" (networks built in PyTorch only)
THREADS_ENV = "FACESEARCH_THREADS"  # ONNX Runtime threads per session (default: the CPUs this process may use)
ONNX_CACHE_ENV = "FACESEARCH_ONNX_CACHE"  # graphs exported from PyTorch networks, rewritten graphs
INDEX_CACHE_ENV = "FACESEARCH_INDEX_CACHE"  # FAISS files of server databases
MILVUS_TOKEN_ENV = "MILVUS_TOKEN"  # token (or user:password) for a Milvus server
MILVUS_WAIT_ENV = "FACESEARCH_MILVUS_WAIT"
DEFAULT_DB = "facesearch.db"


def cache_dir() -> Path:
    """facesearch's own cache folder (platformdirs' user cache dir)."""
    from platformdirs import user_cache_dir  # here: only when a cache is used

    return Path(user_cache_dir("facesearch", appauthor=False))


@dataclass(frozen=True)
class Settings:
    db: str
    plugins: tuple[str, ...]
    batch: int
    runtime: str
    threads: int | None
    milvus_token: str
    milvus_wait_s: float
    onnx_cache_env: str | None = None
    index_cache_env: str | None = None

    @property
    def onnx_cache(self) -> Path:
        """Graphs exported from PyTorch networks, and rewritten published graphs."""
        return Path(self.onnx_cache_env) if self.onnx_cache_env else cache_dir() / "onnx"

    @property
    def index_cache(self) -> Path:
        """FAISS files of server databases (a file database keeps its index beside it)."""
        return Path(self.index_cache_env) if self.index_cache_env else cache_dir() / "indexes"


def settings() -> Settings:
    """The environment as facesearch reads it, now."""
    env = os.environ
    return Settings(
        db=env.get(DB_ENV, DEFAULT_DB),
        plugins=tuple(filter(None, (m.strip() for m in env.get(PLUGINS_ENV, "").split(",")))),
        batch=int(env.get(BATCH_ENV, 64)),
        runtime=env.get(RUNTIME_ENV, "onnx").lower(),
        threads=int(env[THREADS_ENV]) if env.get(THREADS_ENV) else None,
        milvus_token=env.get(MILVUS_TOKEN_ENV, ""),
        milvus_wait_s=float(env.get(MILVUS_WAIT_ENV, 120)),
        onnx_cache_env=env.get(ONNX_CACHE_ENV) or None,
        index_cache_env=env.get(INDEX_CACHE_ENV) or None,
    )


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

# -- `facesearch cluster`: two groups of faces are one person while the mean cosine similarity
# of their faces reaches this; chosen on FACECOM train identities for the shipped model by
# benchmarks/cluster_facecom.py, never on val (another encoder: pass --threshold)
CLUSTER_THRESHOLD = 0.375

# -- the model shipped in the package ----------------------------------------------------------
PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
SHIPPED_MODEL = WEIGHTS_DIR / "mobilefacenet_facecom.pt"  # the checkpoint (training starts from it)
SHIPPED_GRAPH = WEIGHTS_DIR / "mobilefacenet_facecom.onnx"  # what runs it (exported by training/export_onnx.py)
MTCNN_GRAPHS = {net: WEIGHTS_DIR / f"mtcnn_{net}.onnx" for net in ("pnet", "rnet", "onet")}
SFACE_GRAPH = WEIGHTS_DIR / "sface_2021dec_int8bq.onnx"  # OpenCV Zoo's build, rewritten at load
FUSION_WEIGHTS = WEIGHTS_DIR / "fusion_mfn_sface.npz"  # `--model fused`: its members' maps and weights
TRAIN_EXTRA = "pip install 'facesearch[train]'"  # what a torch-only feature asks the user to run
SHIPPED_GENDER_MODEL = PACKAGE_DIR / "weights" / "gender_head.npz"  # reads SHIPPED_MODEL's embeddings
# thresholds and impostor cohort per shipped encoder (keyed by its checksum): training/ship_calibration.py
SHIPPED_CALIBRATION = PACKAGE_DIR / "weights" / "calibration.json"
CALIBRATION_SOURCES = ("shipped", "user", "threshold")  # what decided: the model's, `calibrate`'s, --threshold
HOW_TO_CALIBRATE = ("run `facesearch calibrate <folder of person folders>` with photos of a few people "
                    "(two or more photos each)")
TRAIN_TASKS = ("identity", "gender")  # `train --task`: the encoder, or the gender head on its embeddings


# Who is writing, for the audit log (gallery/audit.py): a string or a function giving one.
# The CLI sets its command path, the server the request's API token id; plain Python: "python".
AUDIT_ACTOR: ContextVar[str | Callable[[], str]] = ContextVar("facesearch_audit_actor", default="python")


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
