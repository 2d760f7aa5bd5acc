"""kill -9 during `facesearch index`, concurrent writers, queries during a write.

These run the real CLI in subprocesses with the fake encoder (FACESEARCH_PLUGINS).
"""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import person_image

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "facesearch.cli"]


def env(**extra):
    # PyTorch runtime: FAKE_ENCODER_DELAY is Python in forward(), which an ONNX export drops
    e = dict(os.environ, FACESEARCH_PLUGINS="tests.fake_encoder", PYTHONPATH=str(REPO),
             FACESEARCH_BATCH="16", FACESEARCH_RUNTIME="torch", **extra)
    return e


@pytest.fixture(scope="module")
def big_gallery(tmp_path_factory):
    root = tmp_path_factory.mktemp("big") / "gallery"
    for i in range(60):
        (root / f"person{i:03d}").mkdir(parents=True)
        for j in range(5):
            person_image(i, size=32, noise=3, rng_seed=j).save(root / f"person{i:03d}" / f"{j}.png")
    return root  # 300 photos


def index_cmd(gallery, db, *extra):
    return [*CLI, "index", str(gallery), "--db", str(db), "--model", "fake", "--detector", "none", *extra]


def db_state(db):
    """(identity, sha256) of every stored photo, from a SQLite file or a PostgreSQL URL."""
    query = "SELECT i.name, p.sha256 FROM photos p JOIN identities i ON i.id = p.identity_id"
    if "://" in str(db):
        import psycopg

        with psycopg.connect(str(db)) as c:
            has = c.execute("SELECT to_regclass('photos') IS NOT NULL").fetchone()[0]
            return [tuple(r) for r in c.execute(query).fetchall()] if has else []
    if not Path(db).exists():
        return []
    with sqlite3.connect(db) as c:
        rows = c.execute(query).fetchall()
    return rows


KILL_BACKENDS = ["sqlite-faiss", "postgres-faiss", "postgres-milvus"]


