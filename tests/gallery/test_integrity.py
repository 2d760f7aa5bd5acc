"""Hardening (issue 12): facesearch never writes into other files, never mixes databases
or photos up, and `check` finds damage; every failure is one line, never a traceback."""
import json
import os
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from facesearch.cli import main
from facesearch.gallery import Gallery
from facesearch.photos.scan import scan_gallery
from tests.conftest import person_image


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args, env=None):
        r = CliRunner().invoke(main, [str(a) for a in args], env=env)
        assert "Traceback" not in r.output and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
        return r

    return invoke


def index(run, gallery, db="facesearch.db", *extra):
    return run("index", gallery, "--db", db, "--model", "fake", "--detector", "none", *extra)


def people_of(run, db="facesearch.db"):
    return {x["identity"]: x["photos"] for x in map(json.loads, run("people", "--db", db, "--json").stdout.splitlines())}


def checkpoint(db):
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.parametrize("tables", [["CREATE TABLE notes (t TEXT)"], ["CREATE TABLE photos (id INTEGER, x BLOB)"]])
def test_another_programs_database_is_never_written(run, tmp_path, gallery_dir, tables):
    db = tmp_path / "notes.db"
    with sqlite3.connect(db) as c:
        for sql in tables:
            c.execute(sql)
    before = db.read_bytes()
    for args in (["people", "--db", db], ["check", "--db", db], ["query", gallery_dir / "bob" / "bob_0001.jpg", "--db", db]):
        r = run(*args)
        assert r.exit_code == 1 and "is not a facesearch database" in r.stderr
    r = index(run, gallery_dir, db)
    assert r.exit_code == 1 and "never writes into other files" in r.stderr
    assert db.read_bytes() == before and not (tmp_path / "notes.db-wal").exists()


def test_each_database_has_its_own_index_file_and_check_spots_a_swap(run, tmp_path, gallery_dir):
    other = tmp_path / "other"
    for i, name in enumerate(["xavier", "yolanda"]):
        (other / name).mkdir(parents=True)
        person_image(50 + i).save(other / name / "1.png")
    (tmp_path / "vv").mkdir()
    assert index(run, gallery_dir, "vv/gal.v1").exit_code == 0
    assert index(run, other, "vv/gal.v2").exit_code == 0
    assert (tmp_path / "vv" / "gal.v1.faiss").exists() and (tmp_path / "vv" / "gal.v2.faiss").exists()
    shutil.copy(tmp_path / "vv" / "gal.v2.faiss", tmp_path / "vv" / "gal.v1.faiss")
    r = run("check", "--db", "vv/gal.v1")
    assert r.exit_code == 1 and "belongs to another database" in r.stderr
    q = json.loads(run("query", gallery_dir / "bob" / "bob_0001.jpg", "--db", "vv/gal.v1", "--json").stdout)
    assert q["matches"][0]["identity"] == "bob" and {m["identity"] for m in q["matches"]} <= {"alice", "bob", "carol"}


def test_the_bytes_hashed_are_the_bytes_embedded(db_path, gallery_dir, monkeypatch):
    from facesearch.encoders import create_encoder
    from facesearch.files import sha256_file

    photo = gallery_dir / "alice" / "alice_0001.jpg"
    from facesearch.gallery.enrolment import Enrolment

    real = Enrolment.new_items

    def hash_then_overwrite(self, *args):
        todo = real(self, *args)
        person_image(77).save(photo, quality=95)  # the file changes after it was hashed
        return todo

    with monkeypatch.context() as m:
        m.setattr(Enrolment, "new_items", hash_then_overwrite)
        g = Gallery(db_path, encoder=create_encoder("fake"), detector="none")
        g.enroll(scan_gallery(gallery_dir))
    with sqlite3.connect(db_path) as c:
        stored = c.execute("SELECT sha256 FROM photos WHERE path = ?", (str(photo),)).fetchone()[0]
    assert stored == sha256_file(photo)
    again = Gallery(db_path).enroll(scan_gallery(gallery_dir))
    assert (again.added, again.skipped) == (0, 6)


