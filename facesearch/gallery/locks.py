"""The writer lock of a database: one writer at a time, readers never wait.

A SQLite file has a lock file beside it (``filelock``); a PostgreSQL database has a
session-level advisory lock, which the server releases when the holder's connection ends
(even after ``kill -9``), so a dead writer never blocks the next one.
"""
from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

WRITER_LOCK = 0x46535752  # "FSWR": the advisory lock key (locks are per database on a server)


class FileWriterLock:
    """``<db>.lock`` beside a SQLite file; a folder nobody can write to has no writer."""

    def __init__(self, db_path: Path):
        self.path = db_path.with_name(db_path.name + ".lock")
        self._lock = FileLock(self.path)

    @property
    def possible(self) -> bool:
        return os.access(self.path.parent, os.W_OK)

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock (waiting if ``blocking``); whether it was taken."""
        try:
            self._lock.acquire(timeout=-1 if blocking else 0)
        except (Timeout, OSError):
            if blocking:
                raise
            return False
        return True

    def release(self) -> None:
        self._lock.release()


class AdvisoryLock:
    """A PostgreSQL session advisory lock, held on a connection of its own."""

    possible = True

    def __init__(self, engine, key: int = WRITER_LOCK):
        self.engine, self.key, self._conn = engine, key, None

    def acquire(self, blocking: bool = True) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if blocking:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
        elif not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self.key})").scalar():
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
            finally:
                conn.close()


def writer_lock(store):
    """The writer lock of ``store``'s database."""
    return AdvisoryLock(store.engine) if store.is_server else FileWriterLock(store.db_path)
