"""A PostgreSQL database given as a URL (facesearch/gallery/postgres.py) and its writer lock
(facesearch/gallery/locks.py), on the throw-away server of tests/conftest.py."""
import threading

import pytest

from facesearch.errors import GalleryError, StoreError
from facesearch.gallery import Gallery
from facesearch.gallery.locks import AdvisoryLock
from facesearch.gallery.postgres import server_url, shown
from facesearch.gallery.schema import SCHEMA_HEAD, current_revision
from facesearch.gallery.store import Store
from tests.conftest import person_image


def test_urls_use_psycopg_3_and_messages_hide_the_password():
    url = server_url("postgresql://ann:secret@db.example:5433/faces")
    assert url.drivername == "postgresql+psycopg" and url.port == 5433
    assert shown(url) == "postgresql://ann:***@db.example:5433/faces"
    for bad, words in [("mysql://u@h/db", "not mysql"), ("postgresql://u@h:5432/", "names no database")]:
        with pytest.raises(StoreError, match=words):
            server_url(bad)


def test_a_new_database_is_migrated_and_a_used_one_reopened(pg_url):
    with pytest.raises(GalleryError, match="is empty: run `facesearch index"):
        Store(pg_url, create=False)
    store = Store(pg_url)
    assert current_revision(store.engine) == SCHEMA_HEAD and store.integrity_problems() == []
    g = Gallery.open(pg_url, model="fake", detector="none", create=True)
    g.enroll_photos("ann", [person_image(0)])
    again = Gallery.open(pg_url)
    assert again.people() == [("ann", 1)] and again.check() == []
    assert again.identify([person_image(0)])[0].matches[0].identity == "ann"


def test_another_programs_database_is_never_touched(postgres_server):
    import psycopg

    url = postgres_server.create_database("someone_else")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreError, match="is not a facesearch database .*invoices"):
        Store(url)


def test_an_unreachable_server_is_one_clear_error(postgres_server):
    from tests.servers import free_port

    with pytest.raises(StoreError, match="cannot connect to postgresql://nobody:\\*\\*\\*@127.0.0.1"):
        Store(f"postgresql://nobody:pw@127.0.0.1:{free_port()}/x")


def test_the_advisory_lock_admits_one_writer(pg_url):
    engine = Store(pg_url).engine
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    assert first.acquire(blocking=False)
    assert not second.acquire(blocking=False)
    got = []
    waiter = threading.Thread(target=lambda: got.append(second.acquire()))
    waiter.start()
    waiter.join(0.5)
    assert not got  # still waiting
    first.release()
    waiter.join(10)
    assert got == [True]
    second.release()


def test_the_faiss_file_of_a_server_database_lives_in_the_cache_folder(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FACESEARCH_INDEX_CACHE", str(tmp_path / "cache"))
    g = Gallery.open(pg_url, model="fake", detector="none", create=True)
    g.enroll_photos("ann", [person_image(0)])
    assert g.sync.path() == tmp_path / "cache" / f"{g.meta.database_id}.faiss" and g.sync.path().exists()
    g.sync.path().unlink()  # another machine, or a cleared cache: rebuilt from the database
    assert any("cannot read" in p for p in Gallery.open(pg_url).check())
    assert Gallery.open(pg_url).identify([person_image(0)])[0].matches[0].identity == "ann"
    assert g.sync.path().exists() and Gallery.open(pg_url).check() == []  # the reader saved this machine's copy
    assert Gallery.open(pg_url).reindex() == 1 and Gallery.open(pg_url).check() == []


def test_a_database_id_edited_into_a_path_names_no_file(pg_url, tmp_path, monkeypatch):
    """Issue 23 row 10: the id read from the server is validated before it names a file."""
    from click.testing import CliRunner

    from facesearch.cli import main

    cache = tmp_path / "a" / "b" / "cache"
    monkeypatch.setenv("FACESEARCH_INDEX_CACHE", str(cache))
    g = Gallery.open(pg_url, model="fake", detector="none", create=True)
    g.enroll_photos("ann", [person_image(0)])
    g.enroll_photos("bob", [person_image(1)])
    with g.store.engine.begin() as c:
        c.exec_driver_sql("UPDATE index_meta SET database_id = '../../outside'")
    run = lambda *a: CliRunner().invoke(main, [*a, "--db", pg_url])  # noqa: E731
    for args in (["classifier", "fit"], ["query", str(tmp_path / "q.png")], ["check"]):
        person_image(0).save(tmp_path / "q.png")
        r = run(*args)
        assert r.exit_code == 1 and "is not one facesearch writes" in r.stderr and "Traceback" not in r.output, r.output
    assert not list(tmp_path.glob("a/outside*")) and not list(tmp_path.glob("a/b/outside*"))
    r = run("reindex")  # gives the database a new, valid id
    assert r.exit_code == 0 and "now has an id of its own" in r.stderr, r.output
    assert run("check").exit_code == 0 and run("classifier", "fit").exit_code == 0
    written = [p for p in tmp_path.rglob("*.*") if p.suffix in (".faiss", ".svc")]
    assert {p.parent for p in written} == {cache} and {p.suffix for p in written} == {".faiss", ".svc"}
