"""Gateways, payment sources, transactions and the order payment states, over real HTTP.

payments-and-wallet §13 checks 1–3, 6, 12–17, 29, 30; orders-and-checkout §16 checks
18–20, 22, 24, 26; api-conventions §14 check 20.
"""

from __future__ import annotations

from tests.api.payflow import (
    approved,
    assert_error_shape,
    attrs,
    captured,
    placed,
    state,
    stock,
    txns,
)
from tests.shop import ADDRESS, Shop
from tests.support import error_of

URLS = ("authorize_url", "capture_url", "void_url", "refund_url", "token_url")


# --- gateways and payment sources (checks 1–3) ----------------------------------------------


def test_gateway_create_answers_secret_and_closed_circuit(shop: Shop) -> None:
    sent = {key: f"https://gw.example.com/{key.removesuffix('_url')}" for key in URLS}
    r = shop.admin.post(
        "/api/external_gateways",
        {"data": {"type": "external_gateways", "attributes": {"name": "US gateway", **sent}}},
    )
    assert r.status_code == 201, r.text
    a = r.json()["data"]["attributes"]
    assert isinstance(a["shared_secret"], str) and len(a["shared_secret"]) >= 16
    assert (a["circuit_state"], a["circuit_failure_count"]) == ("closed", 0)
    assert a["force_payments"] is False
    assert {key: a[key] for key in URLS} == sent


def test_gateways_are_integration_only(shop: Shop) -> None:
    gid = shop.ids["gateway"]
    _cid, customer = shop.customer()
    for client in (shop.guest(), customer):
        for response in (
            client.get("/api/external_gateways"),
            client.get(f"/api/external_gateways/{gid}"),
            client.update("external_gateways", gid, {"_reset_circuit": True}),
            client.update("external_gateways", gid, {"name": "mine"}),
            client.post(
                "/api/external_gateways",
                {"data": {"type": "external_gateways", "attributes": {"name": "x"}}},
            ),
            client.delete(f"/api/external_gateways/{gid}"),
        ):
            assert_error_shape(response, 401)
            assert error_of(response)["code"] == "UNAUTHORIZED"


def test_external_payment_create_validations(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest, pay=False)
    order = {"order": {"data": {"type": "orders", "id": oid}}}

    def post(attributes: dict[str, str]) -> object:
        return guest.post(
            "/api/external_payments",
            {
                "data": {
                    "type": "external_payments",
                    "attributes": attributes,
                    "relationships": order,
                }
            },
        )

    missing = post({})
    errors = assert_error_shape(missing, 422)  # type: ignore[arg-type]
    assert errors[0]["source"]["pointer"] == "/data/attributes/payment_source_token"
    card = post({"payment_source_token": "4111 1111 1111 1111"})
    errors = assert_error_shape(card, 422)  # type: ignore[arg-type]
    assert errors[0]["source"]["pointer"] == "/data/attributes/payment_source_token"
    assert errors[0]["meta"]["error"] == "invalid"
    ok = post({"payment_source_token": "tok_abc"})
    assert ok.status_code == 201, ok.text  # type: ignore[attr-defined]
    source_id = ok.json()["data"]["id"]  # type: ignore[attr-defined]
    rel = shop.order(oid, include="payment_source")["data"]["relationships"]["payment_source"]
    assert rel["data"] == {"type": "external_payments", "id": source_id}


# --- placing (checks 6, 12, 13; orders 18–20) -----------------------------------------------


def test_place_authorizes_and_records_the_authorization(shop: Shop) -> None:
    shop.behave("authorize", mode="approve", metadata={"foo": "bar"})
    customer_id, client = shop.customer()
    oid = shop.cart(client, quantity=2)
    before = stock(shop)
    r = shop.place(client, oid)
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"], a["editable"]) == ("placed", "authorized", False)
    assert a["placed_at"] and a["payment_updated_at"]
    total = a["total_amount_with_taxes_cents"]
    assert total == 9800
    [auth] = txns(shop, oid, "authorizations")
    answered = shop.calls("authorize")[-1]["response"]["data"]
    t = auth["attributes"]
    assert t["succeeded"] is True
    assert t["token"] == answered["transaction_token"]
    assert t["amount_cents"] == total
    assert t["metadata"]["foo"] == "bar"
    assert t["number"] == f"{a['number']}/T/001"
    assert (t["capture_balance_cents"], t["void_balance_cents"]) == (total, total)
    included = shop.order(oid, client, include="authorizations").get("included", [])
    assert [i["id"] for i in included if i["type"] == "authorizations"] == [auth["id"]]
    assert stock(shop) == before - 2
    customer = shop.admin.get(f"/api/customers/{customer_id}").json()["data"]["attributes"]
    assert customer["status"] == "acquired"


