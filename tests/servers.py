"""Throw-away database servers for tests: a PostgreSQL cluster in a temp folder.

Real servers, not mocks. :func:`start_postgres` runs Debian's PostgreSQL binaries
(``pg_config --bindir``) on a free localhost port with trust authentication; ``initdb``
refuses root, so as root the cluster belongs to the ``postgres`` user and its commands
run through ``runuser``. Anything missing raises :class:`Unavailable` with the reason, which
the fixtures turn into a skip.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class Unavailable(Exception):
    """This machine cannot run the server (the message says why)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindir() -> Path:
    """The server binaries: ``pg_config --bindir``, else Debian's /usr/lib/postgresql/<version>/bin."""
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    raise Unavailable("PostgreSQL server binaries not found (no pg_config --bindir, no /usr/lib/postgresql/*/bin)")


@dataclass
class Postgres:
    folder: Path
    port: int
    user: str
    run_as: list[str]
    bindir: Path

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> Postgres:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed (pip install 'psycopg[binary]')") from None
    bindir = _bindir()
    folder = Path(tempfile.mkdtemp(prefix="facesearch-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to `postgres`
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no `postgres` user to own the cluster") from None
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        run_as, user = ["runuser", "-u", "postgres", "--"], "postgres"
    else:
        import getpass

        user = getpass.getuser()
    data, port = folder / "data", free_port()
    init = subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8",
                           "--no-sync"], capture_output=True, text=True, timeout=120)
    if init.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off -c max_connections=200"
    start = subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"),
                            "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=90)
    if start.returncode:
        log = (folder / "log").read_text(errors="replace")[-300:] if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"PostgreSQL did not start: {start.stderr.strip()[-300:]} {log}")
    return Postgres(folder, port, user, run_as, bindir)
