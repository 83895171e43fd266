"""The customer wallet over real HTTP: saving, the wallet resource, reuse (checks 19–28).

payments-and-wallet §13 checks 19–28 and orders-and-checkout §16 checks 11–17.
"""

from __future__ import annotations

from typing import Any

from tests.api.test_wallet_seed import SEED_ORDER_RELATIONSHIPS
from tests.api.wallet_helpers import (
    INCLUDE,
    REUSE,
    SAVE,
    assert_error,
    available_ids,
    create_entry,
    entries_of,
    integration_order,
    order_state,
    reuse,
    reuse_body,
    save,
    save_body,
    saved_entry,
)
from tests.shop import Shop
from tests.support import Client

# The seed's example responses, reduced to their structure ("..." marks elided content).
SEED_SAVE_RESPONSE: dict[str, Any] = {
    "data": {
        "id": "qaMAhZkZvd",
        "type": "orders",
        "links": {"self": "..."},
        "attributes": "...",
        "relationships": {name: {"links": "..."} for name in sorted(SEED_ORDER_RELATIONSHIPS)},
        "meta": {"mode": "test"},
    },
    "included": [
        {
            "id": "QgDXpwsqDx",
            "type": "customer_payment_sources",
            "links": {"self": "..."},
            "attributes": {
                "customer_token": "1",
                "name": "XXXX-XXXX-XXXX-1111",
                "payment_source_token": "7RxGd2HUyY1Yc2Tghw5N453piFs",
                "created_at": "2018-01-01T12:00:00.000Z",
                "updated_at": "2018-01-01T12:00:00.000Z",
                "reference": None,
                "metadata": {},
            },
            "relationships": {"customer": {"links": "..."}, "payment_source": {"links": "..."}},
            "meta": {"mode": "test"},
        }
    ],
}
SEED_SAVE_RESPONSE["data"]["relationships"][INCLUDE]["data"] = [
    {"type": "customer_payment_sources", "id": "QgDXpwsqDx"}
]
RESOURCE_KEYS = {"id", "type", "links", "attributes", "relationships", "meta"}


def assert_resource_like_seed(actual: dict[str, Any], example: dict[str, Any], base: str) -> None:
    """Same members as the seed's resource object, links self+related on every relationship."""
    assert set(actual) == RESOURCE_KEYS
    assert set(example) == RESOURCE_KEYS
    assert actual["type"] == example["type"]
    assert actual["links"] == {"self": f"{base}/api/{actual['type']}/{actual['id']}"}
    assert actual["meta"]["mode"] == example["meta"]["mode"]
    if isinstance(example["attributes"], dict):
        assert set(actual["attributes"]) >= set(example["attributes"])
    assert set(actual["relationships"]) >= set(example["relationships"])
    for name, rel in actual["relationships"].items():
        self_url = f"{base}/api/{actual['type']}/{actual['id']}/relationships/{name}"
        related_url = f"{base}/api/{actual['type']}/{actual['id']}/{name}"
        assert rel["links"] == {"self": self_url, "related": related_url}
        expected = example["relationships"].get(name, {})
        assert ("data" in rel) == ("data" in expected), name


def assert_save_response_like_seed(doc: dict[str, Any], oid: str, base: str) -> dict[str, Any]:
    """The whole save response against the seed's; returns the included entry."""
    assert set(doc) == set(SEED_SAVE_RESPONSE)
    assert doc["data"]["id"] == oid
    assert_resource_like_seed(doc["data"], SEED_SAVE_RESPONSE["data"], base)
    linkage = doc["data"]["relationships"][INCLUDE]["data"]
    assert [(i["type"], i["id"]) for i in doc["included"]] == [
        (d["type"], d["id"]) for d in linkage
    ]
    example = SEED_SAVE_RESPONSE["included"][0]
    for entry in doc["included"]:
        assert_resource_like_seed(entry, example, base)
        attributes = entry["attributes"]
        assert isinstance(attributes["payment_source_token"], str)
        assert attributes["created_at"].endswith("Z") and len(attributes["created_at"]) == 24
        assert isinstance(attributes["metadata"], dict)
    return dict(doc["included"][-1])


