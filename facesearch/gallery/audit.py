"""The audit log: every write to a gallery (enrol, rename, remove, erase, calibrate,
feedback, cluster naming) appends one row saying when, what, on whom and by whom.

"By whom" is the actor of the current context: the CLI sets its command path
(``cli:facesearch people remove``), the server the API token's id (``api:token:<8 hex>``,
a digest, never the token), plain Python code is ``python``. Rows never hold biometric
data (no embeddings, no photos): names, counts, settings.
"""
from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from ..config import AUDIT_ACTOR
from .library_schema import AuditEntry


def actor() -> str:
    who = AUDIT_ACTOR.get()
    return who() if callable(who) else who


def token_id(token: str | None) -> str:
    """How the audit log names an API token: 8 hex digits of its SHA-256 (never the token)."""
    return "api:anonymous" if not token else "api:token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def record(s: Session, action: str, target: str | None = None, **details) -> None:
    """Append one row inside the caller's transaction (it is kept or lost with the write)."""
    s.add(AuditEntry(action=action, target=target, details=details or None, actor=actor()))
