"""Object-level authorization in the cart and checkout: customer A never reads, lists, changes
or attaches customer B's orders, line items, addresses, customer record, address book entries or
shipments (api-conventions §4.2 and the hidden-resource note of §10)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from kassa.fake_processor import ProcessorServer
from tests.api.checkout_support import add_item, add_sku, address, assert_422, body, new_order
from tests.shop import Shop
from tests.support import Client, Server

RESOURCES = ["orders", "line_items", "addresses", "customers", "customer_addresses", "shipments"]
# Verbs a customer token may not use at all on a resource: 401 before any lookup.
NOT_ALLOWED = {("orders", "delete"), ("shipments", "delete")}
NOT_LISTABLE = {"addresses"}


@dataclass
class Party:
    client: Client
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    shop: Shop
    a: Party
    b: Party


def _party(shop: Shop) -> Party:
    cid, client = shop.customer()
    party = Party(client, {"customers": cid})
    oid = new_order(client)
    r = add_item(client, oid, "BOOT")
    assert r.status_code == 201, r.text
    billing = address(client)
    r = client.patch(
        f"/api/orders/{oid}",
        body(
            "orders",
            {"_shipping_address_same_as_billing": True},
            {"billing_address": ("addresses", billing)},
            oid,
        ),
        include="shipments,shipping_address",
    )
    assert r.status_code == 200, r.text
    rels = r.json()["data"]["relationships"]
    entry = client.create(
        "customer_addresses", {}, {"address": ("addresses", address(client, city="Roma"))}
    )
    party.ids.update(
        orders=oid,
        line_items=r_id(add_item(client, oid, "BOOT")),
        addresses=billing,
        shipping_address=rels["shipping_address"]["data"]["id"],
        customer_addresses=entry["id"],
        shipments=rels["shipments"]["data"][0]["id"],
    )
    return party


def r_id(response: Any) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


@pytest.fixture(scope="module")
def world(server: Server, processor: ProcessorServer) -> World:
    shop = Shop.build(server, processor, account="acct-" + secrets.token_hex(4))
    add_sku(shop, "BOOT", price=3000, stock=100, do_not_ship=False)
    return World(shop, _party(shop), _party(shop))


def _metadata(world: World, type_: str, id_: str) -> Any:
    r = world.shop.admin.get(f"/api/{type_}/{id_}")
    assert r.status_code == 200, r.text
    return r.json()["data"]["attributes"]["metadata"]


# --- by id: retrieve, update, delete ------------------------------------------------------


@pytest.mark.parametrize("type_", RESOURCES)
def test_retrieve_other_customers_record_is_404(world: World, type_: str) -> None:
    mine = world.a.client.get(f"/api/{type_}/{world.a.ids[type_]}")
    assert mine.status_code == 200, mine.text
    r = world.a.client.get(f"/api/{type_}/{world.b.ids[type_]}")
    assert r.status_code == 404, r.text
    assert r.json()["errors"][0]["code"] == "RECORD_NOT_FOUND"
    # Indistinguishable from an id that does not exist.
    missing = world.a.client.get(f"/api/{type_}/NoSuchIdXx")
    assert missing.json() == r.json()


@pytest.mark.parametrize("type_", RESOURCES)
def test_update_other_customers_record_is_404(world: World, type_: str) -> None:
    target = world.b.ids[type_]
    before = _metadata(world, type_, target)
    r = world.a.client.patch(
        f"/api/{type_}/{target}", body(type_, {"metadata": {"pwned": True}}, id_=target)
    )
    assert r.status_code == 404, r.text
    assert _metadata(world, type_, target) == before


@pytest.mark.parametrize("type_", RESOURCES)
def test_delete_other_customers_record_is_refused(world: World, type_: str) -> None:
    target = world.b.ids[type_]
    r = world.a.client.delete(f"/api/{type_}/{target}")
    expected = 401 if (type_, "delete") in NOT_ALLOWED else 404
    assert r.status_code == expected, r.text
    assert world.shop.admin.get(f"/api/{type_}/{target}").status_code == 200


# --- lists and related lists --------------------------------------------------------------


@pytest.mark.parametrize("type_", RESOURCES)
def test_lists_never_show_other_customers_records(world: World, type_: str) -> None:
    r = world.a.client.get(f"/api/{type_}", **{"page[size]": "25"})
    if type_ in NOT_LISTABLE:
        assert r.status_code == 401, r.text
        return
    assert r.status_code == 200, r.text
    ids = {d["id"] for d in r.json()["data"]}
    assert world.a.ids[type_] in ids
    assert world.b.ids[type_] not in ids
    # Filters cannot widen the scope.
    r = world.a.client.get(f"/api/{type_}", **{"filter[q][id_eq]": world.b.ids[type_]})
    assert r.status_code == 200 and r.json()["data"] == []
    r = world.a.client.get(f"/api/{type_}", **{"filter[q][id_in]": world.b.ids[type_]})
    assert r.json()["data"] == []


RELATED = [
    ("orders", "line_items"),
    ("orders", "shipments"),
    ("orders", "billing_address"),
    ("orders", "customer"),
    ("customers", "orders"),
    ("customers", "customer_addresses"),
    ("line_items", "order"),
    ("shipments", "available_shipping_methods"),
    ("customer_addresses", "address"),
]


@pytest.mark.parametrize(("type_", "rel"), RELATED)
def test_related_endpoints_of_other_customers_records_are_404(
    world: World, type_: str, rel: str
) -> None:
    assert world.a.client.get(f"/api/{type_}/{world.a.ids[type_]}/{rel}").status_code == 200
    r = world.a.client.get(f"/api/{type_}/{world.b.ids[type_]}/{rel}")
    assert r.status_code == 404, r.text


def test_includes_do_not_reach_other_customers_records(world: World) -> None:
    a, b = world.a, world.b
    doc = a.client.get(
        "/api/orders", include="line_items,shipments,billing_address,shipping_address,customer"
    ).json()
    seen = {(i["type"], i["id"]) for i in doc.get("included", [])}
    for type_ in ("line_items", "shipments", "addresses", "customers"):
        assert (type_, b.ids[type_]) not in seen
    doc = a.client.get("/api/customer_addresses", include="address,customer").json()
    assert ("customers", b.ids["customers"]) not in {(i["type"], i["id"]) for i in doc["included"]}


# --- attaching another customer's records ------------------------------------------------


def _attach_cases(world: World) -> dict[str, tuple[str, str, dict[str, Any], str]]:
    """name → (method, path, document, pointer of the expected 422)."""
    a, b = world.a.ids, world.b.ids
    return {
        "billing address": (
            "PATCH",
            f"/api/orders/{a['orders']}",
            body("orders", {}, {"billing_address": ("addresses", b["addresses"])}, a["orders"]),
            "/data/relationships/billing_address",
        ),
        "shipping address": (
            "PATCH",
            f"/api/orders/{a['orders']}",
            body(
                "orders",
                {},
                {"shipping_address": ("addresses", b["shipping_address"])},
                a["orders"],
            ),
            "/data/relationships/shipping_address",
        ),
        "clone billing": (
            "PATCH",
            f"/api/orders/{a['orders']}",
            body("orders", {"_billing_address_clone_id": b["addresses"]}, id_=a["orders"]),
            "/data/attributes/_billing_address_clone_id",
        ),
        "clone shipping": (
            "PATCH",
            f"/api/orders/{a['orders']}",
            body("orders", {"_shipping_address_clone_id": b["shipping_address"]}, id_=a["orders"]),
            "/data/attributes/_shipping_address_clone_id",
        ),
        "order customer": (
            "PATCH",
            f"/api/orders/{a['orders']}",
            body("orders", {}, {"customer": ("customers", b["customers"])}, a["orders"]),
            "/data/relationships/customer",
        ),
        "new order with address": (
            "POST",
            "/api/orders",
            body("orders", {}, {"billing_address": ("addresses", b["addresses"])}),
            "/data/relationships/billing_address",
        ),
        "line item on order": (
            "POST",
            "/api/line_items",
            body(
                "line_items",
                {"sku_code": "BOOT", "quantity": 1},
                {"order": ("orders", b["orders"])},
            ),
            "/data/relationships/order",
        ),
        "payment source on order": (
            "POST",
            "/api/external_payments",
            body(
                "external_payments",
                {"payment_source_token": "tok_x"},
                {"order": ("orders", b["orders"])},
            ),
            "/data/relationships/order",
        ),
        "book entry with address": (
            "POST",
            "/api/customer_addresses",
            body("customer_addresses", {}, {"address": ("addresses", b["addresses"])}),
            "/data/relationships/address",
        ),
        "book entry for customer": (
            "POST",
            "/api/customer_addresses",
            body(
                "customer_addresses",
                {},
                {
                    "customer": ("customers", b["customers"]),
                    "address": ("addresses", a["addresses"]),
                },
            ),
            "/data/relationships/customer",
        ),
        "book entry moved to address": (
            "PATCH",
            f"/api/customer_addresses/{a['customer_addresses']}",
            body(
                "customer_addresses",
                {},
                {"address": ("addresses", b["addresses"])},
                a["customer_addresses"],
            ),
            "/data/relationships/address",
        ),
        "shipment address": (
            "PATCH",
            f"/api/shipments/{a['shipments']}",
            body(
                "shipments", {}, {"shipping_address": ("addresses", b["addresses"])}, a["shipments"]
            ),
            "/data/relationships/shipping_address",
        ),
    }


ATTACH = [
    "billing address",
    "shipping address",
    "clone billing",
    "clone shipping",
    "order customer",
    "new order with address",
    "line item on order",
    "payment source on order",
    "book entry with address",
    "book entry for customer",
    "book entry moved to address",
    "shipment address",
]


def _state(world: World) -> dict[str, Any]:
    admin = world.shop.admin
    out: dict[str, Any] = {}
    for party in ("a", "b"):
        ids = getattr(world, party).ids
        doc = admin.get(
            f"/api/orders/{ids['orders']}",
            include="line_items,billing_address,shipping_address,customer,payment_source",
        ).json()
        out[party] = (
            {k: v.get("data") for k, v in doc["data"]["relationships"].items() if "data" in v},
            doc["data"]["attributes"]["updated_at"],
        )
        book = admin.get(f"/api/customers/{ids['customers']}/customer_addresses").json()
        out[party + "_book"] = sorted(
            (e["id"], e["attributes"]["updated_at"]) for e in book["data"]
        )
    shipment = admin.get(f"/api/shipments/{world.a.ids['shipments']}", include="shipping_address")
    out["a_shipment"] = shipment.json()["data"]["relationships"]["shipping_address"]["data"]
    out["orders"] = admin.get("/api/orders").json()["meta"]["record_count"]
    return out


@pytest.mark.parametrize("case", ATTACH)
def test_attaching_other_customers_records_is_invalid(world: World, case: str) -> None:
    method, path, document, pointer = _attach_cases(world)[case]
    before = _state(world)
    client = world.a.client
    r = client.post(path, document) if method == "POST" else client.patch(path, document)
    assert_422(r, pointer, "invalid", "is invalid")
    assert _state(world) == before


# --- the guest sales channel ------------------------------------------------------------


@pytest.mark.parametrize("type_", RESOURCES)
def test_guest_cannot_list(world: World, type_: str) -> None:
    r = world.shop.guest().get(f"/api/{type_}")
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_guest_reads_the_order_whose_id_it_holds(world: World) -> None:
    guest = world.shop.guest()
    oid = new_order(guest)
    lid = r_id(add_item(guest, oid, "BOOT"))
    r = guest.get(f"/api/orders/{oid}", include="line_items")
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["included"]] == [lid]
    assert guest.get(f"/api/line_items/{lid}").status_code == 200
    assert guest.get("/api/orders").status_code == 401
    # A customer's order is the customer's: a guest holding its id gets 404.
    r = guest.get(f"/api/orders/{world.b.ids['orders']}", include="customer")
    assert r.status_code == 404
    # Guests never see customer records or address books, even through includes.
    r = guest.update("orders", oid, {"customer_email": f"guest-{oid.lower()}@example.com"})
    assert r.status_code == 200, r.text
    r = guest.get(f"/api/orders/{oid}", include="customer")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["relationships"]["customer"]["data"] is None
    assert guest.get(f"/api/customers/{world.b.ids['customers']}").status_code == 401
    r = guest.get(f"/api/customer_addresses/{world.b.ids['customer_addresses']}")
    assert r.status_code == 401
    # Nor customer-owned addresses.
    assert guest.get(f"/api/addresses/{world.b.ids['addresses']}").status_code == 404


def _login(shop: Shop, email: str, password: str) -> int:
    r = httpx.post(
        shop.base_url + "/oauth/token",
        json={
            "grant_type": "password",
            "client_id": shop.creds["sales_channel_client_id"],
            "username": email,
            "password": password,
            "scope": f"market:code:{shop.market_code}",
        },
    )
    return r.status_code


def test_guest_checkout_cannot_take_over_a_customer_by_email(world: World) -> None:
    shop = world.shop
    guest = shop.guest()
    victim = shop.admin.get(f"/api/customers/{world.b.ids['customers']}").json()["data"]
    email = victim["attributes"]["email"]
    # A prospect from an earlier guest checkout has no password yet.
    prospect = f"prospect-{secrets.token_hex(3)}@example.com"
    first = new_order(guest)
    guest.patch(f"/api/orders/{first}", body("orders", {"customer_email": prospect}, id_=first))
    for target in (email, prospect):
        oid = new_order(guest)
        billing = address(guest)
        r = guest.patch(
            f"/api/orders/{oid}",
            body(
                "orders",
                {"customer_email": target, "customer_password": "attacker-pw"},
                {"billing_address": ("addresses", billing)},
                oid,
            ),
        )
        assert r.status_code == 200, r.text
        assert _login(shop, target, "attacker-pw") in (400, 401)
        # The guest still reads the addresses it entered or copied.
        r = guest.patch(
            f"/api/orders/{oid}",
            body("orders", {"_shipping_address_same_as_billing": True}, id_=oid),
            include="shipping_address",
        )
        shipping = r.json()["data"]["relationships"]["shipping_address"]["data"]["id"]
        for aid in (billing, shipping):
            assert guest.get(f"/api/addresses/{aid}").status_code == 200
    assert _login(shop, email, "secret-pw") == 200
    # A new e-mail with a password signs the customer up.
    fresh = f"fresh-{secrets.token_hex(3)}@example.com"
    oid = new_order(guest)
    r = guest.patch(
        f"/api/orders/{oid}",
        body("orders", {"customer_email": fresh, "customer_password": "fresh-pw"}, id_=oid),
    )
    assert r.status_code == 200, r.text
    assert _login(shop, fresh, "fresh-pw") == 200
    assert "customer_password" not in r.json()["data"]["attributes"]


def test_sales_channels_cannot_join_a_customer_group(world: World) -> None:
    shop = world.shop
    group = shop.admin.create("customer_groups", {"name": "VIP"})
    ref = ("customer_groups", group["id"])
    me = world.a.ids["customers"]
    r = world.a.client.patch(
        f"/api/customers/{me}", body("customers", {}, {"customer_group": ref}, me)
    )
    assert_422(r, "/data/relationships/customer_group", "invalid")
    r = shop.guest().post(
        "/api/customers",
        body(
            "customers",
            {"email": f"vip-{secrets.token_hex(3)}@example.com"},
            {"customer_group": ref},
        ),
    )
    assert_422(r, "/data/relationships/customer_group", "invalid")
    doc = shop.admin.get(f"/api/customers/{me}", include="customer_group").json()
    assert doc["data"]["relationships"]["customer_group"]["data"] is None


def test_guest_cannot_move_a_customers_order_to_someone_else(world: World) -> None:
    guest = world.shop.guest()
    oid = world.b.ids["orders"]
    before = _state(world)
    for attributes in (
        {"guest": True, "customer_email": "thief@example.com"},
        {"customer_email": "thief@example.com"},
    ):
        r = guest.patch(f"/api/orders/{oid}", body("orders", attributes, id_=oid))
        assert r.status_code == 404, r.text
    after = _state(world)
    assert after["b"][0] == before["b"][0]
    r = world.b.client.get(f"/api/orders/{oid}")
    assert r.status_code == 200
    a = r.json()["data"]["attributes"]
    assert a["guest"] is False and a["customer_email"] != "thief@example.com"
