"""``/api/payment_gateways``: every gateway of the organization, whatever its kind, read-only.

Served for integrations only, like the concrete gateways; each item is typed
``payment_gateways`` (the type Commerce Layer's schema gives this endpoint's items). The
attackers — no token, a guest, a customer, another organization's integration and the same
organization's other mode — get a 401 or nothing of this organization's gateways.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kassa.bootstrap import init_organization
from kassa.fake_processor import ProcessorServer
from kassa.settings import Settings
from tests.shop import Shop
from tests.support import Client, Server, error_of

PATH = "/api/payment_gateways"


@dataclass
class World:
    shop: Shop
    manual: list[str]
    """Two manual gateways, created after the shop's external one."""
    other_org: Shop
    live: Shop

    @property
    def all_ids(self) -> list[str]:
        return [self.shop.ids["gateway"], *self.manual]


@pytest.fixture(scope="module")
def world(server: Server, processor: ProcessorServer) -> Iterator[World]:
    shop = Shop.build(server, processor, account="pg-" + secrets.token_hex(4))
    manual = [
        shop.admin.create("manual_gateways", {"name": name})["id"]
        for name in ("Wire transfer", "Cash on delivery")
    ]
    other_org = Shop.build(server, processor, account="pg-other-" + secrets.token_hex(4))
    slug = shop.creds["organization_slug"]
    live_creds = asyncio.run(
        init_organization(Settings(database_url=server.database_url), slug, slug, mode="live")
    )
    assert live_creds["organization_id"] == shop.creds["organization_id"]
    live = Shop.build(
        server, processor, account="pg-live-" + secrets.token_hex(4), creds=live_creds
    )
    yield World(shop, manual, other_org, live)


