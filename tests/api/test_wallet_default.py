"""Kassa extension: a ``default`` flag on wallet entries.

Only the owning customer or an integration changes it, never an order; at most one entry
per customer and payment method is the default (setting one clears the other, also under
concurrent requests); clients that ignore the flag lose nothing.
"""

from __future__ import annotations

from typing import Any

from tests.api.wallet_helpers import (
    assert_error,
    available_ids,
    create_entry,
    entries_of,
    fresh_client,
    parallel,
    reuse,
    save,
    saved_entry,
)
from tests.shop import Shop
from tests.support import Client

PATH = "/api/customer_payment_sources"


def _set(client: Client, entry_id: str, **attributes: Any) -> Any:
    body = {"data": {"type": "customer_payment_sources", "id": entry_id, "attributes": attributes}}
    return client.patch(f"{PATH}/{entry_id}", body)


def _defaults(shop: Shop, customer_id: str) -> dict[str, bool]:
    return {e["id"]: e["attributes"]["default"] for e in entries_of(shop, customer_id)}


def _two_saved(shop: Shop, client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    first = saved_entry(save(client, shop.cart(client, token="tok_first")))
    second = saved_entry(save(client, shop.cart(client, token="tok_second")))
    return first, second


def test_owner_and_integration_move_the_default(shop: Shop) -> None:
    a_id, a = shop.customer()
    _b_id, b = shop.customer()
    first, second = _two_saved(shop, a)
    # Saving from an order never makes a default.
    assert first["attributes"]["default"] is False and second["attributes"]["default"] is False
    loose = create_entry(shop, a_id, token="pm_loose", method=False)
    assert loose["attributes"]["default"] is False

    r = _set(a, first["id"], default=True)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["default"] is True
    assert _defaults(shop, a_id) == {first["id"]: True, second["id"]: False, loose["id"]: False}
    r = _set(a, second["id"], default=True)
    assert r.status_code == 200, r.text
    assert _defaults(shop, a_id) == {first["id"]: False, second["id"]: True, loose["id"]: False}
    # Another payment method (here: none) is another group.
    assert _set(a, loose["id"], default=True).status_code == 200
    assert _defaults(shop, a_id) == {first["id"]: False, second["id"]: True, loose["id"]: True}
    # The integration may move it too, and create a new default.
    assert _set(shop.admin, first["id"], default=True).status_code == 200
    assert _defaults(shop, a_id) == {first["id"]: True, second["id"]: False, loose["id"]: True}
    imported = create_entry(shop, a_id, token="pm_new_default", default=True)
    assert imported["attributes"]["default"] is True
    assert _defaults(shop, a_id) == {
        first["id"]: False,
        second["id"]: False,
        loose["id"]: True,
        imported["id"]: True,
    }
    # Unsetting leaves no default in the group; nothing is promoted.
    assert _set(a, imported["id"], default=False).status_code == 200
    assert not any(v for k, v in _defaults(shop, a_id).items() if k != loose["id"])

    # Another customer and a guest change nothing.
    before = _defaults(shop, a_id)
    assert_error(_set(b, first["id"], default=True), 404, "RECORD_NOT_FOUND")
    assert_error(_set(shop.guest(), first["id"], default=True), 401, "UNAUTHORIZED")
    assert _defaults(shop, a_id) == before

    # The flag is filterable and sortable.
    r = a.get(PATH, **{"filter[q][default_eq]": "true"})
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [loose["id"]]
    r = a.get(PATH, sort="-default")
    assert r.json()["data"][0]["id"] == loose["id"]


def test_orders_never_change_the_default(shop: Shop) -> None:
    a_id, a = shop.customer()
    first, second = _two_saved(shop, a)
    assert _set(a, first["id"], default=True).status_code == 200
    # An order has no such attribute.
    oid = shop.cart(a, pay=False)
    body = {"data": {"type": "orders", "id": oid, "attributes": {"default": True}}}
    assert_error(a.patch(f"/api/orders/{oid}", body), 400, "PARAM_NOT_ALLOWED")
    # Reusing the other entry, placing, and saving a new source leave the flags alone.
    assert reuse(a, oid, second["id"]).status_code == 200
    assert shop.place(a, oid).status_code == 200
    third = saved_entry(save(a, shop.cart(a, token="tok_third")))
    assert third["attributes"]["default"] is False
    assert _defaults(shop, a_id) == {first["id"]: True, second["id"]: False, third["id"]: False}
    # Deleting the default promotes nothing.
    assert a.delete(f"{PATH}/{first['id']}").status_code == 204
    assert _defaults(shop, a_id) == {second["id"]: False, third["id"]: False}


def test_clients_ignoring_the_flag_lose_nothing(shop: Shop) -> None:
    a_id, a = shop.customer()
    first, second = _two_saved(shop, a)
    assert _set(a, first["id"], default=True).status_code == 200
    # A client that never sends the flag keeps it.
    r = _set(a, first["id"], metadata={"label": "work"}, reference="r-1")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["default"] is True
    r = _set(shop.admin, first["id"], customer_token="cus_moved")
    assert r.json()["data"]["attributes"]["default"] is True
    # Clearing the other entry's flag keeps all it has.
    assert _set(a, second["id"], metadata={"label": "home"}).status_code == 200
    before = a.get(f"{PATH}/{first['id']}").json()["data"]["attributes"]
    assert _set(a, second["id"], default=True).status_code == 200
    after = a.get(f"{PATH}/{first['id']}").json()["data"]["attributes"]
    assert after["default"] is False
    for name in ("name", "customer_token", "payment_source_token", "metadata", "reference"):
        assert after[name] == before[name]
    # Sparse fieldsets without the flag, lists and the order's relationship hold every entry.
    r = a.get(PATH, **{"fields[customer_payment_sources]": "name,payment_source_token"})
    assert r.status_code == 200, r.text
    assert {d["id"] for d in r.json()["data"]} == {first["id"], second["id"]}
    assert all(set(d["attributes"]) == {"name", "payment_source_token"} for d in r.json()["data"])
    assert available_ids(a, shop.cart(a, pay=False)) == [first["id"], second["id"]]
    # Reusing the non-default entry works as for any entry.
    oid = shop.cart(a, pay=False)
    assert reuse(a, oid, first["id"]).status_code == 200
    # An explicit null is "not the default", never an error.
    r = _set(a, second["id"], default=None)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["default"] is False
    assert set(_defaults(shop, a_id).values()) == {False}


def test_default_follows_the_entry_to_another_method_or_customer(shop: Shop) -> None:
    a_id, _a = shop.customer()
    b_id, _b = shop.customer()
    with_method = create_entry(shop, a_id, token="pm_1", default=True)
    without = create_entry(shop, a_id, token="pm_2", method=False, default=True)
    assert _defaults(shop, a_id) == {with_method["id"]: True, without["id"]: True}
    # Moving the method-less default into the method's group clears the one there.
    r = shop.admin.update(
        "customer_payment_sources",
        without["id"],
        {},
        {"payment_method": ("payment_methods", shop.ids["payment_method"])},
    )
    assert r.status_code == 200, r.text
    assert _defaults(shop, a_id) == {with_method["id"]: False, without["id"]: True}
    # Handing a default entry to another customer clears that customer's default.
    b_default = create_entry(shop, b_id, token="pm_b", default=True)
    r = shop.admin.update(
        "customer_payment_sources", without["id"], {}, {"customer": ("customers", b_id)}
    )
    assert r.status_code == 200, r.text
    assert _defaults(shop, b_id) == {b_default["id"]: False, without["id"]: True}
    assert _defaults(shop, a_id) == {with_method["id"]: False}


def test_concurrent_defaults_never_leave_two(shop: Shop) -> None:
    a_id, a = shop.customer()
    entries = [create_entry(shop, a_id, token=f"pm_c{i}")["id"] for i in range(3)]
    callers = [fresh_client(a), fresh_client(a), fresh_client(shop.admin)]
    for round_ in range(6):
        # Every round also re-sends the flag to the entry that already has it.
        responses = parallel(
            [
                lambda c=c, e=e: _set(c, e, default=True)
                for c, e in zip(callers, entries, strict=True)
            ]
        )
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
        flags = _defaults(shop, a_id)
        assert sum(flags.values()) == 1, (round_, flags)
        entries = entries[1:] + entries[:1]
