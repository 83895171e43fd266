"""Domain failures: why an operation was refused, said without HTTP or JSON:API.

Domain code (orders, payments, tokens, passwords) raises :class:`Failure`. It names the
kind of refusal, the Commerce Layer error code and, for a refused write, the fields at
fault, each as an attribute or a relationship of the resource being written. The API layer
(``kassa.jsonapi.errors.api_error``) alone turns a failure into an HTTP status, JSON:API
error objects and their ``source.pointer``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What sort of refusal; the API layer gives each kind its HTTP status."""

    UNAUTHORIZED = "unauthorized"
    """The caller may not do this, or its credentials are not valid (401)."""
    NOT_FOUND = "not_found"
    """The record does not exist or is not visible to the caller (404)."""
    INVALID = "invalid"
    """The write breaks a rule: see :attr:`Failure.problems` (422)."""
    LOCKED = "locked"
    """Something else holds the record right now; a retry can succeed (423)."""


CODES = {
    Kind.UNAUTHORIZED: "UNAUTHORIZED",
    Kind.NOT_FOUND: "RECORD_NOT_FOUND",
    Kind.INVALID: "VALIDATION_ERROR",
    Kind.LOCKED: "LOCKED",
}
"""The Commerce Layer error code of each kind unless a failure names another."""


@dataclass(frozen=True, slots=True)
class Field:
    """An attribute (or, with ``relationship``, a relationship) of the written resource."""

    name: str
    relationship: bool = False


def attr(name: str) -> Field:
    return Field(name)


def rel(name: str) -> Field:
    return Field(name, relationship=True)


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule of a write.

    ``title`` is the client-facing text (``"can't be blank"``); ``error`` its short code
    (``"blank"``); ``meta`` further values a client may read (``count=0``).
    """

    field: Field
    title: str
    error: str
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)


class Failure(Exception):
    """A refused operation.

    ``code``, ``title`` and ``detail`` default to those of the kind; ``problems`` lists the
    fields at fault of an :attr:`Kind.INVALID` failure; ``retry_after`` (seconds) says when
    a :attr:`Kind.LOCKED` one is worth retrying.
    """

    def __init__(
        self,
        kind: Kind,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        *,
        problems: Iterable[Problem] = (),
        retry_after: int | None = None,
    ) -> None:
        self.kind = kind
        self.code = code or CODES[kind]
        self.title = title
        self.detail = detail
        self.problems = list(problems)
        self.retry_after = retry_after
        first = self.problems[0] if self.problems else None
        super().__init__(
            f"{first.field.name} - {first.title}" if first else detail or title or self.code
        )


def unauthorized() -> Failure:
    return Failure(Kind.UNAUTHORIZED)


def invalid_token() -> Failure:
    return Failure(Kind.UNAUTHORIZED, "INVALID_TOKEN")


def not_found() -> Failure:
    return Failure(Kind.NOT_FOUND)


def locked(detail: str) -> Failure:
    return Failure(Kind.LOCKED, title="Locked", detail=detail)


def busy() -> Failure:
    """The database turned the request away for a moment (a deadlock, a lock wait that ran
    out): its transaction was rolled back and a retry in a second can succeed."""
    return Failure(
        Kind.LOCKED,
        title="Locked",
        detail="Another request holds what this one needs; retry shortly.",
        retry_after=1,
    )


def invalid_all(problems: Iterable[Problem]) -> Failure:
    """A write refused for every one of ``problems``."""
    return Failure(Kind.INVALID, problems=problems)


def invalid(at: Field, title: str, error: str, **meta: Any) -> Failure:
    return invalid_all([Problem(at, title, error, meta)])


def blank(at: Field) -> Failure:
    return invalid(at, "can't be blank", "blank")


def not_editable(at: Field) -> Failure:
    return invalid(at, "cannot be set on a non-editable order", "not_editable")


def invalid_transition(trigger: str) -> Failure:
    """A trigger attribute (``_place``) sent to an order whose status does not allow it."""
    return invalid(attr(trigger), "cannot be performed in the current status", "invalid_transition")
