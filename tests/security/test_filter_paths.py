"""Filter paths are no oracle: ``filter[q]`` never answers about a row the caller may not read.

Every test is an attack by customer B (or a guest) on customer A's rows and on another
market's catalog. The paths are generated from the registry the server runs on, walking
relationships the way the filter resolver does, so a new resource or relationship is covered
without touching this file. An attack fails when every guess gets the same answer as a value
that exists nowhere: the same status and ``meta.record_count`` (or the same error document).

Paths are asked in groups (``a_or_b_or_c``) to keep the matrix fast; a group that is refused
(400: it holds a hop the caller may not take) is asked again path by path.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest

from kassa.fake_processor import ProcessorServer
from kassa.resources.base import Resource
from kassa.resources.registry import build_registry
from tests.api.checkout_support import add_item, add_market, add_sku, address, body, new_order
from tests.api.wallet_helpers import create_entry, save, saved_entry
from tests.shop import Shop
from tests.support import Client, Server

MAX_HOPS = 3
"""Paths of up to this many relationship hops (the resolver takes a few more)."""
MISSING = "noSuchRowQ"
TOKEN_A = "pm_UqK7seCretA"
"""Customer A's saved wallet token: what customer B tries to recover."""
SECRET_ENDS = ("payment_source_token", "customer_token", "token", "shared_secret")
FAR_PRICE = 7777
"""The second market's prices: of a SKU sold only there, and of one sold in both markets."""
FAR_STOCK = 333
GROUP = 12
"""Paths per grouped request."""


# --- the registry's filter paths ----------------------------------------------------------------


def _hops(res: Resource) -> Iterator[tuple[str, Resource]]:
    """Relationships a filter path may walk from ``res``, as the resolver reads them."""
    registry = build_registry()
    for name, store in res.stores.items():
        rel = res.rels[name]
        target = None
        if store.kind == "fk" and store.column and not rel.polymorphic:
            target = registry.get(rel.targets[0])
        elif store.kind == "reverse" and store.target and store.target_column:
            target = registry.get(store.target)
        if target is not None:
            assert "_or_" not in name, f"{res.type}.{name}: a path may not hold _or_"
            yield name, target


Route = tuple[str, tuple[str, ...]]
"""A filter path and the types it walks through, from its start to its end."""


def paths_to(start: str, max_hops: int = MAX_HOPS) -> list[Route]:
    """Every path from resource ``start`` of up to ``max_hops`` hops, the empty one too."""
    registry = build_registry()
    out: list[Route] = [("", (start,))]
    frontier = out
    for _ in range(max_hops):
        nxt = []
        for path, types in frontier:
            for name, target in _hops(registry[types[-1]]):
                nxt.append((_key(path, name), (*types, target.type)))
        out = out + nxt
        frontier = nxt
    return out


def id_paths(start: str) -> list[Route]:
    """``paths_to`` plus, at the end of each, every polymorphic to-one (``item_id``...)."""
    registry = build_registry()
    out = []
    for path, types in paths_to(start):
        out.append((path, types))
        res = registry[types[-1]]
        for name, store in res.stores.items():
            rel = res.rels[name]
            if store.kind != "fk" or not rel.polymorphic:
                continue
            for target in rel.targets:
                if target in registry.by_type:
                    out.append((_key(path, name), (*types, target)))
    return out


def _key(path: str, attribute: str) -> str:
    return f"{path}_{attribute}" if path else attribute


# --- the shop -------------------------------------------------------------------------------


@dataclass
class Party:
    id: str
    email: str
    client: Client


@dataclass
class World:
    shop: Shop
    a: Party
    b: Party
    guest: Client
    street_a: str
    listable: dict[str, list[str]]
    """Viewer → the resources it may list."""
    foreign: dict[str, dict[str, list[str]]]
    """Viewer → type → ids of rows that exist but that viewer may not read."""
    closed: dict[str, set[str]]
    """Viewer → types of which it may read no row at all: paths through them should be
    refused (only a guess that keeps the matrix fast: every path is still asked)."""

    def viewer(self, name: str) -> Client:
        return {"b": self.b.client, "guest": self.guest}[name]


