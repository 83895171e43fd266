"""Orders, line items, shipments and shipping methods: the cart and the checkout."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.auth.passwords import check_new_password, hash_password
from kassa.checkout import lifecycle, placing
from kassa.ids import new_token
from kassa.jsonapi.errors import (
    attr,
    blank,
    invalid,
    not_editable,
    rel,
    unauthorized,
)
from kassa.orders import stock
from kassa.orders.numbers import next_number
from kassa.orders.rules import (
    customer_for_email,
    editable,
    line_items,
    market_price,
    refresh,
    zero_amounts,
)
from kassa.orders.shipments import available_shipping_methods, free_over_base, shipping_cost
from kassa.payments import sources, wallet
from kassa.resources import contract
from kassa.resources.base import (
    Access,
    Changes,
    Resource,
    Row,
    TriggerFn,
    fk,
    reverse,
    verbs,
    virtual,
)
from kassa.resources.common import disable_triggers
from kassa.resources.customers import check_address
from kassa.session import Session, scopes

MAX_QUANTITY = 99_999
_ANY_STATUS = frozenset({"metadata", "reference", "reference_origin"})
_CUSTOMER_ONLY = frozenset(
    {
        wallet.SAVE,
        wallet.REUSE,
        "_save_shipping_address_to_customer_address_book",
        "_save_billing_address_to_customer_address_book",
    }
)


# --- access -------------------------------------------------------------------------------


def orders_read_scope(p: Any, table: sa.Table) -> list[sa.ColumnElement[bool]] | None:
    """By id, a customer also reaches its market's orders that nobody owns yet (to bind them)."""
    if p.customer_id:
        unowned = sa.and_(table.c.customer_id.is_(None), table.c.market_id == p.market_id)
        return [sa.or_(table.c.customer_id == p.customer_id, unowned)]
    return scopes.orders_scope(p, table)


async def _guest_order_check(ctx: Session, order: Row, verb: str) -> None:
    if not ctx.principal.guest:
        return
    allowed = ("draft", "pending", "placed") if verb == "retrieve" else ("draft", "pending")
    if order.get("status") not in allowed:
        raise unauthorized()


async def _order_row_check(ctx: Session, row: Row, verb: str) -> None:
    await _guest_order_check(ctx, row, verb)


async def _via_order_row_check(ctx: Session, row: Row, verb: str) -> None:
    order = await ctx.get("orders", row.get("order_id"))
    if order is not None:
        await _guest_order_check(ctx, order, verb)


_CHECKOUT = verbs("create", "retrieve", "update")
_CHECKOUT_CUSTOMER = verbs("list", "create", "retrieve", "update")


# --- orders -------------------------------------------------------------------------------


async def _own_addresses(ctx: Session, values: Row, keys: set[str] | None = None) -> None:
    """Addresses on a customer's order belong to that customer from now on.

    ``keys`` limits this to the address columns that changed. Not when a guest links the
    order to a customer by e-mail: the guest keeps reading the addresses it entered.
    """
    owner = values.get("customer_id")
    if not owner or ctx.principal.guest:
        return
    for key in ("billing_address_id", "shipping_address_id"):
        if values.get(key) and (keys is None or key in keys):
            table = ctx.table("addresses")
            await ctx.update(
                "addresses",
                values[key],
                {"owner_customer_id": owner},
                table.c.owner_customer_id.is_(None),
            )


async def _check_country_lock(ctx: Session, order: Row, address: Row | None = None) -> None:
    """The shipping address must be in ``shipping_country_code_lock`` when that is set."""
    lock = order.get("shipping_country_code_lock")
    if address is None:
        address = await ctx.get("addresses", order.get("shipping_address_id"))
    if not lock or address is None:
        return
    if str(address.get("country_code") or "").upper() != str(lock).upper():
        raise invalid(rel("shipping_address"), "country is locked", "invalid", value=lock)


async def _check_payment_method(ctx: Session, order: Row, method_id: str | None) -> None:
    if method_id and method_id not in {m["id"] for m in await sources.methods_for(ctx, order)}:
        raise invalid(rel("payment_method"), "is invalid", "invalid")