def test_a_changed_file_replaces_its_photo(run, gallery_dir):
    index(run, gallery_dir)
    person_image(88).save(gallery_dir / "bob" / "bob_0001.jpg", quality=95)
    r = index(run, gallery_dir, "facesearch.db", "--prune", "--json")
    summary = json.loads(r.stdout)
    assert (summary["added"], summary["replaced"], summary["photos"]) == (1, 1, 6)
    assert people_of(run) == {"alice": 2, "bob": 2, "carol": 2} and run("check").exit_code == 0


def test_links_are_followed_stored_as_walked_and_pruned(run, tmp_path, gallery_dir):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "dave").mkdir(parents=True)
    person_image(60).save(elsewhere / "dave" / "1.png")
    person_image(61).save(elsewhere / "extra.png")
    (gallery_dir / "dave").symlink_to(elsewhere / "dave")
    (gallery_dir / "alice" / "linked.png").symlink_to(elsewhere / "extra.png")
    assert index(run, gallery_dir).exit_code == 0
    with sqlite3.connect("facesearch.db") as c:
        paths = {p for (p,) in c.execute("SELECT path FROM photos")}
    assert str(gallery_dir / "dave" / "1.png") in paths and str(gallery_dir / "alice" / "linked.png") in paths
    (gallery_dir / "dave").unlink()
    (gallery_dir / "alice" / "linked.png").unlink()
    r = index(run, gallery_dir, "facesearch.db", "--prune", "--json")
    assert json.loads(r.stdout)["removed"] == 2 and "dave" not in people_of(run)