def test_place_twice_is_a_no_op(shop: Shop) -> None:
    oid, client = placed(shop, customer=True)
    before = stock(shop)
    for caller in (client, shop.admin):
        again = shop.place(caller, oid)
        assert again.status_code == 200, again.text
        assert again.json()["data"]["attributes"]["status"] == "placed"
    assert len(shop.calls("authorize")) == 1
    assert len(txns(shop, oid)) == 1
    assert stock(shop) == before


def test_place_validation_lists_every_failure(shop: Shop) -> None:
    order = shop.admin.create("orders", {}, {"market": ("markets", shop.ids["market"])})
    oid = order["id"]
    shop.admin.create(
        "line_items", {"sku_code": "TSHIRT-XL", "quantity": 1}, {"order": ("orders", oid)}
    )
    r = shop.place(shop.admin, oid)
    errors = assert_error_shape(r, 422)
    pointers = {e["source"]["pointer"] for e in errors}
    assert pointers == {
        "/data/attributes/customer_email",
        "/data/relationships/billing_address",
        "/data/relationships/payment_method",
        "/data/relationships/payment_source",
    }
    assert state(shop, oid) == ("draft", "unpaid")
    assert shop.calls("authorize") == []


def test_free_order_places_without_callout(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest, pay=False)
    items = shop.admin.get(f"/api/orders/{oid}/line_items").json()["data"]
    r = shop.admin.update("line_items", items[0]["id"], {"unit_amount_cents": 0})
    assert r.status_code == 200, r.text
    assert attrs(shop, oid)["total_amount_with_taxes_cents"] == 0
    assert attrs(shop, oid)["payment_status"] == "unpaid"
    r = shop.place(guest, oid)
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"]) == ("placed", "free")
    assert shop.calls() == []
    assert txns(shop, oid) == []


def test_authorize_without_placing_then_place(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest, quantity=2)
    for bad in (0, -5, 10**18):
        r = guest.update("orders", oid, {"_authorize": True, "_authorization_amount_cents": bad})
        errors = assert_error_shape(r, 422)
        assert errors[0]["source"]["pointer"] == "/data/attributes/_authorization_amount_cents"
    assert shop.calls() == []
    r = guest.update("orders", oid, {"_authorize": True, "_authorization_amount_cents": 3000})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("pending", "partially_authorized")
    [call] = shop.calls("authorize")
    assert call["json"]["data"]["meta"]["amount_cents"] == 3000
    again = guest.update("orders", oid, {"_authorize": True})
    assert again.status_code == 200
    assert len(shop.calls("authorize")) == 1, "_authorize is idempotent once not unpaid"
    r = shop.place(guest, oid)
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "authorized")
    second = shop.calls("authorize")[-1]["json"]["data"]["meta"]["amount_cents"]
    assert second == 6800, "only the missing amount is authorized"
    assert [t["attributes"]["amount_cents"] for t in txns(shop, oid)] == [3000, 6800]