def _party(shop: Shop, name: str, group: str, street: str, token: str) -> Party:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    cid, client = shop.customer(email)
    r = shop.admin.update("customers", cid, {}, {"customer_group": ("customer_groups", group)})
    assert r.status_code == 200, r.text
    party = Party(cid, email, client)
    # A shippable order: line items, a shipment, addresses the customer owns, an address book.
    oid = new_order(client)
    assert add_item(client, oid, "BOOT").status_code == 201
    billing = address(client, line_1=street)
    r = client.patch(
        f"/api/orders/{oid}",
        body(
            "orders",
            {"_shipping_address_same_as_billing": True},
            {"billing_address": ("addresses", billing)},
            oid,
        ),
    )
    assert r.status_code == 200, r.text
    client.create("customer_addresses", {}, {"address": ("addresses", address(client))})
    # A paid, placed order whose payment source is saved to the wallet.
    paid = shop.cart(client, token=token)
    saved_entry(save(client, paid))
    placed = shop.place(client, paid)
    assert placed.status_code == 200, placed.text
    create_entry(shop, cid, token=token)
    return party


@pytest.fixture(scope="module")
def world(server: Server, processor: ProcessorServer) -> World:
    shop = Shop.build(server, processor, account="filters-" + secrets.token_hex(4))
    add_sku(shop, "BOOT", price=3000, stock=100, do_not_ship=False)
    far = add_market(shop)
    add_sku(shop, "FAR", price=FAR_PRICE, price_list=far.price_list, location=far.location)
    # Sold in both markets, at another price and from another stock in the second one.
    add_sku(shop, "BOTH", price=1000, stock=10)
    shop.admin.create(
        "prices",
        {"amount_cents": FAR_PRICE, "sku_code": "BOTH"},
        {"price_list": ("price_lists", far.price_list)},
    )
    shop.admin.create(
        "stock_items",
        {"quantity": FAR_STOCK, "sku_code": "BOTH"},
        {"stock_location": ("stock_locations", far.location)},
    )
    shop.admin.create(
        "payment_methods",
        {"payment_source_type": "external_payments", "price_amount_cents": 0},
        {
            "market": ("markets", far.id),
            "payment_gateway": ("external_gateways", shop.ids["gateway"]),
        },
    )
    group = shop.admin.create("customer_groups", {"name": "Friends"})["id"]
    street_a = "Via Segreta " + secrets.token_hex(3)
    a = _party(shop, "alice", group, street_a, TOKEN_A)
    b = _party(shop, "bob", group, "Via Aperta 2", "pm_Bopen")
    guest = shop.guest()
    world = World(shop, a, b, guest, street_a, {}, {}, {})
    registry = build_registry()
    types = [t for t, res in registry.by_type.items() if not res.wire.singleton]
    for name in ("b", "guest"):
        client = world.viewer(name)
        answers = _many(client, [(f"/api/{t}", {"page[size]": "1"}) for t in types])
        world.listable[name] = [t for t, r in zip(types, answers, strict=True) if r[0] == 200]
        world.foreign[name], world.closed[name] = _foreign(
            shop, client, types, world.listable[name]
        )
    return world


