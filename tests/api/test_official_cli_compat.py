"""What the official Commerce Layer CLI sends, over real HTTP: `-a name=value` attributes as
text, the `bundles` lookup of `checkout`, and the webhooks that replaced a placeholder."""

from __future__ import annotations

import pytest

from tests.support import Client, Server, error_of, token_for

ADDRESS = {
    "first_name": "Ada",
    "last_name": "Shop",
    "line_1": "Via Roma 1",
    "city": "Milano",
    "zip_code": "20100",
    "country_code": "IT",
    "phone": "+39021234567",
}


@pytest.fixture
def admin(server: Server) -> Client:
    creds = server.new_org()
    token = token_for(
        server.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": creds["integration_client_id"],
            "client_secret": creds["integration_client_secret"],
        },
    )
    return Client(server.base_url, token)


def test_text_booleans_and_floats_are_coerced(admin: Client) -> None:
    # resources:create addresses -a business=true ... ; resources:update addresses -a lat=43.77
    address = admin.create(
        "addresses", {**ADDRESS, "company": "Shop srl", "business": "true", "lng": "11.25"}
    )
    assert address["attributes"]["business"] is True
    assert address["attributes"]["lng"] == 11.25
    updated = admin.update(
        "addresses", address["id"], {"lat": "43.77", "business": "false", "lng": "-7"}
    )
    assert updated.status_code == 200, updated.text
    attributes = updated.json()["data"]["attributes"]
    assert (attributes["lat"], attributes["business"], attributes["lng"]) == (43.77, False, -7.0)
    # skus -a do_not_ship=true
    category = admin.create("shipping_categories", {"name": "Default"})
    sku = admin.create(
        "skus",
        {"code": "CLI-1", "name": "Shirt", "do_not_ship": "true"},
        {"shipping_category": ("shipping_categories", category["id"])},
    )
    assert sku["attributes"]["do_not_ship"] is True


@pytest.mark.parametrize(
    ("name", "value"), [("business", "yes"), ("business", "1"), ("lat", "north"), ("lat", "nan")]
)
def test_other_text_is_still_refused_with_the_field_named(
    admin: Client, name: str, value: str
) -> None:
    address = admin.create("addresses", ADDRESS)
    response = admin.update("addresses", address["id"], {name: value})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["source"]["pointer"] == f"/data/attributes/{name}"
    assert name in error["detail"]


def test_bundles_is_an_empty_list(admin: Client, server: Server) -> None:
    # checkout -S <sku> looks bundles up first
    response = admin.get("/api/bundles", **{"filter[q][code_matches_any]": ""})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["data"] == [] and doc["meta"] == {"record_count": 0, "page_count": 0}
    assert doc["links"]["first"].startswith(f"{server.base_url}/api/bundles?")
    missing = admin.get("/api/bundles/abc")
    assert missing.status_code == 404 and "Bundles" in error_of(missing)["detail"]
    refused = admin.post("/api/bundles", {"data": {"type": "bundles", "attributes": {}}})
    assert refused.status_code == 405
    anonymous = Client(server.base_url).get("/api/bundles")
    assert anonymous.status_code == 401


@pytest.mark.parametrize("path", ["/api/webhooks", "/api/event_callbacks"])
def test_webhooks_are_served(admin: Client, path: str) -> None:
    """Webhooks used to be a placeholder 404; they are real resources now."""
    response = admin.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
    missing = admin.get(path + "/abc")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "RECORD_NOT_FOUND"