def test_nullify_payment_source_voids_an_authorization(shop: Shop) -> None:
    client = shop.guest()
    oid = shop.cart(client)
    assert client.update("orders", oid, {"_authorize": True}).status_code == 200
    assert state(shop, oid) == ("pending", "authorized")
    r = client.update("orders", oid, {"_nullify_payment_source": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("pending", "voided")
    assert len(shop.calls("void")) == 1
    rel = shop.order(oid, include="payment_source")["data"]["relationships"]["payment_source"]
    assert rel["data"] is None


def test_wire_transfer_needs_no_callout(shop: Shop) -> None:
    manual = shop.admin.create("manual_gateways", {"name": "Manual"})
    method = shop.admin.create(
        "payment_methods",
        {"payment_source_type": "wire_transfers", "name": "Bank transfer"},
        {
            "market": ("markets", shop.ids["market"]),
            "payment_gateway": ("manual_gateways", manual["id"]),
        },
    )
    guest = shop.guest()
    oid = shop.cart(guest, pay=False)
    r = guest.update("orders", oid, {}, {"payment_method": ("payment_methods", method["id"])})
    assert r.status_code == 200, r.text
    guest.create("wire_transfers", {}, {"order": ("orders", oid)})
    assert shop.place(guest, oid).status_code == 200
    assert state(shop, oid) == ("placed", "authorized")
    assert shop.admin.update("orders", oid, {"_approve_and_capture": True}).status_code == 200
    assert state(shop, oid) == ("approved", "paid")
    assert shop.calls() == []
    kinds = [(t["type"], t["attributes"]["succeeded"]) for t in txns(shop, oid)]
    assert kinds == [("authorizations", True), ("captures", True)]


# --- after placement (checks 14–17; orders 22, 24, 26) --------------------------------------


def test_capture_an_approved_order(shop: Shop) -> None:
    oid, client = placed(shop, customer=True)
    early = shop.admin.update("orders", oid, {"_capture": True})
    errors = assert_error_shape(early, 422)
    assert errors[0]["source"]["pointer"] == "/data/attributes/_capture"
    assert errors[0]["meta"]["error"] == "invalid_transition"
    assert_error_shape(client.update("orders", oid, {"_capture": True}), 401)
    r = shop.admin.update("orders", oid, {"_approve": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("approved", "authorized")
    r = shop.admin.update("orders", oid, {"_capture": True})
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"]) == ("approved", "paid")
    [call] = shop.calls("capture")
    assert call["json"]["data"]["type"] == "authorizations"
    [cap] = txns(shop, oid, "captures")
    assert cap["attributes"]["succeeded"] is True
    assert cap["attributes"]["amount_cents"] == a["total_amount_with_taxes_cents"]
    assert cap["attributes"]["number"].endswith("/T/002")
    again = shop.admin.update("orders", oid, {"_capture": True})
    assert error_of(again)["meta"]["error"] == "invalid_transition"
    assert len(shop.calls("capture")) == 1


def test_partial_capture_on_the_authorization(shop: Shop) -> None:
    oid = approved(shop, quantity=2)
    [auth] = txns(shop, oid, "authorizations")
    r = shop.admin.update(
        "authorizations", auth["id"], {"_capture": True, "_capture_amount_cents": 3000}
    )
    assert r.status_code == 200, r.text
    t = r.json()["data"]["attributes"]
    assert (t["capture_balance_cents"], t["capture_amount_cents"]) == (6800, 6800)
    assert state(shop, oid) == ("approved", "partially_paid")
    sent = shop.calls("capture")[-1]["json"]["data"]["attributes"]
    assert sent["capture_amount_cents"] == 3000
    too_much = shop.admin.update(
        "authorizations", auth["id"], {"_capture": True, "_capture_amount_cents": 6801}
    )
    errors = assert_error_shape(too_much, 422)
    assert errors[0]["source"]["pointer"] == "/data/attributes/_capture_amount_cents"
    rest = shop.admin.update("authorizations", auth["id"], {"_capture": True})
    assert rest.status_code == 200, rest.text
    assert rest.json()["data"]["attributes"]["capture_balance_cents"] == 0
    assert state(shop, oid) == ("approved", "paid")
    captures = txns(shop, oid, "captures")
    assert [c["attributes"]["amount_cents"] for c in captures] == [3000, 6800]


def test_approve_and_capture(shop: Shop) -> None:
    oid, client = placed(shop)
    assert_error_shape(client.update("orders", oid, {"_approve_and_capture": True}), 401)
    r = shop.admin.update("orders", oid, {"_approve_and_capture": True})
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"]) == ("approved", "paid")
    assert len(shop.calls("capture")) == 1


def test_cancel_voids_the_authorization(shop: Shop) -> None:
    oid, client = placed(shop, quantity=3, customer=True)
    before = stock(shop)
    r = client.update("orders", oid, {"_cancel": True})
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"]) == ("cancelled", "voided")
    assert a["cancelled_at"]
    [call] = shop.calls("void")
    assert call["json"]["data"]["type"] == "authorizations"
    assert call["json"]["data"]["attributes"]["void_balance_cents"] == 14700
    [void] = txns(shop, oid, "voids")
    assert (void["attributes"]["succeeded"], void["attributes"]["amount_cents"]) == (True, 14700)
    assert stock(shop) == before + 3
    again = shop.admin.update("orders", oid, {"_cancel": True})
    errors = assert_error_shape(again, 422)
    assert errors[0]["source"]["pointer"] == "/data/attributes/_cancel"
    assert errors[0]["meta"]["error"] == "invalid_transition"
    assert len(shop.calls("void")) == 1


def test_cancel_a_draft_is_an_invalid_transition(shop: Shop) -> None:
    guest = shop.guest()
    oid = guest.create("orders", {})["id"]
    r = guest.update("orders", oid, {"_cancel": True})
    errors = assert_error_shape(r, 422)
    assert errors[0]["source"]["pointer"] == "/data/attributes/_cancel"
    assert errors[0]["meta"]["error"] == "invalid_transition"
    assert state(shop, oid) == ("draft", "unpaid")


def test_cancel_a_captured_order_is_refused(shop: Shop) -> None:
    oid, _cap = captured(shop)
    r = shop.admin.update("orders", oid, {"_cancel": True})
    assert error_of(r)["meta"]["error"] == "invalid_transition"
    assert state(shop, oid) == ("approved", "paid")
    assert shop.calls("void") == []


def test_partial_then_full_refund(shop: Shop) -> None:
    oid, cap = captured(shop, quantity=2)
    r = shop.admin.update("captures", cap["id"], {"_refund": True, "_refund_amount_cents": 1800})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["refund_balance_cents"] == 8000
    assert state(shop, oid) == ("approved", "partially_refunded")
    [call] = shop.calls("refund")
    assert call["json"]["data"]["type"] == "captures"
    assert call["json"]["data"]["attributes"]["refund_amount_cents"] == 1800
    above = shop.admin.update(
        "captures", cap["id"], {"_refund": True, "_refund_amount_cents": 8001}
    )
    errors = assert_error_shape(above, 422)
    assert errors[0]["source"]["pointer"] == "/data/attributes/_refund_amount_cents"
    assert len(shop.calls("refund")) == 1
    r = shop.admin.update("orders", oid, {"_refund": True})
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["payment_status"]) == ("cancelled", "refunded")
    assert shop.calls("refund")[-1]["json"]["data"]["attributes"]["refund_amount_cents"] == 8000
    refunds = txns(shop, oid, "refunds")
    assert [x["attributes"]["amount_cents"] for x in refunds] == [1800, 8000]
    again = shop.admin.update("orders", oid, {"_refund": True})
    assert error_of(again)["meta"]["error"] == "invalid_transition"


def test_full_capture_refund_cancels_the_order(shop: Shop) -> None:
    oid, cap = captured(shop)
    r = shop.admin.update("captures", cap["id"], {"_refund": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("cancelled", "refunded")


def test_void_and_cancel_on_the_transactions(shop: Shop) -> None:
    oid, _ = placed(shop)
    [auth] = txns(shop, oid, "authorizations")
    r = shop.admin.update("authorizations", auth["id"], {"_void": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["void_balance_cents"] == 0
    assert state(shop, oid) == ("placed", "voided")
    again = shop.admin.update("authorizations", auth["id"], {"_cancel": True})
    assert assert_error_shape(again, 422)[0]["source"]["pointer"] == "/data/attributes/_cancel"
    paid, cap = captured(shop)
    r = shop.admin.update("captures", cap["id"], {"_cancel": True})
    assert r.status_code == 200, r.text
    assert state(shop, paid) == ("cancelled", "refunded")
    assert [c["json"]["data"]["type"] for c in shop.calls("void")] == ["authorizations"]


def test_approve_needs_a_placed_order(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    r = shop.admin.update("orders", oid, {"_approve": True})
    assert error_of(r)["meta"]["error"] == "invalid_transition"
    assert state(shop, oid) == ("pending", "unpaid")


PROHIBITED = ("_approve", "_capture", "_refund", "_approve_and_capture", "_fulfill", "_pending")


def test_sales_channels_cannot_send_prohibited_triggers(shop: Shop) -> None:
    guest = shop.guest()
    pending_oid = shop.cart(guest)
    oid, client = placed(shop, customer=True)
    for trigger in PROHIBITED:
        r = guest.update("orders", pending_oid, {trigger: True})
        assert_error_shape(r, 401)
        assert error_of(r)["code"] == "UNAUTHORIZED"
        assert_error_shape(client.update("orders", oid, {trigger: True}), 401)
    assert state(shop, oid) == ("placed", "authorized")
    assert state(shop, pending_oid) == ("pending", "unpaid")
    assert shop.calls("capture") == []


def test_after_placement(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    assert shop.place(guest, oid).status_code == 200
    r = guest.update("orders", oid, {"metadata": {"a": 1}})
    assert_error_shape(r, 401)
    assert_error_shape(guest.update("orders", oid, {"_cancel": True}), 401)
    r = shop.admin.update("orders", oid, {"_approve": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "approved"
    assert r.json()["data"]["attributes"]["approved_at"]


# --- transactions (check 29) -----------------------------------------------------------------


def test_transactions_list_every_kind(shop: Shop) -> None:
    oid, cap = captured(shop, quantity=2)
    r = shop.admin.update("captures", cap["id"], {"_refund": True, "_refund_amount_cents": 100})
    assert r.status_code == 200, r.text
    other, _ = placed(shop)
    assert shop.admin.update("orders", other, {"_cancel": True}).status_code == 200
    r = shop.admin.get("/api/transactions", **{"filter[q][order_id_eq]": oid})
    assert r.status_code == 200, r.text
    assert [d["type"] for d in r.json()["data"]] == ["authorizations", "captures", "refunds"]
    r = shop.admin.get("/api/transactions", **{"filter[q][order_id_in]": f"{oid},{other}"})
    assert sorted({d["type"] for d in r.json()["data"]}) == [
        "authorizations",
        "captures",
        "refunds",
        "voids",
    ]
    [void] = txns(shop, other, "voids")
    single = shop.admin.get(f"/api/transactions/{void['id']}")
    assert single.status_code == 200, single.text
    assert single.json()["data"]["type"] == "voids"
    for kind in ("transactions", "authorizations", "captures", "voids", "refunds"):
        posted = shop.admin.post(f"/api/{kind}", {"data": {"type": kind, "attributes": {}}})
        assert_error_shape(posted, 405)
        assert error_of(posted)["code"] == "METHOD_NOT_ALLOWED"
        deleted = shop.admin.delete(f"/api/{kind}/{void['id']}")
        assert_error_shape(deleted, 405)


def test_sales_channels_cannot_list_transactions(shop: Shop) -> None:
    oid, client = placed(shop, customer=True)
    guest = shop.guest()
    for caller in (guest, client):
        for kind in ("transactions", "authorizations", "captures", "voids", "refunds"):
            assert_error_shape(caller.get(f"/api/{kind}"), 401)
    assert_error_shape(client.get(f"/api/orders/{oid}/authorizations"), 401)
    # The order is the customer's: a guest does not reach it, nor its transactions.
    assert_error_shape(guest.get(f"/api/orders/{oid}/authorizations"), 404)
    assert_error_shape(guest.get(f"/api/orders/{oid}", include="authorizations"), 404)
    [auth] = txns(shop, oid, "authorizations")
    assert_error_shape(client.get(f"/api/authorizations/{auth['id']}"), 401)
    doc = shop.order(oid, client, include="authorizations")
    assert [i["id"] for i in doc["included"]] == [auth["id"]]
    guest_oid, guest_client = placed(shop)
    [guest_auth] = txns(shop, guest_oid, "authorizations")
    doc = shop.order(guest_oid, guest_client, include="authorizations")
    assert [i["id"] for i in doc["included"]] == [guest_auth["id"]]
    assert_error_shape(client.update("authorizations", auth["id"], {"_capture": True}), 401)


def test_integration_may_flip_succeeded(shop: Shop) -> None:
    oid, _client = placed(shop)
    [auth] = txns(shop, oid, "authorizations")
    r = shop.admin.update("authorizations", auth["id"], {"succeeded": False})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "unpaid")
    r = shop.admin.update("authorizations", auth["id"], {"succeeded": True})
    assert r.status_code == 200, r.text
    assert state(shop, oid) == ("placed", "authorized")


# --- cost of a placement --------------------------------------------------------------------

# SQL statements of a customer's ``_place`` PATCH on a one-line order, as counted by the
# server (X-Kassa-Queries; SQLite also counts its BEGIN statements). A PATCH of triggers
# alone checks visibility in the first trigger's transaction and reads the response in the
# last one; the placement reads each table once and writes with single statements (12 up
# to the callout), the authorize callout's compound document takes 7, and the outcome is
# written with 3. The bearer token's check against the deny list (revoked tokens and
# logins, a deleted customer) adds one statement, and its own BEGIN on SQLite. The margin
# absorbs unrelated changes. Crash safety adds two: the callout's lease (its idempotency key
# and body) is inserted before the callout and deleted with the recorded outcome.
PLACE_STATEMENTS = {"sqlite": 29, "postgres": 26}


def test_place_statement_count(shop: Shop) -> None:
    _cid, client = shop.customer()
    oid = shop.cart(client)
    r = shop.place(client, oid)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["status"] == "placed"
    used = int(r.headers["X-Kassa-Queries"])
    assert used <= PLACE_STATEMENTS[shop.server.backend] + 1, used
    again = shop.place(client, oid)
    assert int(again.headers["X-Kassa-Queries"]) < used // 2


def test_place_binds_an_unowned_cart_to_the_customer(shop: Shop) -> None:
    guest = shop.guest()
    oid = guest.create("orders", {})["id"]
    guest.create("line_items", {"sku_code": "TSHIRT-XL", "quantity": 1}, {"order": ("orders", oid)})
    billing = guest.create("addresses", ADDRESS)
    r = guest.update(
        "orders",
        oid,
        {"_shipping_address_same_as_billing": True},
        {
            "billing_address": ("addresses", billing["id"]),
            "payment_method": ("payment_methods", shop.ids["payment_method"]),
        },
    )
    assert r.status_code == 200, r.text
    guest.create("external_payments", {"payment_source_token": "tok_x"}, {"order": ("orders", oid)})
    assert attrs(shop, oid)["customer_email"] is None
    cid, customer = shop.customer()
    r = customer.update("orders", oid, {"_place": True}, include="customer")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["attributes"]["status"], data["attributes"]["guest"]) == ("placed", False)
    assert data["relationships"]["customer"]["data"]["id"] == cid
    assert customer.get("/api/orders").json()["meta"]["record_count"] == 1


def test_guest_place_with_a_customer_only_trigger_changes_nothing(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    r = guest.update(
        "orders", oid, {"_place": True, "_save_payment_source_to_customer_wallet": True}
    )
    assert_error_shape(r, 401)
    assert state(shop, oid) == ("pending", "unpaid")
    assert shop.calls("authorize") == []


def test_place_refreshes_an_order_without_autorefresh(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    assert guest.update("orders", oid, {"autorefresh": False}).status_code == 200
    [item] = shop.order(oid, include="line_items")["included"]
    r = guest.update("line_items", item["id"], {"quantity": 2})
    assert r.status_code == 200, r.text
    assert attrs(shop, oid)["total_amount_with_taxes_cents"] == 4900
    r = shop.place(guest, oid)
    assert r.status_code == 200, r.text
    a = r.json()["data"]["attributes"]
    assert (a["status"], a["total_amount_with_taxes_cents"]) == ("placed", 9800)
    assert a["place_total_amount_cents"] == 9800
    [auth] = txns(shop, oid, "authorizations")
    assert auth["attributes"]["amount_cents"] == 9800
