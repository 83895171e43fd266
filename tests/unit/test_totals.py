"""Order totals identities over random carts (orders-and-checkout §4), on the pure function."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kassa.orders.rules import compute_totals
from kassa.orders.shipments import free_over_base, shipping_cost

sku_lines = st.lists(
    st.tuples(st.integers(1, 99_999), st.integers(0, 1_000_000)), min_size=0, max_size=4
)


def _items(lines: list[tuple[int, int]], payment: int, shipping: list[int]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"item_type": "skus", "quantity": q, "unit_amount_cents": p, "total_amount_cents": q * p}
        for q, p in lines
    ]
    if payment:
        items.append({"item_type": "payment_methods", "quantity": 1, "total_amount_cents": payment})
    items += [{"item_type": "shipments", "quantity": 1, "total_amount_cents": c} for c in shipping]
    return items


@given(
    lines=sku_lines,
    payment=st.integers(0, 10_000),
    shipping=st.lists(st.integers(0, 5_000), max_size=3),
    tax_included=st.booleans(),
)
def test_totals_identities(
    lines: list[tuple[int, int]], payment: int, shipping: list[int], tax_included: bool
) -> None:
    totals = compute_totals({"tax_included": tax_included}, _items(lines, payment, shipping))
    subtotal = sum(q * p for q, p in lines)
    assert totals["subtotal_amount_cents"] == subtotal
    assert totals["shipping_amount_cents"] == sum(shipping)
    assert totals["payment_method_amount_cents"] == payment
    assert totals["discount_amount_cents"] == 0
    assert totals["total_tax_amount_cents"] == 0
    assert totals["total_amount_cents"] == (
        subtotal
        + sum(shipping)
        + payment
        + totals["discount_amount_cents"]
        + totals["adjustment_amount_cents"]
        + totals["gift_card_amount_cents"]
    )
    taxes = 0 if tax_included else totals["total_tax_amount_cents"]
    assert totals["total_amount_with_taxes_cents"] == totals["total_amount_cents"] + taxes
    assert totals["skus_count"] == sum(q for q, _ in lines)
    assert all(isinstance(v, int) for v in totals.values())


@given(lines=sku_lines, promotions=st.lists(st.integers(-5_000, 0), max_size=2))
def test_promotions_are_discounts_not_subtotal(
    lines: list[tuple[int, int]], promotions: list[int]
) -> None:
    items = _items(lines, 0, [])
    items += [
        {"item_type": "percentage_discount_promotions", "total_amount_cents": d} for d in promotions
    ]
    totals = compute_totals({"tax_included": True}, items)
    assert totals["subtotal_amount_cents"] == sum(q * p for q, p in lines)
    assert totals["discount_amount_cents"] == sum(promotions)
    assert totals["total_amount_cents"] == totals["subtotal_amount_cents"] + sum(promotions)
    assert totals["skus_count"] == sum(q for q, _ in lines)


@given(
    lines=sku_lines,
    price=st.integers(0, 5_000),
    free_over=st.none() | st.integers(0, 2_000_000),
    use_subtotal=st.booleans(),
)
def test_free_over_amount(
    lines: list[tuple[int, int]], price: int, free_over: int | None, use_subtotal: bool
) -> None:
    method = {
        "price_amount_cents": price,
        "free_over_amount_cents": free_over,
        "use_subtotal": use_subtotal,
    }
    subtotal = sum(q * p for q, p in lines)
    cost = shipping_cost(method, *free_over_base(_items(lines, 0, [])))
    assert cost == (0 if free_over is not None and subtotal >= free_over else price)


def test_empty_cart_is_all_zero() -> None:
    totals = compute_totals({"tax_included": True}, [])
    assert set(totals.values()) == {0}
