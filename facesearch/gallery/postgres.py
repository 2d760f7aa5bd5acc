"""Opening a server database given as a URL (``postgresql://user@host:port/dbname``, psycopg 3).

The counterpart of :mod:`.database` (SQLite files): the same recognition (an empty database
becomes facesearch's, another program's tables are never touched), the same upgrade to
Alembic's head, and driver errors turned into a :class:`~facesearch.errors.StoreError`
that names the server without its password.
"""
from __future__ import annotations

import json

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ..errors import GalleryError, StoreError
from .schema import SCHEMA_HEAD, current_revision, upgrade

DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}  # psycopg 3, not psycopg2
OUR_TABLES = {"alembic_version", "identities", "photos", "index_meta"}


def server_url(text: str) -> URL:
    """``text`` as a SQLAlchemy URL on the psycopg 3 driver, or a StoreError saying why not."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise StoreError(f"--db {text!r} is neither a file nor a database URL "
                         "(postgresql://user@host:port/dbname)") from None
    url = url.set(drivername=DRIVERS.get(url.drivername, url.drivername))
    if url.get_backend_name() != "postgresql":
        raise StoreError(f"--db {shown(url)}: facesearch takes a SQLite file path or a postgresql:// URL, "
                         f"not {url.drivername}")
    if not url.database:
        raise StoreError(f"--db {shown(url)} names no database (postgresql://user@host:port/dbname)")
    return url


def shown(url: URL) -> str:
    """The URL for messages: password hidden, driver as the user wrote it."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _reason(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def open_server_engine(text: str, create: bool = True):
    """An engine for a facesearch database on a server, at Alembic's head. ``create``: an
    empty database becomes a facesearch database; otherwise it is refused as empty."""
    url = server_url(text)
    label = shown(url)
    try:
        import psycopg  # noqa: F401  (the driver; named here so its absence is explained)
    except ImportError:
        raise StoreError(f"{label}: PostgreSQL needs psycopg 3: pip install 'facesearch[postgres]'") from None
    engine = create_engine(url, json_serializer=json.dumps, pool_pre_ping=True)

    @event.listens_for(engine, "handle_error")
    def _explain(ctx):
        return StoreError(f"database error on {label}: {_reason(ctx.original_exception)}")

    try:
        tables = set(inspect(engine).get_table_names())
    except (DBAPIError, StoreError) as e:
        raise StoreError(f"cannot connect to {label}: {_reason(e).removeprefix(f'database error on {label}: ')}") \
            from None
    if not tables and not create:
        raise GalleryError(f"{label} is empty: run `facesearch index <gallery> --db {label}` first")
    if tables and not OUR_TABLES <= tables:
        listed = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        raise StoreError(f"{label} is not a facesearch database (it holds {listed}); facesearch never writes "
                         "into other databases: choose another --db")
    if current_revision(engine) != SCHEMA_HEAD:
        upgrade(engine)
    return engine
