import sqlite3

import pytest
from sqlalchemy import inspect

from facesearch.store import StoreError, open_store


def test_migrations_bring_empty_db_to_head(db_path):
    engine = open_store(db_path)
    tables = set(inspect(engine).get_table_names())
    assert {"identities", "photos", "index_meta", "alembic_version"} <= tables
    cols = {c["name"] for c in inspect(engine).get_columns("photos")}
    assert {"path", "sha256", "box", "det_score", "quality", "n_faces", "embedding"} <= cols
    open_store(db_path)  # reopening at head is a no-op


def test_wal_mode(db_path):
    open_store(db_path)
    assert sqlite3.connect(db_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(db_path):
    open_store(db_path)
    with sqlite3.connect(db_path) as c:
        c.execute("UPDATE alembic_version SET version_num='9999_future'")
    with pytest.raises(StoreError, match="newer"):
        open_store(db_path)


def test_missing_folder(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nope" / "x.db")
