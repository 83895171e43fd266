"""A shop on a real database, driven in-process: the services, no HTTP server.

The catalog and the cart are set up through the protocol engine's create and update (what
the API runs for a ``POST`` or ``PATCH``, minus the HTTP layer); the checkout steps under
test are the domain functions the order triggers call, each run the way the engine runs a
trigger: in a transaction of the caller's context, with the order row read first.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.bootstrap import init_organization
from kassa.engine import handlers
from kassa.engine.context import Ctx, Services
from kassa.fake_processor import ProcessorServer
from kassa.outbound import Policy
from kassa.outbound import client as outbound_client
from kassa.resources.base import Row
from kassa.resources.registry import build_registry
from kassa.settings import Settings
from kassa.store.db import Database
from tests.shop import ADDRESS

BASE_URL = "http://kassa.test"
PRICE_CENTS = 4900


def _document(
    type_: str, attributes: Row, relationships: dict[str, tuple[str, str]], id_: str | None = None
) -> bytes:
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if id_ is not None:
        data["id"] = id_
    if relationships:
        data["relationships"] = {
            name: {"data": {"type": t, "id": i}} for name, (t, i) in relationships.items()
        }
    return orjson.dumps({"data": data})


@asynccontextmanager
async def open_services(database_url: str) -> AsyncIterator[Services]:
    """The long-lived objects of one process, as the application builds them at startup."""
    settings = Settings(database_url=database_url, callout_timeout=5.0)
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    http = outbound_client(Policy(allow_private=True), settings.callout_timeout)
    try:
        yield Services(settings, db, build_registry(), http)
    finally:
        await http.aclose()
        await db.dispose()


@dataclass
class Shop:
    """One organization with a market, a tracked SKU in stock and an external payment
    method whose gateway is the reference processor (its own account namespace)."""

    services: Services
    processor: ProcessorServer
    account: str
    admin: Principal
    channel_id: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    # --- building ---------------------------------------------------------------------------

    @classmethod
    async def build(cls, services: Services, processor: ProcessorServer) -> Shop:
        slug = "svc-" + secrets.token_hex(4)
        creds = await init_organization(services.settings, slug, "Service tests")
        apps = services.registry["applications"].table
        async with services.db.engine.connect() as conn:
            found = await conn.execute(
                sa.select(apps.c.kind, apps.c.id).where(
                    apps.c.organization_id == creds["organization_id"]
                )
            )
            by_kind = {kind: id_ for kind, id_ in found}
        admin = Principal(
            creds["organization_id"], slug, "test", by_kind["integration"], "integration"
        )
        shop = cls(services, processor, "svc-" + secrets.token_hex(4), admin)
        shop.channel_id = by_kind["sales_channel"]
        await shop._catalog()
        return shop

    async def _catalog(self) -> None:
        code = "eu-" + secrets.token_hex(3)
        pl = await self.create(
            "price_lists",
            {"name": "EUR", "code": code, "currency_code": "EUR", "tax_included": True},
        )
        address = await self.create("addresses", ADDRESS)
        merchant = await self.create(
            "merchants", {"name": "Shop srl"}, {"address": ("addresses", address["id"])}
        )
        model = await self.create("inventory_models", {"name": "Europe"})
        location = await self.create(
            "stock_locations",
            {"name": "Europe", "code": "wh-" + code},
            {"address": ("addresses", address["id"])},
        )
        await self.create(
            "inventory_stock_locations",
            {"priority": 1},
            {
                "stock_location": ("stock_locations", location["id"]),
                "inventory_model": ("inventory_models", model["id"]),
            },
        )
        market = await self.create(
            "markets",
            {"name": "Europe", "code": code},
            {
                "merchant": ("merchants", merchant["id"]),
                "price_list": ("price_lists", pl["id"]),
                "inventory_model": ("inventory_models", model["id"]),
            },
        )
        category = await self.create("shipping_categories", {"name": "Default"})
        sku = await self.create(
            "skus",
            {"code": "TSHIRT-XL", "name": "T-Shirt XL", "do_not_ship": True},
            {"shipping_category": ("shipping_categories", category["id"])},
        )
        await self.create(
            "prices",
            {"amount_cents": PRICE_CENTS, "sku_code": "TSHIRT-XL"},
            {"price_list": ("price_lists", pl["id"])},
        )
        stock = await self.create(
            "stock_items",
            {"quantity": 10, "sku_code": "TSHIRT-XL"},
            {"stock_location": ("stock_locations", location["id"])},
        )
        url = f"{self.processor.url}/{self.account}"
        gateway = await self.create(
            "external_gateways",
            {"name": "Reference processor", **{f"{a}_url": f"{url}/{a}" for a in _ACTIONS}},
        )
        secret = gateway["attributes"]["shared_secret"]
        account = f"{self.processor.url}/_accounts/{self.account}"
        async with httpx.AsyncClient() as http:
            (await http.put(account, json={"shared_secret": secret})).raise_for_status()
        method = await self.create(
            "payment_methods",
            {
                "payment_source_type": "external_payments",
                "price_amount_cents": 0,
                "name": "External Payment",
            },
            {
                "market": ("markets", market["id"]),
                "payment_gateway": ("external_gateways", gateway["id"]),
            },
        )
        self.ids.update(
            market=market["id"],
            sku=sku["id"],
            stock_item=stock["id"],
            payment_method=method["id"],
        )

    # --- callers ----------------------------------------------------------------------------

    def ctx(self, principal: Principal | None = None) -> Ctx:
        """A fresh context: one caller's unit of work."""
        return Ctx(self.services, principal or self.admin, BASE_URL)

    async def customer(self) -> Principal:
        """A new customer, and the principal of their storefront token on the market."""
        email = f"john-{secrets.token_hex(3)}@example.com"
        row = await self.create("customers", {"email": email})
        a = self.admin
        return Principal(
            a.organization_id,
            a.organization_slug,
            a.mode,
            self.channel_id,
            "sales_channel",
            market_id=self.ids["market"],
            customer_id=row["id"],
        )

    async def create(
        self,
        type_: str,
        attributes: Row,
        relationships: dict[str, tuple[str, str]] | None = None,
        principal: Principal | None = None,
    ) -> dict[str, Any]:
        """Create through the engine, as ``POST /api/{type_}``; the resource object."""
        body = _document(type_, attributes, relationships or {})
        doc = await handlers.create(self.ctx(principal), type_, body)
        data: dict[str, Any] = doc["data"]
        return data

    async def update(
        self,
        principal: Principal,
        type_: str,
        id_: str,
        attributes: Row,
        relationships: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        """Update through the engine, as ``PATCH /api/{type_}/{id_}``."""
        body = _document(type_, attributes, relationships or {}, id_)
        await handlers.update(self.ctx(principal), type_, id_, body)

    # --- the steps under test ---------------------------------------------------------------

    async def call(
        self, principal: Principal, service: Callable[..., Awaitable[None]], *args: Any
    ) -> None:
        """Call a checkout service (``kassa.checkout.services``) as ``principal``, in a fresh
        context: one caller's unit of work."""
        await service(self.ctx(principal), *args)

    async def cart(self, principal: Principal, token: str | None = "tok_visa") -> str:
        """A pending order with one line item, a billing address, the payment method and,
        unless ``token`` is None, an external payment with that token."""
        order = await self.create("orders", {}, principal=principal)
        oid = order["id"]
        await self.create(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": 1},
            {"order": ("orders", oid)},
            principal,
        )
        billing = await self.create("addresses", ADDRESS, principal=principal)
        await self.update(
            principal,
            "orders",
            oid,
            {"_shipping_address_same_as_billing": True},
            {
                "billing_address": ("addresses", billing["id"]),
                "payment_method": ("payment_methods", self.ids["payment_method"]),
            },
        )
        if token is not None:
            await self.create(
                "external_payments",
                {"payment_source_token": token},
                {"order": ("orders", oid)},
                principal,
            )
        return oid

    # --- what a user sees -------------------------------------------------------------------

    async def rows(self, type_: str, **equal: Any) -> list[Row]:
        ctx = self.ctx()
        table = ctx.table(type_)
        async with ctx.step(write=False):
            return await ctx.select(type_, *(table.c[k] == v for k, v in equal.items()))

    async def order(self, order_id: str) -> Row:
        found = await self.rows("orders", id=order_id)
        assert len(found) == 1, order_id
        return found[0]

    async def transactions(self, order_id: str) -> list[tuple[str, bool, int]]:
        """(type, succeeded, amount) of the order's transactions, oldest first."""
        txns = await self.rows("transactions", order_id=order_id)
        return [(t["type"], bool(t["succeeded"]), int(t["amount_cents"])) for t in txns]

    async def stock(self) -> int:
        return int((await self.rows("stock_items", id=self.ids["stock_item"]))[0]["quantity"])

    async def behave(self, action: str, **behaviour: Any) -> None:
        """Script the processor's next answers to ``action`` (see kassa.fake_processor)."""
        url = f"{self.processor.url}/_accounts/{self.account}/behaviour/{action}"
        async with httpx.AsyncClient() as http:
            (await http.put(url, json=behaviour)).raise_for_status()

    async def calls(self, *action: str) -> list[dict[str, Any]]:
        """The callouts the processor received for these actions, in arrival order."""
        url = f"{self.processor.url}/_accounts/{self.account}/calls"
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        response.raise_for_status()
        return [c for c in response.json()["calls"] if not action or c["action"] in action]

    async def charges(self) -> list[dict[str, Any]]:
        """The processor's ledger of effects: one per approved, non-repeated callout."""
        url = f"{self.processor.url}/_accounts/{self.account}/charges"
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        response.raise_for_status()
        charges: list[dict[str, Any]] = response.json()["charges"]
        return charges


_ACTIONS = ("authorize", "capture", "void", "refund", "token")