def _foreign(
    shop: Shop, client: Client, types: list[str], listable: list[str]
) -> tuple[dict[str, list[str]], set[str]]:
    """For each type, up to ten rows of the shop's organization this client may not read.

    For a type the client may list, that is every row its list leaves out (a filter path
    must not reach further than a list); for the others, every row it cannot retrieve.
    """
    everything = _many(shop.admin, [(f"/api/{t}", {"page[size]": "10"}) for t in types])
    rows = {
        t: [d["id"] for d in doc["data"]]
        for t, (status, doc) in zip(types, everything, strict=True)
        if status == 200 and doc["data"]
    }
    listed = [t for t in rows if t in listable]
    lists = _many(
        client,
        [
            (f"/api/{t}", {"filter[q][id_in]": ",".join(rows[t]), "page[size]": "25"})
            for t in listed
        ],
    )
    seen = {
        (t, d["id"]) for t, (_status, doc) in zip(listed, lists, strict=True) for d in doc["data"]
    }
    single = [(t, id_) for t in rows if t not in listable for id_ in rows[t]]
    reads = _many(client, [(f"/api/{t}/{id_}", {}) for t, id_ in single])
    seen |= {row for row, (status, _doc) in zip(single, reads, strict=True) if status == 200}
    out: dict[str, list[str]] = {}
    for t, ids in rows.items():
        hidden = [id_ for id_ in ids if (t, id_) not in seen]
        if hidden:
            out[t] = hidden
    closed = {t for t in out if t not in listable and len(out[t]) == len(rows[t])}
    return out, closed


# --- asking -----------------------------------------------------------------------------------

Answer = tuple[int, Any]


def _ask(client: Client, path: str, params: dict[str, str]) -> Answer:
    r = client.get(path, **params)
    assert r.status_code < 500, r.text
    doc = r.json()
    return r.status_code, doc


def _many(client: Client, requests: list[tuple[str, dict[str, str]]]) -> list[Answer]:
    """Many GETs over a few connections (each thread its own client, same token)."""

    def run(chunk: list[tuple[str, dict[str, str]]]) -> list[Answer]:
        own = Client(client.base_url, client.token)
        try:
            return [_ask(own, path, params) for path, params in chunk]
        finally:
            own.http.close()

    chunks = [requests[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, chunks))
    out: list[Answer] = [(0, None)] * len(requests)
    for i, chunk_results in enumerate(results):
        for j, answer in enumerate(chunk_results):
            out[i + 4 * j] = answer
    return out


def _signal(answer: Answer) -> Any:
    """What an answer tells the caller: the count of a list, or the whole error document."""
    status, doc = answer
    if status == 200:
        return status, doc["meta"]["record_count"]
    return status, doc


@dataclass
class Probe:
    """One filter key on one resource, asked with a guess and with a value nobody has."""

    resource: str
    keys: list[str]
    predicate: str
    guess: str
    missing: str
    closed: bool = False
    """The path walks through a type the caller reads nothing of: expected to be refused."""

    def request(self, value: str) -> tuple[str, dict[str, str]]:
        key = "_or_".join(self.keys) + "_" + self.predicate
        return f"/api/{self.resource}", {f"filter[q][{key}]": value, "page[size]": "1"}

    def split(self) -> list[Probe]:
        return [
            Probe(self.resource, [k], self.predicate, self.guess, self.missing) for k in self.keys
        ]


def refusal(client: Client, resource: str, key: str) -> str:
    """The error document an unknown filter ``key`` gets: it names the key, never the value."""
    unknown = "zzunknown_eq"
    status, doc = _ask(client, f"/api/{resource}", {f"filter[q][{unknown}]": "x"})
    assert status == 400, doc
    return json.dumps(doc).replace(unknown, key)


