"""Markets, price lists, merchants, SKUs, prices, stock, inventory and shipping categories."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.ids import new_token
from kassa.jsonapi.errors import Invalid, attr, invalid, unauthorized, validation
from kassa.orders.numbers import next_number
from kassa.resources import contract
from kassa.resources.base import Access, Changes, Resource, Row, TriggerFn, reverse, verbs
from kassa.resources.common import disable_triggers, resolve_code
from kassa.session import Session, scopes

_READ = verbs("list", "retrieve")


async def _unique(
    ctx: Session, type_: str, column: str, value: Any, own_id: str | None = None
) -> None:
    if value is None:
        return
    table = ctx.table(type_)
    rows = await ctx.select(type_, table.c[column] == value)
    if any(r["id"] != own_id for r in rows):
        raise invalid(attr(column), "has already been taken", "taken", value=value)


def _code_unique(type_: str) -> tuple[Any, Any]:
    async def on_create(ctx: Session, values: Row, _c: Changes) -> None:
        await _unique(ctx, type_, "code", values.get("code"))

    async def on_update(ctx: Session, row: Row, values: Row, _c: Changes) -> None:
        if "code" in values:
            await _unique(ctx, type_, "code", values["code"], row["id"])

    return on_create, on_update


# --- markets --------------------------------------------------------------------------------


async def _market_create(ctx: Session, values: Row, changes: Changes) -> None:
    await _unique(ctx, "markets", "code", values.get("code"))
    values["number"] = await next_number(ctx, "markets")
    values["shared_secret"] = new_token()


async def _market_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    if "code" in values:
        await _unique(ctx, "markets", "code", values["code"], row["id"])


async def _regenerate_secret(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
    await ctx.update("markets", row["id"], {"shared_secret": new_token()})


_market_triggers: dict[str, TriggerFn] = {
    **disable_triggers("markets"),
    "_regenerate_shared_secret": _regenerate_secret,
}

MARKETS = Resource(
    contract.MARKETS,
    access=Access(guest=verbs("retrieve"), customer=verbs("retrieve"), scope=scopes.market_only),
    computed={"private": lambda row: row.get("customer_group_id") is not None},
    unique=[("code",)],
    before_create=_market_create,
    before_update=_market_update,
    triggers=_market_triggers,
)

_pl_create, _pl_update = _code_unique("price_lists")
PRICE_LISTS = Resource(
    contract.PRICE_LISTS,
    defaults={"tax_included": True},
    relationships={"prices": reverse("prices", "price_list_id")},
    before_create=_pl_create,
    before_update=_pl_update,
)

MERCHANTS = Resource(contract.MERCHANTS)


# --- skus and prices ------------------------------------------------------------------------


_sku_create, _sku_update = _code_unique("skus")


async def _sku_check(ctx: Session, row: Row, _verb: str) -> None:
    """A SKU not sellable in the market in scope is out of the caller's scope: 401."""
    table = ctx.table("skus")
    clauses = scopes.skus_scope(ctx.principal, table) or [sa.false()]
    if not await ctx.select("skus", table.c.id == row["id"], *clauses):
        raise unauthorized()


SKUS = Resource(
    contract.SKUS,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("code", "name", "reference"),
    access=Access(
        guest=_READ,
        customer=_READ,
        scope=scopes.organization_wide,
        list_scope=scopes.skus_scope,
        row_check=_sku_check,
    ),
    defaults={"do_not_ship": False, "do_not_track": False},
    unique=[("code",)],
    not_stored=frozenset({"inventory", "jwt_custom_claim"}),
    computed={"inventory": lambda _row: None, "jwt_custom_claim": lambda _row: None},
    relationships={
        "prices": reverse("prices", "sku_id"),
        "stock_items": reverse("stock_items", "sku_id"),
    },
    before_create=_sku_create,
    before_update=_sku_update,
)


async def _price_fill(ctx: Session, values: Row, changes: Changes) -> None:
    await resolve_code(ctx, values, changes, code_field="sku_code", rel="sku", target="skus")
    price_list = changes.related.get("price_list")
    if price_list is not None:
        values["currency_code"] = price_list["currency_code"]
    if "amount_cents" in values:
        if values["amount_cents"] is not None and values["amount_cents"] < 0:
            raise invalid(
                attr("amount_cents"),
                "must be greater than or equal to 0",
                "greater_than_or_equal_to",
                count=0,
            )
        values["original_amount_cents"] = values["amount_cents"]


