"""The official Commerce Layer CLI drives a live ``kassa serve``, unchanged.

``@commercelayer/cli`` 6.9.7 with the resources 6.18.5, orders 5.6.5, checkout 5.0.20,
token 8.1.4 and webhooks 4.3.5 plugins (``package.json``; ``make clients`` installs them).
Only the network path differs from a real shop: ``cli_route.mjs`` sends the CLI's
``https://*.kassa.localhost`` requests to the test server over plain HTTP. Each test checks
what the user sees (the CLI's output) and what Kassa then holds (read back through the API).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kassa.fake_processor import ProcessorServer
from tests.clients.official_cli import OfficialCli
from tests.shop import ADDRESS, Shop
from tests.support import Client, Server, free_port

pytestmark = pytest.mark.clients

PASSWORD = "cli-secret-pw"


@dataclass
class CliShop:
    shop: Shop
    admin: OfficialCli  # integration application
    guest: OfficialCli  # sales channel application, market scope
    customer: OfficialCli  # sales channel application with a customer's email and password
    customer_id: str
    customer_email: str
    logins: dict[str, str]  # alias -> what `applications:login` printed

    @property
    def slug(self) -> str:
        return str(self.shop.creds["organization_slug"])


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One SQLite server, not one per backend: the CLI checks the wire format, which does not
    depend on storage (filters, sorts and values have API tests on both backends), and every
    CLI command costs about half a second of Node start-up. Settings as in tests/conftest.py."""
    data_dir: Path = tmp_path_factory.mktemp("kassa-cli")
    url = f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    srv = Server("sqlite", url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(data_dir),
        "KASSA_CALLOUT_TIMEOUT": "1.5",
        "KASSA_DOMAIN": "kassa.localhost",
    }
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def cli(
    cli_server: Server, processor: ProcessorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CliShop]:
    server = cli_server
    shop = Shop.build(server, processor, account="acct-cli-" + secrets.token_hex(4))
    email = f"ada-{secrets.token_hex(3)}@example.com"
    customer_id, _ = shop.customer(email, PASSWORD)
    domain = server.env["KASSA_DOMAIN"]

    def home(alias: str) -> OfficialCli:
        path: Path = tmp_path_factory.mktemp(f"cl-{alias}")
        return OfficialCli(path, server.base_url, domain)

    admin, guest, customer = home("admin"), home("guest"), home("customer")
    slug, creds = shop.creds["organization_slug"], shop.creds
    scope = f"market:code:{shop.market_code}"
    # Three separate homes, so the three logins can run side by side.
    with ThreadPoolExecutor(3) as pool:
        runs = {
            "admin": pool.submit(
                admin.login,
                *(slug, creds["integration_client_id"], "admin"),
                *("-s", creds["integration_client_secret"]),
            ),
            "guest": pool.submit(
                guest.login, slug, creds["sales_channel_client_id"], "guest", "-S", scope
            ),
            "ada": pool.submit(
                customer.login,
                *(slug, creds["sales_channel_client_id"], "ada", "-S", scope),
                *("-e", email, "-p", PASSWORD),
            ),
        }
        logins = {alias: run.result().out for alias, run in runs.items()}
    yield CliShop(shop, admin, guest, customer, customer_id, email, logins)


def _records(out: str) -> tuple[int, int, int, int]:
    """The CLI's list footer: (records shown, of total, page, of pages)."""
    found = re.search(r"Records: (\d+) of (\d+) \| Page: (\d+) of (\d+)", out)
    assert found, out
    shown, total, page, pages = (int(g) for g in found.groups())
    return shown, total, page, pages


