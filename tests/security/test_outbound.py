"""Outbound URLs: a gateway URL cannot make Kassa call the cloud metadata service.

Attacks: an integration (or whoever got its key) points a gateway's ``authorize_url`` or
``token_url`` at 169.254.169.254 in every spelling the resolver accepts (decimal, hex,
short forms, IPv4-mapped and NAT64 IPv6), at other link-local and metadata addresses, or at
non-HTTP schemes. Each call is refused after resolution and recorded like an unreachable
gateway: a failed transaction with a clear message, never a 500, nothing sent anywhere.
With ``KASSA_OUTBOUND_ALLOW_PRIVATE=0`` loopback is refused as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.api.payflow import attrs, gateway, state, txns
from tests.api.wallet_helpers import entries_of, save
from tests.shop import Shop
from tests.support import Client, Server, free_port

METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254:443/computeMetadata/v1/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://169.254.43518/",
    "http://100.100.100.200/",
    "http://0.0.0.0/",
]
BAD_SCHEMES = [
    "http://0251.0376.0251.0376/",  # octal dotted quad: not even a valid URL
    "ftp://169.254.169.254/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:11211/stat",
    "javascript:alert(1)",
    "//169.254.169.254/",
    "169.254.169.254",
]
URL_ATTRIBUTES = ("authorize_url", "capture_url", "void_url", "refund_url", "token_url")


def set_url(shop: Shop, name: str, url: str) -> None:
    r = shop.admin.update("external_gateways", shop.ids["gateway"], {name: url})
    assert r.status_code == 200, r.text


def last_txn(shop: Shop, oid: str) -> dict[str, object]:
    return dict(txns(shop, oid)[-1]["attributes"])


def test_metadata_addresses_are_refused_in_every_spelling(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    for count, url in enumerate(METADATA_URLS, start=1):
        set_url(shop, "authorize_url", url)
        r = shop.place(guest, oid)
        assert r.status_code == 200, (url, r.text)
        assert state(shop, oid) == ("pending", "unpaid"), url
        t = last_txn(shop, oid)
        assert t["succeeded"] is False, url
        assert t["error_code"] == "DESTINATION_REFUSED", (url, t)
        assert str(t["message"]).startswith("destination refused: "), (url, t)
        assert "None" not in str(t["message"])
        # Counted like an unreachable gateway.
        assert gateway(shop)["circuit_failure_count"] == count
    assert len(txns(shop, oid)) == len(METADATA_URLS)
    assert shop.calls() == []
    # The same order goes through once the gateway points somewhere sane again.
    set_url(shop, "authorize_url", shop.processor_url + "/authorize")
    assert shop.place(guest, oid).status_code == 200
    assert state(shop, oid) == ("placed", "authorized")
    assert len(shop.calls("authorize")) == 1


def test_refused_address_reads_as_link_local(shop: Shop) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    set_url(shop, "authorize_url", "http://[::ffff:169.254.169.254]/")
    assert shop.place(guest, oid).status_code == 200
    t = last_txn(shop, oid)
    assert "link-local address" in str(t["message"])
    assert t["error_detail"] == t["message"]
    assert t["token"] is None


def test_token_url_pointing_at_metadata_saves_nothing(shop: Shop) -> None:
    customer_id, client = shop.customer()
    oid = shop.cart(client)
    assert shop.place(client, oid).status_code == 200
    set_url(shop, "token_url", "http://2852039166/latest/api/token")
    r = save(client, oid)
    assert r.status_code == 422, r.text
    [err] = r.json()["errors"]
    assert err["source"] == {"pointer": "/data/attributes/_save_payment_source_to_customer_wallet"}
    assert err["meta"]["error"] == "DESTINATION_REFUSED"
    assert entries_of(shop, customer_id) == []
    assert shop.calls("token") == []
    assert gateway(shop)["circuit_failure_count"] == 1


def test_non_http_schemes_are_refused_on_save(shop: Shop) -> None:
    before = gateway(shop)
    for name in URL_ATTRIBUTES:
        for url in BAD_SCHEMES:
            r = shop.admin.update("external_gateways", shop.ids["gateway"], {name: url})
            assert r.status_code == 422, (name, url, r.text)
            [err] = r.json()["errors"]
            assert err["source"] == {"pointer": f"/data/attributes/{name}"}, r.text
    after = gateway(shop)
    assert {k: after[k] for k in URL_ATTRIBUTES} == {k: before[k] for k in URL_ATTRIBUTES}
    created = shop.admin.post(
        "/api/external_gateways",
        {
            "data": {
                "type": "external_gateways",
                "attributes": {"name": "x", "token_url": "ftp://a/"},
            }
        },
    )
    assert created.status_code == 422, created.text


# --- KASSA_OUTBOUND_ALLOW_PRIVATE=0 ---------------------------------------------------------


@pytest.fixture(scope="module")
def strict(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second process on the same database that refuses loopback and private addresses."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp(f"kassa-strict-{server.backend}")
    srv = Server(server.backend, server.database_url, f"http://127.0.0.1:{port}", data_dir)
    srv.env = {**server.env, "KASSA_DATA_DIR": str(data_dir), "KASSA_OUTBOUND_ALLOW_PRIVATE": "0"}
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_private_setting_refuses_loopback(shop: Shop, strict: Server) -> None:
    guest = shop.guest()
    oid = shop.cart(guest)
    on_strict = Client(strict.base_url, guest.token)
    port = urlsplit(shop.processor.url).port
    spellings = [
        shop.processor_url + "/authorize",
        f"http://localhost:{port}/{shop.account}/authorize",
        f"http://[::ffff:127.0.0.1]:{port}/{shop.account}/authorize",
        f"http://2130706433:{port}/{shop.account}/authorize",
    ]
    for url in spellings:
        set_url(shop, "authorize_url", url)
        r = on_strict.update("orders", oid, {"_place": True})
        assert r.status_code == 200, (url, r.text)
        t = last_txn(shop, oid)
        assert t["error_code"] == "DESTINATION_REFUSED", (url, t)
        assert "loopback address" in str(t["message"]), (url, t)
    assert shop.calls() == [], "the processor on loopback received nothing"
    assert attrs(shop, oid)["status"] == "pending"
    # The default (this suite's server) allows loopback for self-hosted gateways.
    set_url(shop, "authorize_url", shop.processor_url + "/authorize")
    assert shop.place(guest, oid).status_code == 200
    assert state(shop, oid) == ("placed", "authorized")
    assert len(shop.calls("authorize")) == 1