def leaks(client: Client, probes: list[Probe]) -> list[str]:
    """The probes whose guess is answered differently from the missing value.

    A refused group is asked again path by path; a path refused on its own is asked once,
    with the guess, and must get exactly the unknown-filter error (which holds no value).
    """
    found: list[str] = []
    singles = [p for p in probes if p.closed]
    probes = [p for p in probes if not p.closed]
    asked = _many(client, [p.request(v) for p in probes for v in (p.guess, p.missing)])
    for n, probe in enumerate(probes):
        guess, missing = asked[2 * n], asked[2 * n + 1]
        if _signal(guess) != _signal(missing):
            found.append(f"{probe.request(probe.guess)}: {_signal(guess)} vs {_signal(missing)}")
        elif guess[0] == 400 and len(probe.keys) > 1:
            singles.extend(probe.split())
        elif guess[0] not in (200, 400):
            found.append(f"{probe.request(probe.guess)}: unexpected {guess}")
    answers = _many(client, [p.request(p.guess) for p in singles])
    accepted = []
    templates: dict[str, str] = {}
    for probe, (status, doc) in zip(singles, answers, strict=True):
        if status == 200:  # accepted after all: compare with the missing value
            accepted.append(replace(probe, closed=False))
            continue
        if probe.resource not in templates:
            templates[probe.resource] = refusal(client, probe.resource, "@@KEY@@")
        key = probe.keys[0] + "_" + probe.predicate
        if json.dumps(doc) != templates[probe.resource].replace("@@KEY@@", key):
            found.append(f"{probe.request(probe.guess)}: unexpected {status} {doc}")
    if accepted:
        found += leaks(client, accepted)
    return found


def grouped(
    resource: str,
    routes: list[Route],
    attribute: str,
    predicate: str,
    guess: str,
    missing: str,
    closed: set[str],
) -> list[Probe]:
    """Probes for ``attribute`` at the end of each route: open routes asked in groups."""
    shut = [r for r in routes if closed & set(r[1][1:])]
    keys = [_key(path, attribute) for path, _types in routes if (path, _types) not in shut]
    probes = [
        Probe(resource, keys[i : i + GROUP], predicate, guess, missing)
        for i in range(0, len(keys), GROUP)
    ]
    for path, _types in shut:
        probes.append(Probe(resource, [_key(path, attribute)], predicate, guess, missing, True))
    return probes


# --- the BOLA matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["b", "guest"])
def test_no_path_reaches_a_row_the_caller_may_not_read(world: World, viewer: str) -> None:
    """For every listable resource and every path, an unreadable row's id is like no id."""
    assert "orders" in world.foreign[viewer] or viewer == "guest"
    assert world.foreign[viewer].get("customers"), "customer A must be out of reach"
    client = world.viewer(viewer)
    missing = ",".join([MISSING, MISSING[::-1]])
    probes: list[Probe] = []
    covered: set[str] = set()
    """Types whose unreadable rows some path ends at."""
    closed = world.closed[viewer]
    for resource in world.listable[viewer]:
        by_end: dict[str, list[Route]] = {}
        for path, types in id_paths(resource):
            if world.foreign[viewer].get(types[-1]):
                by_end.setdefault(types[-1], []).append((path, types))
        for end, routes in by_end.items():
            covered.add(end)
            guess = ",".join(world.foreign[viewer][end])
            probes += grouped(resource, routes, "id", "in", guess, missing, closed)
    wanted = {"orders", "customers", "customer_payment_sources", "external_payments"}
    assert covered >= (wanted if viewer == "b" else {"prices", "skus"}), covered
    assert leaks(client, probes) == []


def test_matrix_covers_the_customer_resources(world: World) -> None:
    """The matrix is not empty by accident: B lists its own rows and A's are foreign."""
    listable = set(world.listable["b"])
    assert {"orders", "customers", "customer_payment_sources", "external_payments"} <= listable
    assert {"line_items", "shipments", "customer_addresses"} <= listable
    foreign = world.foreign["b"]
    for type_ in ("orders", "line_items", "customers", "customer_payment_sources"):
        assert foreign.get(type_), type_
    assert world.a.id in foreign["customers"]
    assert set(world.listable["guest"]) >= {"skus", "prices"}


# --- the token-prefix oracle --------------------------------------------------------------------


def _secret_keys(resource: str) -> list[str]:
    registry = build_registry()
    keys = []
    for path, types in paths_to(resource):
        for attribute in SECRET_ENDS:
            if attribute in registry[types[-1]].fields:
                keys.append(_key(path, attribute))
    return keys


