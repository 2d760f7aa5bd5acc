"""Which database this is: its id (validated before it names a file or collection), the
*instance* that tells it from a copy carrying the same id, and noticing a database file
replaced under a long-lived process (``mv other.db srv.db`` under ``facesearch serve``)."""
from __future__ import annotations

import os
import re
import threading

from ..errors import StoreError
from .database import open_engine

_FOLLOWING = threading.Lock()  # one thread reopens a replaced file (the server's threads share a Store)
DATABASE_ID = re.compile(r"[0-9a-f]{32}")  # what create_meta writes (uuid4().hex)


def id_problem(database_id) -> str | None:
    """Why a database id read from the database cannot name a file or collection (None: it can)."""
    if isinstance(database_id, str) and DATABASE_ID.fullmatch(database_id):
        return None
    return (f"the database's id {str(database_id)[:40]!r} is not one facesearch writes (32 hex digits); it "
            "names files and collections, so it is not used: `facesearch reindex` gives the database a new one")


def server_instance(engine) -> str:
    """A PostgreSQL database's :attr:`Store.instance`: the cluster's system identifier (the
    server's address where pg_control_system() is not allowed) and the database's oid."""
    with engine.connect() as c:
        oid = c.exec_driver_sql("SELECT oid FROM pg_database WHERE datname = current_database()").scalar()
    try:
        with engine.connect() as c:
            cluster = c.exec_driver_sql("SELECT system_identifier FROM pg_control_system()").scalar()
    except StoreError:
        cluster = f"{engine.url.host}:{engine.url.port}"
    return f"pg:{cluster}:{oid}"


class FollowsFile:
    """What :class:`~.store.Store` does about its file being replaced (SQLite only)."""

    def _replaced(self) -> bool:
        try:
            return os.stat(self.db_path).st_ino != self._inode
        except FileNotFoundError:
            return True

    def follow(self) -> None:
        """Notice a database file replaced under this process (``mv other.db srv.db``): the
        open connections still reach the old file, so the new one is opened. It must be a
        database of the same encoder and detector as the one this process opened (it may be
        a restored backup, or another gallery); otherwise every later call is refused."""
        if self._broken:
            raise StoreError(self._broken)
        if self.is_server or not self._replaced():
            return
        with _FOLLOWING:
            if self._replaced():  # (not already reopened by another thread)
                self._reopen()
        if self._broken:  # (found so by another thread)
            raise StoreError(self._broken)

    def _reopen(self) -> None:
        if not self.db_path.exists():
            self._broken = f"{self.label} was removed while this process had it open: restore it, or restart"
            raise StoreError(self._broken)
        before = self._last
        # close the old file's connections first: the last one folds the old file's WAL into
        # it and removes srv.db-wal, which the new file would otherwise read as its own
        self.engine.dispose()
        self.engine = open_engine(self.db_path, create=False)
        self._inode = os.stat(self.db_path).st_ino
        self._instance = f"file:{self._inode}"
        after = self.meta()
        if before is not None and (after is None or after.detector != before.detector
                                   or not after.card.same_embeddings(before.card)):
            self._broken = (f"{self.label} was replaced by another database ({'empty' if after is None else after.card}) "
                            "while this process had it open; restart it to use that one")
            raise StoreError(self._broken)

    def check_unchanged(self) -> None:
        """After a write: fold the WAL into the file, so a file moved over this one later
        (``mv other.db srv.db``) never meets a WAL that is not its own (SQLite finds it by
        name); and refuse to call the write done if the file was replaced meanwhile (it went
        to the old file, which nobody will read)."""
        if self.is_server:
            return
        try:
            with self.engine.connect() as c:
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except StoreError:  # busy or read-only: the next write tries again
            pass
        if self._replaced():
            raise StoreError(f"{self.label} was replaced while this change was being saved: the change went to the "
                             "old file and is not in the database now; make it again")
