"""A complete test shop built through the API: the minimal fixture of the checkout spec."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from kassa.fake_processor import ProcessorServer
from tests.support import Client, Server, token_for

ADDRESS = {
    "first_name": "John",
    "last_name": "Smith",
    "line_1": "Via Roma 1",
    "city": "Milano",
    "zip_code": "20100",
    "state_code": "MI",
    "country_code": "IT",
    "phone": "+39 02 1234567",
}


@dataclass
class Shop:
    server: Server
    processor: ProcessorServer
    account: str
    creds: dict[str, Any]
    admin: Client
    ids: dict[str, str] = field(default_factory=dict)
    market_code: str = ""

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def processor_url(self) -> str:
        return f"{self.processor.url}/{self.account}"

    @classmethod
    def build(
        cls,
        server: Server,
        processor: ProcessorServer,
        account: str,
        mode: str = "test",
        creds: dict[str, Any] | None = None,
    ) -> Shop:
        creds = creds or server.new_org(mode)
        token = token_for(
            server.base_url,
            {
                "grant_type": "client_credentials",
                "client_id": creds["integration_client_id"],
                "client_secret": creds["integration_client_secret"],
            },
        )
        shop = cls(server, processor, account, creds, Client(server.base_url, token))
        shop._catalog()
        return shop

    def market_stack(
        self, code: str, name: str, price_list_id: str, merchant_id: str, address_id: str
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """A market with its own inventory model and warehouse: (market, model, location)."""
        a = self.admin
        model = a.create("inventory_models", {"name": name})
        location = a.create(
            "stock_locations",
            {"name": name, "code": "wh-" + code},
            {"address": ("addresses", address_id)},
        )
        a.create(
            "inventory_stock_locations",
            {"priority": 1},
            {
                "stock_location": ("stock_locations", location["id"]),
                "inventory_model": ("inventory_models", model["id"]),
            },
        )
        market = a.create(
            "markets",
            {"name": name, "code": code},
            {
                "merchant": ("merchants", merchant_id),
                "price_list": ("price_lists", price_list_id),
                "inventory_model": ("inventory_models", model["id"]),
            },
        )
        return market, model, location

    def _catalog(self) -> None:
        a = self.admin
        code = "europe-" + secrets.token_hex(3)
        self.market_code = code
        pl = a.create(
            "price_lists",
            {"name": "EUR", "code": "eur-" + code, "currency_code": "EUR", "tax_included": True},
        )
        address = a.create("addresses", ADDRESS)
        merchant = a.create(
            "merchants", {"name": "Shop srl"}, {"address": ("addresses", address["id"])}
        )
        market, model, location = self.market_stack(
            code, "Europe", pl["id"], merchant["id"], address["id"]
        )
        category = a.create("shipping_categories", {"name": "Default"})
        sku = a.create(
            "skus",
            {
                "code": "TSHIRT-XL",
                "name": "T-Shirt XL",
                "do_not_ship": True,
                "image_url": "https://img.example.com/t.png",
            },
            {"shipping_category": ("shipping_categories", category["id"])},
        )
        a.create(
            "prices",
            {"amount_cents": 4900, "sku_code": "TSHIRT-XL"},
            {"price_list": ("price_lists", pl["id"])},
        )
        stock = a.create(
            "stock_items",
            {"quantity": 100, "sku_code": "TSHIRT-XL"},
            {"stock_location": ("stock_locations", location["id"])},
        )
        gateway = a.create(
            "external_gateways",
            {
                "name": "Reference processor",
                "authorize_url": self.processor_url + "/authorize",
                "capture_url": self.processor_url + "/capture",
                "void_url": self.processor_url + "/void",
                "refund_url": self.processor_url + "/refund",
                "token_url": self.processor_url + "/token",
            },
        )
        httpx.put(
            f"{self.processor.url}/_accounts/{self.account}",
            json={"shared_secret": gateway["attributes"]["shared_secret"]},
        )
        method = a.create(
            "payment_methods",
            {
                "payment_source_type": "external_payments",
                "price_amount_cents": 0,
                "name": "External Payment",
            },
            {
                "market": ("markets", market["id"]),
                "payment_gateway": ("external_gateways", gateway["id"]),
            },
        )
        self.ids.update(
            price_list=pl["id"],
            merchant=merchant["id"],
            inventory_model=model["id"],
            stock_location=location["id"],
            market=market["id"],
            sku=sku["id"],
            stock_item=stock["id"],
            gateway=gateway["id"],
            payment_method=method["id"],
            shipping_category=category["id"],
            market_number=str(market["attributes"]["number"]),
        )

    # --- callers --------------------------------------------------------------------------

    def guest(self) -> Client:
        token = token_for(
            self.base_url,
            {
                "grant_type": "client_credentials",
                "client_id": self.creds["sales_channel_client_id"],
                "scope": f"market:code:{self.market_code}",
            },
        )
        return Client(self.base_url, token)

    def customer(self, email: str | None = None, password: str = "secret-pw") -> tuple[str, Client]:
        email = email or f"john-{secrets.token_hex(3)}@example.com"
        customer = self.admin.create("customers", {"email": email, "password": password})
        token = token_for(
            self.base_url,
            {
                "grant_type": "password",
                "client_id": self.creds["sales_channel_client_id"],
                "username": email,
                "password": password,
                "scope": f"market:code:{self.market_code}",
            },
        )
        return customer["id"], Client(self.base_url, token)

    # --- processor ------------------------------------------------------------------------

    def behave(self, action: str, **behaviour: Any) -> None:
        r = httpx.put(
            f"{self.processor.url}/_accounts/{self.account}/behaviour/{action}", json=behaviour
        )
        assert r.status_code == 200, r.text

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.processor.url}/_accounts/{self.account}/calls")
        calls = r.json()["calls"]
        return [c for c in calls if action is None or c["action"] == action]

    # --- checkout -------------------------------------------------------------------------

    def cart(
        self, client: Client, quantity: int = 1, pay: bool = True, token: str = "tok_abc"
    ) -> str:
        """A pending order with a line item, addresses, payment method and source."""
        order = client.create("orders", {})
        oid = order["id"]
        client.create(
            "line_items",
            {"sku_code": "TSHIRT-XL", "quantity": quantity},
            {"order": ("orders", oid)},
        )
        billing = client.create("addresses", ADDRESS)
        r = client.update(
            "orders",
            oid,
            {"_shipping_address_same_as_billing": True},
            {"billing_address": ("addresses", billing["id"])},
        )
        assert r.status_code == 200, r.text
        if client.token and "owner" not in _claims(client.token):
            r = client.update("orders", oid, {"customer_email": "guest@example.com"})
            assert r.status_code == 200, r.text
        r = client.update(
            "orders", oid, {}, {"payment_method": ("payment_methods", self.ids["payment_method"])}
        )
        assert r.status_code == 200, r.text
        if pay:
            client.create(
                "external_payments", {"payment_source_token": token}, {"order": ("orders", oid)}
            )
        return oid

    def order(self, oid: str, client: Client | None = None, **params: Any) -> dict[str, Any]:
        r = (client or self.admin).get(f"/api/orders/{oid}", **params)
        assert r.status_code == 200, r.text
        return r.json()

    def place(self, client: Client, oid: str) -> httpx.Response:
        return client.update("orders", oid, {"_place": True})


def _claims(token: str) -> dict[str, Any]:
    from tests.support import decode_jwt

    return decode_jwt(token)