def test_token_prefix_oracle_recovers_nothing(world: World) -> None:
    """B guesses A's saved token through every path that ends at a token: no signal."""
    client = world.b.client
    # A right and a wrong prefix on every path; more predicates and guesses on short ones.
    few = [("start", TOKEN_A[:5]), ("start", "pm_X")]
    many = [("eq", TOKEN_A), ("cont", TOKEN_A[3:9]), ("not_start", "pm_X"), ("in", TOKEN_A)]
    requests = []
    for resource in world.listable["b"]:
        for key in _secret_keys(resource):
            asked = few + many if key.count("_") < 5 else few
            for predicate, guess in asked:
                requests.append((f"/api/{resource}", {f"filter[q][{key}_{predicate}]": guess}))
    assert len(requests) > 100
    answers = _many(client, requests)
    by_key: dict[str, set[str]] = {}
    for (path, params), (status, doc) in zip(requests, answers, strict=True):
        (key,) = [k for k in params if k.startswith("filter")]
        # Refused like an unknown filter, whatever the guess.
        assert status == 400, (path, params, status)
        assert doc["errors"][0]["code"] == "FILTER_NOT_ALLOWED"
        by_key.setdefault(path + key, set()).add(str(doc))
    assert all(len(docs) == 1 for docs in by_key.values())


def test_integration_may_filter_by_secrets(world: World) -> None:
    """The same filter works for the integration: the oracle existed, and it is closed."""
    admin = world.shop.admin

    def count(resource: str, key: str, value: str) -> int:
        r = admin.get(f"/api/{resource}", **{f"filter[q][{key}]": value})
        assert r.status_code == 200, r.text
        return int(r.json()["meta"]["record_count"])

    assert count("customer_payment_sources", "payment_source_token_start", TOKEN_A[:6]) >= 1
    assert count("customer_payment_sources", "payment_source_token_start", "pm_X") == 0
    key = "payment_gateway_external_payments_payment_source_token_start"
    assert count("external_payments", key, TOKEN_A[:6]) >= 1
    assert count("external_payments", key, "pm_X") == 0


def test_secret_filters_and_sorts_are_refused_directly(world: World) -> None:
    b = world.b.client
    for resource in ("customer_payment_sources", "external_payments"):
        for key in ("payment_source_token_eq", "payment_source_token_start"):
            r = b.get(f"/api/{resource}", **{f"filter[q][{key}]": "pm_Bopen"})
            assert r.status_code == 400, (resource, key, r.text[:200])
            error = r.json()["errors"][0]
            unknown = b.get(f"/api/{resource}", **{"filter[q][nope_eq]": "x"}).json()["errors"][0]
            assert (error["code"], error["title"]) == (unknown["code"], unknown["title"])
            assert error["detail"] == unknown["detail"].replace("nope_eq", key)
        r = b.get(f"/api/{resource}", sort="payment_source_token")
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == "INVALID_SORT_CRITERIA"
    r = b.get("/api/orders", **{"filter[q][token_eq]": "x"})
    assert r.status_code == 400
    # Own attributes that are not secrets still filter and sort.
    r = b.get(
        "/api/customer_payment_sources", sort="-created_at", **{"filter[q][id_not_null]": "1"}
    )
    assert r.status_code == 200 and r.json()["meta"]["record_count"] >= 1


# --- e-mails, addresses, customer groups, prices --------------------------------------------


def _attribute_probes(
    world: World, viewer: str, end: str, attribute: str, predicate: str, guess: str, missing: str
) -> list[Probe]:
    probes: list[Probe] = []
    for resource in world.listable[viewer]:
        routes = [r for r in paths_to(resource) if r[1][-1] == end]
        closed = world.closed[viewer]
        probes += grouped(resource, routes, attribute, predicate, guess, missing, closed)
    return probes


