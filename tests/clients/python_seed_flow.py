"""The "reusing the payment source" flow driven by the PyPI ``commercelayer`` 3.0.4 client.

Runs in its own virtualenv (``tests/clients/.venv``, built by ``make clients``) because the
package pins httpx<0.24. Client code is stock; the only settings are the base URL, the bearer
token and the JSON:API media type headers. The package has no OAuth helper, so tokens come
from a plain ``POST /oauth/token``.

Environment: the same variables as ``seed_flow.mjs`` (KASSA_BASE_URL, ORG_SLUG,
INTEGRATION_CLIENT_ID, INTEGRATION_CLIENT_SECRET, SALES_CHANNEL_CLIENT_ID, PROCESSOR_URL);
with ``--env-stdin`` they are read as one JSON object line from stdin instead.

Every step prints one line. On the first failure the step, the HTTP request and the response
are printed and the process exits with status 1.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from commercelayer import AuthenticatedClient
from commercelayer.api.addresses import delet_eaddressesaddress_id, pos_taddresses
from commercelayer.api.customers import pos_tcustomers
from commercelayer.api.external_gateways import pos_texternal_gateways
from commercelayer.api.external_payments import ge_texternal_payments, pos_texternal_payments
from commercelayer.api.has_many import (
    ge_torder_idavailable_customer_payment_sources as order_wallet,
)
from commercelayer.api.has_one import ge_texternal_payment_idorder as external_payment_order
from commercelayer.api.inventory_models import pos_tinventory_models
from commercelayer.api.inventory_stock_locations import pos_tinventory_stock_locations
from commercelayer.api.line_items import pos_tline_items
from commercelayer.api.markets import pos_tmarkets
from commercelayer.api.merchants import pos_tmerchants
from commercelayer.api.orders import (
    ge_torders,
    ge_tordersorder_id,
    patc_hordersorder_id,
    pos_torders,
)
from commercelayer.api.payment_methods import pos_tpayment_methods
from commercelayer.api.price_lists import pos_tprice_lists
from commercelayer.api.prices import pos_tprices
from commercelayer.api.shipping_categories import pos_tshipping_categories
from commercelayer.api.skus import pos_tskus
from commercelayer.api.stock_items import pos_tstock_items
from commercelayer.api.stock_locations import pos_tstock_locations
from commercelayer.models.address_create import AddressCreate
from commercelayer.models.customer_create import CustomerCreate
from commercelayer.models.external_gateway_create import ExternalGatewayCreate
from commercelayer.models.external_payment_create import ExternalPaymentCreate
from commercelayer.models.inventory_model_create import InventoryModelCreate
from commercelayer.models.inventory_stock_location_create import InventoryStockLocationCreate
from commercelayer.models.line_item_create import LineItemCreate
from commercelayer.models.market_create import MarketCreate
from commercelayer.models.merchant_create import MerchantCreate
from commercelayer.models.order_create import OrderCreate
from commercelayer.models.order_update import OrderUpdate
from commercelayer.models.payment_method_create import PaymentMethodCreate
from commercelayer.models.price_create import PriceCreate
from commercelayer.models.price_list_create import PriceListCreate
from commercelayer.models.shipping_category_create import ShippingCategoryCreate
from commercelayer.models.sku_create import SkuCreate
from commercelayer.models.stock_item_create import StockItemCreate
from commercelayer.models.stock_location_create import StockLocationCreate
from commercelayer.types import UNSET, Response, Unset

T = TypeVar("T")

REQUIRED_ENV = (
    "KASSA_BASE_URL",
    "ORG_SLUG",
    "INTEGRATION_CLIENT_ID",
    "INTEGRATION_CLIENT_SECRET",
    "SALES_CHANNEL_CLIENT_ID",
    "PROCESSOR_URL",
)
JSONAPI_HEADERS = {
    "Content-Type": "application/vnd.api+json",
    "Accept": "application/vnd.api+json",
}
SECRET_KEYS = ("client_secret", "password", "refresh_token", "shared_secret")
PREVIEW = 4000

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "line_1": "Via Roma 1",
    "city": "Firenze",
    "zip_code": "50123",
    "state_code": "FI",
    "country_code": "IT",
    "phone": "+39 055 000000",
    "email": "ada@example.com",
}


# --- failure reporting -------------------------------------------------------------------


class StepFailure(Exception):
    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


def expect(condition: Any, message: str, details: Any = None) -> None:
    if not condition:
        raise StepFailure(message, details)


exchanges: list[dict[str, Any]] = []
exchange_count = 0
_real_request = httpx.request


def _redact(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: ("<redacted>" if k in SECRET_KEYS else v) for k, v in body.items()}
    return body


def _recording_request(method: str, url: Any, **kwargs: Any) -> httpx.Response:
    """Delegate to httpx unchanged; keep the exchange for failure reports.

    The generated client calls the module-level ``httpx.request``, so this is the one place
    to observe what it sent even when parsing the response raises inside the client.
    """
    headers = dict(kwargs.get("headers") or {})
    if "Authorization" in headers:
        headers["Authorization"] = headers["Authorization"][:24] + "…"
    exchange: dict[str, Any] = {
        "request": f"{method.upper()} {url}",
        "headers": headers,
        "body": _redact(kwargs.get("json")),
    }
    global exchange_count
    exchange_count += 1
    exchanges.append(exchange)
    del exchanges[:-20]
    try:
        response = _real_request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        exchange["response"] = f"<{type(exc).__name__}: {exc}>"
        raise
    exchange["status"] = response.status_code
    exchange["response"] = response.text[:PREVIEW]
    return response


httpx.request = _recording_request  # type: ignore[assignment]

step_no = 0


def step(title: str, fn: Callable[[], tuple[T, str]]) -> T:
    global step_no
    step_no += 1
    label = f"{step_no:02d} {title}"
    before = exchange_count
    try:
        value, note = fn()
    except Exception as exc:
        print(f"FAIL {label}")
        if isinstance(exc, StepFailure):
            print(f"  assertion: {exc}")
            if exc.details is not None:
                print(f"  details: {json.dumps(exc.details, default=str)[:PREVIEW]}")
        else:
            print(f"  {type(exc).__name__}: {exc}")
        if exchange_count == before:
            print("  (this step made no HTTP request)")
        else:
            last = exchanges[-1]
            print(f"  request:  {last['request']}")
            print(f"  request headers: {json.dumps(last['headers'])}")
            if last["body"] is not None:
                print(f"  request body: {json.dumps(last['body'])}")
            print(f"  response: {last.get('status', '<none>')}")
            print(f"  response body: {last.get('response') or '<empty>'}")
        sys.exit(1)
    print(f"ok   {label}" + (f" — {note}" if note else ""))
    return value


# --- helpers around the client ------------------------------------------------------------


def read_env() -> dict[str, str]:
    missing = [k for k in REQUIRED_ENV if not os.environ.get(k)]
    if missing:
        print(f"missing environment variables: {', '.join(missing)}", file=sys.stderr)
        sys.exit(2)
    env = {k: os.environ[k].rstrip("/") for k in REQUIRED_ENV}
    return env


def token(base: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    response = httpx.request(
        "POST", f"{base}/oauth/token", json=body, headers={"Accept": "application/json"}
    )
    expect(response.status_code == 200, f"{what}: token endpoint answered {response.status_code}")
    answer = response.json()
    expect(str(answer.get("token_type", "")).lower() == "bearer", "token_type should be bearer")
    expect(isinstance(answer.get("expires_in"), int) and answer["expires_in"] > 0, "expires_in")
    expect(str(answer.get("access_token", "")).count(".") == 2, "access_token is not a JWT")
    return dict(answer)


def client(base: str, access_token: str) -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=f"{base}/api", token=access_token, headers=JSONAPI_HEADERS, timeout=15.0
    )


def rel(type_: str, id_: str) -> dict[str, Any]:
    return {"data": {"type": type_, "id": id_}}


def typed(response: Response[Any], status: int) -> Any:
    """The parsed ``data`` of a response, which must have the documented status."""
    expect(
        int(response.status_code) == status,
        f"expected HTTP {status}, got {int(response.status_code)}",
    )
    parsed = response.parsed
    expect(parsed is not None, "the client could not parse the response")
    data = parsed.data
    expect(not isinstance(data, Unset) and data.id, "parsed response has no data.id")
    return data


def field(data: Any, name: str) -> Any:
    """An attribute of a parsed resource: a typed field, else an extra one the old schema lacks."""
    attributes = data.attributes
    value = getattr(attributes, name, UNSET)
    if isinstance(value, Unset):
        value = attributes.additional_properties.get(name)
    return value


def create(
    c: AuthenticatedClient,
    api: Any,
    model: Any,
    type_: str,
    attributes: dict[str, Any],
    relationships: dict[str, Any] | None = None,
) -> Any:
    doc = {"data": {"type": type_, "attributes": attributes, "relationships": relationships or {}}}
    data = typed(api.sync_detailed(client=c, json_body=model.from_dict(doc)), 201)
    expect(str(data.type) == type_, f"created resource should have type {type_}", str(data.type))
    return data


def update_order(
    c: AuthenticatedClient,
    order_id: str,
    attributes: dict[str, Any],
    relationships: dict[str, Any] | None = None,
) -> Any:
    doc = {
        "data": {
            "type": "orders",
            "id": order_id,
            "attributes": attributes,
            "relationships": relationships or {},
        }
    }
    body = OrderUpdate.from_dict(doc)
    data = typed(patc_hordersorder_id.sync_detailed(order_id, client=c, json_body=body), 200)
    expect(data.id == order_id, "update returned another order", data.id)
    return data


def register_secret(processor_url: str, shared_secret: str) -> str:
    """Test-harness call: make the reference processor verify callout signatures."""
    parts = urlsplit(processor_url)
    account = parts.path.strip("/")
    expect(account and "/" not in account, "PROCESSOR_URL should be <origin>/<account>")
    url = f"{parts.scheme}://{parts.netloc}/_accounts/{account}"
    response = httpx.request("PUT", url, json={"shared_secret": shared_secret})
    expect(response.status_code == 200, f"processor answered {response.status_code}")
    return account


# --- the flow -----------------------------------------------------------------------------


def main() -> None:
    env = read_env()
    base = env["KASSA_BASE_URL"]
    run = f"{int(time.time()):x}{secrets.token_hex(2)}"
    print(f"# run {run}: commercelayer 3.0.4 against {base}/api")

    integration = step(
        "integration token (client_credentials, plain POST /oauth/token)",
        lambda: (
            t := token(
                base,
                {
                    "grant_type": "client_credentials",
                    "client_id": env["INTEGRATION_CLIENT_ID"],
                    "client_secret": env["INTEGRATION_CLIENT_SECRET"],
                },
                "client_credentials",
            ),
            f"expires_in {t['expires_in']}s",
        ),
    )
    admin = client(base, integration["access_token"])

    price_list = step(
        "price_lists (EUR)",
        lambda: (
            r := create(
                admin,
                pos_tprice_lists,
                PriceListCreate,
                "price_lists",
                {"name": f"EUR {run}", "currency_code": "EUR", "tax_included": True},
            ),
            f"{r.id} {field(r, 'currency_code')}",
        ),
    )
    model = step(
        "inventory_models",
        lambda: (
            r := create(
                admin,
                pos_tinventory_models,
                InventoryModelCreate,
                "inventory_models",
                {"name": f"Inventory {run}"},
            ),
            r.id,
        ),
    )

    def warehouse() -> tuple[Any, str]:
        address = create(
            admin,
            pos_taddresses,
            AddressCreate,
            "addresses",
            {**ADDRESS, "business": True, "company": "Kassa Warehouse"},
        )
        location = create(
            admin,
            pos_tstock_locations,
            StockLocationCreate,
            "stock_locations",
            {"name": f"Warehouse {run}"},
            {"address": rel("addresses", address.id)},
        )
        return location, f"{location.id} (address {address.id})"

    location = step("addresses + stock_locations", warehouse)
    step(
        "inventory_stock_locations",
        lambda: (
            r := create(
                admin,
                pos_tinventory_stock_locations,
                InventoryStockLocationCreate,
                "inventory_stock_locations",
                {"priority": 1},
                {
                    "stock_location": rel("stock_locations", location.id),
                    "inventory_model": rel("inventory_models", model.id),
                },
            ),
            r.id,
        ),
    )

    def merchant() -> tuple[Any, str]:
        address = create(
            admin,
            pos_taddresses,
            AddressCreate,
            "addresses",
            {**ADDRESS, "business": True, "company": "Kassa Merchant"},
        )
        r = create(
            admin,
            pos_tmerchants,
            MerchantCreate,
            "merchants",
            {"name": f"Merchant {run}"},
            {"address": rel("addresses", address.id)},
        )
        return r, r.id

    shop_merchant = step("addresses + merchants", merchant)
    market_code = f"mkt-{run}"
    market = step(
        "markets (code is unknown to the 3.0.4 schema: sent as an extra attribute)",
        lambda: (
            r := create(
                admin,
                pos_tmarkets,
                MarketCreate,
                "markets",
                {"name": f"Market {run}", "code": market_code},
                {
                    "merchant": rel("merchants", shop_merchant.id),
                    "price_list": rel("price_lists", price_list.id),
                    "inventory_model": rel("inventory_models", model.id),
                },
            ),
            f"{r.id} code {field(r, 'code')}",
        ),
    )
    expect(field(market, "code") == market_code, "market code not echoed back")
    category = step(
        "shipping_categories",
        lambda: (
            r := create(
                admin,
                pos_tshipping_categories,
                ShippingCategoryCreate,
                "shipping_categories",
                {"name": f"Digital {run}"},
            ),
            r.id,
        ),
    )
    sku_code = f"PY-{run}".upper()
    sku = step(
        "skus (do_not_ship)",
        lambda: (
            r := create(
                admin,
                pos_tskus,
                SkuCreate,
                "skus",
                {"code": sku_code, "name": f"E-book {run}", "do_not_ship": True},
                {"shipping_category": rel("shipping_categories", category.id)},
            ),
            f"{r.id} {field(r, 'code')}",
        ),
    )
    step(
        "prices (4900; the old schema requires compare_at_amount_cents)",
        lambda: (
            r := create(
                admin,
                pos_tprices,
                PriceCreate,
                "prices",
                {"amount_cents": 4900, "compare_at_amount_cents": 4900},
                {"price_list": rel("price_lists", price_list.id), "sku": rel("skus", sku.id)},
            ),
            f"{r.id} {field(r, 'formatted_amount')}",
        ),
    )
    step(
        "stock_items (qty 100)",
        lambda: (
            r := create(
                admin,
                pos_tstock_items,
                StockItemCreate,
                "stock_items",
                {"quantity": 100},
                {"stock_location": rel("stock_locations", location.id), "sku": rel("skus", sku.id)},
            ),
            r.id,
        ),
    )
    processor = env["PROCESSOR_URL"]
    gateway = step(
        "external_gateways",
        lambda: (
            r := create(
                admin,
                pos_texternal_gateways,
                ExternalGatewayCreate,
                "external_gateways",
                {
                    "name": f"Reference processor {run}",
                    **{
                        f"{action}_url": f"{processor}/{action}"
                        for action in ("authorize", "capture", "void", "refund", "token")
                    },
                },
            ),
            r.id,
        ),
    )
    secret = field(gateway, "shared_secret")
    expect(isinstance(secret, str) and secret, "gateway has no shared_secret")
    step(
        "processor: register the gateway shared_secret (PUT /_accounts/<account>)",
        lambda: (None, register_secret(processor, secret)),
    )
    payment_method = step(
        "payment_methods (external_payments; gateway typed as payment_gateways)",
        lambda: (
            r := create(
                admin,
                pos_tpayment_methods,
                PaymentMethodCreate,
                "payment_methods",
                {
                    "payment_source_type": "external_payments",
                    "currency_code": "EUR",
                    "price_amount_cents": 0,
                },
                {
                    "market": rel("markets", market.id),
                    "payment_gateway": rel("payment_gateways", gateway.id),
                },
            ),
            r.id,
        ),
    )
    email = f"py-{run}@example.com"
    password = f"Pw-{run}-secret"
    customer = step(
        "customers",
        lambda: (
            r := create(
                admin,
                pos_tcustomers,
                CustomerCreate,
                "customers",
                {"email": email, "password": password},
            ),
            f"{r.id} {email}",
        ),
    )

    def customer_token() -> tuple[dict[str, Any], str]:
        answer = token(
            base,
            {
                "grant_type": "password",
                "client_id": env["SALES_CHANNEL_CLIENT_ID"],
                "username": email,
                "password": password,
                "scope": f"market:code:{market_code}",
            },
            "password",
        )
        expect(answer.get("owner_id") == customer.id, "owner_id should be the customer id")
        expect(str(answer.get("owner_type", "")).lower() == "customer", "owner_type")
        return answer, f"owner {answer['owner_id']}, scope {answer.get('scope')}"

    shopper = client(base, step("customer token (password grant)", customer_token)["access_token"])

    def cart(label: str) -> str:
        order = step(
            f"{label}: orders",
            lambda: (
                r := create(shopper, pos_torders, OrderCreate, "orders", {"language_code": "en"}),
                f"{r.id} status {field(r, 'status')}",
            ),
        )
        step(
            f"{label}: line_items (sku_code, qty 1)",
            lambda: (
                r := create(
                    shopper,
                    pos_tline_items,
                    LineItemCreate,
                    "line_items",
                    {"sku_code": sku_code, "quantity": 1},
                    {"order": rel("orders", order.id)},
                ),
                f"{r.id} {field(r, 'formatted_total_amount')}",
            ),
        )

        def billing() -> tuple[None, str]:
            address = create(shopper, pos_taddresses, AddressCreate, "addresses", ADDRESS)
            update_order(
                shopper,
                order.id,
                {"_shipping_address_same_as_billing": True},
                {"billing_address": rel("addresses", address.id)},
            )
            return None, f"address {address.id}"

        step(f"{label}: billing address + _shipping_address_same_as_billing", billing)
        step(
            f"{label}: payment_method",
            lambda: (
                update_order(
                    shopper,
                    order.id,
                    {},
                    {"payment_method": rel("payment_methods", payment_method.id)},
                ),
                payment_method.id,
            ),
        )
        return str(order.id)

    def placed(order_id: str) -> tuple[None, str]:
        r = update_order(shopper, order_id, {"_place": True})
        status = (field(r, "status"), field(r, "payment_status"))
        expect(status == ("placed", "authorized"), "order should be placed/authorized", status)
        return None, f"{status[0]}/{status[1]} number {field(r, 'number')}"

    # -- order 1: pay with a fresh token, place, save to wallet ----------------------------
    order1 = cart("order 1")
    step(
        "order 1: external_payments (tok_abc)",
        lambda: (
            r := create(
                shopper,
                pos_texternal_payments,
                ExternalPaymentCreate,
                "external_payments",
                {"payment_source_token": "tok_abc"},
                {"order": rel("orders", order1)},
            ),
            r.id,
        ),
    )
    step("order 1: _place", lambda: placed(order1))
    step(
        "order 1: _save_payment_source_to_customer_wallet",
        lambda: (
            update_order(shopper, order1, {"_save_payment_source_to_customer_wallet": True}),
            "",
        ),
    )

    def wallet() -> tuple[dict[str, Any], str]:
        # No `include` in this client: the related endpoint lists the wallet instead.
        response = order_wallet.sync_detailed(order1, client=shopper)
        expect(int(response.status_code) == 200, f"HTTP {int(response.status_code)}")
        entries = json.loads(response.content)["data"]
        entry = next(
            (
                e
                for e in entries
                if e["type"] == "customer_payment_sources"
                and e["attributes"].get("customer_token")
                and e["attributes"].get("payment_source_token")
            ),
            None,
        )
        expect(entry, "no wallet entry with customer_token and payment_source_token", entries)
        assert entry is not None
        a = entry["attributes"]
        note = (
            f"{entry['id']} customer_token {a['customer_token']} "
            f"payment_source_token {a['payment_source_token']}"
        )
        return entry, note

    entry = step("order 1: GET /orders/<id>/available_customer_payment_sources", wallet)

    # -- order 2: reuse the wallet entry ---------------------------------------------------
    order2 = cart("order 2")
    step(
        "order 2: _customer_payment_source_id",
        lambda: (update_order(shopper, order2, {"_customer_payment_source_id": entry["id"]}), ""),
    )

    def attached() -> tuple[None, str]:
        # Without `include`, find the order's payment through the external payments list.
        listed = json.loads(ge_texternal_payments.sync_detailed(client=shopper).content)["data"]
        token_ = entry["attributes"]["payment_source_token"]
        for payment in listed:
            if payment["attributes"].get("payment_source_token") != token_:
                continue
            # Related endpoints are untyped in this client (`.parsed` is None): read the body.
            response = external_payment_order.sync_detailed(payment["id"], client=shopper)
            expect(int(response.status_code) == 200, f"HTTP {int(response.status_code)}")
            if json.loads(response.content)["data"]["id"] == order2:
                return None, f"external_payments {payment['id']} carries {token_}"
        raise StepFailure("no external payment of order 2 carries the wallet token", listed)

    step("order 2: the wallet's payment source is attached", attached)
    step("order 2: _place", lambda: placed(order2))
    step(
        "order 2: GET /orders/<id>",
        lambda: (
            r := typed(ge_tordersorder_id.sync_detailed(order2, client=shopper), 200),
            f"{field(r, 'status')}/{field(r, 'payment_status')}",
        ),
    )

    def listed_orders() -> tuple[None, str]:
        response = ge_torders.sync_detailed(client=shopper)
        expect(int(response.status_code) == 200, f"HTTP {int(response.status_code)}")
        parsed = response.parsed
        expect(parsed is not None and not isinstance(parsed.data, Unset), "list did not parse")
        assert parsed is not None
        ids = sorted(str(o.id) for o in parsed.data)
        expect(ids == sorted([order1, order2]), "the customer should see both orders", ids)
        meta = parsed.additional_properties.get("meta") or {}
        expect(meta.get("record_count") == 2, "meta.record_count should be 2", meta)
        return None, f"{len(ids)} orders, meta {meta}"

    step("orders list (typed parse, meta.record_count)", listed_orders)

    def default_headers() -> tuple[None, str]:
        # Why the client is built with JSON:API headers: its defaults are `Accept: */*`
        # (fine) and `Content-Type: application/json` (refused with 415, as on CL).
        plain = AuthenticatedClient(base_url=f"{base}/api", token=shopper.token, timeout=15.0)
        got = ge_tordersorder_id.sync_detailed(order2, client=plain)
        expect(int(got.status_code) == 200, f"GET with Accept */*: HTTP {int(got.status_code)}")
        doc = {"data": {"type": "addresses", "attributes": ADDRESS, "relationships": {}}}
        sent = pos_taddresses.sync_detailed(client=plain, json_body=AddressCreate.from_dict(doc))
        expect(int(sent.status_code) == 415, f"POST as application/json: {int(sent.status_code)}")
        code = json.loads(sent.content)["errors"][0]["code"]
        expect(code == "UNSUPPORTED_MEDIA_TYPE", "error code", code)
        return None, f"GET 200, POST 415 {code}"

    step(
        "default headers: Accept */* is fine, Content-Type application/json is not", default_headers
    )

    def delete_address() -> tuple[None, str]:
        address = create(shopper, pos_taddresses, AddressCreate, "addresses", ADDRESS)
        response = delet_eaddressesaddress_id.sync_detailed(address.id, client=shopper)
        expect(int(response.status_code) == 204, f"HTTP {int(response.status_code)}")
        expect(response.content == b"", "a 204 carries no body", response.content.decode())
        return None, address.id

    step("addresses delete (204, no body)", delete_address)
    print(f"# passed: {step_no} steps")


if __name__ == "__main__":
    if "--env-stdin" in sys.argv:
        # The test suite starts this script ahead of time (importing the package takes a
        # while) and hands over the settings as one JSON line once a server is ready.
        line = sys.stdin.readline()
        if not line.strip():
            sys.exit(2)
        os.environ.update(json.loads(line))
    main()
