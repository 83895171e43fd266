"""``kassa seed`` loads a shop the API then serves like any other."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

from tests.support import Client, Server, token_for

ORDERS = 60


def run_seed(server: Server, slug: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa", "seed", "--orders", str(ORDERS), "--slug", slug],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_seed_loads_a_shop_once(server: Server) -> None:
    slug = "seeded-" + secrets.token_hex(3)
    done = run_seed(server, slug)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr  # the progress bar
    client_id = re.search(r"client_id\s+(\S+)", done.stdout)
    secret = re.search(r"client_secret\s+(\S+)", done.stdout)
    assert client_id and secret, done.stdout
    token = token_for(
        server.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": client_id.group(1),
            "client_secret": secret.group(1),
        },
    )
    admin = Client(server.base_url, token)

    def count(path: str, **params: str) -> int:
        r = admin.get(path, **params)
        assert r.status_code == 200, r.text
        return int(r.json()["meta"]["record_count"])

    assert count("/api/orders") == ORDERS
    assert count("/api/line_items") >= ORDERS
    assert count("/api/customers") == ORDERS // 20
    assert count("/api/customer_payment_sources") == ORDERS // 20
    assert count("/api/authorizations") > 0
    whale = count("/api/orders", **{"filter[q][customer_email_eq]": "whale@example.com"})
    assert 0 < whale < ORDERS
    # The seeded numbers are taken: a new order gets the next one.
    market = admin.get("/api/markets").json()["data"][0]["id"]
    order = admin.create(
        "orders", {"customer_email": "new@example.com"}, {"market": ("markets", market)}
    )
    assert order["attributes"]["number"] == str(ORDERS + 1)
    again = run_seed(server, slug)
    assert again.returncode == 1 and "seeded already" in again.stderr
