"""Access checks: which verbs a caller may use on a resource, and which rows it sees."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.jsonapi.errors import ApiError, unauthorized
from kassa.resources.base import Resource

_READS = frozenset({"list", "retrieve"})


def supports(res: Resource, verb: str) -> bool:
    return verb in res.wire.actions


def allowed(principal: Principal, res: Resource, verb: str) -> bool:
    if not supports(res, verb):
        return False
    if principal.integration:
        return principal.role != "read_only" or verb in _READS
    verbs = res.access.customer if principal.customer else res.access.guest
    return verb in verbs


def require(principal: Principal, res: Resource, verb: str) -> None:
    if not supports(res, verb):
        raise ApiError.of(405, "METHOD_NOT_ALLOWED")
    if not allowed(principal, res, verb):
        raise unauthorized()


def visible_clauses(
    principal: Principal, res: Resource, *, listing: bool = False
) -> list[sa.ColumnElement[bool]] | None:
    """Row filter for what this caller may read; ``None`` when it may read nothing."""
    if principal.integration:
        return []
    scope = (res.access.list_scope or res.access.scope) if listing else res.access.scope
    if scope is None:
        return []
    return scope(principal, res.table)


def can_read(principal: Principal, res: Resource) -> bool:
    return allowed(principal, res, "retrieve") or allowed(principal, res, "list")
