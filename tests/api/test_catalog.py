"""Catalog and customers as a storefront sees them: sellable SKUs, market-scoped prices and
stock, customer sign-up, unique e-mails and the customer token's view of itself."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest

from kassa.fake_processor import ProcessorServer
from tests.api.checkout_support import Market, add_market, add_sku, assert_422, body, guest_of
from tests.shop import Shop
from tests.support import Client, Server, token_for


@dataclass
class Catalog:
    shop: Shop
    other: Market
    skus: dict[str, str]


@pytest.fixture(scope="module")
def catalog(server: Server, processor: ProcessorServer) -> Catalog:
    shop = Shop.build(server, processor, account="acct-" + secrets.token_hex(4))
    other = add_market(shop)
    skus = {"TSHIRT-XL": shop.ids["sku"]}
    skus["NO-PRICE"] = add_sku(shop, "NO-PRICE", price=None)
    skus["NO-STOCK"] = add_sku(shop, "NO-STOCK", stock=None)
    skus["DIGITAL"] = add_sku(shop, "DIGITAL", stock=None, do_not_track=True)
    skus["ZERO"] = add_sku(shop, "ZERO", stock=0)
    skus["ELSEWHERE"] = add_sku(
        shop, "ELSEWHERE", price_list=other.price_list, location=other.location
    )
    # Priced here but stocked only in the other market's warehouse.
    skus["SPLIT"] = add_sku(shop, "SPLIT", location=other.location)
    return Catalog(shop, other, skus)


SELLABLE_HERE = {"TSHIRT-XL", "DIGITAL", "ZERO"}


def codes(response_json: dict) -> set[str]:
    return {d["attributes"]["code"] for d in response_json["data"]}


def test_sales_channel_lists_only_sellable_skus(catalog: Catalog) -> None:
    guest = catalog.shop.guest()
    r = guest.get("/api/skus", **{"page[size]": "25"})
    assert r.status_code == 200, r.text
    assert codes(r.json()) == SELLABLE_HERE
    assert r.json()["meta"]["record_count"] == len(SELLABLE_HERE)
    # Filters never widen the scope.
    r = guest.get("/api/skus", **{"filter[q][code_eq]": "ELSEWHERE"})
    assert r.status_code == 200 and r.json()["data"] == []
    # The other market sees its own SKU and nothing of this one's.
    other = guest_of(catalog.shop, catalog.other.code)
    assert codes(other.get("/api/skus").json()) == {"ELSEWHERE"}
    # The integration sees the whole catalog.
    everything = codes(catalog.shop.admin.get("/api/skus", **{"page[size]": "25"}).json())
    assert everything == set(catalog.skus)


@pytest.mark.parametrize("code", ["NO-PRICE", "NO-STOCK", "ELSEWHERE", "SPLIT"])
def test_non_sellable_sku_by_id_is_401(catalog: Catalog, code: str) -> None:
    guest = catalog.shop.guest()
    r = guest.get(f"/api/skus/{catalog.skus[code]}")
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert guest.get(f"/api/skus/{catalog.skus['TSHIRT-XL']}").status_code == 200


def test_customer_token_sees_the_same_catalog(catalog: Catalog) -> None:
    _cid, customer = catalog.shop.customer()
    assert codes(customer.get("/api/skus").json()) == SELLABLE_HERE
    r = customer.get(f"/api/skus/{catalog.skus['ELSEWHERE']}")
    assert r.status_code == 401


def test_prices_and_stock_items_are_scoped_to_the_market(catalog: Catalog) -> None:
    shop = catalog.shop
    guest = shop.guest()
    prices = guest.get("/api/prices", **{"page[size]": "25"}).json()["data"]
    assert {p["attributes"]["sku_code"] for p in prices} == {
        "TSHIRT-XL",
        "NO-STOCK",
        "DIGITAL",
        "ZERO",
        "SPLIT",
    }
    assert all(p["attributes"]["currency_code"] == "EUR" for p in prices)
    other_price = shop.admin.get("/api/prices", **{"filter[q][sku_code_eq]": "ELSEWHERE"}).json()[
        "data"
    ][0]
    assert guest.get(f"/api/prices/{other_price['id']}").status_code == 404

    # Stock items: single reads of the market's own only (lists are not for sales channels).
    assert guest.get("/api/stock_items").status_code == 401
    assert guest.get(f"/api/stock_items/{shop.ids['stock_item']}").status_code == 200
    other_stock = shop.admin.get(
        "/api/stock_items", **{"filter[q][sku_code_eq]": "ELSEWHERE"}
    ).json()["data"][0]
    assert guest.get(f"/api/stock_items/{other_stock['id']}").status_code == 404
    # Including a SKU's prices does not leak another price list either.
    doc = guest.get(f"/api/skus/{catalog.skus['TSHIRT-XL']}", include="prices,stock_items").json()
    assert {i["type"] for i in doc["included"]} == {"prices", "stock_items"}
    other = guest_of(shop, catalog.other.code)
    assert {p["attributes"]["sku_code"] for p in other.get("/api/prices").json()["data"]} == {
        "ELSEWHERE"
    }


def test_sales_channel_cannot_write_the_catalog(catalog: Catalog) -> None:
    guest = catalog.shop.guest()
    r = guest.post("/api/skus", body("skus", {"code": "HACK", "name": "x"}))
    assert r.status_code == 401
    sku = catalog.skus["TSHIRT-XL"]
    r = guest.patch(f"/api/skus/{sku}", body("skus", {"name": "x"}, id_=sku))
    assert r.status_code == 401
    assert guest.get("/api/markets").status_code == 401


# --- customers ------------------------------------------------------------------------------


def test_guest_sign_up_never_returns_the_password(catalog: Catalog) -> None:
    shop = catalog.shop
    guest = shop.guest()
    email = f"Signup-{secrets.token_hex(3)}@Example.com"
    r = guest.post("/api/customers", body("customers", {"email": email, "password": "pw-123456"}))
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["attributes"]["email"] == email.lower()
    assert data["attributes"]["has_password"] is True
    assert data["attributes"]["status"] == "prospect"
    assert "password" not in r.text.replace("has_password", "")
    for client in (shop.admin,):
        again = client.get(f"/api/customers/{data['id']}")
        assert "password" not in again.text.replace("has_password", "")
    # The new customer can log in with that password.
    token = token_for(
        shop.base_url,
        {
            "grant_type": "password",
            "client_id": shop.creds["sales_channel_client_id"],
            "username": email,
            "password": "pw-123456",
            "scope": f"market:code:{shop.market_code}",
        },
    )
    me = Client(shop.base_url, token).get(f"/api/customers/{data['id']}")
    assert me.status_code == 200
    # A guest may sign up but not read customers.
    assert guest.get(f"/api/customers/{data['id']}").status_code == 401
    assert guest.get("/api/customers").status_code == 401


def test_email_is_unique_per_organization_and_mode(catalog: Catalog) -> None:
    shop = catalog.shop
    email = f"dup-{secrets.token_hex(3)}@example.com"
    first = shop.admin.create("customers", {"email": email})
    for sent in (email, email.upper()):
        r = shop.guest().post("/api/customers", body("customers", {"email": sent}))
        err = assert_422(r, "/data/attributes/email", "taken", "has already been taken")
        assert err["detail"] == "email - has already been taken"
        r = shop.admin.post("/api/customers", body("customers", {"email": sent}))
        assert_422(r, "/data/attributes/email", "taken")
    # Renaming another customer onto a taken e-mail fails the same way.
    second = shop.admin.create("customers", {"email": "x" + email})
    r = shop.admin.patch(
        f"/api/customers/{second['id']}", body("customers", {"email": email}, id_=second["id"])
    )
    assert_422(r, "/data/attributes/email", "taken")
    assert shop.admin.get(f"/api/customers/{first['id']}").status_code == 200
    # Live mode of the same organization and another organization are separate spaces.
    live = catalog.shop.server.new_org("live", slug=shop.creds["organization_slug"])
    live_admin = _admin(shop.base_url, live)
    assert live_admin.post("/api/customers", body("customers", {"email": email})).status_code == 201
    other_org = catalog.shop.server.new_org()
    assert _admin(shop.base_url, other_org).create("customers", {"email": email})


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", None])
def test_bad_email_is_422(catalog: Catalog, email: str | None) -> None:
    r = catalog.shop.guest().post("/api/customers", body("customers", {"email": email}))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == "/data/attributes/email"


def test_customer_token_sees_only_itself(catalog: Catalog) -> None:
    shop = catalog.shop
    me, client = shop.customer()
    other = shop.admin.create("customers", {"email": f"other-{secrets.token_hex(3)}@example.com"})
    r = client.get("/api/customers")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [me]
    assert client.get(f"/api/customers/{me}").status_code == 200
    assert client.get(f"/api/customers/{other['id']}").status_code == 404
    r = client.patch(
        f"/api/customers/{other['id']}",
        body("customers", {"metadata": {"x": 1}}, id_=other["id"]),
    )
    assert r.status_code == 404
    r = client.patch(f"/api/customers/{me}", body("customers", {"metadata": {"x": 1}}, id_=me))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"]["metadata"] == {"x": 1}
    assert client.delete(f"/api/customers/{other['id']}").status_code == 404
    # A customer cannot create customers.
    r = client.post("/api/customers", body("customers", {"email": "new@example.com"}))
    assert r.status_code == 401


def _admin(base_url: str, creds: dict) -> Client:
    token = token_for(
        base_url,
        {
            "grant_type": "client_credentials",
            "client_id": creds["integration_client_id"],
            "client_secret": creds["integration_client_secret"],
        },
    )
    return Client(base_url, token)