def test_a_rename_survives_reindexing_and_duplicates_are_reported(run, gallery_dir):
    index(run, gallery_dir)
    assert run("people", "rename", "bob", "Robert").exit_code == 0
    person_image(1, noise=9, rng_seed=3).save(gallery_dir / "bob" / "bob_0003.png")
    r = index(run, gallery_dir, "facesearch.db", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["added"] == 1
    assert people_of(run) == {"alice": 2, "Robert": 3, "carol": 2}
    (gallery_dir / "erin").mkdir()
    shutil.copy(gallery_dir / "carol" / "carol_0001.jpg", gallery_dir / "erin" / "copy.jpg")
    r = index(run, gallery_dir)
    assert r.exit_code == 1 and "copy.jpg: the same photo as" in r.stderr and "enrolled as carol" in r.stderr
    assert "erin" not in people_of(run)


def _corrupt_embedding(db, photo_id=1):
    checkpoint(db)
    with sqlite3.connect(db) as c:
        blob = c.execute("SELECT embedding FROM photos WHERE id = ?", (photo_id,)).fetchone()[0]
    data = bytearray(open(db, "rb").read())
    at = data.find(blob)
    data[at:at + 8] = b"\x7f\x7f\x7f\x7f" * 2  # two floats of ~3.4e38
    open(db, "wb").write(bytes(data))


def test_check_finds_damaged_vectors_and_search_never_returns_them(run, gallery_dir):
    index(run, gallery_dir)
    _corrupt_embedding("facesearch.db")
    r = run("check")
    assert r.exit_code == 1 and "photo 1: stored embedding is damaged" in r.stderr
    assert run("reindex").exit_code == 0
    out = run("query", gallery_dir / "alice" / "alice_0001.jpg", "--json", "--threshold", "0.5")
    scores = [m["score"] for m in json.loads(out.stdout)["matches"]]
    assert scores and all(-1 <= s <= 1.0001 for s in scores)


def test_a_zeroed_page_is_reported_not_a_crash(run, gallery_dir):
    index(run, gallery_dir)
    checkpoint("facesearch.db")
    data = bytearray(open("facesearch.db", "rb").read())
    page = 4096
    data[2 * page:len(data) - page] = bytes(len(data) - 3 * page)
    open("facesearch.db", "wb").write(bytes(data))
    r = run("check")
    assert r.exit_code == 1 and "inconsistent: database" in r.stderr
    for args in (["query", gallery_dir / "bob" / "bob_0001.jpg"], ["reindex"], ["people"]):
        r = run(*args)
        assert r.exit_code in (0, 1)
        assert r.exit_code == 0 or "is damaged" in r.stderr or "error:" in r.stderr


@pytest.mark.parametrize("content", [os.urandom(5000), b"SQLite format 3\x00" + os.urandom(3000)])
def test_random_bytes_are_refused_by_every_command(run, tmp_path, gallery_dir, content):
    (tmp_path / "bad.db").write_bytes(content)
    photo = gallery_dir / "bob" / "bob_0001.jpg"
    for args in (["people"], ["check"], ["reindex"], ["query", photo], ["compare", photo, photo],
                 ["calibrate", gallery_dir], ["eval", gallery_dir], ["people", "remove", "bob"]):
        r = run(*args, "--db", "bad.db")
        assert r.exit_code == 1 and "bad.db is not a facesearch database" in r.stderr, (args, r.output)
    assert index(run, gallery_dir, "bad.db").exit_code == 1
    assert (tmp_path / "bad.db").read_bytes() == content


def test_truncated_database(run, tmp_path, gallery_dir):
    index(run, gallery_dir)
    checkpoint("facesearch.db")
    data = open("facesearch.db", "rb").read()
    (tmp_path / "half.db").write_bytes(data[:len(data) // 2])
    for args in (["people"], ["check"], ["query", gallery_dir / "bob" / "bob_0001.jpg"]):
        r = run(*args, "--db", "half.db")
        assert r.exit_code == 1 and "error:" in r.stderr or "inconsistent:" in r.stderr, (args, r.output)


def test_empty_or_zero_byte_database(run, tmp_path, gallery_dir):
    photo = gallery_dir / "bob" / "bob_0001.jpg"
    for args, env in ((["query", photo, "--db", ""], None), (["people"], {"FACESEARCH_DB": ""}),
                      (["index", gallery_dir, "--db", ""], None)):
        r = run(*args, env=env)
        assert r.exit_code == 1 and "no database given" in r.stderr, r.output
    (tmp_path / "zero.db").write_bytes(b"")
    for args in (["query", photo], ["people"], ["check"]):
        r = run(*args, "--db", "zero.db")
        assert r.exit_code == 1 and "zero.db is empty: run `facesearch index" in r.stderr
    assert index(run, gallery_dir, "zero.db").exit_code == 0  # an empty file may become a gallery


def test_read_only_database_is_read_and_not_written(run, gallery_dir, monkeypatch):
    from facesearch.gallery import database

    index(run, gallery_dir)
    monkeypatch.setattr(database, "writable", lambda path: False)
    assert people_of(run) == {"alice": 2, "bob": 2, "carol": 2}
    assert run("check").exit_code == 0
    assert json.loads(run("query", gallery_dir / "bob" / "bob_0001.jpg", "--json").stdout)["matches"]
    r = run("people", "remove", "bob")
    assert r.exit_code == 1 and "is read-only" in r.stderr


def test_disk_full_is_one_line_and_loses_nothing(run, tmp_path, gallery_dir, monkeypatch):
    from facesearch.gallery import database

    index(run, gallery_dir)
    for i in range(40):
        (gallery_dir / f"p{i:02d}").mkdir()
        for j in range(4):
            person_image(10 + i, size=32, noise=4, rng_seed=j).save(gallery_dir / f"p{i:02d}" / f"{j}.png")
    real = database.sqlite3.connect

    def small_disk(*args, **kwargs):  # SQLite's own "database or disk is full", on cue
        conn = real(*args, **kwargs)
        conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0] + 1}")
        return conn

    with monkeypatch.context() as m:
        m.setattr(database.sqlite3, "connect", small_disk)
        r = index(run, gallery_dir)
    assert r.exit_code == 1 and "disk full" in r.stderr and "the database is intact" in r.stderr
    assert people_of(run) == {"alice": 2, "bob": 2, "carol": 2}  # what was there before
    assert index(run, gallery_dir).exit_code == 0 and run("check").exit_code == 0
    assert len(people_of(run)) == 43


def test_index_file_path_is_a_folder(run, tmp_path, gallery_dir):
    (tmp_path / "facesearch.faiss").mkdir()
    r = index(run, gallery_dir)
    assert r.exit_code == 1 and "could not write the index file" in r.stderr and "database is intact" in r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    r = run("check")
    assert r.exit_code == 1 and "inconsistent:" in r.stderr
    assert people_of(run) == {"alice": 2, "bob": 2, "carol": 2}