@pytest.mark.slow  # subprocesses on a 300-photo gallery
@pytest.mark.parametrize("backend", KILL_BACKENDS, indirect=True)
def test_kill_9_during_index_then_rerun_is_consistent(big_gallery, backend):
    db, extra = backend
    rng = random.Random(1234)
    kills = 0
    for _ in range(5):
        # 1 s per unit of 16 photos, two units at once: a whole run takes ~10 s, so the first kill
        # (at 2-5 s) always lands mid-run
        p = subprocess.Popen(index_cmd(big_gallery, db, *extra), env=env(FAKE_ENCODER_DELAY="1.0"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 5.0))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
        rows = db_state(db)  # whatever was committed is whole: no duplicates
        assert len(rows) == len(set(rows))
    assert kills >= 1, "the run finished before every kill: lengthen FAKE_ENCODER_DELAY"
    done = subprocess.run(index_cmd(big_gallery, db, "--json", *extra), env=env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = db_state(db)
    assert len(rows) == 300 and len(set(rows)) == 300
    check = subprocess.run([*CLI, "check", "--db", str(db)], env=env(), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.slow  # subprocesses on a 300-photo gallery
def test_check_and_reindex_repair_a_stale_index(big_gallery, tmp_path):
    db = tmp_path / "fs.db"
    subprocess.run(index_cmd(big_gallery, db), env=env(), check=True, capture_output=True)
    faiss_file = db.with_suffix(".faiss")
    stale = faiss_file.read_bytes()
    subprocess.run([*CLI, "people", "remove", "person000", "--db", str(db)], env=env(), check=True,
                   capture_output=True)
    faiss_file.write_bytes(stale)  # an index from before the removal
    assert subprocess.run([*CLI, "check", "--db", str(db)], env=env(), capture_output=True).returncode == 1
    subprocess.run([*CLI, "reindex", "--db", str(db)], env=env(), check=True, capture_output=True)
    assert subprocess.run([*CLI, "check", "--db", str(db)], env=env(), capture_output=True).returncode == 0


@pytest.mark.slow  # two index processes at once
def test_two_concurrent_index_runs_do_not_corrupt(big_gallery, tmp_path):
    db = tmp_path / "fs.db"
    subprocess.run(index_cmd(big_gallery, db), env=env(), check=True, capture_output=True)  # create
    procs = [subprocess.Popen(index_cmd(big_gallery, db, "--include-distorted"), env=env(FAKE_ENCODER_DELAY="0.02"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    rows = db_state(db)
    assert len(rows) == len(set(rows)) == 300
    assert subprocess.run([*CLI, "check", "--db", str(db)], env=env(), capture_output=True).returncode == 0


@pytest.mark.parametrize("backend", ["postgres-faiss"], indirect=True)
def test_two_index_runs_and_a_query_at_once(big_gallery, backend, tmp_path):
    """On a server database: no error, no duplicate, nothing lost."""
    db, extra = backend
    first = tmp_path / "first"
    (first / "person000").mkdir(parents=True)
    person_image(0, size=32, noise=3, rng_seed=0).save(first / "person000" / "0.png")
    subprocess.run(index_cmd(first, db, *extra), env=env(), check=True, capture_output=True)
    procs = [subprocess.Popen(cmd, env=env(FAKE_ENCODER_DELAY="0.02"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for cmd in (index_cmd(big_gallery, db), index_cmd(big_gallery, db),
                         [*CLI, "query", str(big_gallery / "person000" / "1.png"), "--db", db, "--json"])]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert json.loads(outs[2][0])["matches"][0]["identity"] == "person000"
    rows = db_state(db)
    assert len(rows) == len(set(rows)) == 300
    check = subprocess.run([*CLI, "check", "--db", db], env=env(), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.slow  # an index process and queries at once
def test_queries_during_index_never_fail(big_gallery, tmp_path):
    db = tmp_path / "fs.db"
    first = tmp_path / "first"
    (first / "person000").mkdir(parents=True)
    person_image(0, size=32).save(first / "person000" / "a.png")
    subprocess.run(index_cmd(first, db), env=env(), check=True, capture_output=True)
    writer = subprocess.Popen(index_cmd(big_gallery, db), env=env(FAKE_ENCODER_DELAY="0.05"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = big_gallery / "person007" / "0.png"
    seen = []
    try:
        while writer.poll() is None and len(seen) < 6:
            r = subprocess.run([*CLI, "query", str(query), "--db", str(db), "--json"], env=env(),
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            seen.append(json.loads(r.stdout)["matches"][0]["identity"])
    finally:
        writer.wait(timeout=120)
    assert seen and writer.returncode == 0
    final = subprocess.run([*CLI, "query", str(query), "--db", str(db), "--json"], env=env(),
                           capture_output=True, text=True)
    assert json.loads(final.stdout)["matches"][0]["identity"] == "person007"


# -- a long-lived reader (the server) and a writer at work ------------------------------------

def test_a_long_lived_reader_never_keeps_an_index_built_from_half_a_write(tmp_path):
    """While a writer holds the lock, a reader keeps serving the last index it had (or one
    rebuilt from what is committed so far) and looks again on its next call; once the
    write is saved it takes the file."""
    from facesearch.gallery import Gallery
    from facesearch.gallery.store import NewPhoto

    db = tmp_path / "fs.db"
    g = Gallery.open(db, model="fake", detector="none", create=True)
    g.enroll_photos("alice", [person_image(0)])
    reader, late_reader, writer = Gallery.open(db), Gallery.open(db), Gallery.open(db)
    reader.refresh()
    assert len(reader.index) == 1 and reader.sync.settled
    new = next(writer.embedder().run([person_image(1)]))
    with writer._writing() as (meta, index):
        ids, _ = writer.store.add_photos([NewPhoto("bob", None, "upload:bob", new.sha256, None, None, 0,
                                                   new.face.quality, new.vector)])
        index.add(ids, new.vector[None])
        reader.refresh()
        assert len(reader.index) == 1 and not reader.sync.settled  # the last consistent index
        late_reader.refresh()
        assert len(late_reader.index) == 2 and not late_reader.sync.settled  # rebuilt from committed rows
    for r in (reader, late_reader):
        r.refresh()
        assert len(r.index) == 2 and r.sync.settled
        assert r.identify([person_image(1)])[0].matches[0].identity == "bob"


def test_a_reader_settles_on_a_rebuild_when_no_writer_is_left(tmp_path):
    """A writer that died leaves the file behind the database and the lock free: the
    rebuilt index is final."""
    from facesearch.gallery import Gallery

    db = tmp_path / "fs.db"
    g = Gallery.open(db, model="fake", detector="none", create=True)
    g.enroll_photos("alice", [person_image(0)])
    g.store.bump_generation()  # as a crashed writer leaves it
    reader = Gallery.open(db)
    reader.refresh()
    assert len(reader.index) == 1 and reader.sync.settled
    assert reader.index is reader.index  # not rebuilt on every call
