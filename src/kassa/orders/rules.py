"""Order rules: editability, totals (autorefresh), customer linking, placing checks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.emails import normalized_email
from kassa.failures import Problem, attr, invalid, invalid_all, rel
from kassa.ids import new_id, now
from kassa.orders import stock
from kassa.session import Session
from kassa.session.rows import Row
from kassa.session.scopes import market_price_list, t

EDITABLE = frozenset({"draft", "pending", "editing"})
PURCHASABLE = frozenset({"skus", "bundles", "gift_cards"})

AMOUNT_CONCEPTS = (
    "subtotal",
    "shipping",
    "payment_method",
    "discount",
    "adjustment",
    "gift_card",
    "total_tax",
    "subtotal_tax",
    "shipping_tax",
    "payment_method_tax",
    "adjustment_tax",
    "total",
    "total_taxable",
    "subtotal_taxable",
    "shipping_taxable",
    "payment_method_taxable",
    "adjustment_taxable",
    "total_amount_with_taxes",
    "fees",
    "duty",
)


def editable(order: Row) -> bool:
    return order.get("status") in EDITABLE


def zero_amounts() -> Row:
    out: Row = {}
    for concept in AMOUNT_CONCEPTS:
        key = (
            f"{concept}_cents"
            if concept == "total_amount_with_taxes"
            else f"{concept}_amount_cents"
        )
        out[key] = 0
    return out


def compute_totals(order: Row, items: list[Row]) -> Row:
    """Pure arithmetic over the line items; every figure is integer cents."""
    by_type: dict[str, int] = {}
    skus_count = 0
    for item in items:
        kind = item.get("item_type") or "skus"
        by_type[kind] = by_type.get(kind, 0) + int(item.get("total_amount_cents") or 0)
        if kind == "skus":
            skus_count += int(item.get("quantity") or 0)
    subtotal = sum(v for k, v in by_type.items() if k in PURCHASABLE)
    shipping = by_type.get("shipments", 0)
    payment_method = by_type.get("payment_methods", 0)
    discount = sum(v for k, v in by_type.items() if k.endswith("promotions"))
    adjustment = by_type.get("adjustments", 0)
    gift_card = 0
    tax = 0
    total = subtotal + shipping + payment_method + discount + adjustment + gift_card
    with_taxes = total if order.get("tax_included", True) is not False else total + tax
    return {
        "subtotal_amount_cents": subtotal,
        "shipping_amount_cents": shipping,
        "payment_method_amount_cents": payment_method,
        "discount_amount_cents": discount,
        "adjustment_amount_cents": adjustment,
        "gift_card_amount_cents": gift_card,
        "total_tax_amount_cents": tax,
        "subtotal_tax_amount_cents": 0,
        "shipping_tax_amount_cents": 0,
        "payment_method_tax_amount_cents": 0,
        "adjustment_tax_amount_cents": 0,
        "total_amount_cents": total,
        "total_taxable_amount_cents": total,
        "subtotal_taxable_amount_cents": subtotal,
        "shipping_taxable_amount_cents": shipping,
        "payment_method_taxable_amount_cents": payment_method,
        "adjustment_taxable_amount_cents": adjustment,
        "total_amount_with_taxes_cents": with_taxes,
        "fees_amount_cents": 0,
        "duty_amount_cents": 0,
        "skus_count": skus_count,
    }


async def line_items(ctx: Session, order_id: str) -> list[Row]:
    return await ctx.select("line_items", t("line_items").c.order_id == order_id)


async def market_price(ctx: Session, market_id: str, sku_id: str) -> Row | None:
    prices, markets = t("prices"), t("markets")
    rows = await ctx.select(
        "prices",
        prices.c.sku_id == sku_id,
        prices.c.price_list_id.in_(
            sa.select(markets.c.price_list_id).where(markets.c.id == market_id)
        ),
    )
    return rows[0] if rows else None


async def _reprice(ctx: Session, market_id: str, items: list[Row], *, reset: bool) -> None:
    """Re-read SKU line item prices from the market's price list.

    Prices an integration set on a line item (``custom_price``) are kept unless ``reset``
    (``_refresh_prices``). A SKU no longer in the price list keeps its last price.
    """
    due = [
        i
        for i in items
        if i.get("item_type") == "skus" and i.get("sku_id") and (reset or not i.get("custom_price"))
    ]
    if not due:
        return
    prices = t("prices")
    rows = await ctx.select(
        "prices",
        prices.c.sku_id.in_(sorted({i["sku_id"] for i in due})),
        prices.c.price_list_id.in_(market_price_list(market_id)),
    )
    by_sku = {r["sku_id"]: r for r in rows}
    for item in due:
        price = by_sku.get(item["sku_id"])
        if price is None:
            continue
        unit = int(price["amount_cents"])
        values = {
            "unit_amount_cents": unit,
            "compare_at_amount_cents": price.get("compare_at_amount_cents"),
            "total_amount_cents": unit * int(item.get("quantity") or 0)
            + int(item.get("options_amount_cents") or 0),
            "custom_price": False if item.get("custom_price") else item.get("custom_price"),
        }
        changed = {k: v for k, v in values.items() if item.get(k) != v}
        if changed:
            await ctx.update("line_items", item["id"], changed)
            item.update(changed)


async def refresh(
    ctx: Session,
    order_id: str,
    *,
    force: bool = False,
    prices: bool = False,
    order: Row | None = None,
) -> Row:
    """Recompute an editable order: prices (when asked), system line items, totals, status.

    ``order`` is the order's current row when the caller already holds it. Without
    ``force`` a refresh that changes nothing writes nothing.
    """
    if order is None or order.get("id") != order_id:
        order = await ctx.get("orders", order_id)
    assert order is not None
    order = dict(order)
    if not editable(order) or (not force and order.get("autorefresh") is False):
        return order
    items = await line_items(ctx, order_id)
    if order.get("market_id"):
        await _reprice(ctx, order["market_id"], items, reset=prices)
    items = await _sync_payment_method_item(ctx, order, items)
    from kassa.orders.shipments import sync_shipments

    items, shipments_count = await sync_shipments(ctx, order, items)
    values = compute_totals(order, items)
    values["shipments_count"] = shipments_count
    if order["status"] == "draft" and order.get("customer_email") and values["skus_count"] > 0:
        values["status"] = "pending"
    address = await ctx.get(
        "addresses", order.get("shipping_address_id") or order.get("billing_address_id")
    )
    values["country_code"] = address.get("country_code") if address is not None else None
    if not any(i.get("item_type") == "skus" for i in items):
        values["fulfillment_status"] = "unfulfilled"
    if not force and all(order.get(k) == v for k, v in values.items()):
        return order  # nothing changed: the order keeps its updated_at
    # Only the columns that changed: each written column costs its list indexes an update
    # (on SQLite an order's amounts update took 12 times longer with them; README).
    changed = {k: v for k, v in values.items() if order.get(k) != v}
    changed["refreshed_at"] = now()
    await ctx.update("orders", order_id, changed)
    order.update(changed)
    return order


async def _sync_payment_method_item(ctx: Session, order: Row, items: list[Row]) -> list[Row]:
    """One ``payment_methods`` line item carrying the method's price, or none."""
    existing = [i for i in items if i.get("item_type") == "payment_methods"]
    method = await ctx.get("payment_methods", order.get("payment_method_id"))
    price = int(method.get("price_amount_cents") or 0) if method else 0
    keep = existing[0] if existing and method and price else None
    for item in existing:
        if item is not keep:
            await ctx.delete("line_items", item["id"])
    rest = [i for i in items if i.get("item_type") != "payment_methods"]
    if method is None or not price:
        return rest
    values = {
        "order_id": order["id"],
        "item_type": "payment_methods",
        "item_id": method["id"],
        "payment_method_id": method["id"],
        "name": method.get("name") or "Payment method",
        "quantity": 1,
        "unit_amount_cents": price,
        "total_amount_cents": price,
        "currency_code": order.get("currency_code"),
    }
    if keep is not None:
        changed = {k: v for k, v in values.items() if keep.get(k) != v}
        if changed:
            await ctx.update("line_items", keep["id"], changed)
            keep.update(changed)
        return [*rest, keep]
    row = await ctx.insert("line_items", values)
    return [*rest, row]


