import sqlite3

import pytest
from sqlalchemy import inspect

from facesearch.errors import StoreError
from facesearch.gallery.database import open_engine as open_store


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


def test_schema_head_constant_matches_migrations():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from facesearch.gallery.schema import SCHEMA_HEAD, migrations_dir

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_upgrade_from_first_revision(db_path):
    """A DB made by an older facesearch (schema 0001) is migrated on open, data kept."""
    from alembic import command
    from alembic.config import Config

    from facesearch.gallery.schema import SCHEMA_HEAD, current_revision, migrations_dir

    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db_path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql("INSERT INTO identities (name, created_at) VALUES ('old', '2026-01-01')")
    assert current_revision(engine) == "0001"
    upgraded = open_store(db_path)
    assert current_revision(upgraded) == SCHEMA_HEAD
    with upgraded.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM identities").scalar() == "old"
