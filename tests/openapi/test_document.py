"""The served OpenAPI document: valid, and in step with the registry and the reference schema.

A resource declared without its document, or a field missing on either side (the
declaration, the document, the Commerce Layer reference schema), fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from kassa.jsonapi.query import MAX_PAGE_SIZE
from kassa.openapi import document
from kassa.openapi.static import ERROR_CODES
from kassa.resources.base import Resource
from kassa.resources.registry import build_registry
from tests.shop import Shop
from tests.support import JSONAPI, ROOT, Client, Server

REFERENCE = ROOT.parent / "shared" / "reference" / "resources.json"
NOT_SERVED: dict[str, str] = {}
"""Reference resources without routes, and why. Anything else in the reference must be served."""
Doc = dict[str, Any]


@cache
def doc() -> Doc:
    return document()


def reference() -> dict[str, Any]:
    return dict(json.loads(REFERENCE.read_text())["resources"])


def singular(type_: str) -> str:
    if type_.endswith("ies"):
        return type_[: -len("ies")] + "y"
    if type_.endswith("sses"):
        return type_[: -len("es")]
    return type_.removesuffix("s")


def _deref(d: Doc, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = d
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def expected_operations(res: Resource) -> set[tuple[str, str]]:
    """(path, method) pairs the registry says ``res`` serves."""
    t = res.type
    if res.wire.singleton:
        return {(f"/api/{t.removesuffix('s')}", "get")}
    actions = res.wire.actions
    out = set()
    if "list" in actions:
        out.add((f"/api/{t}", "get"))
    if "create" in actions:
        out.add((f"/api/{t}", "post"))
    for verb, method in (("retrieve", "get"), ("update", "patch"), ("delete", "delete")):
        if verb in actions:
            out.add((f"/api/{t}/{{id}}", method))
    if "retrieve" in actions:
        out |= {(f"/api/{t}/{{id}}/{rel}", "get") for rel in res.rels}
    return out


def documented_operations(d: Doc) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in d["paths"].items()
        if path.startswith("/api/")
        for method in item
        if method in ("get", "post", "patch", "delete")
    }


def attribute_names(d: Doc, type_: str) -> set[str]:
    obj = d["components"]["schemas"][type_]
    return set(obj["properties"]["attributes"]["properties"])


def relationship_names(d: Doc, type_: str) -> set[str]:
    return set(d["components"]["schemas"][type_]["properties"]["relationships"]["properties"])


def body_members(d: Doc, path: str, method: str, member: str) -> dict[str, Any]:
    body = d["paths"][path][method]["requestBody"]["content"][JSONAPI]["schema"]
    return dict(body["properties"]["data"]["properties"][member]["properties"])


def mismatches(d: Doc) -> list[str]:
    """Every way the document disagrees with the registry and the reference schema."""
    problems: list[str] = []
    registry = build_registry()
    documented = documented_operations(d)
    expected: set[tuple[str, str]] = set()
    for res in registry.by_type.values():
        expected |= expected_operations(res)
    problems += [f"undocumented: {m.upper()} {p}" for p, m in sorted(expected - documented)]
    problems += [f"not served: {m.upper()} {p}" for p, m in sorted(documented - expected)]
    ref = reference()
    served = {singular(t) for t in registry.by_type}
    for key in sorted(set(ref) - served - set(NOT_SERVED)):
        problems.append(f"reference resource {key} is neither served nor listed as not served")
    for t, res in registry.by_type.items():
        if t not in d["components"]["schemas"]:
            problems.append(f"{t}: no schema")
            continue
        attrs = attribute_names(d, t)
        readable = {n for n, f in res.fields.items() if f.fetchable and n != "id"}
        readable = {n for n in readable if not n.startswith("_")}
        if attrs != readable:
            problems.append(f"{t}: attributes {sorted(attrs ^ readable)} differ from the registry")
        if relationship_names(d, t) != set(res.rels):
            problems.append(f"{t}: relationships differ from the registry")
        extras = {f.name for f in res.extra_fields} | {r.name for r in res.extra_relationships}
        extras -= set(res.wire.fields) | set(res.wire.relationships)
        schema = d["components"]["schemas"][t]["properties"]
        marked = {n for n, s in schema["attributes"]["properties"].items() if s.get("x-kassa")} | {
            n for n, s in schema["relationships"]["properties"].items() if s.get("x-kassa")
        }
        if marked != extras & (attrs | set(res.rels)):
            problems.append(f"{t}: x-kassa marks {sorted(marked)}, extensions {sorted(extras)}")
        key = singular(t)
        if key not in ref:
            continue
        spec = ref[key]
        ref_read = {
            n
            for n, f in spec["fields"].items()
            if f["fetchable"] and n != "id" and not n.startswith("_")
        }
        if attrs - extras != ref_read:
            problems.append(f"{t}: attributes {sorted((attrs - extras) ^ ref_read)} vs reference")
        if relationship_names(d, t) - extras != set(spec["relationships"]):
            problems.append(f"{t}: relationships differ from the reference")
        for path, method, flag in (
            (f"/api/{t}", "post", "creatable"),
            (f"/api/{t}/{{id}}", "patch", "updatable"),
        ):
            if method not in d["paths"].get(path, {}):
                continue
            sent = set(body_members(d, path, method, "attributes")) - extras
            want = {n for n, f in spec["fields"].items() if f[flag]}
            if sent != want:
                problems.append(f"{t}: {flag} {sorted(sent ^ want)} vs reference")
            rels = set(body_members(d, path, method, "relationships")) - extras
            want_rels = {n for n, r in spec["relationships"].items() if r.get(flag)}
            if rels != want_rels:
                problems.append(f"{t}: {flag} relationships {sorted(rels ^ want_rels)}")
    return problems


def test_the_document_validates() -> None:
    d = doc()
    validate(d)
    assert d["openapi"] == "3.1.0"


def test_the_document_matches_the_registry_and_the_reference() -> None:
    assert mismatches(doc()) == []


def test_the_comparison_catches_drift() -> None:
    """A resource without its document, or a field missing on one side, is reported."""
    drifted = json.loads(json.dumps(doc()))
    del drifted["paths"]["/api/tags"]
    del drifted["components"]["schemas"]["skus"]["properties"]["attributes"]["properties"]["name"]
    del drifted["paths"]["/api/orders/{id}"]["patch"]["requestBody"]["content"][JSONAPI]["schema"][
        "properties"
    ]["data"]["properties"]["attributes"]["properties"]["_place"]
    problems = "\n".join(mismatches(drifted))
    assert "undocumented: GET /api/tags" in problems
    assert "undocumented: POST /api/tags" in problems
    assert "skus: attributes ['name'] differ from the registry" in problems
    assert "orders: updatable ['_place'] vs reference" in problems


def test_query_parameters_follow_the_engine() -> None:
    d = doc()
    params = {}
    for p in d["paths"]["/api/orders"]["get"]["parameters"]:
        param = _deref(d, p)
        params[param["name"]] = param
    assert params["page[size]"]["schema"]["maximum"] == MAX_PAGE_SIZE == 25
    include = params["include"]["schema"]["items"]["enum"]
    assert "line_items" in include and "line_items.item" in include
    sort = params["sort"]["schema"]["items"]["enum"]
    assert "-created_at" in sort and "number" in sort
    assert "customer_password" not in sort  # not sortable
    assert "filter[q][status_eq]" in params and "filter[q][customer_email_cont]" in params
    assert "filter[q][customer_password_eq]" not in params  # not filterable
    ext = d["paths"]["/api/orders"]["get"]["x-kassa-filters"]
    assert "status" in ext["attributes"] and "matches_any" in ext["predicates"]


def test_write_documents_mark_triggers_required_fields_and_extensions() -> None:
    d = doc()
    order = body_members(d, "/api/orders/{id}", "patch", "attributes")
    assert order["_place"]["x-trigger"] is True and order["_place"]["writeOnly"] is True
    sku = d["paths"]["/api/skus"]["post"]["requestBody"]["content"][JSONAPI]["schema"]
    assert set(sku["properties"]["data"]["properties"]["attributes"]["required"]) == {
        "code",
        "name",
    }
    wallet = d["components"]["schemas"]["customer_payment_sources"]["properties"]
    assert wallet["attributes"]["properties"]["default"]["x-kassa"] is True
    assert "x-kassa" not in wallet["attributes"]["properties"]["name"]
    method = d["components"]["schemas"]["payment_methods"]["properties"]["relationships"]
    assert "x-kassa" not in method["properties"]["payment_gateway"]  # widened, not added


def test_token_kinds_per_operation() -> None:
    d = doc()
    assert d["paths"]["/api/orders"]["post"]["x-kassa-access"] == [
        "integration",
        "sales_channel",
        "customer",
    ]
    assert d["paths"]["/api/price_lists"]["get"]["x-kassa-access"] == ["integration"]
    assert d["paths"]["/api/customers"]["post"]["x-kassa-access"] == [
        "integration",
        "sales_channel",
    ]
    schemes = d["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert set(schemes["oauth2"]["flows"]) == {"clientCredentials", "password"}
    for path in ("/oauth/token", "/oauth/revoke", "/.well-known/jwks.json", "/openapi.json"):
        assert path in d["paths"]


_CODE = re.compile(
    r"(?:bad_request|ApiError\.of|error_object|error_response|_refuse|ApiError)\(\s*"
    r"(?:[\w.]+,\s*)?(?:\d{3},\s*)?\"([A-Z][A-Z_]+)\"",
    re.S,
)


def test_every_error_code_the_api_sends_is_documented() -> None:
    # The reference processor is another server with error codes of its own.
    sources = [p for p in (ROOT / "src" / "kassa").rglob("*.py") if "fake_processor" not in p.parts]
    used = {code for path in sources for code in _CODE.findall(path.read_text())}
    assert used, "the scan found no error code at all"
    assert used - set(ERROR_CODES) == set()


def test_kassa_openapi_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    subprocess.run(
        [sys.executable, "-m", "kassa", "openapi", "-o", str(target)], check=True, timeout=120
    )
    assert json.loads(target.read_text()) == doc()


# --- against the live server -----------------------------------------------------------------


def test_served_without_a_token(server: Server) -> None:
    r = httpx.get(server.base_url + "/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == doc()


def test_access_is_what_the_document_says(shop: Shop) -> None:
    """Each list operation answers 200 exactly to the kinds of token the document names."""
    _, customer = shop.customer()
    callers: dict[str, Client] = {
        "integration": shop.admin,
        "sales_channel": shop.guest(),
        "customer": customer,
    }
    checked = 0
    for path, item in doc()["paths"].items():
        if not path.startswith("/api/") or "{" in path or "get" not in item:
            continue
        allowed = item["get"]["x-kassa-access"]
        for kind, client in callers.items():
            status = client.get(path).status_code
            assert (status == 200) == (kind in allowed), (path, kind, status)
            checked += 1
    assert checked > 90


@pytest.mark.parametrize("method", ["delete", "patch"])
def test_undocumented_methods_are_refused(shop: Shop, method: str) -> None:
    """Where the document has no such operation, the server has none either (405)."""
    d = doc()
    any_id = shop.ids["sku"]
    refused = 0
    for res in build_registry().by_type.values():
        path = f"/api/{res.type}/{{id}}"
        if res.wire.singleton or method in d["paths"].get(path, {}):
            continue
        url = path.replace("{id}", any_id)
        r = shop.admin.http.request(
            method.upper(), url, content=b'{"data":{}}', headers=shop.admin.headers()
        )
        assert r.status_code == 405, (url, r.text)
        refused += 1
    assert refused > 0