async def customer_for_email(ctx: Session, sent: Any) -> tuple[Row, bool]:
    """The customer with this e-mail in this organization and mode, created if missing.

    Returns the row and whether this call created it.
    """
    email = normalized_email(sent)
    if email is None:
        raise invalid(attr("customer_email"), "is invalid", "invalid")
    customers = t("customers")
    rows = await ctx.select("customers", sa.func.lower(customers.c.email) == email)
    if rows:
        return rows[0], False
    try:
        async with ctx.unit.savepoint():  # a concurrent insert of the e-mail undoes ours alone
            cid = new_id()
            row = await ctx.insert(
                "customers",
                {
                    "id": cid,
                    "email": email,
                    "status": "prospect",
                    "shopper_reference": cid,
                    "profile_id": cid,
                },
            )
        return row, True
    except sa.exc.IntegrityError:
        rows = await ctx.select("customers", sa.func.lower(customers.c.email) == email)
        return rows[0], False


async def place_errors(
    ctx: Session,
    order: Row,
    items: list[Row] | None = None,
    skus: dict[str, Row] | None = None,
    *,
    method: Row | None = None,
) -> list[Problem]:
    """Checks 2–10 of the placing table, all of them, in order.

    ``items`` (the order's line items), ``skus`` (their SKUs by id) and ``method`` (the
    order's payment method) may be passed by a caller that already loaded them.
    """
    errors: list[Problem] = []
    if items is None:
        items = await line_items(ctx, order["id"])
    purchasable = [i for i in items if i.get("item_type") in PURCHASABLE]
    if skus is None:
        skus = await stock.skus_of(ctx, purchasable)
    if not purchasable:
        errors.append(Problem(rel("line_items"), "can't be blank", "blank"))
    if not order.get("customer_email"):
        errors.append(Problem(attr("customer_email"), "can't be blank", "blank"))
    if not order.get("billing_address_id"):
        errors.append(Problem(rel("billing_address"), "can't be blank", "blank"))
    ships = any(
        not skus[i["sku_id"]].get("do_not_ship") for i in purchasable if i.get("sku_id") in skus
    )
    if ships and not order.get("shipping_address_id"):
        errors.append(Problem(rel("shipping_address"), "can't be blank", "blank"))
    if int(order.get("shipments_count") or 0) > 0:
        shipments = await ctx.select("shipments", t("shipments").c.order_id == order["id"])
        if any(not s.get("shipping_method_id") for s in shipments):
            errors.append(Problem(rel("shipments"), "must have a shipping method", "invalid"))
    wanted: dict[str, int] = {}
    first: dict[str, Row] = {}
    for item in purchasable:
        sku = skus.get(item.get("sku_id") or "")
        if stock.tracked(sku):
            wanted[item["sku_id"]] = wanted.get(item["sku_id"], 0) + int(item["quantity"])
            first.setdefault(item["sku_id"], item)
    have = await stock.available_many(ctx, order["market_id"], list(wanted))
    for sku_id, quantity in wanted.items():
        if quantity > have[sku_id]:
            item = first[sku_id]
            errors.append(
                Problem(
                    attr("quantity"),
                    "is out of stock",
                    "out_of_stock",
                    {"line_item_id": item["id"], "sku_code": item.get("sku_code")},
                )
            )
    free = int(order.get("total_amount_with_taxes_cents") or 0) == 0
    if method is None:
        method = await ctx.get("payment_methods", order.get("payment_method_id"))
    if not free and method is None:
        errors.append(Problem(rel("payment_method"), "can't be blank", "blank"))
    if not free and not order.get("payment_source_id"):
        errors.append(Problem(rel("payment_source"), "can't be blank", "blank"))
    elif (
        not free
        and method is not None
        and order.get("payment_source_type") != method.get("payment_source_type")
    ):
        errors.append(Problem(rel("payment_source"), "is invalid", "invalid"))
    return errors


def raise_if(errors: list[Problem]) -> None:
    if errors:
        raise invalid_all(errors)
