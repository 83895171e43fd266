"""Which row writes are webhook events: the ``<resource>.<event>`` topics Kassa emits.

Pure functions over the values a write stores; :mod:`kassa.events.outbox` calls them from
the unit of work's insert, update and delete (:class:`kassa.engine.context.Ctx`).
"""

from __future__ import annotations

from typing import Any

_TRANSACTIONS = ("authorizations", "captures", "voids", "refunds")

ORDER_STATUS = {
    "draft": "draft",
    "pending": "pending",
    "placed": "place",
    "approved": "approve",
    "cancelled": "cancel",
}
ORDER_PAYMENT_STATUS = {
    "authorized": "authorize",
    "voided": "void",
    "paid": "pay",
    "refunded": "refund",
}
ORDER_FULFILLMENT_STATUS = {"in_progress": "start_fulfilling", "fulfilled": "fulfill"}
SHIPMENT_STATUS = {
    "upcoming": "upcoming",
    "cancelled": "cancel",
    "on_hold": "on_hold",
    "picking": "picking",
    "packing": "packing",
    "ready_to_ship": "ready_to_ship",
    "shipped": "ship",
    "delivered": "deliver",
}
STATUS_COLUMNS: dict[str, tuple[tuple[str, dict[str, str]], ...]] = {
    "orders": (
        ("status", ORDER_STATUS),
        ("payment_status", ORDER_PAYMENT_STATUS),
        ("fulfillment_status", ORDER_FULFILLMENT_STATUS),
    ),
    "shipments": (("status", SHIPMENT_STATUS),),
}
CREATED = frozenset(
    {
        "orders",
        *_TRANSACTIONS,
        "customers",
        "customer_addresses",
        "customer_password_resets",
        "customer_payment_sources",
        "shipments",
    }
)
DESTROYED = frozenset(
    {
        "orders",
        "customers",
        "customer_addresses",
        "customer_password_resets",
        "customer_payment_sources",
        "shipments",
    }
)
EXTENSIONS = frozenset({"customer_payment_sources.create", "customer_payment_sources.destroy"})
"""Kassa topics the Commerce Layer list does not have (wallet entries)."""


def _all_topics() -> frozenset[str]:
    names = {f"{t}.create" for t in CREATED} | {f"{t}.destroy" for t in DESTROYED}
    for type_, columns in STATUS_COLUMNS.items():
        for _column, events in columns:
            names |= {f"{type_}.{event}" for event in events.values()}
    names |= {f"{t}.{outcome}" for t in _TRANSACTIONS for outcome in ("succeeded", "failed")}
    names.add("customer_password_resets.reset_password")
    return frozenset(names)


TOPICS = _all_topics()
"""Every topic a webhook may subscribe to."""


def resource_of(topic: str) -> str:
    """The resource type a topic's payload is (``orders.place`` → ``orders``)."""
    return topic.split(".", 1)[0]


def is_destroy(topic: str) -> bool:
    return topic.endswith(".destroy")


def _outcome(type_: str, values: dict[str, Any]) -> str | None:
    """``succeeded`` / ``failed`` for a transaction write that settles it, else ``None``."""
    if values.get("pending") is True:
        return None
    if values.get("succeeded") is True:
        return f"{type_}.succeeded"
    if "succeeded" in values or values.get("pending") is False:
        return f"{type_}.failed"
    return None


def on_insert(type_: str, values: dict[str, Any]) -> list[str]:
    if type_ not in CREATED:
        return []
    out = [f"{type_}.create"]
    if type_ in _TRANSACTIONS:
        outcome = _outcome(type_, values)
        if outcome is not None:
            out.append(outcome)
    return out


def on_update(type_: str, values: dict[str, Any]) -> list[str]:
    """Topics of an UPDATE that stored ``values`` (and changed a row)."""
    out: list[str] = []
    for column, events in STATUS_COLUMNS.get(type_, ()):
        value = values.get(column)
        event = events.get(value) if isinstance(value, str) else None
        if event is not None:
            out.append(f"{type_}.{event}")
    if type_ in _TRANSACTIONS and ("succeeded" in values or "pending" in values):
        outcome = _outcome(type_, values)
        if outcome is not None:
            out.append(outcome)
    if type_ == "customer_password_resets" and values.get("reset_password_at") is not None:
        out.append("customer_password_resets.reset_password")
    return out


def on_delete(type_: str) -> list[str]:
    return [f"{type_}.destroy"] if type_ in DESTROYED else []
