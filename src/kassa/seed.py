"""``kassa seed --orders N``: bulk-load a shop with years of history, for benchmarks and trials.

Writes straight to the tables, not through the API (a million checkouts would take days): a
market with its price list and SKUs; one customer per 20 orders, one of whom (``whale@…``)
owns a tenth of all orders; orders over three years with one to three line items each; an
authorization for every placed order and a capture for every approved one; a saved payment
source (a wallet entry) per customer. PostgreSQL loads with ``COPY`` (asyncpg's
``copy_records_to_table``), SQLite with ``executemany``; every table is analyzed afterwards.
The same ``--seed`` gives the same shop.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.ids import now
from kassa.progress import Progress
from kassa.resources.registry import build_registry
from kassa.settings import Settings
from kassa.store.db import Database
from kassa.store.schema import order_counters

Row = dict[str, Any]
BATCH = 5_000
ORDER_STATUSES = (
    ("placed", 60),
    ("approved", 20),
    ("draft", 10),
    ("cancelled", 5),
    ("pending", 5),
)
PAYMENT_STATUS = {
    "placed": "authorized",
    "approved": "paid",
    "draft": "unpaid",
    "cancelled": "voided",
    "pending": "unpaid",
}


class SeedError(Exception):
    """The shop cannot be seeded as asked."""


class Loader:
    """Appends rows to tables in batches: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, conn: AsyncConnection, is_pg: bool, org: str, mode: str) -> None:
        self.conn, self.is_pg, self.org, self.mode = conn, is_pg, org, mode
        self.counts: dict[str, int] = {}

    def _template(self, table: sa.Table) -> Row:
        out: Row = {}
        for col in table.columns:
            if isinstance(col.type, sa.JSON):
                out[col.name] = {} if col.name == "metadata" else None
            elif isinstance(col.type, sa.Boolean):
                out[col.name] = False
            elif isinstance(col.type, sa.Integer):
                out[col.name] = 0
            else:
                out[col.name] = None
        out.update(organization_id=self.org, mode=self.mode)
        return out

    async def load(self, table: sa.Table, rows: list[Row]) -> None:
        if not rows:
            return
        template = self._template(table)
        full = [{**template, **row} for row in rows]
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        if not self.is_pg:
            await self.conn.execute(table.insert(), full)
            return
        names = [c.name for c in table.columns]
        json_cols = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        records = [
            tuple(
                orjson.dumps(r[n]).decode() if n in json_cols and r[n] is not None else r[n]
                for n in names
            )
            for r in full
        ]
        raw = await self.conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=names
        )


