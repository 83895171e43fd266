"""The floor: the least work any Python server on this stack does to answer the retrieve.

``bench/floor.py`` serves this app, under the uvicorn settings of ``kassa serve``, on a copy of
the benchmark shop's SQLite file, beside the bare endpoint. For
``GET /floor/orders/<id>?include=line_items,available_customer_payment_sources`` it does only
what no implementation can skip:

- the bearer token: a dictionary look-up of the token's claims, decoded on first sight (Kassa
  verifies a token's signature once and caches the result too, so per request both are a
  look-up), and the deny-list statement against the database;
- the order (scoped to the token's organization, mode and customer), its line items and the
  customer's payment sources: three statements on the standard ``sqlite3`` module, with SQL
  written by hand;
- a JSON:API document from those rows (attributes, links, relationship links, ``included``),
  with per-type lists of field names computed once, dumped with orjson.

No query builder, no validation of the query string, no policy beyond the scope, no
serializer: whatever Kassa spends beyond this is its own overhead. Its throughput against the
bare endpoint's, in the same run, is the ratio that even this floor reaches.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.baseline_app import build_app as bare_app
from kassa.resources.registry import build_registry

JSONAPI = "application/vnd.api+json"
_SKIPPED_COLUMNS = {"organization_id", "mode", "lock_token", "locked_until"}


class Floor:
    def __init__(self, database: str, base_url: str) -> None:
        self.db = sqlite3.connect(database, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.base = base_url.rstrip("/") + "/api"
        self.tokens: dict[str, dict[str, Any]] = {}
        registry = build_registry()
        self.rels = {
            t: list(registry[t].rels) for t in ("orders", "line_items", "customer_payment_sources")
        }

    def claims(self, token: str) -> dict[str, Any]:
        """Decoded once; Kassa's server made these tokens and the bench sends only those."""
        found = self.tokens.get(token)
        if found is None:
            found = jwt.decode(token, options={"verify_signature": False})
            self.tokens[token] = found
        return found

    def resource(self, type_: str, row: sqlite3.Row) -> dict[str, Any]:
        id_ = row["id"]
        own = f"{self.base}/{type_}/{id_}"
        names = row.keys()  # iterating a sqlite3.Row yields its values, not its names
        attributes = {
            k: row[k] for k in names if k not in _SKIPPED_COLUMNS and not k.endswith("_id")
        }
        attributes.pop("id", None)
        return {
            "id": id_,
            "type": type_,
            "links": {"self": own},
            "attributes": attributes,
            "relationships": {
                name: {
                    "links": {
                        "self": f"{own}/relationships/{name}",
                        "related": f"{own}/{name}",
                    }
                }
                for name in self.rels[type_]
            },
            "meta": {"mode": row["mode"], "organization_id": row["organization_id"]},
        }

    async def retrieve(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        claims = self.claims(header.removeprefix("Bearer "))
        org = claims["organization"]["id"]
        mode = "test" if claims.get("test") else "live"
        customer = claims["owner"]["id"]
        db = self.db
        revoked = db.execute(
            "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?),"
            " EXISTS (SELECT 1 FROM customers WHERE id = ?)",
            (claims.get("jti"), customer),
        ).fetchone()
        if revoked[0] or not revoked[1]:
            return Response(status_code=401)
        order = db.execute(
            "SELECT * FROM orders WHERE id = ? AND organization_id = ? AND mode = ?"
            " AND customer_id = ?",
            (request.path_params["id"], org, mode, customer),
        ).fetchone()
        if order is None:
            return Response(status_code=404)
        items = db.execute(
            "SELECT * FROM line_items WHERE order_id = ? AND organization_id = ? AND mode = ?",
            (order["id"], org, mode),
        ).fetchall()
        sources = db.execute(
            "SELECT * FROM customer_payment_sources WHERE customer_id = ?"
            " AND organization_id = ? AND mode = ?",
            (customer, org, mode),
        ).fetchall()
        data = self.resource("orders", order)
        data["relationships"]["line_items"]["data"] = [
            {"type": "line_items", "id": i["id"]} for i in items
        ]
        data["relationships"]["available_customer_payment_sources"]["data"] = [
            {"type": "customer_payment_sources", "id": s["id"]} for s in sources
        ]
        included = [self.resource("line_items", i) for i in items]
        included += [self.resource("customer_payment_sources", s) for s in sources]
        body = orjson.dumps({"data": data, "included": included})
        return Response(body, media_type=JSONAPI)


def build_app() -> Starlette:
    """The bare endpoints (the captured answers) and ``/floor/orders/{id}``."""
    floor = Floor(os.environ["KASSA_FLOOR_DATABASE"], os.environ["KASSA_FLOOR_BASE_URL"])
    app = bare_app()
    app.router.routes.append(Route("/floor/orders/{id}", floor.retrieve))
    return app
