"""What fuzzing from the document turned up, kept as attacks over HTTP.

Each case is a request the document used to call valid (so the fuzzer sent it) that the
server refuses on purpose: the document now says so, and the refusal must stay a clean,
documented 4xx.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from kassa.openapi import document
from tests.shop import Shop
from tests.support import JSONAPI, error_of


@cache
def doc() -> dict[str, Any]:
    return document()


def _create_attributes(type_: str) -> dict[str, Any]:
    body = doc()["paths"][f"/api/{type_}"]["post"]["requestBody"]["content"][JSONAPI]["schema"]
    return dict(body["properties"]["data"]["properties"]["attributes"]["properties"])


def _list_parameter(type_: str, name: str) -> dict[str, Any]:
    for param in doc()["paths"][f"/api/{type_}"]["get"]["parameters"]:
        if param.get("name") == name:
            return dict(param)
    raise AssertionError(f"{name} is not a parameter of GET /api/{type_}")


def test_nul_in_an_attribute_is_refused_and_documented(shop: Shop) -> None:
    """A NUL character is valid JSON text; the server refuses it (PostgreSQL cannot store
    one), so the document's string attributes exclude it."""
    pattern = _create_attributes("skus")["name"]["pattern"]
    assert re.search(pattern.replace("\\u0000", "\\x00"), "T-Shirt\x00") is None
    r = shop.admin.post(
        "/api/skus", {"data": {"type": "skus", "attributes": {"code": "NUL-1", "name": "a\x00b"}}}
    )
    assert r.status_code == 400, r.text
    assert error_of(r)["code"] == "INVALID_DATA_FORMAT"
    assert "400" in doc()["paths"]["/api/skus"]["post"]["responses"]


def test_nul_in_a_filter_value_is_refused_and_documented(shop: Shop) -> None:
    schema = _list_parameter("skus", "filter[q][name_eq]")["schema"]
    assert "\\u0000" in schema["pattern"]
    r = shop.admin.get("/api/skus", **{"filter[q][name_eq]": "x\x00y"})
    assert r.status_code == 400, r.text
    assert error_of(r)["code"] == "BAD_REQUEST"


def test_integral_float_for_an_integer_attribute_is_a_documented_400(shop: Shop) -> None:
    """JSON Schema counts ``5.0`` as an integer; the engine's coercion does not. The
    refusal is a 400 the create operation documents, never a 500."""
    assert _create_attributes("prices")["amount_cents"]["type"] == ["integer", "null"]
    r = shop.admin.post(
        "/api/prices",
        {
            "data": {
                "type": "prices",
                "attributes": {"amount_cents": 4900.0, "sku_code": "TSHIRT-XL"},
                "relationships": {
                    "price_list": {"data": {"type": "price_lists", "id": shop.ids["price_list"]}}
                },
            }
        },
    )
    assert r.status_code == 400, r.text
    assert error_of(r)["code"] == "INVALID_FIELD_VALUE"
    assert "400" in doc()["paths"]["/api/prices"]["post"]["responses"]


def test_trigger_attributes_are_write_only_in_the_document() -> None:
    """The reference marks some triggers fetchable; the serializer never renders a ``_``
    attribute, so the document's resource objects must not list one either."""
    for name, schema in doc()["components"]["schemas"].items():
        attributes = schema.get("properties", {}).get("attributes", {}).get("properties", {})
        assert not [a for a in attributes if a.startswith("_")], name
