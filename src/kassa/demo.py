"""``kassa demo``: the wallet story ("reusing the payment source") against a running server.

It reads the credentials ``kassa init`` saved, starts the reference payment processor in this
process for the gateway URLs, builds a small shop through the API, then buys twice as one
customer: the first order pays with a one-off token and saves it to the wallet, the second
reuses the wallet entry. Every request and the interesting part of every answer is printed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from kassa.bootstrap import credentials_file
from kassa.fake_processor import ProcessorServer

JSONAPI = "application/vnd.api+json"
EUR_49 = 4900
STEPS = 10  # the numbered steps of the story (Demo.step), shown as [n/10]


class DemoError(Exception):
    """A step did not get the answer it needed; the message says what came back."""


def _rel(type_: str, id_: str) -> dict[str, Any]:
    return {"data": {"type": type_, "id": id_}}


def _body(
    type_: str,
    attributes: dict[str, Any],
    relationships: dict[str, Any] | None = None,
    id_: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if id_ is not None:
        data["id"] = id_
    if relationships:
        data["relationships"] = relationships
    return {"data": data}


def _errors(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text[:300] or "<empty body>"
    details = [str(e.get("detail") or e.get("title") or e) for e in errors if isinstance(e, dict)]
    return "; ".join(details) or response.text[:300]


class Demo:
    """Sends the requests and narrates them."""

    def __init__(self, http: httpx.AsyncClient, credentials: dict[str, Any]) -> None:
        self.http = http
        self.creds = credentials
        self.token = ""
        self.step_no = 0
        self.run = secrets.token_hex(3)

    # --- narration ------------------------------------------------------------------------

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A numbered step, ``[ 3/10] title``; flushed, so a pipe shows the progress too."""
        self.step_no += 1
        print(f"\n[{self.step_no:>2}/{STEPS}] {title}", flush=True)
        yield

    @staticmethod
    def say(line: str) -> None:
        print(f"    {line}", flush=True)

    # --- HTTP -----------------------------------------------------------------------------

    async def oauth(self, body: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in body.items() if k not in ("client_secret", "password")}
        self.say(f"-> POST /oauth/token {json.dumps(shown)}")
        response = await self.http.post("/oauth/token", json=body)
        if response.status_code != 200:
            raise DemoError(
                f"POST /oauth/token answered {response.status_code}: {_errors(response)}"
            )
        answer: dict[str, Any] = response.json()
        self.say(
            f"<- 200 {answer['token_type']} token, expires in {answer['expires_in']} s"
            + (f", owner {answer['owner_id']}" if answer.get("owner_id") else "")
        )
        return answer

    async def api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        include: str | None = None,
        expect: int = 200,
        show: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Send one JSON:API request; print it and the fields in ``show`` of the answer."""
        url = path + (f"?include={include}" if include else "")
        triggers = {
            k: v
            for k, v in ((body or {}).get("data", {}).get("attributes") or {}).items()
            if k.startswith("_")
        }
        linked = ", ".join((body or {}).get("data", {}).get("relationships") or {})
        self.say(
            f"-> {method} {url}"
            + (f" {json.dumps(triggers)}" if triggers else "")
            + (f" (linking {linked})" if linked and method == "PATCH" else "")
        )
        response = await self.http.request(
            method,
            url,
            content=json.dumps(body) if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": JSONAPI,
                "Content-Type": JSONAPI,
            },
        )
        if response.status_code != expect:
            raise DemoError(f"{method} {url} answered {response.status_code}: {_errors(response)}")
        doc: dict[str, Any] = response.json()
        data = doc.get("data") or {}
        attributes = data.get("attributes") or {}
        fields = ", ".join(f"{k} {attributes.get(k)}" for k in show)
        self.say(
            f"<- {response.status_code} {data.get('type')} {data.get('id')}"
            + (f": {fields}" if fields else "")
        )
        return doc

    async def create(
        self,
        type_: str,
        attributes: dict[str, Any],
        relationships: dict[str, Any] | None = None,
        show: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        doc = await self.api(
            "POST", f"/api/{type_}", _body(type_, attributes, relationships), expect=201, show=show
        )
        data: dict[str, Any] = doc["data"]
        return data

    async def update_order(
        self,
        order_id: str,
        attributes: dict[str, Any],
        relationships: dict[str, Any] | None = None,
        include: str | None = None,
        show: tuple[str, ...] = ("status", "payment_status"),
    ) -> dict[str, Any]:
        body = _body("orders", attributes, relationships, id_=order_id)
        return await self.api("PATCH", f"/api/orders/{order_id}", body, include=include, show=show)

    # --- the story ------------------------------------------------------------------------

    async def shop(self, gateway_url: str) -> dict[str, str]:
        """A market selling one e-book through an external gateway; returns the ids."""
        run = self.run
        address = {
            "business": True,
            "company": "Demo Shop srl",
            "line_1": "Via Roma 1",
            "city": "Milano",
            "zip_code": "20100",
            "state_code": "MI",
            "country_code": "IT",
            "phone": "+39 02 1234567",
        }
        with self.step("Integration token (the admin side of the shop)"):
            answer = await self.oauth(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.creds["integration_client_id"],
                    "client_secret": self.creds["integration_client_secret"],
                }
            )
            self.token = answer["access_token"]
        with self.step("Catalogue: price list, warehouse, market, SKU, price and stock"):
            price_list = await self.create(
                "price_lists",
                {"name": f"EUR {run}", "currency_code": "EUR", "tax_included": True},
                show=("currency_code",),
            )
            place = await self.create("addresses", address)
            model = await self.create("inventory_models", {"name": f"Inventory {run}"})
            warehouse = await self.create(
                "stock_locations",
                {"name": f"Warehouse {run}"},
                {"address": _rel("addresses", place["id"])},
            )
            await self.create(
                "inventory_stock_locations",
                {"priority": 1},
                {
                    "stock_location": _rel("stock_locations", warehouse["id"]),
                    "inventory_model": _rel("inventory_models", model["id"]),
                },
            )
            merchant = await self.create(
                "merchants", {"name": "Demo Shop"}, {"address": _rel("addresses", place["id"])}
            )
            market = await self.create(
                "markets",
                {"name": f"Demo market {run}", "code": f"demo-{run}"},
                {
                    "merchant": _rel("merchants", merchant["id"]),
                    "price_list": _rel("price_lists", price_list["id"]),
                    "inventory_model": _rel("inventory_models", model["id"]),
                },
                show=("code",),
            )
            category = await self.create("shipping_categories", {"name": f"Digital {run}"})
            sku = await self.create(
                "skus",
                {"code": f"EBOOK-{run}".upper(), "name": "Kassa e-book", "do_not_ship": True},
                {"shipping_category": _rel("shipping_categories", category["id"])},
                show=("code",),
            )
            await self.create(
                "prices",
                {"amount_cents": EUR_49},
                {
                    "price_list": _rel("price_lists", price_list["id"]),
                    "sku": _rel("skus", sku["id"]),
                },
                show=("formatted_amount",),
            )
            await self.create(
                "stock_items",
                {"quantity": 100},
                {
                    "stock_location": _rel("stock_locations", warehouse["id"]),
                    "sku": _rel("skus", sku["id"]),
                },
                show=("quantity",),
            )
        with self.step("External gateway pointing at the reference processor"):
            gateway = await self.create(
                "external_gateways",
                {
                    "name": "Reference processor",
                    **{
                        f"{action}_url": f"{gateway_url}/{action}"
                        for action in ("authorize", "capture", "void", "refund", "token")
                    },
                },
                show=("token_url",),
            )
            method = await self.create(
                "payment_methods",
                {
                    "name": "Card (reference processor)",
                    "payment_source_type": "external_payments",
                    "price_amount_cents": 0,
                },
                {
                    "market": _rel("markets", market["id"]),
                    "payment_gateway": _rel("external_gateways", gateway["id"]),
                },
                show=("payment_source_type",),
            )
        return {
            "market_code": market["attributes"]["code"],
            "sku_code": sku["attributes"]["code"],
            "payment_method": method["id"],
            "shared_secret": gateway["attributes"]["shared_secret"],
        }

    async def login(self, market_code: str) -> str:
        email = f"ada-{self.run}@example.com"
        password = secrets.token_urlsafe(12)
        with self.step(f"A customer, {email}, logs in to the storefront"):
            customer = await self.create("customers", {"email": email, "password": password})
            answer = await self.oauth(
                {
                    "grant_type": "password",
                    "client_id": self.creds["sales_channel_client_id"],
                    "username": email,
                    "password": password,
                    "scope": f"market:code:{market_code}",
                }
            )
            self.token = answer["access_token"]
        return str(customer["id"])

    async def cart(self, title: str, ids: dict[str, str]) -> str:
        with self.step(title):
            order = await self.create("orders", {"language_code": "en"}, show=("status",))
            oid = str(order["id"])
            await self.create(
                "line_items",
                {"sku_code": ids["sku_code"], "quantity": 1},
                {"order": _rel("orders", oid)},
                show=("formatted_total_amount",),
            )
            billing = await self.create(
                "addresses",
                {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "line_1": "Via Roma 2",
                    "city": "Milano",
                    "zip_code": "20100",
                    "state_code": "MI",
                    "country_code": "IT",
                    "phone": "+39 02 7654321",
                },
            )
            await self.update_order(
                oid,
                {"_shipping_address_same_as_billing": True},
                {
                    "billing_address": _rel("addresses", billing["id"]),
                    "payment_method": _rel("payment_methods", ids["payment_method"]),
                },
                show=("status", "formatted_total_amount_with_taxes"),
            )
        return oid

    async def story(self, processor: ProcessorServer, account: str) -> dict[str, Any]:
        """Shop, customer, two orders; returns the wallet entry order 2 paid with."""
        ids = await self.shop(f"{processor.url}/{account}")
        self.say("   (the reference processor now verifies every callout with the gateway's")
        self.say("    shared_secret, as a real gateway would)")
        await asyncio.to_thread(
            httpx.put,
            f"{processor.url}/_accounts/{account}",
            json={"shared_secret": ids["shared_secret"]},
            timeout=5,
        )
        await self.login(ids["market_code"])

        first = await self.cart(
            "Order 1: a cart with the e-book, a billing address and payment method", ids
        )
        with self.step("Order 1: pay with a one-off token from the payment form, then place"):
            await self.create(
                "external_payments",
                {"payment_source_token": "tok_demo_card"},
                {"order": _rel("orders", first)},
                show=("payment_source_token",),
            )
            placed = await self.update_order(
                first, {"_place": True}, show=("status", "payment_status", "number")
            )
            _expect_placed(placed)

        with self.step("Seed step 1: save the payment source into the customer wallet"):
            saved = await self.update_order(
                first,
                {"_save_payment_source_to_customer_wallet": True},
                include="available_customer_payment_sources",
                show=(),
            )
            entries = [
                i for i in saved.get("included", []) if i["type"] == "customer_payment_sources"
            ]
            if not entries:
                raise DemoError("the wallet is empty after _save_payment_source_to_customer_wallet")
            entry = entries[-1]
            attrs = entry["attributes"]
            self.say(f"   wallet entry {entry['id']} ({attrs.get('name')}):")
            self.say(f"     customer_token       {attrs['customer_token']}")
            self.say(f"     payment_source_token {attrs['payment_source_token']}")
            self.say("   (Kassa fetched both from the gateway's token_url.)")

        second = await self.cart("Order 2: the same customer comes back for another copy", ids)
        with self.step("Seed step 2: reuse the wallet entry with _customer_payment_source_id"):
            reused = await self.update_order(
                second,
                {"_customer_payment_source_id": entry["id"]},
                include="payment_source",
                show=(),
            )
            source = next(iter(reused.get("included", [])), None)
            if source is None:
                raise DemoError("order 2 has no payment source after _customer_payment_source_id")
            self.say(
                f"   payment source {source['type']} {source['id']}, payment_source_token "
                f"{source['attributes'].get('payment_source_token')}"
            )
        with self.step("Order 2: place it, paying with the saved source"):
            placed = await self.update_order(
                second, {"_place": True}, show=("status", "payment_status", "number")
            )
            _expect_placed(placed)
        return entry


def _expect_placed(doc: dict[str, Any]) -> None:
    attributes = doc["data"]["attributes"]
    if (attributes.get("status"), attributes.get("payment_status")) != ("placed", "authorized"):
        raise DemoError(
            f"expected placed/authorized, got {attributes.get('status')}/"
            f"{attributes.get('payment_status')}"
        )


def _load_credentials(path: Path) -> dict[str, Any] | None:
    try:
        creds: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    needed = (
        "organization_slug",
        "integration_client_id",
        "integration_client_secret",
        "sales_channel_client_id",
    )
    if not isinstance(creds, dict) or not all(creds.get(k) for k in needed):
        return None
    return dict(creds)


def _ledger(processor: ProcessorServer, account: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{processor.url}/_accounts/{account}/calls", timeout=5)
    calls: list[dict[str, Any]] = response.json()["calls"]
    return calls


def _describe_call(call: dict[str, Any]) -> str:
    sent = ((call.get("json") or {}).get("data") or {}).get("attributes") or {}
    answer = (call.get("response") or {}).get("data") or {}
    signed = "signature ok" if call.get("signature_valid") else "signature NOT verified"
    if call["action"] == "token":
        return (
            f"token     -> customer_token {answer.get('customer_token')}, "
            f"payment_source_token {answer.get('payment_source_token')} ({signed})"
        )
    return (
        f"{call['action']:<9} payment_source_token {sent.get('payment_source_token')} -> "
        f"HTTP {call.get('status')} {answer.get('transaction_token')} ({signed})"
    )


async def run_demo(base_url: str) -> int:
    """Run the story against ``base_url``; 0 when the wallet worked end to end."""
    base_url = base_url.rstrip("/")
    path = credentials_file()
    creds = _load_credentials(path)
    if creds is None:
        print(f"No usable credentials at {path}: run `kassa init` (or `make serve`) first.")
        return 1
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        try:
            await http.get("/health")
        except httpx.HTTPError as exc:
            print(f"Kassa is not reachable at {base_url} ({exc}). Start it with `make serve`.")
            return 1
        account = "demo-" + secrets.token_hex(4)
        started = time.monotonic()
        with ProcessorServer() as processor:
            print(f"Kassa demo: reusing a saved payment source, against {base_url}")
            print(f"Organization {creds['organization_slug']} (credentials from {path})")
            print(f"Reference payment processor for this run: {processor.url}/{account}")
            demo = Demo(http, creds)
            try:
                entry = await demo.story(processor, account)
            except DemoError as exc:
                print(f"\nFAILED at step {demo.step_no}: {exc}")
                print(f"(Kassa must be able to reach the processor at {processor.url}.)")
                return 1
            except httpx.HTTPError as exc:
                print(f"\nFAILED at step {demo.step_no}: {type(exc).__name__}: {exc}")
                return 1
            print("\nWhat the payment processor received:")
            for call in await asyncio.to_thread(_ledger, processor, account):
                print(f"    {_describe_call(call)}")
    print(
        f"\nDone: order 2 was paid with wallet entry {entry['id']} "
        f"(payment_source_token {entry['attributes']['payment_source_token']}), "
        f"with no new card token. ({STEPS} steps in {time.monotonic() - started:.1f} s)"
    )
    return 0
