"""Database errors that mean "another transaction got in the way; try again"."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
"""PostgreSQL: deadlock detected, serialization failure, lock not available."""


def is_transient(exc: DBAPIError) -> bool:
    """A deadlock, a serialization failure or a lock wait that ran out.

    The database rolled the transaction back as a whole, so nothing of it is left and the same
    request can succeed when it is made again. On SQLite that is a write lock still held by
    another connection when the busy timeout ran out."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _RETRYABLE_SQLSTATES:
        return True
    text = str(orig).lower()
    return "deadlock detected" in text or "database is locked" in text