async def _link_customer(ctx: Session, values: Row, changes: Changes) -> None:
    p = ctx.principal
    if p.customer_id:
        customer = await ctx.get("customers", p.customer_id)
        assert customer is not None
        values["customer_id"] = customer["id"]
        values["customer_email"] = customer["email"]
        values["guest"] = False
        return
    if "customer" in changes.related:
        customer = changes.related["customer"]
        values["customer_email"] = customer["email"] if customer else None
        values["guest"] = customer is None
        return
    if values.get("customer_email") == "":
        raise invalid(attr("customer_email"), "is invalid", "invalid")
    if values.get("customer_email"):
        password = changes.inputs.get("customer_password")
        if password is not None:
            check_new_password(password, "customer_password")
        customer, created = await customer_for_email(ctx, values["customer_email"])
        values["customer_email"] = customer["email"]
        values["customer_id"] = customer["id"]
        # Signing up sets the password of a customer this request creates, never of an
        # existing one: whoever knows an e-mail must not take over that account.
        if password and created:
            await ctx.update(
                "customers",
                customer["id"],
                {"password_hash": await hash_password(str(password)), "has_password": True},
            )


async def _order_create(ctx: Session, values: Row, changes: Changes) -> None:
    p = ctx.principal
    market = changes.related.get("market")
    if p.sales_channel:
        market = await ctx.get("markets", p.market_id) if p.market_id else None
    if market is None:
        raise blank(rel("market"))
    if market.get("disabled_at") is not None:
        raise invalid(rel("market"), "is disabled", "invalid")
    values["market_id"] = market["id"]
    price_list = await ctx.get("price_lists", market.get("price_list_id"))
    values["currency_code"] = price_list["currency_code"] if price_list else None
    values["tax_included"] = price_list.get("tax_included", True) if price_list else True
    values["guest"] = True
    await _link_customer(ctx, values, changes)
    number = await next_number(ctx, "orders", 1)
    token = new_token()
    values.update(zero_amounts())
    values.update(
        {
            "number": str(number),
            "token": token,
            "checkout_url": f"{ctx.settings.checkout_base_url.rstrip('/')}/{token}",
            "status": "draft",
            "payment_status": "unpaid",
            "fulfillment_status": "unfulfilled",
            "skus_count": 0,
            "line_item_options_count": 0,
            "shipments_count": 0,
        }
    )
    values.setdefault("language_code", "en")
    if values.get("autorefresh") is None:
        values["autorefresh"] = True
    if values.get("place_async") is None:
        values["place_async"] = False
    await _check_payment_method(ctx, values, values.get("payment_method_id"))
    await _check_country_lock(ctx, values)
    await _own_addresses(ctx, values)


async def _order_after_create(ctx: Session, row: Row) -> None:
    await refresh(ctx, row["id"], order=row)


def _pointer(name: str, changes: Changes) -> str:
    return rel(name) if name in changes.relationships else attr(name)


async def _order_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    p = ctx.principal
    if p.guest and _CUSTOMER_ONLY & set(changes.triggers):
        raise unauthorized()
    if p.customer_id or (p.guest and row.get("guest") is False):
        # A customer token binds the order to its owner; a guest token cannot move an
        # order a customer owns to someone else. Either way the sent customer is ignored.
        for key in ("customer_email", "customer_id", "guest"):
            values.pop(key, None)
        changes.related.pop("customer", None)
    if p.customer_id and row.get("customer_id") is None:
        customer = await ctx.get("customers", p.customer_id)
        assert customer is not None
        values.update(customer_id=customer["id"], customer_email=customer["email"], guest=False)
    elif p.customer_id and row.get("guest") is not False:
        # A guest order placed with this customer's e-mail: the customer's first write
        # claims it, so the guest token that made it can no longer act on it.
        values["guest"] = False
    touched = [k for k in changes.sent_attributes if not k.startswith("_") and k not in _ANY_STATUS]
    touched += [k for k in changes.relationships if not (p.customer_id and k == "customer")]
    if touched and not editable(row):
        raise not_editable(_pointer(sorted(touched)[0], changes))
    if not p.customer_id and ("customer_email" in values or "customer" in changes.related):
        await _link_customer(ctx, values, changes)
    if "market" in changes.related and changes.related["market"] is not None:
        market = changes.related["market"]
        price_list = await ctx.get("price_lists", market.get("price_list_id"))
        if price_list is not None:
            values["currency_code"] = price_list["currency_code"]
            values["tax_included"] = price_list.get("tax_included", True)
    merged = {**row, **values}
    if "payment_method_id" in values:
        await _check_payment_method(ctx, merged, values["payment_method_id"])
        method = await ctx.get("payment_methods", values["payment_method_id"])
        if method is None or method.get("payment_source_type") != row.get("payment_source_type"):
            values.update(sources.detached())
    if "payment_source_id" in values and values.get("payment_source_id"):
        values["payment_source_details"] = sources.details(values.get("payment_source_type"))
    if "shipping_address_id" in values or "shipping_country_code_lock" in values:
        await _check_country_lock(ctx, merged)
    new_owner = merged.get("customer_id") != row.get("customer_id")
    await _own_addresses(ctx, merged, None if new_owner else set(values))