def assert_reuse_response_like_seed(doc: dict[str, Any], oid: str, base: str) -> None:
    """Seed response (2): the order, only relationship links, nothing included."""
    assert set(doc) == {"data"}
    example = {**SEED_SAVE_RESPONSE["data"], "relationships": {}}
    assert doc["data"]["id"] == oid
    assert_resource_like_seed(doc["data"], example, base)
    assert set(doc["data"]["relationships"]) >= set(SEED_SAVE_RESPONSE["data"]["relationships"])


# --- saving (checks 19–22; orders-and-checkout 11–14) ----------------------------------------


def test_save_on_placed_and_pending_orders_matches_the_seed(shop: Shop) -> None:
    customer_id, client = shop.customer()
    placed_oid = shop.cart(client, token="tok_placed")
    assert shop.place(client, placed_oid).json()["data"]["attributes"]["status"] == "placed"
    pending_oid = shop.cart(client, token="tok_pending")

    entries = []
    for count, oid in enumerate((placed_oid, pending_oid), start=1):
        source_id, status, payment_status = order_state(shop, oid)
        r = client.patch(f"/api/orders/{oid}", save_body(oid), include=INCLUDE)
        assert r.status_code == 200, r.text
        entry = assert_save_response_like_seed(r.json(), oid, shop.base_url)
        linkage = r.json()["data"]["relationships"][INCLUDE]["data"]
        assert len(linkage) == count
        calls = shop.calls("token")
        assert len(calls) == count
        call = calls[-1]
        assert call["signature_valid"] is True
        assert call["json"]["data"] == {**call["json"]["data"], "type": "external_payments"}
        assert call["json"]["data"]["id"] == source_id
        answered = call["response"]["data"]
        assert entry["attributes"]["customer_token"] == answered["customer_token"]
        assert entry["attributes"]["payment_source_token"] == answered["payment_source_token"]
        assert entry["attributes"]["name"] == "External Payment"
        assert entry["attributes"]["reference"] is None
        # Saving changes nothing on the order itself.
        assert order_state(shop, oid) == (source_id, status, payment_status)
        entries.append((entry, source_id))

    # Check 20: the entry's relationships, and the payment source's wallet.
    for entry, source_id in entries:
        r = shop.admin.get(
            f"/api/customer_payment_sources/{entry['id']}",
            include="customer,payment_method,payment_source",
        )
        assert r.status_code == 200, r.text
        rels = r.json()["data"]["relationships"]
        assert rels["customer"]["data"] == {"type": "customers", "id": customer_id}
        assert rels["payment_method"]["data"] == {
            "type": "payment_methods",
            "id": shop.ids["payment_method"],
        }
        assert rels["payment_source"]["data"] == {"type": "external_payments", "id": source_id}
        r = client.get(f"/api/external_payments/{source_id}", include="wallet")
        assert r.status_code == 200, r.text
        doc = r.json()
        wallet_rel = doc["data"]["relationships"]["wallet"]["data"]
        assert wallet_rel == {"type": "customer_payment_sources", "id": entry["id"]}
        assert [(i["type"], i["id"]) for i in doc["included"]] == [
            ("customer_payment_sources", entry["id"])
        ]
    assert len(entries_of(shop, customer_id)) == 2


def test_save_twice_makes_one_entry_and_one_callout(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    first = saved_entry(save(client, oid))
    for _ in range(2):
        r = save(client, oid)
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["included"]] == [first["id"]]
    assert len(shop.calls("token")) == 1
    assert [e["id"] for e in entries_of(shop, customer_id)] == [first["id"]]
    # A source that came from the wallet is not saved again either.
    next_oid = shop.cart(client, pay=False)
    assert reuse(client, next_oid, first["id"]).status_code == 200
    r = save(client, next_oid)
    assert r.status_code == 200, r.text
    assert len(shop.calls("token")) == 1
    assert [e["id"] for e in entries_of(shop, customer_id)] == [first["id"]]