def test_cli_logs_in_with_integration_sales_channel_and_customer_credentials(
    cli: CliShop,
) -> None:
    org = cli.slug.title()
    assert "Login successful!" in cli.logins["admin"]
    assert f"[ {org} | integration | test | admin ]" in cli.logins["admin"]
    assert "Login successful!" in cli.logins["guest"]
    assert f"[ {org} | sales_channel | test | guest ]" in cli.logins["guest"]
    assert f"(Scope: market:code:{cli.shop.market_code})" in cli.logins["guest"]
    assert f"[ {org} | sales_channel | test | ada ]" in cli.logins["ada"]
    # The customer's login reads her own record; the guest's cannot.
    mine = cli.customer("resources:retrieve", "customers", cli.customer_id, "-j", "-u")
    assert mine.json()["email"] == cli.customer_email
    denied = cli.guest("resources:retrieve", "customers", cli.customer_id, ok=False)
    assert denied.returncode != 0 and cli.customer_email not in denied.out, denied.out
    # Every request went to the Kassa server (the trace names its loopback URL).
    requests = cli.admin.requests()
    assert requests and all(cli.shop.base_url in line for line in requests), requests
    assert any(
        line.startswith("POST https://auth.kassa.localhost/oauth/token") for line in requests
    )
    # A wrong secret: the CLI says the login failed and exits non-zero.
    wrong = cli.admin.login(
        cli.slug, cli.shop.creds["integration_client_id"], "bad", "-s", "not-the-secret", ok=False
    )
    assert wrong.returncode != 0
    assert "Login failed!" in wrong.out


def test_cli_lists_with_filters_includes_fields_sort_and_pages(cli: CliShop) -> None:
    admin, prefix = cli.shop.admin, "CLI-" + secrets.token_hex(2).upper()
    for n, cents in ((1, 1000), (2, 2000), (3, 3000)):
        admin.create(
            "skus",
            {"code": f"{prefix}-{n}", "name": f"Mug {n}"},
            {"shipping_category": ("shipping_categories", cli.shop.ids["shipping_category"])},
        )
        admin.create(
            "prices",
            {"amount_cents": cents, "sku_code": f"{prefix}-{n}"},
            {"price_list": ("price_lists", cli.shop.ids["price_list"])},
        )
        admin.create(
            "stock_items",
            {"quantity": 5, "sku_code": f"{prefix}-{n}"},
            {"stock_location": ("stock_locations", cli.shop.ids["stock_location"])},
        )
    # Filter, descending sort, two per page, second page, two fields.
    page2 = cli.admin(
        "resources:list", "skus", "-w", f"code_start={prefix}", "-s", "code,desc",
        "-n", "2", "-p", "2", "-f", "code,name", "-j", "-u",
    )  # fmt: skip
    assert page2.json() == [
        {"id": page2.json()[0]["id"], "type": "skus", "code": f"{prefix}-1", "name": "Mug 1"}
    ]
    assert _records(page2.out) == (1, 3, 2, 2)
    # Two filters, an include and sparse fields on both types.
    both = cli.admin(
        "resources:list", "skus", "-w", f"code_in={prefix}-2,{prefix}-3", "-w", "name_cont=Mug",
        "-i", "prices", "-f", "skus/code,prices", "-f", "prices/amount_cents", "-s", "code",
        "-j", "-u",
    )  # fmt: skip
    rows = [(s["code"], [p["amount_cents"] for p in s["prices"]]) for s in both.json()]
    assert rows == [(f"{prefix}-2", [2000]), (f"{prefix}-3", [3000])]
    assert set(both.json()[0]) == {"id", "type", "code", "prices"}
    # The table form a user reads by default, and a filter that matches nothing.
    table = cli.admin("resources:list", "skus", "-w", f"code_eq={prefix}-3", "-f", "code")
    assert f"code: '{prefix}-3'" in table.out and _records(table.out) == (1, 1, 1, 1)
    none = cli.admin("resources:list", "skus", "-w", "code_eq=NO-SUCH-SKU")
    assert "No records found" in none.out
    # The sales channel sees what its market sells (price and stock), with its prices.
    seen = cli.guest("resources:list", "skus", "-w", f"code_eq={prefix}-1", "-i", "prices",
                     "-j", "-u")  # fmt: skip
    assert [p["amount_cents"] for p in seen.json()[0]["prices"]] == [1000]


