"""Object-level authorization on the wallet: nobody reads, changes or uses another's entry.

Callers (customer A who owns the target entry, customer B, a guest, the integration) ×
actions × mode (test and live apps of one organization). Forbidden by-id actions must
answer exactly like an unknown id (404 or 422 "is invalid", payments-and-wallet §7), so
nobody learns that an entry exists; test-mode tokens never see live entries and back.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kassa.bootstrap import init_organization
from kassa.fake_processor import ProcessorServer
from kassa.settings import Settings
from tests.api.wallet_helpers import (
    INCLUDE,
    REUSE,
    assert_error,
    available_ids,
    create_entry,
    entries_of,
    order_state,
    reuse,
    save,
    saved_entry,
)
from tests.shop import Shop
from tests.support import Client, Server

CALLERS = ("owner", "other", "guest", "integration")
ACTIONS = ("list", "retrieve", "update", "delete", "use", "include")
MODES = ("test", "live")
UNKNOWN = "zzzzzzzzzz"
POINTER = f"/data/attributes/{REUSE}"


@dataclass
class World:
    """One mode of the organization: a shop, two customers with wallets, their orders."""

    shop: Shop
    owner_id: str
    owner: Client
    owner_order: str
    owner_entry: str
    other_id: str
    other: Client
    other_order: str
    other_entry: str
    guest: Client
    guest_order: str

    def client(self, caller: str) -> Client:
        return {
            "owner": self.owner,
            "other": self.other,
            "guest": self.guest,
            "integration": self.shop.admin,
        }[caller]


def _world(shop: Shop) -> World:
    owner_id, owner = shop.customer()
    other_id, other = shop.customer()
    owner_order = shop.cart(owner, token="tok_owner")
    other_order = shop.cart(other, token="tok_other")
    owner_entry = saved_entry(save(owner, owner_order))["id"]
    other_entry = saved_entry(save(other, other_order))["id"]
    guest = shop.guest()
    return World(
        shop,
        owner_id,
        owner,
        owner_order,
        owner_entry,
        other_id,
        other,
        other_order,
        other_entry,
        guest,
        shop.cart(guest),
    )


@pytest.fixture(scope="module")
def worlds(server: Server, processor: ProcessorServer) -> Iterator[dict[str, World]]:
    test_shop = Shop.build(server, processor, account="bola-" + secrets.token_hex(4))
    slug = test_shop.creds["organization_slug"]
    live_creds = asyncio.run(
        init_organization(Settings(database_url=server.database_url), slug, slug, mode="live")
    )
    assert live_creds["organization_id"] == test_shop.creds["organization_id"]
    live_shop = Shop.build(
        server, processor, account="bola-live-" + secrets.token_hex(4), creds=live_creds
    )
    yield {"test": _world(test_shop), "live": _world(live_shop)}


def _entry_path(entry_id: str) -> str:
    return f"/api/customer_payment_sources/{entry_id}"


def _patch(entry_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "type": "customer_payment_sources",
            "id": entry_id,
            "attributes": {"metadata": metadata},
        }
    }


def _same(hidden: httpx.Response, missing: httpx.Response) -> None:
    """An existing-but-forbidden id answers byte-for-byte like an unknown one."""
    assert hidden.status_code == missing.status_code
    assert hidden.content == missing.content


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("caller", CALLERS)
def test_wallet_bola(worlds: dict[str, World], mode: str, action: str, caller: str) -> None:
    w = worlds[mode]
    shop = w.shop
    client = w.client(caller)
    # A fresh entry of the owner is the target, so allowed writes do not disturb other cases.
    target = create_entry(shop, w.owner_id, token=f"pm_{action}_{caller}")["id"]
    meta_mode = shop.admin.get(_entry_path(target)).json()["data"]["meta"]["mode"]
    assert meta_mode == mode
    owner_side = caller in ("owner", "integration")

    if action == "list":
        foreign = _other_mode_entries(worlds, mode)
        wanted = ",".join([target, w.owner_entry, w.other_entry, *foreign])
        r = client.get("/api/customer_payment_sources", **{"filter[q][id_in]": wanted})
        plain = client.get("/api/customer_payment_sources", **{"page[size]": "25"})
        if caller == "guest":
            assert_error(r, 401, "UNAUTHORIZED")
            assert_error(plain, 401, "UNAUTHORIZED")
            return
        assert r.status_code == 200, r.text
        ids = {d["id"] for d in r.json()["data"]}
        assert all(d["meta"]["mode"] == mode for d in plain.json()["data"])
        if caller == "owner":
            assert ids == {target, w.owner_entry}
        elif caller == "other":
            assert ids == {w.other_entry}
            assert [d["id"] for d in plain.json()["data"]] == [w.other_entry]
        else:
            assert ids == {target, w.owner_entry, w.other_entry}

    elif action == "retrieve":
        r = client.get(_entry_path(target))
        if owner_side:
            assert r.status_code == 200, r.text
            assert r.json()["data"]["id"] == target
            return
        missing = client.get(_entry_path(UNKNOWN))
        _expect_denied(r, caller)
        _same(r, missing)
        assert target not in r.text

    elif action == "update":
        r = client.patch(_entry_path(target), _patch(target, {"by": caller}))
        stored = shop.admin.get(_entry_path(target)).json()["data"]["attributes"]["metadata"]
        if owner_side:
            assert r.status_code == 200, r.text
            assert stored == {"by": caller}
            return
        missing = client.patch(_entry_path(UNKNOWN), _patch(UNKNOWN, {"by": caller}))
        _expect_denied(r, caller)
        _same(r, missing)
        assert stored == {}

    elif action == "delete":
        r = client.delete(_entry_path(target))
        still_there = shop.admin.get(_entry_path(target)).status_code == 200
        if owner_side:
            assert r.status_code == 204, r.text
            assert not still_there
            return
        missing = client.delete(_entry_path(UNKNOWN))
        _expect_denied(r, caller)
        _same(r, missing)
        assert still_there

    elif action == "use":
        order = {
            "owner": w.owner_order,
            "other": w.other_order,
            "guest": w.guest_order,
            # The integration may use any entry, but only on its own customer's order.
            "integration": w.other_order,
        }[caller]
        before = order_state(shop, order)
        r = reuse(client, order, target)
        if caller == "owner":
            assert r.status_code == 200, r.text
            source = order_state(shop, order)[0]
            wallet = client.get(f"/api/external_payments/{source}", include="wallet").json()
            assert wallet["data"]["relationships"]["wallet"]["data"]["id"] == target
            return
        missing = reuse(client, order, UNKNOWN)
        if caller == "guest":
            assert_error(r, 401, "UNAUTHORIZED")
        else:
            assert_error(r, 422, "VALIDATION_ERROR", POINTER, "is invalid", "invalid")
        _same(r, missing)
        assert order_state(shop, order) == before

    elif action == "include":
        path = f"/api/orders/{w.owner_order}"
        r = client.get(path, include=INCLUDE)
        related = client.get(f"{path}/{INCLUDE}", **{"page[size]": "25"})
        if caller in ("other", "guest"):
            # A customer's order is out of reach of another customer and of any guest.
            source = order_state(shop, w.owner_order)[0]
            for hidden, missing in (
                (r, client.get(f"/api/orders/{UNKNOWN}", include=INCLUDE)),
                (related, client.get(f"/api/orders/{UNKNOWN}/{INCLUDE}")),
                (
                    client.get(f"/api/external_payments/{source}", include="wallet"),
                    client.get(f"/api/external_payments/{UNKNOWN}", include="wallet"),
                ),
            ):
                assert_error(hidden, 404, "RECORD_NOT_FOUND")
                _same(hidden, missing)
            return
        assert r.status_code == 200, r.text
        assert related.status_code == 200, related.text
        listed = [d["id"] for d in r.json()["data"]["relationships"][INCLUDE]["data"]]
        collection = [d["id"] for d in related.json()["data"]]
        assert collection == listed[:25]
        assert related.json()["meta"]["record_count"] == len(listed)
        if caller == "guest":
            assert listed == [] and "included" not in r.json()
            assert target not in r.text and target not in related.text
            # Nor through the wallet link of the order's payment source.
            source = order_state(shop, w.owner_order)[0]
            r = client.get(f"/api/external_payments/{source}", include="wallet")
            if r.status_code == 200:
                assert r.json()["data"]["relationships"]["wallet"]["data"] is None
                assert "included" not in r.json()
            else:
                assert_error(r, 401, "UNAUTHORIZED")
        else:
            assert target in listed and w.owner_entry in listed
            assert w.other_entry not in listed
        assert not set(listed) & _other_mode_entries(worlds, mode)


def _expect_denied(r: httpx.Response, caller: str) -> None:
    if caller == "guest":
        assert_error(r, 401, "UNAUTHORIZED")
    else:
        assert_error(r, 404, "RECORD_NOT_FOUND")


def _other_mode_entries(worlds: dict[str, World], mode: str) -> set[str]:
    other = worlds["live" if mode == "test" else "test"]
    return {e["id"] for e in entries_of(other.shop, other.owner_id)} | {
        e["id"] for e in entries_of(other.shop, other.other_id)
    }


@pytest.mark.parametrize("mode", MODES)
def test_tokens_of_one_mode_never_reach_the_other_modes_entries(
    worlds: dict[str, World], mode: str
) -> None:
    here = worlds[mode]
    there = worlds["live" if mode == "test" else "test"]
    foreign = create_entry(there.shop, there.owner_id, token="pm_foreign")["id"]
    for client in (here.shop.admin, here.owner):
        r = client.get("/api/customer_payment_sources")
        assert foreign not in {d["id"] for d in r.json()["data"]}
        for hidden, missing in (
            (client.get(_entry_path(foreign)), client.get(_entry_path(UNKNOWN))),
            (
                client.patch(_entry_path(foreign), _patch(foreign, {"x": 1})),
                client.patch(_entry_path(UNKNOWN), _patch(UNKNOWN, {"x": 1})),
            ),
            (client.delete(_entry_path(foreign)), client.delete(_entry_path(UNKNOWN))),
        ):
            assert_error(hidden, 404, "RECORD_NOT_FOUND")
            _same(hidden, missing)
    # Using it on an order of this mode: "is invalid", like an unknown id.
    before = order_state(here.shop, here.owner_order)
    for client in (here.shop.admin, here.owner):
        hidden = reuse(client, here.owner_order, foreign)
        assert_error(hidden, 422, "VALIDATION_ERROR", POINTER, "is invalid", "invalid")
        _same(hidden, reuse(client, here.owner_order, UNKNOWN))
    assert order_state(here.shop, here.owner_order) == before
    # A wallet listed with a filter on the other mode's customer id stays empty.
    r = here.shop.admin.get(
        "/api/customer_payment_sources", **{"filter[q][customer_id_eq]": there.owner_id}
    )
    assert r.status_code == 200 and r.json()["data"] == []
    assert available_ids(here.owner, here.owner_order)
    assert foreign not in available_ids(here.shop.admin, here.owner_order)
    # The other mode's order cannot be read at all.
    assert_error(
        here.shop.admin.get(f"/api/orders/{there.owner_order}", include=INCLUDE),
        404,
        "RECORD_NOT_FOUND",
    )
    # And the entry is still there for its own mode.
    assert there.shop.admin.get(_entry_path(foreign)).status_code == 200
