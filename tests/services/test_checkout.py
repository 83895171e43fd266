"""Placing, saving to the wallet, reusing, capturing and refunding, through the services.

A real database (each backend of the suite) and the reference processor on loopback; no
HTTP server: each step is the domain function the order trigger calls. What is checked is
what a user sees: the order's statuses, its transactions and amounts, the wallet's rows,
the stock, and the processor's ledger of charges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kassa.checkout import services
from kassa.failures import Failure, Kind
from tests.services.kit import PRICE_CENTS, Shop

Run = Callable[[Callable[[Shop], Any]], Any]


def actions(charges: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    """(action, amount) of each charge of the processor's ledger, in order."""
    return [(c["action"], (c["data"] or {}).get("amount_cents")) for c in charges]


def test_placing_authorizes_once_and_reserves_the_stock(in_shop: Run) -> None:
    async def scenario(shop: Shop) -> None:
        john = await shop.customer()
        oid = await shop.cart(john)
        assert (await shop.order(oid))["status"] == "pending"

        await shop.call(john, services.place, oid)
        order = await shop.order(oid)
        assert (order["status"], order["payment_status"]) == ("placed", "authorized")
        assert order["total_amount_with_taxes_cents"] == PRICE_CENTS
        assert await shop.transactions(oid) == [("authorizations", True, PRICE_CENTS)]
        assert await shop.stock() == 9

        # A repeated _place is a no-op: no second authorization, no second reservation.
        await shop.call(john, services.place, oid)
        assert await shop.transactions(oid) == [("authorizations", True, PRICE_CENTS)]
        assert await shop.stock() == 9
        assert actions(await shop.charges()) == [("authorize", PRICE_CENTS)]

    in_shop(scenario)


def test_a_declined_authorization_leaves_the_order_unplaced(in_shop: Run) -> None:
    async def scenario(shop: Shop) -> None:
        john = await shop.customer()
        oid = await shop.cart(john)
        await shop.behave("authorize", mode="decline", times=1)

        with pytest.raises(Failure) as refused:
            await shop.call(john, services.place, oid)
        assert refused.value.kind is Kind.INVALID  # a 422 over the API
        assert "declined" in str(refused.value).lower()
        order = await shop.order(oid)
        assert (order["status"], order["payment_status"]) == ("pending", "unpaid")
        assert await shop.transactions(oid) == [("authorizations", False, PRICE_CENTS)]
        assert await shop.stock() == 10  # the reservation was given back
        assert await shop.charges() == []

    in_shop(scenario)


def test_saving_to_the_wallet_makes_one_entry(in_shop: Run) -> None:
    async def scenario(shop: Shop) -> None:
        john = await shop.customer()
        oid = await shop.cart(john)
        await shop.call(john, services.place, oid)

        await shop.call(john, services.save_to_wallet, oid)
        await shop.call(john, services.save_to_wallet, oid)  # a repeat: nothing more

        entries = await shop.rows("customer_payment_sources", customer_id=john.customer_id)
        assert len(entries) == 1
        entry = entries[0]
        assert entry["payment_method_id"] == shop.ids["payment_method"]
        assert entry["customer_token"].startswith("cus_")
        assert entry["payment_source_token"].startswith("pm_")
        order = await shop.order(oid)
        source = (await shop.rows("external_payments", id=order["payment_source_id"]))[0]
        assert source["wallet_id"] == entry["id"]
        assert actions(await shop.charges()) == [("authorize", PRICE_CENTS), ("token", None)]

    in_shop(scenario)


def test_a_second_order_reuses_the_saved_source(in_shop: Run) -> None:
    async def scenario(shop: Shop) -> None:
        john = await shop.customer()
        first = await shop.cart(john)
        await shop.call(john, services.place, first)
        await shop.call(john, services.save_to_wallet, first)
        [entry] = await shop.rows("customer_payment_sources", customer_id=john.customer_id)

        second = await shop.cart(john, token=None)  # no payment source of its own
        await shop.call(john, services.pay_with_wallet, second, entry["id"])
        order = await shop.order(second)
        assert order["payment_source_type"] == "external_payments"
        copy = (await shop.rows("external_payments", id=order["payment_source_id"]))[0]
        assert copy["order_id"] == second
        assert copy["wallet_id"] == entry["id"]
        assert copy["payment_source_token"] == entry["payment_source_token"]

        await shop.call(john, services.place, second)
        order = await shop.order(second)
        assert (order["status"], order["payment_status"]) == ("placed", "authorized")
        # Still one entry; the second authorization carried the saved token.
        assert len(await shop.rows("customer_payment_sources", customer_id=john.customer_id)) == 1
        assert actions(await shop.charges()) == [
            ("authorize", PRICE_CENTS),
            ("token", None),
            ("authorize", PRICE_CENTS),
        ]
        [_, _, authorization] = await shop.calls("authorize", "token")
        sent = authorization["json"]["data"]["attributes"]
        assert sent["payment_source_token"] == entry["payment_source_token"]

    in_shop(scenario)


def test_capture_pays_the_approved_order(in_shop: Run) -> None:
    async def scenario(shop: Shop) -> None:
        john = await shop.customer()
        oid = await shop.cart(john)
        await shop.call(john, services.place, oid)

        await shop.call(shop.admin, services.approve, oid)
        await shop.call(shop.admin, services.capture, oid)
        order = await shop.order(oid)
        assert (order["status"], order["payment_status"]) == ("approved", "paid")
        assert await shop.transactions(oid) == [
            ("authorizations", True, PRICE_CENTS),
            ("captures", True, PRICE_CENTS),
        ]
        assert actions(await shop.charges()) == [
            ("authorize", PRICE_CENTS),
            ("capture", PRICE_CENTS),
        ]

    in_shop(scenario)


def test_refund_returns_the_captured_amount(in_shop: Run) -> None:
    async def scenario(shop: Shop) -> None:
        john = await shop.customer()
        oid = await shop.cart(john)
        await shop.call(john, services.place, oid)
        await shop.call(shop.admin, services.approve_and_capture, oid)
        assert (await shop.order(oid))["payment_status"] == "paid"

        await shop.call(shop.admin, services.refund, oid)
        order = await shop.order(oid)
        assert order["payment_status"] == "refunded"
        assert order["status"] == "cancelled"  # a full refund cancels the order
        assert await shop.transactions(oid) == [
            ("authorizations", True, PRICE_CENTS),
            ("captures", True, PRICE_CENTS),
            ("refunds", True, PRICE_CENTS),
        ]
        # One charge per action: the customer was authorized (and debited) once.
        assert actions(await shop.charges()) == [
            ("authorize", PRICE_CENTS),
            ("capture", PRICE_CENTS),
            ("refund", PRICE_CENTS),
        ]

    in_shop(scenario)