def test_cli_creates_updates_and_deletes_with_string_attributes(cli: CliShop) -> None:
    company = "ACME " + secrets.token_hex(3)
    # -a always sends strings: "true" for booleans, "43.77" for floats.
    created = cli.admin(
        "resources:create", "addresses", "-a", "first_name=Ada", "last_name=Lovelace",
        f"company={company}", "line_1=Via Po 2", "city=Torino", "zip_code=10100",
        "state_code=TO", "country_code=IT", "phone=+39 011 1234567", "business=true",
        "-j", "-u",
    )  # fmt: skip
    address = created.json()
    assert f"Successfully created new resource of type addresses with id {address['id']}" in (
        created.out
    )
    assert address["business"] is True and address["company"] == company
    updated = cli.admin(
        "resources:update", "addresses", address["id"], "-a", "lat=43.77", "lng=11.25",
        "-f", "lat,lng,city", "-j", "-u",
    )  # fmt: skip
    assert updated.json() == {
        "id": address["id"], "type": "addresses", "lat": 43.77, "lng": 11.25, "city": "Torino",
    }  # fmt: skip
    stored = cli.shop.admin.get(f"/api/addresses/{address['id']}").json()["data"]["attributes"]
    assert (stored["business"], stored["lat"], stored["lng"]) == (True, 43.77, 11.25)
    sku = cli.admin(
        "resources:create", "skus", "-a", f"code=CLI-NS-{secrets.token_hex(2)}", "name=Gift",
        "do_not_ship=true", "-r",
        f"shipping_category=shipping_categories/{cli.shop.ids['shipping_category']}",
        "-j", "-u",
    ).json()  # fmt: skip
    assert sku["do_not_ship"] is True and sku["shipping_category"]["name"] == "Default"
    # Validation errors come back readable, naming the field.
    invalid = cli.admin("resources:create", "addresses", "-a", "first_name=X", "business=yes",
                        ok=False)  # fmt: skip
    assert invalid.returncode != 0, invalid.out
    assert '"yes" is not a valid boolean for business.' in invalid.out
    deleted = cli.admin("resources:delete", "addresses", address["id"])
    assert f"Successfully deleted resource of type addresses with id {address['id']}" in (
        deleted.out
    )
    assert cli.shop.admin.get(f"/api/addresses/{address['id']}").status_code == 404
    gone = cli.admin("resources:retrieve", "addresses", address["id"], ok=False)
    assert gone.returncode != 0 and "RECORD_NOT_FOUND" in gone.out


def test_cli_customer_places_an_order_and_integration_captures_it(cli: CliShop) -> None:
    c = cli.customer
    order = c("resources:create", "orders", "-a", "language_code=en", "-j", "-u").json()
    oid = order["id"]
    assert order["customer_email"] == cli.customer_email and order["status"] == "draft"
    c("resources:create", "line_items", "-a", "sku_code=TSHIRT-XL", "quantity=2",
      "-r", f"order=orders/{oid}")  # fmt: skip
    address = c("resources:create", "addresses", "-a",
                *(f"{k}={v}" for k, v in ADDRESS.items()), "-j", "-u").json()  # fmt: skip
    methods = c("resources:retrieve", "orders", oid, "-i", "available_payment_methods",
                "-f", "orders/number,available_payment_methods", "-j", "-u").json()  # fmt: skip
    method_id = methods["available_payment_methods"][0]["id"]
    assert method_id == cli.shop.ids["payment_method"]
    c("resources:update", "orders", oid, "-r", f"billing_address=addresses/{address['id']}",
      "-r", f"payment_method=payment_methods/{method_id}")  # fmt: skip
    c("resources:create", "external_payments", "-a", "payment_source_token=tok_abc",
      "-r", f"order=orders/{oid}")  # fmt: skip
    placed = c("orders:place", oid, "-p", "-j", "-u")
    assert f"Action place executed without errors on order {oid}" in placed.out
    assert (placed.json()["status"], placed.json()["payment_status"]) == ("placed", "authorized")
    # The integration application approves and captures it with the orders plugin.
    approved = cli.admin("orders:approve", oid, "-p", "-j", "-u")
    assert approved.json()["status"] == "approved"
    captured = cli.admin("orders:capture", oid, "-p", "-j", "-u")
    assert captured.json()["payment_status"] == "paid"
    stored = cli.shop.order(oid)["data"]["attributes"]
    assert (stored["status"], stored["payment_status"], stored["total_amount_cents"]) == (
        "approved",
        "paid",
        9800,
    )
    authorize = cli.shop.calls("authorize")
    assert [call["json"]["data"]["attributes"]["payment_source_token"] for call in authorize] == [
        "tok_abc"
    ]
    assert len(cli.shop.calls("capture")) == 1
    # Another customer's order is not the customer's to place.
    other = cli.shop.cart(cli.shop.customer()[1])
    refused = c("orders:place", other, ok=False)
    assert refused.returncode != 0
    assert f"Invalid order or order not found: {other}" in refused.out


