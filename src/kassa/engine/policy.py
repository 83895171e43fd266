"""Access checks: which verbs a caller may use on a resource, and which rows it sees."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.jsonapi.errors import ApiError, unauthorized
from kassa.resources.base import Registry, Resource, Row
from kassa.store.shapes import shape

if TYPE_CHECKING:
    from kassa.engine.context import Ctx
    from kassa.session import Session

_READS = frozenset({"list", "retrieve"})

SECRET_ATTRIBUTES = frozenset(
    {"payment_source_token", "customer_token", "shared_secret", "token", "secret", "password"}
)
"""Attributes that carry a credential. Only integrations may filter or sort by them, so no
other caller can use a predicate as an oracle that guesses a secret one character at a time."""


def is_secret(name: str) -> bool:
    return name in SECRET_ATTRIBUTES


_STOREFRONT_HIDDEN = frozenset({"shared_secret", "secret", "token_url"})
"""Never shown to a sales-channel token, customer or guest."""
_GUEST_HIDDEN = frozenset({"payment_source_token", "customer_token"})
"""Shown to a customer on its own rows (the row filter guarantees they are its own), never to
a guest: a guest token is public, so what it can read anyone can."""
_HIDDEN: dict[tuple[str, str], frozenset[str]] = {}


def hidden_attributes(principal: Principal, res: Resource) -> frozenset[str]:
    """Attributes of ``res`` this caller may not see, in attributes and sparse fieldsets."""
    if principal.integration:
        return frozenset()
    who = "customer" if principal.customer else "guest"
    key = (who, res.type)
    hidden = _HIDDEN.get(key)
    if hidden is None:
        names = _STOREFRONT_HIDDEN if principal.customer else _STOREFRONT_HIDDEN | _GUEST_HIDDEN
        hidden = _HIDDEN[key] = frozenset(names & set(res.fields))
    return hidden


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
    # Scopes are pure functions of the caller and the table: build each caller's once.
    built = shape(("visible", principal, res.type, listing), lambda: scope(principal, res.table))
    return None if built is None else list(built)


def can_read(principal: Principal, res: Resource) -> bool:
    return allowed(principal, res, "retrieve") or allowed(principal, res, "list")


async def visible_row(ctx: Ctx, type_: str, id_: object) -> Row | None:
    """The row the caller names by id (a relationship, a trigger's ``*_id`` value), if it may
    read it: the same rule as a retrieve, so an id of someone else's row is just unknown."""
    return await readable_row(ctx.registry, ctx, type_, id_)


async def readable_row(registry: Registry, session: Session, type_: str, id_: object) -> Row | None:
    """:func:`visible_row` for any session, with the declarations given."""
    res = registry.get(type_)
    if res is None or not isinstance(id_, str) or not id_:
        return None
    if not can_read(session.principal, res):
        return None
    clauses = visible_clauses(session.principal, res)
    if clauses is None:
        return None
    rows = await session.select(type_, res.table.c.id == id_, *clauses)
    return rows[0] if rows else None


def reachable_clauses(principal: Principal, res: Resource) -> list[sa.ColumnElement[bool]] | None:
    """Row filter for reaching ``res`` through a relationship (a filter path's hop).

    The rows the caller may both retrieve and list, so a hop never answers about a row that a
    by-id read or a list would hide (an unowned order, a SKU not sold in the market). ``None``
    when the caller may read nothing of ``res``, including resources that sales channels see
    only through ``include=`` (transactions): their rows carry no row filter of their own.
    """
    if not can_read(principal, res):
        return None
    by_id = visible_clauses(principal, res)
    listed = visible_clauses(principal, res, listing=True)
    if by_id is None or listed is None:
        return None
    return by_id if res.access.list_scope is None else [*by_id, *listed]
