"""An order whose interrupted callout is not recovered yet takes no new callout.

Otherwise a capture retried by hand would reach the gateway with a new key while the
interrupted one (which may have captured already) is still to be repeated: two captures.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kassa.ids import new_id, now
from kassa.store.schema import callout_leases
from tests.api.payflow import approved, state, txns
from tests.shop import Shop


def _run(url: str, stmt: sa.Executable) -> None:
    async def go() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(stmt)
        finally:
            await engine.dispose()

    asyncio.run(go())


def _interrupted(
    shop: Shop, order_id: str, action: str, purpose: str, target: tuple[str, str]
) -> str:
    """Leave the lease of a callout whose process died (still valid); its key."""
    key = new_id()
    _run(
        shop.server.database_url,
        callout_leases.insert().values(
            key=key,
            organization_id=shop.creds["organization_id"],
            mode="test",
            order_id=order_id,
            action=action,
            purpose=purpose,
            gateway_id=shop.ids["gateway"],
            target_type=target[0],
            target_id=target[1],
            amount_cents=4900,
            context={},
            body="{}",
            attempts=0,
            created_at=now(),
            lease_until=now() + timedelta(hours=1),
        ),
    )
    return key


def test_a_capture_waits_for_the_interrupted_one(shop: Shop) -> None:
    oid = approved(shop)
    [auth] = txns(shop, oid, "authorizations")
    # What a process that died during a capture callout leaves behind.
    key = _interrupted(shop, oid, "capture", "capture", ("authorizations", auth["id"]))
    calls = len(shop.calls("capture"))
    r = shop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 423, r.text
    assert r.json()["errors"][0]["code"] == "LOCKED"
    assert len(shop.calls("capture")) == calls  # the gateway was not called
    assert state(shop, oid) == ("approved", "authorized")
    assert txns(shop, oid, "captures") == []
    # Once the interrupted callout is finished (here: forgotten), captures work again.
    _run(shop.server.database_url, callout_leases.delete().where(callout_leases.c.key == key))
    r = shop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "paid")


def test_pending_waits_for_an_interrupted_authorization(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    orders = sa.table("orders", sa.column("id"), sa.column("status"))
    # What a process that died during the authorize of a `_place` leaves behind.
    _run(
        shop.server.database_url,
        orders.update().where(orders.c.id == oid).values(status="placing"),
    )
    key = _interrupted(shop, oid, "authorize", "place", ("orders", oid))
    r = shop.admin.update("orders", oid, {"_pending": True})
    assert r.status_code == 423, r.text
    assert r.json()["errors"][0]["code"] == "LOCKED"
    assert state(shop, oid)[0] == "placing"
    # Once the authorization is recorded (here: forgotten), a person may move it back.
    _run(shop.server.database_url, callout_leases.delete().where(callout_leases.c.key == key))
    r = shop.admin.update("orders", oid, {"_pending": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid)[0] == "pending"
