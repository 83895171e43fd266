"""Row filters for sales-channel callers: the market in scope, and what the customer owns.

Each function returns WHERE clauses (subqueries, never joins) for a table, or ``None`` when
the caller may read nothing of it. Tables are looked up lazily by name through the same
``MetaData`` the declarations build.
"""

from __future__ import annotations

import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.store.schema import metadata

Clauses = list[sa.ColumnElement[bool]] | None


def t(name: str) -> sa.Table:
    return metadata.tables[name]


def market_price_list(market_id: str) -> sa.Select[tuple[str]]:
    m = t("markets")
    return sa.select(m.c.price_list_id).where(m.c.id == market_id)


def market_stock_locations(market_id: str) -> sa.Select[tuple[str]]:
    m, isl = t("markets"), t("inventory_stock_locations")
    return sa.select(isl.c.stock_location_id).where(
        isl.c.inventory_model_id.in_(sa.select(m.c.inventory_model_id).where(m.c.id == market_id))
    )


def sellable_skus(market_id: str) -> sa.ColumnElement[bool]:
    skus, prices, stock = t("skus"), t("prices"), t("stock_items")
    priced = skus.c.id.in_(
        sa.select(prices.c.sku_id).where(prices.c.price_list_id.in_(market_price_list(market_id)))
    )
    stocked = skus.c.id.in_(
        sa.select(stock.c.sku_id).where(
            stock.c.stock_location_id.in_(market_stock_locations(market_id))
        )
    )
    return sa.and_(priced, sa.or_(skus.c.do_not_track.is_(True), stocked))


def organization_wide(_p: Principal, _table: sa.Table) -> Clauses:
    """Every row of the organization (a ``row_check`` then decides, e.g. 401 for SKUs)."""
    return []


def skus_scope(p: Principal, _table: sa.Table) -> Clauses:
    return [sellable_skus(p.market_id)] if p.market_id else [sa.false()]


def prices_scope(p: Principal, table: sa.Table) -> Clauses:
    if not p.market_id:
        return [sa.false()]
    return [table.c.price_list_id.in_(market_price_list(p.market_id))]


def stock_items_scope(p: Principal, table: sa.Table) -> Clauses:
    if not p.market_id:
        return [sa.false()]
    return [table.c.stock_location_id.in_(market_stock_locations(p.market_id))]


def market_only(p: Principal, table: sa.Table) -> Clauses:
    """Rows of the market in scope (a sales channel without a market sees none)."""
    return [table.c.id == p.market_id] if p.market_id else [sa.false()]


def market_or_global(p: Principal, table: sa.Table) -> Clauses:
    """Rows bound to the market in scope, or to no market."""
    if not p.market_id:
        return [table.c.market_id.is_(None)]
    return [sa.or_(table.c.market_id == p.market_id, table.c.market_id.is_(None))]


def orders_scope(p: Principal, table: sa.Table) -> Clauses:
    """A customer's own orders; for a guest, the guest orders of its market.

    An order a customer token created or wrote to (``guest`` false) is that customer's: a
    guest token never reaches it, nor its line items, addresses, shipments or payments.
    """
    if p.customer_id:
        return [table.c.customer_id == p.customer_id]
    if p.market_id:
        guest_order = sa.or_(table.c.guest.is_(True), table.c.customer_id.is_(None))
        return [table.c.market_id == p.market_id, guest_order]
    return [sa.false()]


def via_order(p: Principal, table: sa.Table) -> Clauses:
    """Sub-resources of an order (line items, shipments, payment sources, transactions)."""
    orders = t("orders")
    clauses = orders_scope(p, orders)
    assert clauses is not None
    return [table.c.order_id.in_(sa.select(orders.c.id).where(*clauses))]


def self_customer(p: Principal, table: sa.Table) -> Clauses:
    return [table.c.id == p.customer_id] if p.customer_id else [sa.false()]


def owned_by_customer(p: Principal, table: sa.Table) -> Clauses:
    return [table.c.customer_id == p.customer_id] if p.customer_id else [sa.false()]


def addresses_scope(p: Principal, table: sa.Table) -> Clauses:
    """Guests see addresses nobody owns; customers also see their own, never another's."""
    if p.customer_id:
        return [
            sa.or_(table.c.owner_customer_id.is_(None), table.c.owner_customer_id == p.customer_id)
        ]
    return [table.c.owner_customer_id.is_(None)]


def market_currency(market_id: str) -> sa.Select[tuple[str]]:
    pl = t("price_lists")
    return sa.select(pl.c.currency_code).where(pl.c.id.in_(market_price_list(market_id)))


def enabled_in_market(p: Principal, table: sa.Table) -> Clauses:
    """Enabled methods of the market in scope (or of none) in the market's currency."""
    clauses = market_or_global(p, table)
    assert clauses is not None
    if p.market_id:
        clauses.append(table.c.currency_code.in_(market_currency(p.market_id)))
    return [*clauses, table.c.disabled_at.is_(None)]