def test_save_without_true_value_is_a_no_op(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    for value in (False, "false", 0):
        body = {"data": {"type": "orders", "id": oid, "attributes": {SAVE: value}}}
        r = client.patch(f"/api/orders/{oid}", body)
        assert r.status_code == 200, r.text
    assert entries_of(shop, customer_id) == []
    for value in ("true", 1, "1"):
        body = {"data": {"type": "orders", "id": oid, "attributes": {SAVE: value}}}
        assert client.patch(f"/api/orders/{oid}", body).status_code == 200
    assert len(entries_of(shop, customer_id)) == 1
    assert len(shop.calls("token")) == 1


def test_save_preconditions(shop: Shop) -> None:
    # Integration token, order without customer → customer can't be blank.
    oid = integration_order(shop)
    r = save(shop.admin, oid)
    assert_error(
        r, 422, "VALIDATION_ERROR", "/data/relationships/customer", "can't be blank", "blank"
    )
    # Integration token, order with a customer but no payment source.
    oid = integration_order(shop, email="nosource@example.com", pay=False)
    r = save(shop.admin, oid)
    assert_error(
        r, 422, "VALIDATION_ERROR", "/data/relationships/payment_source", "can't be blank", "blank"
    )
    assert shop.calls("token") == []
    # Integration token on a customer's order with a source: allowed.
    oid = integration_order(shop, email="withsource@example.com")
    entry = saved_entry(save(shop.admin, oid))
    assert entry["attributes"]["payment_source_token"].startswith("pm_")


def test_save_with_guest_token_is_unauthorized_in_any_status(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    r = save(guest, oid)
    assert_error(r, 401, "UNAUTHORIZED")
    assert shop.calls("token") == []
    assert shop.place(guest, oid).status_code == 200
    assert_error(save(guest, oid), 401, "UNAUTHORIZED")
    draft = guest.create("orders", {})["id"]
    assert_error(save(guest, draft), 401, "UNAUTHORIZED")
    assert shop.calls("token") == []
    # The guest order's customer (by e-mail) got nothing.
    r = shop.admin.get(f"/api/orders/{oid}", include="customer")
    customer_id = r.json()["data"]["relationships"]["customer"]["data"]["id"]
    assert entries_of(shop, customer_id) == []


def test_save_on_another_customers_order_is_not_found(shop: Shop) -> None:
    owner_id, owner = shop.customer()
    _, other = shop.customer()
    oid = shop.cart(owner)
    r = save(other, oid)
    assert_error(r, 404, "RECORD_NOT_FOUND")
    assert r.json() == save(other, "unknownId1").json()
    assert entries_of(shop, owner_id) == []
    assert shop.calls("token") == []


def test_blank_token_url_saves_the_payment_source_token(shop: Shop) -> None:
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"token_url": None})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["token_url"] is None
    customer_id, client = shop.customer()
    oid = shop.cart(client, token="tok_no_vault")
    entry = saved_entry(save(client, oid))
    assert entry["attributes"]["payment_source_token"] == "tok_no_vault"
    assert entry["attributes"]["customer_token"] is None
    assert entry["attributes"]["metadata"] == {}
    assert shop.calls("token") == []
    # An empty string is blank too.
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {"token_url": ""})
    assert r.status_code == 200, r.text
    oid = shop.cart(client, token="tok_no_vault_2")
    entry = saved_entry(save(client, oid))
    assert (entry["attributes"]["payment_source_token"], entry["attributes"]["customer_token"]) == (
        "tok_no_vault_2",
        None,
    )
    assert shop.calls("token") == []
    assert len(entries_of(shop, customer_id)) == 2


def test_name_from_the_card_the_gateway_reported(shop: Shop) -> None:
    _, client = shop.customer()
    shop.behave(
        "authorize",
        mode="approve",
        payment_instrument={"card_last_digits": "1111", "card_type": "visa"},
    )
    shop.behave("token", mode="approve", metadata={"fingerprint": "fp_1"})
    oid = shop.cart(client)
    assert shop.place(client, oid).status_code == 200
    entry = saved_entry(save(client, oid))
    assert entry["attributes"]["name"] == "XXXX-XXXX-XXXX-1111"
    assert entry["attributes"]["metadata"] == {"fingerprint": "fp_1"}
    # Only the card type known: the type is the name.
    shop.behave("authorize", mode="approve", payment_instrument={"card_type": "visa"})
    oid = shop.cart(client, token="tok_second")
    assert shop.place(client, oid).status_code == 200
    assert saved_entry(save(client, oid))["attributes"]["name"] == "visa"


