"""What an order pays with: the one writer of its payment source, and the one reader of
the payment methods available to it.

Every change of ``orders.payment_source_id/_type/_details`` is made here (:func:`attach`,
:func:`detach`) or with the values made here (:func:`attached`, :func:`detached`) when it
rides on an UPDATE of the order that is written anyway (the PATCH of the order, the
settlement of a void). :func:`available_methods` is the one rule for which payment
methods an order may use.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa

Row = dict[str, Any]

FIELDS = ("payment_source_id", "payment_source_type", "payment_source_details")


class Rows(Protocol):
    """A session's row access, as used here (a :class:`~kassa.session.Session` satisfies it)."""

    def table(self, type_: str) -> sa.Table: ...

    async def select(self, type_: str, *where: sa.ColumnElement[bool]) -> list[Row]: ...

    async def update(self, type_: str, id_: str, values: Row) -> int: ...


def details(source_type: str | None, source: Row | None = None) -> dict[str, Any]:
    """``order.payment_source_details``: with an external payment's instrument when its row
    is given, else the source's type alone."""
    if source_type == "external_payments" and source is not None:
        return {"type": source_type, "payment_instrument": source.get("payment_instrument") or {}}
    return {"type": source_type}


def attached(source_type: str, source: Row) -> Row:
    """The order values that make ``source`` (a row of ``source_type``) its payment source."""
    return {
        "payment_source_id": source["id"],
        "payment_source_type": source_type,
        "payment_source_details": details(source_type, source),
    }


def detached() -> Row:
    """The order values of an order without a payment source."""
    return dict.fromkeys(FIELDS)


async def attach(
    ctx: Rows, order_id: str, source_type: str, source: Row, *, method_id: str | None = None
) -> Row:
    """Make ``source`` the order's payment source (and ``method_id`` its payment method, in
    the same UPDATE, when given); the values written."""
    values = attached(source_type, source)
    if method_id is not None:
        values = {"payment_method_id": method_id, **values}
    await ctx.update("orders", order_id, values)
    return values


async def detach(ctx: Rows, order_id: str) -> None:
    """Take the order's payment source away."""
    await ctx.update("orders", order_id, detached())


async def available_methods(ctx: Rows, orders: list[Row]) -> list[list[Row]]:
    """The payment methods each order may use, in the order of ``orders`` (one query for
    all): enabled, of the order's market or of no market, in the order's currency."""
    table = ctx.table("payment_methods")
    markets = {o.get("market_id") for o in orders if o.get("market_id")}
    methods = await ctx.select(
        "payment_methods",
        table.c.disabled_at.is_(None),
        sa.or_(table.c.market_id.in_(markets), table.c.market_id.is_(None)),
    )
    return [
        [
            m
            for m in methods
            if m.get("market_id") in (None, o.get("market_id"))
            and m.get("currency_code") == o.get("currency_code")
        ]
        for o in orders
    ]


async def methods_for(ctx: Rows, order: Row) -> list[Row]:
    """The payment methods ``order`` (also one being created) may use."""
    return (await available_methods(ctx, [order]))[0]