def _list(client: Client, **params: Any) -> dict[str, Any]:
    r = client.get(PATH, **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_lists_every_kind_as_payment_gateways(world: World) -> None:
    doc = _list(world.shop.admin)
    assert [d["id"] for d in doc["data"]] == world.all_ids  # created_at order by default
    assert {d["type"] for d in doc["data"]} == {"payment_gateways"}
    assert doc["meta"] == {"record_count": 3, "page_count": 1}
    first = doc["data"][0]
    assert first["links"]["self"] == f"{world.shop.base_url}{PATH}/{first['id']}"
    assert set(first["attributes"]) == {
        "name",
        "force_payments",
        "disabled_at",
        "created_at",
        "updated_at",
        "reference",
        "reference_origin",
        "metadata",
    }  # nothing of a kind's own attributes: no URLs, no shared secret
    assert first["attributes"]["name"] == "Reference processor"
    assert first["attributes"]["force_payments"] is False
    assert set(first["relationships"]) == {"payment_methods", "versions", "event_stores"}


def test_pages_and_sorts(world: World) -> None:
    admin = world.shop.admin
    newest_first = _list(admin, sort="-created_at")
    assert [d["id"] for d in newest_first["data"]] == world.all_ids[::-1]
    page = _list(admin, **{"sort": "created_at", "page[size]": "2", "page[number]": "2"})
    assert [d["id"] for d in page["data"]] == world.all_ids[2:]
    assert page["meta"] == {"record_count": 3, "page_count": 2}
    assert "page[number]=1" in page["links"]["prev"] and "next" not in page["links"]
    assert "sort=created_at" in page["links"]["first"]
    by_name = _list(admin, sort="name")
    names = [d["attributes"]["name"] for d in by_name["data"]]
    assert names == sorted(names)
    cursor = _list(admin, **{"page[size]": "2", "page[after]": ""})
    assert [d["id"] for d in cursor["data"]] == world.all_ids[:2]
    r = admin.get(PATH, sort="shared_secret")
    assert r.status_code == 400, r.text  # not an attribute of payment gateways


def test_filters(world: World) -> None:
    admin = world.shop.admin
    wire = _list(admin, **{"filter[q][name_eq]": "Wire transfer"})
    assert [d["id"] for d in wire["data"]] == [world.manual[0]]
    ids = f"{world.shop.ids['gateway']},{world.manual[1]}"
    picked = _list(admin, **{"filter[q][id_in]": ids})
    assert {d["id"] for d in picked["data"]} == set(ids.split(","))
    assert _list(admin, **{"filter[id]": world.manual[1]})["meta"]["record_count"] == 1
    cont = _list(admin, **{"filter[q][name_cont]": "processor"})
    assert [d["id"] for d in cont["data"]] == [world.shop.ids["gateway"]]
    used = _list(admin, **{"filter[q][payment_methods_id_eq]": world.shop.ids["payment_method"]})
    assert [d["id"] for d in used["data"]] == [world.shop.ids["gateway"]]
    r = admin.get(PATH, **{"filter[q][authorize_url_eq]": "x"})
    assert r.status_code == 400, r.text


def test_retrieve_include_and_fields(world: World) -> None:
    admin = world.shop.admin
    for id_ in world.all_ids:
        r = admin.get(f"{PATH}/{id_}")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["type"] == "payment_gateways"
        assert r.json()["data"]["id"] == id_
    r = admin.get(f"{PATH}/{world.shop.ids['gateway']}", include="payment_methods")
    assert r.status_code == 200, r.text
    linkage = r.json()["data"]["relationships"]["payment_methods"]["data"]
    assert linkage == [{"type": "payment_methods", "id": world.shop.ids["payment_method"]}]
    related = admin.get(f"{PATH}/{world.shop.ids['gateway']}/payment_methods")
    assert [d["id"] for d in related.json()["data"]] == [world.shop.ids["payment_method"]]
    sparse = _list(admin, **{"fields[payment_gateways]": "name"})
    assert all(set(d["attributes"]) == {"name"} for d in sparse["data"])
    assert admin.get(f"{PATH}/zzzzzzzzzz").status_code == 404
    # A payment method's gateway keeps naming its concrete type.
    method = admin.get(
        f"/api/payment_methods/{world.shop.ids['payment_method']}", include="payment_gateway"
    ).json()
    assert method["data"]["relationships"]["payment_gateway"]["data"] == {
        "type": "external_gateways",
        "id": world.shop.ids["gateway"],
    }


def test_read_only(world: World) -> None:
    admin = world.shop.admin
    body = {"data": {"type": "payment_gateways", "attributes": {"name": "New"}}}
    assert admin.post(PATH, body).status_code == 405
    one = f"{PATH}/{world.manual[0]}"
    patch = {"data": {"type": "payment_gateways", "id": world.manual[0], "attributes": {}}}
    assert admin.patch(one, patch).status_code == 405
    assert admin.delete(one).status_code == 405
    assert admin.get(f"/api/manual_gateways/{world.manual[0]}").status_code == 200


@pytest.mark.parametrize("who", ["anonymous", "guest", "customer"])
def test_storefront_callers_get_401(world: World, who: str) -> None:
    shop = world.shop
    client = {
        "anonymous": lambda: Client(shop.base_url),
        "guest": shop.guest,
        "customer": lambda: shop.customer()[1],
    }[who]()
    for path in (PATH, f"{PATH}/{shop.ids['gateway']}", f"{PATH}/{world.manual[0]}"):
        r = client.get(path)
        assert r.status_code == 401, (path, r.text)
        assert error_of(r)["code"] in ("INVALID_TOKEN", "UNAUTHORIZED"), r.text
    r = client.get(f"{PATH}/{shop.ids['gateway']}/payment_methods")
    assert r.status_code == 401, r.text


@pytest.mark.parametrize("intruder", ["other_org", "live"])
def test_other_organizations_and_modes_see_none(world: World, intruder: str) -> None:
    other: Shop = getattr(world, intruder)
    doc = _list(other.admin)
    assert [d["id"] for d in doc["data"]] == [other.ids["gateway"]]  # only their own
    assert doc["meta"]["record_count"] == 1
    targeted = _list(other.admin, **{"filter[q][id_in]": ",".join(world.all_ids)})
    assert targeted["data"] == [] and targeted["meta"]["record_count"] == 0
    for id_ in world.all_ids:
        assert other.admin.get(f"{PATH}/{id_}").status_code == 404
        assert other.admin.get(f"{PATH}/{id_}/payment_methods").status_code == 404
    named = _list(other.admin, **{"filter[q][name_eq]": "Wire transfer"})
    assert named["data"] == []
