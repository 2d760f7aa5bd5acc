"""File helpers used by every layer: content hashes, crash-safe writes, and the one framing
of facesearch's own files (a magic line, a one-line JSON header, then the payload)."""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def atomic_write(path: str | Path):
    """Open a temporary file beside ``path`` for binary writing; on success it is fsynced
    and renamed over ``path``, so readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def is_same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` are one file (one inode: also through hard or symbolic links);
    False when either does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class NotFramed(ValueError):
    """The file does not start with the expected magic line."""


def write_framed(path: str | Path, magic: bytes, header: dict, payload: bytes) -> None:
    """Write ``magic``, ``header`` as one JSON line, then ``payload``, atomically."""
    with atomic_write(path) as f:
        f.write(magic + json.dumps(header).encode() + b"\n")
        f.write(payload)


def read_framed(path: str | Path, magic: bytes, payload: bool = True) -> tuple[object, bytes | None]:
    """(header, payload) of a file written by :func:`write_framed`; ``payload=False`` reads
    the header alone (a large file is not read whole). :class:`NotFramed` for another
    file, ``ValueError`` for a damaged header, ``OSError`` as raised."""
    with open(path, "rb") as f:
        if f.readline() != magic:
            raise NotFramed(f"{path} does not start with {magic!r}")
        header = json.loads(f.readline())
        return header, f.read() if payload else None
