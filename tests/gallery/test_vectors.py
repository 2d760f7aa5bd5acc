"""Vector stores (facesearch/gallery/vectors): the --vectors spec, Milvus (Lite) behind the
generation protocol, and moving a database's vectors from one store to another."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facesearch.errors import GalleryError
from facesearch.gallery import Gallery
from facesearch.gallery.vectors import parse_vectors
from tests.conftest import person_image


def test_vectors_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_vectors("faiss") == "faiss"
    assert parse_vectors("milvus:v.db") == f"milvus:{tmp_path / 'v.db'}"  # made absolute, as recorded
    assert parse_vectors("milvus:http://milvus:19530") == "milvus:http://milvus:19530"
    for bad in ("annoy", "milvus:", "faiss:x", "milvus:v.txt", "milvus:/no/such/folder/v.db"):
        with pytest.raises(GalleryError, match="--vectors|folder"):
            parse_vectors(bad)


@pytest.fixture
def milvus_gallery(tmp_path, milvus_spec):
    g = Gallery.open(tmp_path / "fs.db", model="fake", detector="none", create=True, vectors=milvus_spec)
    for i, name in enumerate(["ann", "ben", "cat"]):
        g.enroll_photos(name, [person_image(i), person_image(i, noise=5, rng_seed=1)])
    return g


def test_milvus_is_recorded_searched_and_kept_in_step(milvus_gallery, milvus_spec, tmp_path):
    g = milvus_gallery
    assert g.meta.vectors == milvus_spec and g.meta.vectors_generation == g.meta.generation
    assert type(g.sync).__name__ == "MilvusVectors" and len(g.index) == 6
    assert g.identify([person_image(1, noise=9, rng_seed=3)])[0].matches[0].identity == "ben"
    g.remove("ben")
    assert sorted(g.index.ids().tolist()) == sorted(g.store.embeddings(16)[0].tolist()) and g.check() == []
    again = Gallery.open(tmp_path / "fs.db")  # later commands reuse the recorded store
    assert type(again.sync).__name__ == "MilvusVectors" and len(again.index) == 4


def test_a_write_that_died_is_rebuilt_and_check_sees_a_missing_collection(milvus_gallery):
    g = milvus_gallery
    g.store.bump_generation()  # as a writer killed after its first step leaves it
    g.refresh()
    assert any("Milvus generation" in p for p in g.check())
    reader = Gallery.open(g.db_path)
    assert len(reader.index) == 6 and reader.sync.settled and reader.check() == []  # rebuilt, stamped
    reader.sync.client.drop_collection(reader.sync.collection(reader.meta))
    assert any("does not exist" in p for p in reader.check())
    assert reader.reindex() == 6 and reader.check() == []


def test_index_kinds_map_onto_milvus_index_types(milvus_gallery):
    g = milvus_gallery
    for kind, milvus_type in [("ivf", "IVF_FLAT"), ("hnsw", "HNSW"), ("flat", "FLAT")]:
        g.set_index_type(kind, nprobe=4, ef_search=16)
        g.reindex()
        info = g.sync.client.describe_index(g.sync.collection(g.meta), "vector")
        assert info["index_type"] == milvus_type and g.index.kind == kind
        assert g.identify([person_image(2)])[0].matches[0].identity == "cat"


def test_a_database_moves_between_faiss_and_milvus(tmp_path, milvus_spec):
    db = tmp_path / "fs.db"
    g = Gallery.open(db, model="fake", detector="none", create=True)
    g.enroll_photos("ann", [person_image(0)])
    g.enroll_photos("ben", [person_image(1)])
    query = person_image(1, noise=8, rng_seed=2)
    before = g.identify([query])[0].matches
    moved = Gallery.open(db, vectors=milvus_spec)
    assert moved.meta.vectors == milvus_spec and moved.reindex() == 2 and moved.check() == []
    assert [(m.identity, round(m.score, 4)) for m in moved.identify([query])[0].matches] == \
        [(m.identity, round(m.score, 4)) for m in before]
    back = Gallery.open(db, vectors="faiss")
    back.enroll_photos("cat", [person_image(2)])
    assert back.check() == [] and len(back.index) == 3
    scores, ids = back.index.search(np.asarray(back.store.embeddings(16)[1][:1]), 1)
    assert ids[0][0] == back.store.embeddings(16)[0][0]


def test_cli_index_vectors_option(tmp_path, milvus_spec, gallery_dir, monkeypatch):
    from click.testing import CliRunner

    from facesearch.cli import main

    monkeypatch.chdir(tmp_path)
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a])  # noqa: E731
    r = run("index", gallery_dir, "--model", "fake", "--detector", "none", "--vectors", "pinecone")
    assert r.exit_code == 1 and "--vectors takes faiss, or milvus:<uri>" in r.stderr
    assert not (tmp_path / "facesearch.db").exists()  # refused before a database is made
    r = run("index", gallery_dir, "--model", "fake", "--detector", "none", "--vectors", milvus_spec, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["photos"] == 6 and not (tmp_path / "facesearch.faiss").exists()


@pytest.mark.parametrize("kind", ["text", "sqlite", "folder"])
def test_a_file_that_is_not_a_milvus_lite_store_is_refused_at_once(tmp_path, milvus_spec, gallery_dir, monkeypatch,
                                                                   kind):
    """Issue 23 row 22: not 'another facesearch command has it open' after a two-minute wait."""
    import sqlite3
    import time

    from click.testing import CliRunner

    from facesearch.cli import main

    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.db"
    if kind == "text":
        notes.write_text("my notes\n")
    elif kind == "sqlite":
        with sqlite3.connect(notes) as c:
            c.execute("CREATE TABLE notes (t TEXT)")
    else:
        notes.mkdir()
        (notes / "holiday.jpg").write_bytes(b"x")
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a])  # noqa: E731
    start = time.monotonic()
    r = run("index", gallery_dir, "--model", "fake", "--detector", "none", "--vectors", "milvus:notes.db")
    assert r.exit_code == 1 and "notes.db is not a Milvus Lite store" in r.stderr, r.output
    assert "another facesearch command" not in r.stderr and time.monotonic() - start < 20
    assert not (tmp_path / "facesearch.db").exists()
    # a recorded store replaced by such a file later: the same sentence, at once
    assert run("index", gallery_dir, "--model", "fake", "--detector", "none", "--vectors", milvus_spec).exit_code == 0
    import facesearch.gallery.vectors.milvus as milvus

    milvus._clients.clear()  # as a new process
    lite = Path(milvus_spec.partition(":")[2])
    shutil.rmtree(lite)
    shutil.copy(notes, lite) if kind != "folder" else shutil.copytree(notes, lite)
    start = time.monotonic()
    r = run("query", gallery_dir / "alice" / "alice_0001.jpg")
    assert r.exit_code == 1 and "is not a Milvus Lite store" in r.stderr and time.monotonic() - start < 20, r.output


def test_check_compares_milvus_vectors_with_the_stored_embeddings(milvus_gallery):
    """Issue 23 row 3, for Milvus: two vectors swapped in the collection."""
    g = milvus_gallery
    ids, vectors = g.store.embeddings(16)
    g.sync.client.upsert(g.sync.collection(g.meta), [{"id": int(ids[0]), "vector": vectors[1].tolist()},
                                                     {"id": int(ids[1]), "vector": vectors[0].tolist()}])
    assert [p.split(" in Milvus")[0] for p in g.check()] == ["2 vectors"]
    assert g.reindex() == 6 and g.check() == []
