"""Opening a database: a URL goes to :mod:`.postgres`; a file (SQLite) is opened safely:
recognised as facesearch's before writing a byte, read-only where the file or its folder
cannot be written, and every SQLite failure turned into a
:class:`~facesearch.errors.StoreError` that says what happened.

A facesearch database carries SQLite's ``application_id`` (:data:`APPLICATION_ID`);
databases of the first release (without it) are recognised by their tables and stamped
when they are upgraded. Anything else with tables is another program's file and is
never touched.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.pool import QueuePool

from ..config import is_database_url
from ..errors import GalleryError, StoreError
from .schema import SCHEMA_HEAD, current_revision, upgrade

APPLICATION_ID = 0x46534442  # "FSDB"
LEGACY_TABLES = {"alembic_version", "identities", "photos", "index_meta"}


def _uri(path: Path, readonly: bool) -> str:
    """SQLite URI; read-only where asked, and *immutable* where even the folder is read-only
    (SQLite then cannot make the -shm file a WAL database needs)."""
    uri = f"file:{quote(str(path.absolute()))}"
    if not readonly:
        return uri
    folder = path.parent if str(path.parent) else Path(".")
    return uri + ("?mode=ro" if os.access(folder, os.W_OK) else "?mode=ro&immutable=1")


def writable(path: Path) -> bool:
    """Whether facesearch may write here: the file (if any) and its folder (WAL, lock, index)."""
    folder = path.parent if str(path.parent) else Path(".")
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def explain(db: Path, err: Exception) -> str:
    """A user's sentence for an SQLite error on ``db``."""
    text = str(err).lower()
    if "not a database" in text or "malformed" in text:
        return (f"{db} is damaged ({err}): restore a backup, or build a new database with "
                "`facesearch index` (`facesearch check` reports what it finds)")
    if "full" in text:
        return (f"disk full while writing {db}: the database is intact (the unfinished batch was rolled "
                "back); free some space and run the command again")
    if "readonly" in text or "read-only" in text:
        return f"{db} is read-only: facesearch can read it (query, people, check) but not change it"
    if "locked" in text or "busy" in text:
        return f"{db} is busy (another program holds a lock on it); try again"
    if "unable to open" in text:
        return f"cannot open {db} ({err})"
    return f"database error on {db}: {err}"


def inspect_file(path: Path) -> str:
    """"new" (missing, empty or without tables), "ours", "legacy" (first release), or raise."""
    if not path.exists() or path.stat().st_size == 0:
        return "new"
    try:
        conn = sqlite3.connect(_uri(path, readonly=True), uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise StoreError(f"{path} is not a facesearch database, or it is damaged ({e})") from None
    if app_id == APPLICATION_ID:
        return "ours"
    if not tables and app_id == 0:
        return "new"
    if app_id == 0 and LEGACY_TABLES <= tables:
        return "legacy"
    shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
    raise StoreError(f"{path} is not a facesearch database (it holds {shown or 'another application id'}); "
                     "facesearch never writes into other files: choose another --db")


def open_engine(db_path: str | Path, create: bool = True):
    """An engine for a facesearch database at Alembic's head. ``create``: a missing or
    empty file (or server database) becomes a new database; otherwise it is refused as empty."""
    if not str(db_path).strip():
        raise StoreError("no database given: --db is empty (or $FACESEARCH_DB is set but empty)")
    if is_database_url(db_path):
        from .postgres import open_server_engine

        return open_server_engine(str(db_path), create)
    path = Path(db_path)
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    if str(path.parent) and not path.parent.exists():
        raise StoreError(f"folder for database {path} does not exist")
    state = inspect_file(path)
    if state == "new" and not create:
        raise GalleryError(f"{path} is empty: run `facesearch index <gallery> --db {path}` first")
    readonly = not writable(path)
    if readonly and state != "ours":
        raise StoreError(explain(path, sqlite3.OperationalError("attempt to write a readonly database")))
    uri = _uri(path, readonly)
    engine = create_engine("sqlite://", json_serializer=json.dumps, poolclass=QueuePool,
                           creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        if not readonly:
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block on a writer
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA secure_delete=ON")  # deleted rows (embeddings) are overwritten, not left in free pages
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "handle_error")
    def _explain(ctx):
        if isinstance(ctx.original_exception, sqlite3.Error):
            return StoreError(explain(path, ctx.original_exception))
        return None

    if current_revision(engine) != SCHEMA_HEAD:
        if readonly:
            raise StoreError(f"{path} needs a schema upgrade, but it is read-only")
        upgrade(engine)
    if not readonly and state != "ours":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"PRAGMA application_id={APPLICATION_ID}")
    return engine