def test_cli_checkout_creates_an_order_for_the_sales_channel(cli: CliShop) -> None:
    done = cli.guest("checkout", "-S", "TSHIRT-XL:3", "-e", "bob@example.com")
    created = re.search(r"Created order (\w+)", done.out)
    assert created, done.out
    oid = created.group(1)
    assert "Created line item" in done.out and "for SKU TSHIRT-XL" in done.out
    url = rf"https://{cli.slug}\.kassa\.localhost/checkout/{oid}\?accessToken=\S+"
    assert re.search(url, done.out), done.out
    stored = cli.shop.order(oid, include="line_items")
    assert stored["data"]["attributes"]["customer_email"] == "bob@example.com"
    items = [i["attributes"] for i in stored["included"] if i["type"] == "line_items"]
    assert [(i["sku_code"], i["quantity"]) for i in items] == [("TSHIRT-XL", 3)]
    # An SKU the market does not sell is refused before any order is created.
    missing = cli.guest("checkout", "-S", "NO-SUCH-SKU", ok=False)
    assert missing.returncode != 0 and "Inexistent SKU: NO-SUCH-SKU" in missing.out


def test_cli_token_get_decode_and_revoke(cli: CliShop) -> None:
    creds = cli.shop.creds
    got = cli.admin(
        "token:get", "-o", cli.slug, "-d", "kassa.localhost", "-i", creds["integration_client_id"],
        "-s", creds["integration_client_secret"], "--info",
    )  # fmt: skip
    assert f"Access token for integration application of organization {cli.slug}" in got.out
    found = re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", got.out)
    assert found, got.out
    token = found.group(0)
    assert "kind: 'integration'" in got.out and "This access token will expire at" in got.out
    decoded = cli.admin("token:decode", token)
    assert f"slug: '{cli.slug}'" in decoded.out
    assert "iss: 'https://auth.kassa.localhost'" in decoded.out
    api = Client(cli.shop.base_url, token)
    assert api.get("/api/skus").status_code == 200
    revoked = cli.admin(
        "token:revoke", token, "-o", cli.slug, "-d", "kassa.localhost",
        "-i", creds["integration_client_id"], "-s", creds["integration_client_secret"],
    )  # fmt: skip
    assert "The access token has been successfully revoked" in revoked.out
    assert api.get("/api/skus").status_code == 401
    # The CLI's own saved token still works: revoking one token leaves the others alone.
    assert cli.admin("resources:count", "skus").returncode == 0


def test_cli_manages_webhooks(cli: CliShop) -> None:
    hook_url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens; no event fires here
    name = "CLI hook " + secrets.token_hex(3)
    created = cli.admin(
        "webhooks:create", "-t", "orders.place", "-u", hook_url, "-n", name, "-i", "line_items"
    )
    found = re.search(r"Successfully created new webhook with topic orders.place and id (\w+)",
                      created.out)  # fmt: skip
    assert found, created.out
    wid = found.group(1)

    def stored() -> dict[str, Any]:
        response = cli.shop.admin.get(f"/api/webhooks/{wid}")
        assert response.status_code == 200, response.text
        attributes: dict[str, Any] = response.json()["data"]["attributes"]
        return attributes

    assert (stored()["name"], stored()["callback_url"]) == (name, hook_url)
    assert stored()["include_resources"] == ["line_items"]
    listed = cli.admin("webhooks:list", "-t", "orders.place")
    assert wid in listed.out and "orders.place" in listed.out
    details = cli.admin("webhooks:details", wid)
    assert hook_url in details.out and stored()["shared_secret"] in details.out
    other_url = f"http://127.0.0.1:{free_port()}/other"
    cli.admin("webhooks:update", wid, "-u", other_url)
    assert stored()["callback_url"] == other_url
    cli.admin("webhooks:disable", wid)
    assert stored()["disabled_at"] is not None
    enabled = cli.admin("webhooks:enable", wid)
    assert f"Successfully enabled webhook with id {wid}" in enabled.out
    assert stored()["disabled_at"] is None
    destroyed = cli.admin("webhooks:destroy", wid)
    assert f"Successfully destroyed webhook with id {wid}" in destroyed.out
    assert cli.shop.admin.get(f"/api/webhooks/{wid}").status_code == 404