def test_other_customers_emails_and_addresses_give_no_signal(world: World) -> None:
    a = world.a
    probes = _attribute_probes(world, "b", "customers", "email", "eq", a.email, "x@example.org")
    probes += _attribute_probes(
        world, "b", "customers", "email", "start", a.email[:12], "nobody-at-all"
    )
    probes += _attribute_probes(
        world, "b", "addresses", "line_1", "eq", world.street_a, "Via Nessuna 0"
    )
    probes += _attribute_probes(
        world, "b", "addresses", "line_1", "cont", world.street_a[-6:], "zzzzzz"
    )
    assert len(probes) > 10
    assert leaks(world.b.client, probes) == []


def test_customer_group_members_stay_hidden(world: World) -> None:
    b = world.b.client
    for key, value in (
        ("customer_group_customers_email_eq", world.a.email),
        ("customer_group_customers_id_eq", world.a.id),
        ("customer_group_name_eq", "Friends"),
    ):
        hit = b.get("/api/customers", **{f"filter[q][{key}]": value})
        miss = b.get("/api/customers", **{f"filter[q][{key}]": "nobody"})
        assert hit.status_code == miss.status_code == 400
        assert hit.json() == miss.json()
        assert hit.json()["errors"][0]["code"] == "FILTER_NOT_ALLOWED"


@pytest.mark.parametrize("viewer", ["guest", "b"])
def test_no_price_or_stock_of_another_market(world: World, viewer: str) -> None:
    """Through its own market's SKUs, nobody learns the other market's prices or stock."""
    probes = _attribute_probes(
        world, viewer, "prices", "amount_cents", "eq", str(FAR_PRICE), str(FAR_PRICE + 1)
    )
    probes += _attribute_probes(world, viewer, "skus", "code", "eq", "FAR", "NOT-A-SKU")
    probes += _attribute_probes(
        world, viewer, "stock_items", "quantity", "eq", str(FAR_STOCK), str(FAR_STOCK + 1)
    )
    assert leaks(world.viewer(viewer), probes) == []
    guest = world.guest
    # The catalog of the guest's own market still filters through its prices.
    r = guest.get("/api/skus", **{"filter[q][prices_amount_cents_eq]": "4900"})
    assert r.status_code == 200 and r.json()["meta"]["record_count"] >= 1


def test_own_rows_still_filter_through_relationships(world: World) -> None:
    """The hop rule narrows, it does not break: B reaches its own rows through paths."""
    b = world.b
    checks = [
        ("orders", "customer_email_eq", b.email),
        ("orders", "line_items_sku_code_eq", "BOOT"),
        ("external_payments", "order_customer_email_eq", b.email),
        ("customers", "orders_line_items_sku_code_eq", "BOOT"),
        ("customer_payment_sources", "customer_email_eq", b.email),
        ("line_items", "order_customer_id_eq", b.id),
        ("customers", "customer_addresses_address_line_1_eq", "Via Roma 1"),
    ]
    for resource, key, value in checks:
        r = b.client.get(f"/api/{resource}", **{f"filter[q][{key}]": value})
        assert r.status_code == 200, (resource, key, r.text)
        assert r.json()["meta"]["record_count"] >= 1, (resource, key)
        r = b.client.get(f"/api/{resource}", **{f"filter[q][{key}]": "nothing-like-it"})
        assert r.json()["meta"]["record_count"] == 0


def test_or_combinations_meet_the_same_rules(world: World) -> None:
    b = world.b.client
    for key, value in (
        ("number_or_customer_customer_group_customers_email_cont", world.a.email),
        ("customer_customer_group_customers_email_or_customer_email_cont", world.a.email),
        ("customer_email_or_customer_customer_payment_sources_payment_source_token_start", "pm_U"),
    ):
        r = b.get("/api/orders", **{f"filter[q][{key}]": value})
        assert r.status_code == 400, (key, r.text[:200])
        assert r.json()["errors"][0]["code"] == "FILTER_NOT_ALLOWED"
    r = b.get("/api/orders", **{"filter[q][customer_email_or_line_items_sku_code_eq]": "BOOT"})
    assert r.status_code == 200 and r.json()["meta"]["record_count"] >= 1