async def _price_create(ctx: Session, values: Row, changes: Changes) -> None:
    await _price_fill(ctx, values, changes)
    if not values.get("sku_id"):
        raise Invalid([validation("/data/relationships/sku", "can't be blank", "blank")])


async def _price_update(ctx: Session, _row: Row, values: Row, changes: Changes) -> None:
    await _price_fill(ctx, values, changes)


PRICES = Resource(
    contract.PRICES,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("reference",),
    access=Access(guest=_READ, customer=_READ, scope=scopes.prices_scope),
    not_stored=frozenset({"jwt_custom_claim", "rules", "rule_outcomes", "resource_payload"}),
    computed={
        "jwt_custom_claim": lambda _r: None,
        "rules": lambda _r: None,
        "rule_outcomes": lambda _r: None,
        "resource_payload": lambda _r: None,
    },
    optional=frozenset({"sku"}),
    before_create=_price_create,
    before_update=_price_update,
)


# --- stock and inventory --------------------------------------------------------------------


async def _stock_fill(ctx: Session, values: Row, changes: Changes) -> None:
    await resolve_code(ctx, values, changes, code_field="sku_code", rel="sku", target="skus")
    quantity = values.get("quantity")
    if quantity is not None and quantity < 0:
        raise invalid(
            attr("quantity"),
            "must be greater than or equal to 0",
            "greater_than_or_equal_to",
            count=0,
        )


async def _stock_update(ctx: Session, _row: Row, values: Row, changes: Changes) -> None:
    await _stock_fill(ctx, values, changes)


STOCK_ITEMS = Resource(
    contract.STOCK_ITEMS,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("reference",),
    # Sales channels read single stock items of their market; lists are not theirs.
    access=Access(
        guest=verbs("retrieve"), customer=verbs("retrieve"), scope=scopes.stock_items_scope
    ),
    unique=[("stock_location_id", "sku_id")],
    before_create=_stock_fill,
    before_update=_stock_update,
)


async def _location_create(ctx: Session, values: Row, changes: Changes) -> None:
    await _unique(ctx, "stock_locations", "code", values.get("code"))
    values["number"] = await next_number(ctx, "stock_locations")


STOCK_LOCATIONS = Resource(
    contract.STOCK_LOCATIONS,
    defaults={"label_format": "PDF", "suppress_etd": False},
    relationships={
        "stock_items": reverse("stock_items", "stock_location_id"),
        "inventory_stock_locations": reverse("inventory_stock_locations", "stock_location_id"),
    },
    before_create=_location_create,
)

INVENTORY_MODELS = Resource(
    contract.INVENTORY_MODELS,
    defaults={"strategy": "no_split", "stock_locations_cutoff": 2, "manual_stock_decrement": False},
    relationships={
        "inventory_stock_locations": reverse("inventory_stock_locations", "inventory_model_id")
    },
)

INVENTORY_STOCK_LOCATIONS = Resource(
    contract.INVENTORY_STOCK_LOCATIONS,
    unique=[("inventory_model_id", "stock_location_id")],
)

_cat_create, _cat_update = _code_unique("shipping_categories")
SHIPPING_CATEGORIES = Resource(
    contract.SHIPPING_CATEGORIES,
    relationships={"skus": reverse("skus", "shipping_category_id")},
    before_create=_cat_create,
    before_update=_cat_update,
)

CUSTOMER_GROUPS = Resource(
    contract.CUSTOMER_GROUPS,
    relationships={
        "customers": reverse("customers", "customer_group_id"),
        "markets": reverse("markets", "customer_group_id"),
    },
)

ALL = [
    MARKETS,
    PRICE_LISTS,
    MERCHANTS,
    SKUS,
    PRICES,
    STOCK_ITEMS,
    STOCK_LOCATIONS,
    INVENTORY_MODELS,
    INVENTORY_STOCK_LOCATIONS,
    SHIPPING_CATEGORIES,
    CUSTOMER_GROUPS,
]
