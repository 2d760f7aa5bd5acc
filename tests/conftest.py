"""Shared fixtures: a fake deterministic encoder, generated photo folders, and storage
backends on real servers (a throw-away PostgreSQL, Milvus Lite files).

The fake encoder (tests/fake_encoder.py) is registered as ``--model fake`` so CLI tests
run the real code paths (registry, Encoder wrapper, store, index) in milliseconds, with no
weights and no network. Subprocesses get it with FACESEARCH_PLUGINS=tests.fake_encoder.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Exported ONNX models go to a throwaway folder, for this process and its subprocesses.
os.environ.setdefault("FACESEARCH_ONNX_CACHE", tempfile.mkdtemp(prefix="facesearch-onnx-"))
# FAISS files of PostgreSQL databases too (they live in a cache folder, not beside a file)
os.environ.setdefault("FACESEARCH_INDEX_CACHE", tempfile.mkdtemp(prefix="facesearch-indexes-"))

import itertools

import numpy as np
import pytest
from PIL import Image

from tests.fake_encoder import FakeNet  # noqa: F401  (registers --model fake)


def person_image(seed: int, size: int = 64, noise: float = 0.0, rng_seed: int = 0) -> Image.Image:
    """A blocky picture unique to ``seed``; ``noise`` adds a 'distortion'."""
    base = np.random.default_rng(seed).integers(0, 256, (4, 4, 3)).astype(np.float32)
    img = np.kron(base, np.ones((size // 4, size // 4, 1), np.float32))
    if noise:
        img += np.random.default_rng(rng_seed + 1000).normal(0, noise, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


@pytest.fixture
def gallery_dir(tmp_path: Path) -> Path:
    """Three people, two photos each, plus one FACECOM-style distorted copy."""
    root = tmp_path / "gallery"
    for i, name in enumerate(["alice", "bob", "carol"]):
        (root / name / "distortion").mkdir(parents=True)
        person_image(i).save(root / name / f"{name}_0001.jpg", quality=95)
        person_image(i, noise=6, rng_seed=1).save(root / name / f"{name}_0002.png")
        person_image(i, noise=25, rng_seed=2).save(root / name / "distortion" / f"{name}_0001_noisy.jpg")
    return root


@pytest.fixture
def fake_encoder_obj():
    from facesearch.encoders import create_encoder

    return create_encoder("fake")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "fs.db"


@pytest.fixture(scope="session")
def gender_dir(tmp_path_factory) -> Path:
    """A synthetic gender set at the fake encoder's input size (no detection runs):
    <root>/{train,val}/{female,male}/<identity>_NNNN.png, classes 3:1 like FACECOM's,
    told apart by colour; val has identities of its own and two shared with train (same photos, as in FACECOM)."""
    root = tmp_path_factory.mktemp("gender")
    tint = {"female": (90, -40, -40), "male": (-40, -40, 90)}
    for split, people in (("train", {"female": range(0, 4), "male": range(10, 22)}),
                          ("val", {"female": (3, 30), "male": (21, 40, 41)})):
        for cls, ids in people.items():
            (root / split / cls).mkdir(parents=True)
            for i in ids:
                for j in range(2):
                    img = np.asarray(person_image(i, size=32, noise=8, rng_seed=j), np.float32) * 0.5
                    img += 64 + np.array(tint[cls], np.float32)
                    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / split / cls / f"p{i}_000{j + 1}.png")
    return root


@pytest.fixture(scope="session")
def gender_model(gender_dir, tmp_path_factory) -> Path:
    """A gender head trained on ``gender_dir`` over the fake encoder's embeddings."""
    from training.gender import train_gender

    out = tmp_path_factory.mktemp("gender-run")
    train_gender(str(gender_dir / "train"), str(gender_dir / "val"), str(out), "fake", folds=3,
                 cache_dir=out / "cache")
    return out / "gender.npz"
# -- storage backends -------------------------------------------------------------------------
# (database, vector store) pairs; "sqlite" + "faiss" is the embedded default.
BACKENDS = ["sqlite-faiss", "postgres-faiss", "sqlite-milvus", "postgres-milvus"]
_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL 15 cluster for the session (skipped, saying why, where it cannot run)."""
    from tests.servers import Unavailable, start_postgres

    try:
        server = start_postgres()
    except Unavailable as e:
        pytest.skip(f"PostgreSQL unavailable: {e}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server) -> str:
    """A new, empty database on the throw-away server."""
    return postgres_server.create_database(f"fs{os.getpid()}_{next(_databases)}")


@pytest.fixture
def milvus_spec(tmp_path) -> str:
    """``--vectors`` for a new Milvus Lite file (skipped where pymilvus / milvus-lite are absent)."""
    for module in ("pymilvus", "milvus_lite"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install 'facesearch[milvus]')")
    return f"milvus:{tmp_path / 'vectors.db'}"


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> tuple[str, list[str]]:
    """(``--db``, extra ``index`` arguments) for each backend pair."""
    database, vectors = request.param.split("-")
    db = request.getfixturevalue("pg_url") if database == "postgres" else str(tmp_path / "fs.db")
    extra = ["--vectors", request.getfixturevalue("milvus_spec")] if vectors == "milvus" else []
    return db, extra


@pytest.fixture
def shipped_calibration_file(tmp_path, monkeypatch, fake_encoder_obj):
    """A calibration shipped for the fake encoder (cohort of six centroids, verification
    threshold 1.0, identification rules for galleries of 1 and 10), in a temporary file."""
    import json

    from facesearch.gallery import decision
    from facesearch.gallery.cohort import Cohort

    card = fake_encoder_obj.card
    c = np.random.default_rng(0).normal(size=(6, card.embedding_dim)).astype(np.float32)
    cohort = Cohort(c / np.linalg.norm(c, axis=1, keepdims=True), np.full(6, 12), 3)
    rules = [{"gallery_size": 1, "floor": 2.0, "margin": None}, {"gallery_size": 10, "floor": 1.5, "margin": 0.5}]
    entry = {"embedding_dim": card.embedding_dim, "flip": card.flip, "cohort": cohort.as_dict(),
             "verification": {"threshold": 1.0}, "identification": {"rules": rules}}
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({card.checksum: entry}))
    monkeypatch.setattr(decision, "SHIPPED_CALIBRATION", path)
    return path


# -- lanes: `pytest -m "not slow"` is the developer's loop --------------------------------------
# A test is slow when it starts a real server (uvicorn, PostgreSQL, Milvus Lite) or a browser,
# or trains a model first, whichever way it gets one: by these fixtures, or by a backend other
# than SQLite + FAISS. Other slow tests (several processes, torchrun, training epochs, real
# networks, FACECOM runs) say so with @pytest.mark.slow.
SLOW_FIXTURES = {"served", "postgres_server", "milvus_spec", "browser", "site", "gender_model",
                 "library_server", "open_server", "strict"}  # (the last three: real servers of one module each)


def pytest_collection_modifyitems(items):
    for item in items:
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or backend not in (None, "sqlite-faiss"):
            item.add_marker(pytest.mark.slow)