async def _order_after_update(ctx: Session, row: Row) -> None:
    await refresh(ctx, row["id"], order=row)


async def _order_delete(ctx: Session, row: Row) -> None:
    if row.get("placed_at") is not None or row.get("status") not in ("draft", "pending"):
        from kassa.jsonapi.errors import ApiError

        raise ApiError.of(423, "LOCKED", detail="Placed orders cannot be deleted.")
    for table in ("line_items", "shipments"):
        t = ctx.table(table)
        await ctx.conn.execute(t.delete().where(t.c.order_id == row["id"], *ctx.scoped(table)))


# --- address triggers -----------------------------------------------------------------------


async def _copy_address(ctx: Session, source: Row, owner: str | None) -> Row:
    """A new address equal to ``source``; a guest's copies stay readable by the guest."""
    skip = {"id", "created_at", "updated_at", "organization_id", "mode"}
    values = {k: v for k, v in source.items() if k not in skip}
    values["owner_customer_id"] = (
        None if ctx.principal.guest else owner or source.get("owner_customer_id")
    )
    return await ctx.insert("addresses", values)


def _same_as(from_key: str, to_key: str, trigger: str) -> TriggerFn:
    async def run(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
        if not editable(row):
            raise not_editable(attr(trigger))
        source = await ctx.get("addresses", row.get(from_key))
        if source is None:
            raise blank(attr(trigger))
        if to_key == "shipping_address_id":
            await _check_country_lock(ctx, row, source)
        copy = await _copy_address(ctx, source, row.get("customer_id"))
        await ctx.update("orders", row["id"], {to_key: copy["id"]})
        await refresh(ctx, row["id"])

    return run


def _clone(to_key: str, trigger: str) -> TriggerFn:
    async def run(ctx: Session, row: Row, value: Any, _c: Changes) -> None:
        if not editable(row):
            raise not_editable(attr(trigger))
        source = await ctx.services.visible_row(ctx, "addresses", value)
        customer_id = ctx.principal.customer_id
        if source is not None and customer_id and source.get("owner_customer_id") != customer_id:
            # A customer clones its own addresses or those of its address book.
            book = ctx.table("customer_addresses")
            entries = await ctx.select(
                "customer_addresses",
                book.c.customer_id == customer_id,
                book.c.address_id == source["id"],
            )
            if not entries:
                source = None
        if source is None:
            raise invalid(attr(trigger), "is invalid", "invalid")
        check_address(source)
        if to_key == "shipping_address_id":
            await _check_country_lock(ctx, row, source)
        copy = await _copy_address(ctx, source, row.get("customer_id"))
        await ctx.update("orders", row["id"], {to_key: copy["id"]})
        await refresh(ctx, row["id"])

    return run


def _save_to_book(key: str) -> TriggerFn:
    async def run(ctx: Session, row: Row, _v: Any, _c: Changes) -> None:
        if ctx.principal.guest:
            raise unauthorized()
        if not row.get("customer_id"):
            raise blank(rel("customer"))
        address = await ctx.get("addresses", row.get(key))
        if address is None:
            raise blank(rel(key.removesuffix("_id")))
        book = ctx.table("customer_addresses")
        existing = await ctx.select("customer_addresses", book.c.customer_id == row["customer_id"])
        fields = (
            "first_name",
            "last_name",
            "company",
            "line_1",
            "line_2",
            "city",
            "zip_code",
            "state_code",
            "country_code",
            "phone",
        )
        for entry in existing:
            saved = await ctx.get("addresses", entry.get("address_id"))
            if saved and all(saved.get(f) == address.get(f) for f in fields):
                return
        copy = await _copy_address(ctx, address, row["customer_id"])
        customer = await ctx.get("customers", row["customer_id"])
        from kassa.resources.customers import _address_name

        await ctx.insert(
            "customer_addresses",
            {
                "customer_id": row["customer_id"],
                "address_id": copy["id"],
                "customer_email": (customer or {}).get("email"),
                "name": _address_name(copy),
            },
        )

    return run


def _not_supported(trigger: str) -> TriggerFn:
    async def run(_ctx: Session, _row: Row, _v: Any, _c: Changes) -> None:
        raise invalid(attr(trigger), "is not supported", "not_supported")

    return run


async def _noop(_ctx: Session, _row: Row, _v: Any, _c: Changes) -> None:
    """A parameter of another trigger (``_authorization_amount_cents``)."""


_ORDER_TRIGGERS: dict[str, TriggerFn] = {
    "_shipping_address_same_as_billing": _same_as(
        "billing_address_id", "shipping_address_id", "_shipping_address_same_as_billing"
    ),
    "_billing_address_same_as_shipping": _same_as(
        "shipping_address_id", "billing_address_id", "_billing_address_same_as_shipping"
    ),
    "_billing_address_clone_id": _clone("billing_address_id", "_billing_address_clone_id"),
    "_shipping_address_clone_id": _clone("shipping_address_id", "_shipping_address_clone_id"),
    wallet.REUSE: wallet.reuse,
    "_nullify_payment_source": lifecycle.nullify_payment_source,
    "_refresh": lifecycle.refresh_trigger,
    "_refresh_prices": lifecycle.refresh_prices,
    "_authorization_amount_cents": _noop,
    "_authorize": placing.authorize,
    "_place": placing.place,
    wallet.SAVE: wallet.save,
    "_save_shipping_address_to_customer_address_book": _save_to_book("shipping_address_id"),
    "_save_billing_address_to_customer_address_book": _save_to_book("billing_address_id"),
    "_approve": lifecycle.approve,
    "_approve_and_capture": lifecycle.approve_and_capture,
    "_capture": lifecycle.capture,
    "_cancel": lifecycle.cancel,
    "_refund": lifecycle.refund,
    "_fulfill": lifecycle.fulfill,
    "_pending": lifecycle.pending,
    "_archive": lifecycle.archive,
    "_unarchive": lifecycle.unarchive,
}
for _name in (
    "_update_taxes",
    "_fix_payment_source",
    "_commit_invoice",
    "_refund_invoice",
    "_validate",
    "_create_subscriptions",
    "_start_editing",
    "_stop_editing",
    "_reset_circuit",
    "_add_tags",
    "_remove_tags",
):
    _ORDER_TRIGGERS[_name] = _not_supported(_name)

ORDERS = Resource(
    contract.ORDERS,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("number", "customer_email", "reference"),
    access=Access(
        guest=_CHECKOUT,
        customer=_CHECKOUT_CUSTOMER,
        scope=orders_read_scope,
        list_scope=scopes.orders_scope,
        row_check=_order_row_check,
    ),
    computed={
        "editable": editable,
        "requires_billing_info": lambda _r: False,
        "expiration_info": lambda _r: None,
        "customer_password": lambda _r: None,
    },
    extra_columns=[
        sa.Column("lock_token", sa.String(32), nullable=True),
        sa.Column("locked_until", sa.DateTime, nullable=True),
    ],
    indexes=[("customer_id", "created_at")],
    relationships={
        "payment_source": fk("payment_source_id", "payment_source_type"),
        "line_items": reverse("line_items", "order_id"),
        "shipments": reverse("shipments", "order_id"),
        "transactions": reverse("transactions", "order_id"),
        "authorizations": reverse("authorizations", "order_id"),
        "captures": reverse("captures", "order_id"),
        "voids": reverse("voids", "order_id"),
        "refunds": reverse("refunds", "order_id"),
        "available_payment_methods": virtual(wallet.available_methods),
        "available_customer_payment_sources": virtual(wallet.available_entries),
    },
    optional=frozenset({"market"}),
    before_create=_order_create,
    after_create=_order_after_create,
    before_update=_order_update,
    after_update=_order_after_update,
    before_delete=_order_delete,
    triggers=_ORDER_TRIGGERS,
)


# --- line items ---------------------------------------------------------------------------


async def _editable_order(ctx: Session, order: Row | None) -> Row:
    if order is None:
        raise blank(rel("order"))
    if not editable(order):
        if ctx.principal.guest:
            raise unauthorized()
        raise not_editable(rel("order"))
    return order


def _check_quantity(quantity: Any) -> int:
    if quantity is None:
        raise blank(attr("quantity"))
    if quantity < 1:
        raise invalid(attr("quantity"), "must be greater than 0", "greater_than", count=0)
    if quantity > MAX_QUANTITY:
        raise invalid(
            attr("quantity"),
            f"must be less than or equal to {MAX_QUANTITY}",
            "less_than_or_equal_to",
            count=MAX_QUANTITY,
        )
    return int(quantity)


async def _check_stock(ctx: Session, order: Row, sku: Row, quantity: int) -> None:
    if not stock.tracked(sku):
        return
    if quantity > await stock.available(ctx, order["market_id"], sku["id"]):
        raise invalid(attr("quantity"), "is out of stock", "out_of_stock")


async def _line_item_create(ctx: Session, values: Row, changes: Changes) -> None:
    order = await _editable_order(ctx, changes.related.get("order"))
    sku = changes.related.get("sku")
    item = changes.related.get("item")
    pointer = attr("sku_code")
    if item is not None:
        # Only SKUs can be bought; system line items are built by the order itself.
        if changes.relationships.get("item", ("",))[0] != "skus":
            raise invalid(rel("item"), "is invalid", "invalid")
        sku, pointer = item, rel("item")
    elif sku is not None:
        pointer = rel("sku")
    elif values.get("sku_code"):
        skus = ctx.table("skus")
        found = await ctx.select("skus", skus.c.code == values["sku_code"])
        if not found:
            raise invalid(attr("sku_code"), "is invalid", "invalid")
        sku = found[0]
    quantity = _check_quantity(values.get("quantity"))
    if sku is None:
        if ctx.principal.sales_channel or values.get("unit_amount_cents") is None:
            raise invalid(attr("sku_code"), "can't be blank", "blank")
        values.update(
            item_type=values.get("item_type") or "adjustments", currency_code=order["currency_code"]
        )
        values["total_amount_cents"] = int(values["unit_amount_cents"]) * quantity
        return
    price = await market_price(ctx, order["market_id"], sku["id"])
    if price is None and values.get("unit_amount_cents") is None:
        raise invalid(pointer, "is invalid", "invalid")
    if not await _sellable(ctx, order["market_id"], sku["id"]):
        raise invalid(pointer, "is invalid", "invalid")
    items = ctx.table("line_items")
    same = await ctx.select(
        "line_items",
        items.c.order_id == order["id"],
        items.c.sku_id == sku["id"],
        items.c.item_type == "skus",
    )
    in_cart = sum(int(i["quantity"]) for i in same)
    if changes.triggers.get("_update_quantity") and same:
        target = same[0]
        new_quantity = _check_quantity(int(target["quantity"]) + quantity)
        await _check_stock(ctx, order, sku, in_cart + quantity)
        await ctx.update(
            "line_items",
            target["id"],
            {
                "quantity": new_quantity,
                "total_amount_cents": int(target["unit_amount_cents"] or 0) * new_quantity,
            },
        )
        changes.existing_id = target["id"]
        return
    await _check_stock(ctx, order, sku, in_cart + quantity)
    unit = values.get("unit_amount_cents")
    values["custom_price"] = unit is not None
    if unit is None:
        assert price is not None
        unit = price["amount_cents"]
    values.update(
        {
            "order_id": order["id"],
            "sku_id": sku["id"],
            "sku_code": sku["code"],
            "item_type": "skus",
            "item_id": sku["id"],
            "quantity": quantity,
            "unit_amount_cents": unit,
            "compare_at_amount_cents": (price or {}).get("compare_at_amount_cents"),
            "options_amount_cents": 0,
            "discount_cents": 0,
            "tax_amount_cents": 0,
            "total_amount_cents": int(unit) * quantity,
            "currency_code": order["currency_code"],
            "name": values.get("name") or sku.get("name"),
            "image_url": values.get("image_url") or sku.get("image_url"),
        }
    )


async def _sellable(ctx: Session, market_id: str, sku_id: str) -> bool:
    """Priced in the market's price list and stocked there (or not tracked)."""
    skus = ctx.table("skus")
    return bool(await ctx.select("skus", skus.c.id == sku_id, scopes.sellable_skus(market_id)))


async def _line_item_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    order = await _editable_order(ctx, await ctx.get("orders", row["order_id"]))
    sku = await ctx.get("skus", row.get("sku_id"))
    if "sku_code" in values and values["sku_code"] != row.get("sku_code"):
        sku = await _switch_sku(ctx, order, row, values)
    if "quantity" in values or "sku_id" in values:
        quantity = _check_quantity(values.get("quantity", row.get("quantity")))
        if sku is not None:
            items = ctx.table("line_items")
            others = await ctx.select(
                "line_items",
                items.c.order_id == order["id"],
                items.c.sku_id == sku["id"],
                items.c.id != row["id"],
            )
            await _check_stock(ctx, order, sku, quantity + sum(int(i["quantity"]) for i in others))
        unit = values.get("unit_amount_cents", row.get("unit_amount_cents")) or 0
        values["total_amount_cents"] = int(unit) * quantity
    elif "unit_amount_cents" in values:
        values["total_amount_cents"] = int(values["unit_amount_cents"] or 0) * int(row["quantity"])
    if "unit_amount_cents" in values and "sku_id" not in values:
        values["custom_price"] = values["unit_amount_cents"] is not None


async def _switch_sku(ctx: Session, order: Row, row: Row, values: Row) -> Row:
    """A new ``sku_code`` on a SKU line item: the item becomes that SKU, priced afresh."""
    code = values["sku_code"]
    skus = ctx.table("skus")
    found = await ctx.select("skus", skus.c.code == code) if isinstance(code, str) else []
    sku = found[0] if found and row.get("item_type") == "skus" else None
    price = await market_price(ctx, order["market_id"], sku["id"]) if sku else None
    if sku is None or price is None or not await _sellable(ctx, order["market_id"], sku["id"]):
        raise invalid(attr("sku_code"), "is invalid", "invalid")
    values.update(
        sku_id=sku["id"],
        item_id=sku["id"],
        compare_at_amount_cents=price.get("compare_at_amount_cents"),
    )
    values["custom_price"] = values.get("unit_amount_cents") is not None
    values.setdefault("unit_amount_cents", price["amount_cents"])
    values.setdefault("name", sku.get("name"))
    values.setdefault("image_url", sku.get("image_url"))
    return sku


async def _refresh_parent(ctx: Session, row: Row) -> None:
    if row.get("order_id"):
        await refresh(ctx, row["order_id"])


async def _line_item_delete(ctx: Session, row: Row) -> None:
    await _editable_order(ctx, await ctx.get("orders", row["order_id"]))


_LINE_ITEM_OUT = (
    "_external_price",
    "_reserve_stock",
    "_reset_restocked_quantity",
    "_reset_circuit",
)

LINE_ITEMS = Resource(
    contract.LINE_ITEMS,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("sku_code", "name", "reference"),
    access=Access(
        guest=verbs("create", "retrieve", "update", "delete"),
        customer=verbs("list", "create", "retrieve", "update", "delete"),
        scope=scopes.via_order,
        row_check=_via_order_row_check,
    ),
    relationships={"item": fk("item_id", "item_type")},
    defaults={"options_amount_cents": 0, "discount_cents": 0, "tax_amount_cents": 0},
    extra_columns=[sa.Column("custom_price", sa.Boolean, nullable=True)],
    optional=frozenset({"quantity", "unit_amount_cents"}),
    before_create=_line_item_create,
    after_create=_refresh_parent,
    before_update=_line_item_update,
    after_update=_refresh_parent,
    before_delete=_line_item_delete,
    after_delete=_refresh_parent,
    triggers={name: _not_supported(name) for name in _LINE_ITEM_OUT},
)


# --- shipments and shipping methods -------------------------------------------------------


_SHIPMENT_SYSTEM_RELS = ("shipping_category", "inventory_stock_location")


async def _shipment_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    order = await _editable_order(ctx, await ctx.get("orders", row["order_id"]))
    if ctx.principal.sales_channel:
        # Sales channels cannot read these resources, so they cannot point at them either.
        for name in _SHIPMENT_SYSTEM_RELS:
            if name in changes.relationships:
                raise invalid(rel(name), "is invalid", "invalid")
    if values.get("shipping_method_id"):
        allowed = await available_shipping_methods(ctx, row, order)
        if values["shipping_method_id"] not in {m["id"] for m in allowed}:
            raise invalid(rel("shipping_method"), "is invalid", "invalid")


async def _shipping_methods_of(
    ctx: Session, shipments: list[Row]
) -> dict[str, list[tuple[str, Row]]]:
    """The methods a shipment may use, each priced for it (``price_amount_for_shipment``)."""
    out: dict[str, list[tuple[str, Row]]] = {}
    for shipment in shipments:
        order = await ctx.get("orders", shipment["order_id"])
        methods = await available_shipping_methods(ctx, shipment, order) if order else []
        base = free_over_base(await line_items(ctx, order["id"])) if order else (0, 0)
        out[shipment["id"]] = [
            ("shipping_methods", {**m, _FOR_SHIPMENT: shipping_cost(m, *base)}) for m in methods
        ]
    return out


_FOR_SHIPMENT = "__price_for_shipment_cents"


def _price_for_shipment(row: Row) -> Any:
    return row.get(_FOR_SHIPMENT, row.get("price_amount_cents"))


async def _shipment_items(ctx: Session, shipments: list[Row]) -> dict[str, list[tuple[str, Row]]]:
    out: dict[str, list[tuple[str, Row]]] = {s["id"]: [] for s in shipments}
    items = ctx.table("line_items")
    orders = {s["order_id"] for s in shipments}
    for item in await ctx.select(
        "line_items", items.c.order_id.in_(orders), items.c.item_type == "skus"
    ):
        for s in shipments:
            if s["order_id"] == item["order_id"]:
                out[s["id"]].append(("line_items", item))
    return out


SHIPMENTS = Resource(
    contract.SHIPMENTS,
    access=Access(
        guest=verbs("retrieve", "update"),
        customer=verbs("list", "retrieve", "update"),
        scope=scopes.via_order,
        row_check=_via_order_row_check,
    ),
    relationships={
        "available_shipping_methods": virtual(_shipping_methods_of),
        "line_items": virtual(_shipment_items),
    },
    before_update=_shipment_update,
    after_update=_refresh_parent,
)

SHIPPING_METHODS = Resource(
    contract.SHIPPING_METHODS,
    access=Access(
        guest=verbs("retrieve"),
        customer=verbs("retrieve"),
        scope=scopes.enabled_in_market,
    ),
    computed={"price_amount_for_shipment_cents": _price_for_shipment},
    defaults={
        "scheme": "flat",
        "use_subtotal": False,
        "circuit_state": "closed",
        "circuit_failure_count": 0,
        "shared_secret": new_token,
    },
    optional=frozenset({"external_prices_url"}),
    triggers={
        **disable_triggers("shipping_methods"),
        "_reset_circuit": _not_supported("_reset_circuit"),
        "_regenerate_shared_secret": _not_supported("_regenerate_shared_secret"),
    },
)

SHIPPING_ZONES = Resource(contract.SHIPPING_ZONES)

ALL = [ORDERS, LINE_ITEMS, SHIPMENTS, SHIPPING_METHODS, SHIPPING_ZONES]