class Shop:
    """Deterministic rows of one shop."""

    def __init__(self, orders: int, seed: int, first_number: int = 1) -> None:
        self.rng = random.Random(seed)
        self.orders = orders
        self.first_number = first_number
        self.customers = max(orders // 20, 1)
        self.end = now().replace(microsecond=0)
        self.start = self.end - timedelta(days=3 * 365)
        self.customer_ids = [self.id() for _ in range(self.customers)]
        self.customer_orders = [0] * self.customers
        self.statuses = [s for s, weight in ORDER_STATUSES for _ in range(weight)]

    def id(self) -> str:
        return "".join(self.rng.choices(string.ascii_letters, k=10))

    def token(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def email(self, n: int) -> str:
        return "whale@example.com" if n == 0 else f"shopper{n}@example.com"

    def when(self, n: int, total: int) -> datetime:
        """The n-th of ``total`` moments spread evenly over three years, with jitter."""
        span = (self.end - self.start).total_seconds()
        offset = span * (n + self.rng.random()) / max(total, 1)
        return (self.start + timedelta(seconds=offset)).replace(microsecond=0)


def _catalog(shop: Shop) -> dict[str, list[Row]]:
    stamp = shop.start
    price_list: Row = {"id": shop.id(), "name": "EUR", "code": "eur", "currency_code": "EUR"}
    market: Row = {"id": shop.id(), "number": 1, "name": "Europe", "code": "europe"}
    market["price_list_id"] = price_list["id"]
    skus: list[Row] = []
    prices: list[Row] = []
    for n in range(20):
        sku: Row = {
            "id": shop.id(),
            "code": f"SKU-{n:03d}",
            "name": f"Item {n}",
            "do_not_track": True,
        }
        skus.append(sku)
        prices.append(
            {
                "id": shop.id(),
                "sku_id": sku["id"],
                "sku_code": sku["code"],
                "price_list_id": price_list["id"],
                "currency_code": "EUR",
                "amount_cents": 500 + 250 * n,
                "original_amount_cents": 500 + 250 * n,
            }
        )
    out: dict[str, list[Row]] = {
        "price_lists": [price_list],
        "markets": [market],
        "skus": skus,
        "prices": prices,
    }
    for rows in out.values():
        for row in rows:
            row.update(created_at=stamp, updated_at=stamp)
    return out


def _orders(shop: Shop, catalog: dict[str, list[Row]], first: int, count: int) -> dict[str, Any]:
    """Orders ``first`` … ``first + count - 1`` with their line items and transactions."""
    market = catalog["markets"][0]
    skus = list(zip(catalog["skus"], catalog["prices"], strict=True))
    orders, items, txns = [], [], []
    rng = shop.rng
    for n in range(first, first + count):
        created = shop.when(n, shop.orders)
        updated = min(created + timedelta(minutes=rng.randint(1, 60 * 24 * 30)), shop.end)
        status = rng.choice(shop.statuses)
        guest = rng.random() < 0.05
        owner = 0 if rng.random() < 0.1 else rng.randrange(shop.customers)
        oid = shop.id()
        subtotal = 0
        for _ in range(rng.randint(1, 3)):
            sku, price = rng.choice(skus)
            quantity = rng.randint(1, 4)
            total = quantity * price["amount_cents"]
            subtotal += total
            items.append(
                {
                    "id": shop.id(),
                    "created_at": created,
                    "updated_at": created,
                    "order_id": oid,
                    "sku_id": sku["id"],
                    "sku_code": sku["code"],
                    "item_id": sku["id"],
                    "item_type": "skus",
                    "name": sku["name"],
                    "quantity": quantity,
                    "currency_code": "EUR",
                    "unit_amount_cents": price["amount_cents"],
                    "total_amount_cents": total,
                }
            )
        order: Row = {
            "id": oid,
            "created_at": created,
            "updated_at": updated,
            "number": str(shop.first_number + n),
            "status": status,
            "payment_status": PAYMENT_STATUS[status],
            "fulfillment_status": "fulfilled" if status == "approved" else "unfulfilled",
            "guest": guest,
            "customer_email": f"guest{n}@example.org" if guest else shop.email(owner),
            "customer_id": None if guest else shop.customer_ids[owner],
            "market_id": market["id"],
            "language_code": "en",
            "currency_code": "EUR",
            "tax_included": True,
            "country_code": "IT",
            "token": shop.token(),
            "subtotal_amount_cents": subtotal,
            "total_amount_cents": subtotal,
            "skus_count": 1,
            "autorefresh": True,
            "place_async": False,
        }
        if status in ("placed", "approved", "cancelled"):
            order["placed_at"] = created + timedelta(minutes=5)
        if status == "approved":
            order["approved_at"] = created + timedelta(hours=2)
        if status == "cancelled":
            order["cancelled_at"] = updated
        if not guest:
            shop.customer_orders[owner] += 1
        orders.append(order)
        kinds = {"placed": ["authorizations"], "approved": ["authorizations", "captures"]}
        for k, kind in enumerate(kinds.get(status, [])):
            txns.append(
                {
                    "id": shop.id(),
                    "created_at": order["placed_at"],
                    "updated_at": order["placed_at"],
                    "number": f"{order['number']}/{kind[0].upper()}/{k + 1:03d}",
                    "type": kind,
                    "order_id": oid,
                    "currency_code": "EUR",
                    "amount_cents": subtotal,
                    "succeeded": True,
                    "token": shop.token(),
                    "gateway_transaction_id": shop.token()[:16],
                }
            )
    return {"orders": orders, "line_items": items, "transactions": txns}


def _customers(shop: Shop, first: int, count: int) -> dict[str, list[Row]]:
    customers, payments, wallet = [], [], []
    for n in range(first, first + count):
        created = shop.when(n, shop.customers)
        cid = shop.customer_ids[n]
        customers.append(
            {
                "id": cid,
                "created_at": created,
                "updated_at": created,
                "email": shop.email(n),
                "status": "repeat" if shop.customer_orders[n] > 1 else "acquired",
                "total_orders_count": shop.customer_orders[n],
            }
        )
        token = "tok_" + shop.token()[:24]
        source = {
            "id": shop.id(),
            "created_at": created,
            "updated_at": created,
            "payment_source_token": token,
            "options": {},
            "payment_instrument": {"issuer_type": "card", "card_type": "visa", "last4": "4242"},
        }
        payments.append(source)
        wallet.append(
            {
                "id": shop.id(),
                "created_at": created,
                "updated_at": created,
                "name": "Visa ending in 4242",
                "customer_id": cid,
                "payment_source_id": source["id"],
                "payment_source_type": "external_payments",
                "payment_source_token": token,
                "default": True,
            }
        )
    return {
        "customers": customers,
        "external_payments": payments,
        "customer_payment_sources": wallet,
    }


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for first in range(0, total, size):
        yield first, min(size, total - first)


async def seed(
    settings: Settings, organization_id: str, mode: str, orders: int, seed_value: int = 1
) -> dict[str, int]:
    """Load a shop of ``orders`` orders into an organization; returns rows per table."""
    registry = build_registry()
    db = Database(settings.database_url)
    tables = {t: registry[t].table for t in registry.by_type}
    try:
        async with db.engine.connect() as conn:
            customers = tables["customers"]
            seeded = await conn.execute(
                sa.select(customers.c.id).where(
                    customers.c.organization_id == organization_id,
                    customers.c.mode == mode,
                    customers.c.email == "whale@example.com",
                )
            )
            if seeded.first() is not None:
                raise SeedError("this organization is seeded already: seed a new one (--slug)")
            numbered = await _counter(conn, organization_id, mode)
            shop = Shop(orders, seed_value, first_number=numbered + 1)
            loader = Loader(conn, not db.is_sqlite, organization_id, mode)
            catalog = _catalog(shop)
            for name, rows in catalog.items():
                await loader.load(tables[name], rows)
            progress = Progress(orders, "orders   ")
            for first, count in _batches(orders, BATCH):
                for name, rows in _orders(shop, catalog, first, count).items():
                    await loader.load(tables[name], rows)
                await conn.commit()
                progress.advance(count)
            progress.finish()
            progress = Progress(shop.customers, "customers")
            for first, count in _batches(shop.customers, BATCH):
                for name, rows in _customers(shop, first, count).items():
                    await loader.load(tables[name], rows)
                await conn.commit()
                progress.advance(count)
            progress.finish()
            await _set_counter(conn, organization_id, mode, numbered, numbered + orders)
            await conn.commit()
        async with db.engine.connect() as conn:
            if db.is_sqlite:
                await conn.exec_driver_sql("ANALYZE")
            else:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                for name in loader.counts:
                    await conn.exec_driver_sql(f'VACUUM ANALYZE "{name}"')
        return loader.counts
    finally:
        await db.dispose()


def _counter_key(org: str, mode: str) -> list[sa.ColumnElement[bool]]:
    c = order_counters.c
    return [c.organization_id == org, c.mode == mode, c.name == "orders"]


async def _counter(conn: AsyncConnection, org: str, mode: str) -> int:
    """The last order number given in this organization (0 for none)."""
    query = sa.select(order_counters.c.value).where(*_counter_key(org, mode))
    return int((await conn.execute(query)).scalar_one_or_none() or 0)


async def _set_counter(conn: AsyncConnection, org: str, mode: str, old: int, new: int) -> None:
    """New orders get numbers after the seeded ones."""
    if old == 0:
        row = {"organization_id": org, "mode": mode, "name": "orders", "value": new}
        await conn.execute(order_counters.insert().values(**row))
    else:
        await conn.execute(
            order_counters.update().where(*_counter_key(org, mode)).values(value=new)
        )
