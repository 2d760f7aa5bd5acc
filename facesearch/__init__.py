"""facesearch: face identification over a gallery of person folders."""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def migrations_path() -> Path:
    """Alembic script folder: repo-root ``migrations/``, installed as ``facesearch.migrations``."""
    from importlib.util import find_spec

    spec = find_spec("facesearch.migrations")
    if spec and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(__file__).resolve().parent.parent / "migrations"