def test_save_in_the_same_patch_as_place_runs_after_placing(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    body = {"data": {"type": "orders", "id": oid, "attributes": {"_place": True, SAVE: True}}}
    r = client.patch(f"/api/orders/{oid}", body, include=INCLUDE)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "placed"
    assert len(r.json()["data"]["relationships"][INCLUDE]["data"]) == 1
    assert [c["action"] for c in shop.calls()] == ["authorize", "token"]
    # A declined placement stops before the save.
    shop.behave("authorize", mode="decline")
    oid = shop.cart(client, token="tok_declined")
    r = client.patch(f"/api/orders/{oid}", body | {"data": {**body["data"], "id": oid}})
    assert r.status_code == 422, r.text
    assert len(shop.calls("token")) == 1
    assert len(entries_of(shop, customer_id)) == 1


# --- the wallet resource (checks 23–24; orders-and-checkout 17) --------------------------------


def _wallet_with_entry(shop: Shop) -> tuple[str, Client, str, dict[str, Any]]:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    entry = saved_entry(save(client, oid))
    return customer_id, client, oid, entry


def test_customer_sees_and_manages_only_own_entries(shop: Shop) -> None:
    a_id, a, _a_oid, a_entry = _wallet_with_entry(shop)
    b_id, _b, b_oid, b_entry = _wallet_with_entry(shop)

    r = a.get("/api/customer_payment_sources")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [a_entry["id"]]
    assert r.json()["meta"]["record_count"] == 1
    r = a.get(f"/api/customers/{a_id}/customer_payment_sources")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [a_entry["id"]]
    assert a.get(f"/api/customer_payment_sources/{a_entry['id']}").status_code == 200
    # Filters cannot widen the owner scope.
    r = a.get("/api/customer_payment_sources", **{"filter[q][customer_id_eq]": b_id})
    assert r.status_code == 200 and r.json()["data"] == []
    assert_error(a.get(f"/api/customers/{b_id}/customer_payment_sources"), 404, "RECORD_NOT_FOUND")

    # Another customer's entry is not found, exactly like an unknown id.
    unknown = "zzzzzzzzzz"
    for path in (f"/api/customer_payment_sources/{b_entry['id']}",):
        hidden, missing = a.get(path), a.get(f"/api/customer_payment_sources/{unknown}")
        assert_error(hidden, 404, "RECORD_NOT_FOUND")
        assert hidden.json() == missing.json()
    patch = {"data": {"type": "customer_payment_sources", "id": b_entry["id"]}}
    patch["data"]["attributes"] = {"metadata": {"x": 1}}
    assert_error(
        a.patch(f"/api/customer_payment_sources/{b_entry['id']}", patch), 404, "RECORD_NOT_FOUND"
    )
    assert_error(
        a.delete(f"/api/customer_payment_sources/{b_entry['id']}"), 404, "RECORD_NOT_FOUND"
    )
    assert [e["id"] for e in entries_of(shop, b_id)] == [b_entry["id"]]
    assert (
        shop.admin.get(f"/api/customer_payment_sources/{b_entry['id']}").json()["data"][
            "attributes"
        ]["metadata"]
        == {}
    )

    # Customers cannot create entries.
    body = {
        "data": {
            "type": "customer_payment_sources",
            "attributes": {"payment_source_token": "pm_x"},
            "relationships": {"customer": {"data": {"type": "customers", "id": a_id}}},
        }
    }
    assert_error(a.post("/api/customer_payment_sources", body), 401, "UNAUTHORIZED")
    assert len(entries_of(shop, a_id)) == 1

    # Metadata on the own entry.
    patch = {
        "data": {
            "type": "customer_payment_sources",
            "id": a_entry["id"],
            "attributes": {"metadata": {"nickname": "work card"}, "reference": "ref-1"},
        }
    }
    r = a.patch(f"/api/customer_payment_sources/{a_entry['id']}", patch)
    assert r.status_code == 200, r.text
    attributes = r.json()["data"]["attributes"]
    assert attributes["metadata"] == {"nickname": "work card"}
    assert attributes["reference"] == "ref-1"
    assert attributes["payment_source_token"] == a_entry["attributes"]["payment_source_token"]
    # The owner cannot hand the entry to someone else.
    patch = {
        "data": {
            "type": "customer_payment_sources",
            "id": a_entry["id"],
            "relationships": {"customer": {"data": {"type": "customers", "id": b_id}}},
        }
    }
    r = a.patch(f"/api/customer_payment_sources/{a_entry['id']}", patch)
    assert_error(r, 422, "VALIDATION_ERROR", "/data/relationships/customer", "is invalid")
    assert [e["id"] for e in entries_of(shop, a_id)] == [a_entry["id"]]
    # Nor point it at another customer's payment source (answered like an unknown id).
    b_source = order_state(shop, b_oid)[0]
    answers = []
    for source_id in (b_source, "zzzzzzzzzz"):
        patch["data"]["relationships"] = {
            "payment_source": {"data": {"type": "external_payments", "id": source_id}}
        }
        answers.append(a.patch(f"/api/customer_payment_sources/{a_entry['id']}", patch))
    assert_error(answers[0], 422, "VALIDATION_ERROR", "/data/relationships/payment_source")
    assert answers[0].json() == answers[1].json()


def test_customer_deletes_own_entry(shop: Shop) -> None:
    a_id, a, a_oid, a_entry = _wallet_with_entry(shop)
    next_oid = shop.cart(a, pay=False)
    assert available_ids(a, next_oid) == [a_entry["id"]]
    r = a.delete(f"/api/customer_payment_sources/{a_entry['id']}")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert available_ids(a, next_oid) == []
    assert available_ids(a, a_oid) == []
    assert_error(a.get(f"/api/customer_payment_sources/{a_entry['id']}"), 404, "RECORD_NOT_FOUND")
    assert entries_of(shop, a_id) == []
    # The original payment source stays, with an empty wallet.
    source_id = order_state(shop, a_oid)[0]
    r = a.get(f"/api/external_payments/{source_id}", include="wallet")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["relationships"]["wallet"]["data"] is None
    assert r.json()["data"]["attributes"]["payment_source_token"] == "tok_abc"
    # Deleting calls no gateway.
    assert [c["action"] for c in shop.calls()] == ["token"]
    # The source can be saved again afterwards.
    again = saved_entry(save(a, a_oid))
    assert again["id"] != a_entry["id"]


def test_guest_has_no_access_to_the_wallet(shop: Shop) -> None:
    a_id, _a, _oid, a_entry = _wallet_with_entry(shop)
    guest = shop.guest()
    path = f"/api/customer_payment_sources/{a_entry['id']}"
    patch = {"data": {"type": "customer_payment_sources", "id": a_entry["id"], "attributes": {}}}
    body = {
        "data": {
            "type": "customer_payment_sources",
            "relationships": {"customer": {"data": {"type": "customers", "id": a_id}}},
        }
    }
    for r in (
        guest.get("/api/customer_payment_sources"),
        guest.get(path),
        guest.patch(path, patch),
        guest.delete(path),
        guest.post("/api/customer_payment_sources", body),
    ):
        assert_error(r, 401, "UNAUTHORIZED")
    assert [e["id"] for e in entries_of(shop, a_id)] == [a_entry["id"]]


# --- available_customer_payment_sources (check 25) --------------------------------------------


def test_available_customer_payment_sources(shop: Shop) -> None:
    a_id, a, _a_oid, a_entry = _wallet_with_entry(shop)
    _b_id, _b, _b_oid, b_entry = _wallet_with_entry(shop)

    # The customer's new order in the same market lists the own entry only.
    next_oid = shop.cart(a, pay=False)
    assert available_ids(a, next_oid) == [a_entry["id"]]
    r = a.get(f"/api/orders/{next_oid}", include=INCLUDE)
    included = r.json()["included"]
    assert [(i["type"], i["id"]) for i in included] == [("customer_payment_sources", a_entry["id"])]
    assert available_ids(shop.admin, next_oid) == [a_entry["id"]]
    # The related link serves the same list as a collection.
    r = a.get(f"/api/orders/{next_oid}/available_customer_payment_sources")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [a_entry["id"]]
    assert r.json()["meta"]["record_count"] == 1
    assert b_entry["id"] not in r.text

    # Imported entries: without a method they are listed; with an unavailable method they are not.
    loose = create_entry(shop, a_id, token="pm_loose", method=False)
    assert available_ids(a, next_oid) == [a_entry["id"], loose["id"]]
    other_market_method = _method_in_other_market(shop)
    r = shop.admin.update(
        "customer_payment_sources",
        loose["id"],
        {},
        {"payment_method": ("payment_methods", other_market_method)},
    )
    assert r.status_code == 200, r.text
    assert available_ids(a, next_oid) == [a_entry["id"]]

    # Order without a customer: empty, even for the integration.
    bare = integration_order(shop)
    assert available_ids(shop.admin, bare) == []
    r = shop.admin.get(f"/api/orders/{bare}/available_customer_payment_sources")
    assert r.status_code == 200 and r.json()["data"] == []

    # Once a guest's order is given a customer it is that customer's: the guest holding
    # its id reaches neither the order nor the customer's wallet through it.
    guest = shop.guest()
    guest_oid = shop.cart(guest)
    r = shop.admin.update("orders", guest_oid, {}, {"customer": ("customers", a_id)})
    assert r.status_code == 200, r.text
    assert available_ids(shop.admin, guest_oid) == [a_entry["id"]]
    assert guest.get(f"/api/orders/{guest_oid}", include=INCLUDE).status_code == 404
    r = guest.get(f"/api/orders/{guest_oid}/available_customer_payment_sources")
    assert r.status_code == 404, r.text


def _method_in_other_market(shop: Shop) -> str:
    a = shop.admin
    market = a.create(
        "markets",
        {"name": "Elsewhere", "code": shop.market_code + "-x"},
        {
            "merchant": ("merchants", shop.ids["merchant"]),
            "price_list": ("price_lists", shop.ids["price_list"]),
            "inventory_model": ("inventory_models", shop.ids["inventory_model"]),
        },
    )
    method = a.create(
        "payment_methods",
        {"payment_source_type": "external_payments", "name": "Elsewhere"},
        {
            "market": ("markets", market["id"]),
            "payment_gateway": ("external_gateways", shop.ids["gateway"]),
        },
    )
    return str(method["id"])


# --- reuse (checks 26–28; orders-and-checkout 15–16) ------------------------------------------


def test_reuse_copies_the_entry_onto_a_new_payment_source(shop: Shop) -> None:
    _a_id, a, a_oid, entry = _wallet_with_entry(shop)
    original_source = order_state(shop, a_oid)[0]
    wallet_token = entry["attributes"]["payment_source_token"]

    next_oid = shop.cart(a, pay=False)
    r = a.patch(f"/api/orders/{next_oid}", reuse_body(next_oid, entry["id"]))
    assert r.status_code == 200, r.text
    assert_reuse_response_like_seed(r.json(), next_oid, shop.base_url)
    doc = shop.order(next_oid, a, include="payment_method,payment_source")
    rels = doc["data"]["relationships"]
    assert rels["payment_method"]["data"]["id"] == shop.ids["payment_method"]
    source = rels["payment_source"]["data"]
    assert source["type"] == "external_payments"
    assert source["id"] != original_source
    copy = next(i for i in doc["included"] if i["id"] == source["id"])
    assert copy["attributes"]["payment_source_token"] == wallet_token
    r = a.get(f"/api/external_payments/{source['id']}", include="wallet")
    assert r.json()["data"]["relationships"]["wallet"]["data"] == {
        "type": "customer_payment_sources",
        "id": entry["id"],
    }
    # No callout until _place; then the authorize body carries the wallet token.
    assert [c["action"] for c in shop.calls()] == ["token"]
    placed = shop.place(a, next_oid)
    assert placed.status_code == 200, placed.text
    attributes = placed.json()["data"]["attributes"]
    assert (attributes["status"], attributes["payment_status"]) == ("placed", "authorized")
    authorize = shop.calls("authorize")
    assert len(authorize) == 1
    assert authorize[0]["json"]["data"]["id"] == source["id"]
    assert authorize[0]["json"]["data"]["attributes"]["payment_source_token"] == wallet_token
    # The original order and its payment source are untouched.
    assert order_state(shop, a_oid)[0] == original_source
    assert len(shop.calls("token")) == 1


def test_reuse_on_the_same_pending_order_replaces_its_source(shop: Shop) -> None:
    _a_id, a, oid, entry = _wallet_with_entry(shop)
    before = order_state(shop, oid)[0]
    r = reuse(a, oid, entry["id"])
    assert r.status_code == 200, r.text
    after = order_state(shop, oid)[0]
    assert after is not None and after != before
    placed = shop.place(a, oid)
    assert placed.status_code == 200, placed.text
    token = shop.calls("authorize")[-1]["json"]["data"]["attributes"]["payment_source_token"]
    assert token == entry["attributes"]["payment_source_token"]


def test_reuse_of_an_imported_entry_with_tokens_only(shop: Shop) -> None:
    a_id, a = shop.customer()
    entry = create_entry(shop, a_id, token="pm_imported_1", method=False, customer_token="cus_9")
    assert entry["attributes"]["name"] is None
    oid = shop.cart(a, pay=False)
    r = reuse(a, oid, entry["id"])
    assert r.status_code == 200, r.text
    placed = shop.place(a, oid)
    assert placed.status_code == 200, placed.text
    assert (
        shop.calls("authorize")[-1]["json"]["data"]["attributes"]["payment_source_token"]
        == "pm_imported_1"
    )


def test_reuse_errors(shop: Shop) -> None:
    a_id, a, a_oid, a_entry = _wallet_with_entry(shop)
    _b_id, _b, _b_oid, b_entry = _wallet_with_entry(shop)
    pointer = f"/data/attributes/{REUSE}"
    next_oid = shop.cart(a)
    source_before = order_state(shop, next_oid)

    # Unknown id and another customer's entry: one identical answer.
    hidden = reuse(a, next_oid, b_entry["id"])
    missing = reuse(a, next_oid, "zzzzzzzzzz")
    assert_error(hidden, 422, "VALIDATION_ERROR", pointer, "is invalid", "invalid")
    assert hidden.json() == missing.json()
    assert set(hidden.headers) >= {"content-type"}
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    assert order_state(shop, next_oid) == source_before
    # Blank value.
    r = reuse(a, next_oid, "  ")
    assert_error(r, 422, "VALIDATION_ERROR", pointer, "can't be blank", "blank")
    # Own entry on the own placed order.
    assert shop.place(a, a_oid).status_code == 200
    placed_before = order_state(shop, a_oid)
    r = reuse(a, a_oid, a_entry["id"])
    assert_error(
        r, 422, "VALIDATION_ERROR", pointer, "cannot be set on a non-editable order", "not_editable"
    )
    # The integration gets the same answer on a placed order.
    r = reuse(shop.admin, a_oid, a_entry["id"])
    assert_error(r, 422, "VALIDATION_ERROR", pointer, error="not_editable")
    assert order_state(shop, a_oid) == placed_before
    # Guest token.
    guest = shop.guest()
    guest_oid = shop.cart(guest)
    assert_error(reuse(guest, guest_oid, a_entry["id"]), 401, "UNAUTHORIZED")
    assert_error(reuse(guest, guest_oid, "zzzzzzzzzz"), 401, "UNAUTHORIZED")
    # Integration on an order without customer.
    bare = integration_order(shop)
    r = reuse(shop.admin, bare, a_entry["id"])
    assert_error(r, 422, "VALIDATION_ERROR", pointer, "requires a customer", "invalid")
    # Integration using one customer's entry on another customer's order.
    r = reuse(shop.admin, next_oid, b_entry["id"])
    assert_error(r, 422, "VALIDATION_ERROR", pointer, "is invalid", "invalid")
    # An entry whose method is not available on the order.
    elsewhere = create_entry(shop, a_id, token="pm_elsewhere", method=False)
    r = shop.admin.update(
        "customer_payment_sources",
        elsewhere["id"],
        {},
        {"payment_method": ("payment_methods", _method_in_other_market(shop))},
    )
    assert r.status_code == 200, r.text
    r = reuse(a, next_oid, elsewhere["id"])
    assert_error(r, 422, "VALIDATION_ERROR", pointer, "payment method not available", "invalid")
    assert order_state(shop, next_oid) == source_before
    assert shop.calls("authorize")[-1:] and len(shop.calls("authorize")) == 1


def test_wallet_entry_attributes_and_filters(shop: Shop) -> None:
    a_id, a, _oid, entry = _wallet_with_entry(shop)
    token = entry["attributes"]["payment_source_token"]
    by_token = {"filter[q][payment_source_token_eq]": token}
    r = shop.admin.get("/api/customer_payment_sources", **by_token)
    assert [d["id"] for d in r.json()["data"]] == [entry["id"]]
    r = shop.admin.get(
        "/api/customer_payment_sources", **{"filter[q][payment_source_token_eq]": "nope"}
    )
    assert r.json()["data"] == []
    # A wallet token is a secret: only an integration may filter by it, never a storefront.
    assert_error(a.get("/api/customer_payment_sources", **by_token), 400, "FILTER_NOT_ALLOWED")
    r = shop.admin.get(
        "/api/customer_payment_sources", **{"filter[q][name_eq]": "External Payment"}
    )
    assert entry["id"] in [d["id"] for d in r.json()["data"]]
    # name is read-only.
    patch = {"data": {"type": "customer_payment_sources", "id": entry["id"]}}
    patch["data"]["attributes"] = {"name": "mine"}
    r = a.patch(f"/api/customer_payment_sources/{entry['id']}", patch)
    assert_error(r, 400, "PARAM_NOT_ALLOWED")
    assert entries_of(shop, a_id)[0]["attributes"]["name"] == "External Payment"


# --- entries written by the integration (§7.1) -------------------------------------------------


def test_integration_imports_and_links_entries(shop: Shop) -> None:
    a_id, a = shop.customer()
    b_id, _b = shop.customer()
    oid = shop.cart(a, token="tok_import")
    source_id = order_state(shop, oid)[0]
    ep = ("external_payments", source_id)

    def post(relationships: dict[str, Any], **attributes: Any) -> Any:
        data: dict[str, Any] = {"type": "customer_payment_sources", "attributes": attributes}
        data["relationships"] = {
            k: {"data": {"type": v[0], "id": v[1]}} for k, v in relationships.items()
        }
        return shop.admin.post("/api/customer_payment_sources", {"data": data})

    # Missing customer; the docs' placeholder type; another customer's payment source.
    r = post({"payment_source": ep})
    assert_error(r, 422, "VALIDATION_ERROR", "/data/relationships/customer", "can't be blank")
    r = post({"customer": ("customers", a_id), "payment_source": ("payment_sources", source_id)})
    assert_error(r, 422, "VALIDATION_ERROR", "/data/relationships/payment_source", error="invalid")
    r = post({"customer": ("customers", b_id), "payment_source": ep})
    assert_error(r, 422, "VALIDATION_ERROR", "/data/relationships/payment_source", error="invalid")
    assert entries_of(shop, a_id) == [] and entries_of(shop, b_id) == []

    # The owner's: created with the source's token and name, and the source points back.
    r = post({"customer": ("customers", a_id), "payment_source": ep}, customer_token="cus_i")
    assert r.status_code == 201, r.text
    entry = r.json()["data"]
    assert entry["attributes"]["payment_source_token"] == "tok_import"
    assert entry["attributes"]["customer_token"] == "cus_i"
    assert entry["attributes"]["name"] == "External Payment"
    wallet = a.get(f"/api/external_payments/{source_id}", include="wallet").json()
    assert wallet["data"]["relationships"]["wallet"]["data"]["id"] == entry["id"]
    # One entry per payment source: a second import, and saving the order, add nothing.
    r = post({"customer": ("customers", a_id), "payment_source": ep})
    assert_error(r, 422, "VALIDATION_ERROR", "/data/relationships/payment_source", error="taken")
    assert save(a, oid).status_code == 200
    assert shop.calls("token") == []
    assert [e["id"] for e in entries_of(shop, a_id)] == [entry["id"]]
    # Handing the entry to a customer whose order the source is not: refused.
    r = shop.admin.update(
        "customer_payment_sources", entry["id"], {}, {"customer": ("customers", b_id)}
    )
    assert_error(r, 422, "VALIDATION_ERROR", "/data/relationships/payment_source", error="invalid")
    # Detaching the source empties its wallet link; the entry keeps its tokens.
    r = shop.admin.update("customer_payment_sources", entry["id"], {}, {"payment_source": None})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["payment_source_token"] == "tok_import"
    wallet = a.get(f"/api/external_payments/{source_id}", include="wallet").json()
    assert wallet["data"]["relationships"]["wallet"]["data"] is None


def test_reuse_and_place_in_one_patch(shop: Shop) -> None:
    _a_id, a, _oid, entry = _wallet_with_entry(shop)
    oid = shop.cart(a, pay=False)
    body = {
        "data": {"type": "orders", "id": oid, "attributes": {REUSE: entry["id"], "_place": True}}
    }
    r = a.patch(f"/api/orders/{oid}", body)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "placed"
    sent = shop.calls("authorize")[-1]["json"]["data"]["attributes"]["payment_source_token"]
    assert sent == entry["attributes"]["payment_source_token"]
