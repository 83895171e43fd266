"""Helpers of the account tests: bare organizations, logins, and servers with other settings."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import Client, Server, free_port, token_for


@dataclass
class Org:
    """An organization with its two applications and no catalog: enough to log customers in."""

    base_url: str
    creds: dict[str, Any]
    admin: Client

    @classmethod
    def new(cls, server: Server, mode: str = "test", slug: str | None = None) -> Org:
        creds = server.new_org(mode, slug)
        token = token_for(
            server.base_url,
            {
                "grant_type": "client_credentials",
                "client_id": creds["integration_client_id"],
                "client_secret": creds["integration_client_secret"],
            },
        )
        return cls(server.base_url, creds, Client(server.base_url, token))

    def on(self, base_url: str) -> Org:
        """The same organization, talked to through another server process."""
        return Org(base_url, self.creds, Client(base_url, self.admin.token))

    def customer(self, password: str = "secret-pw") -> tuple[str, str]:
        email = f"jane-{secrets.token_hex(4)}@example.com"
        row = self.admin.create("customers", {"email": email, "password": password})
        return row["id"], email

    def login_body(self, email: str, password: str) -> dict[str, Any]:
        return {
            "grant_type": "password",
            "client_id": self.creds["sales_channel_client_id"],
            "username": email,
            "password": password,
        }

    def login(self, email: str, password: str, http: httpx.Client | None = None) -> httpx.Response:
        body = self.login_body(email, password)
        if http is not None:
            return http.post(self.base_url + "/oauth/token", json=body)
        return httpx.post(self.base_url + "/oauth/token", json=body, timeout=60)

    def guest(self) -> Client:
        token = token_for(
            self.base_url,
            {
                "grant_type": "client_credentials",
                "client_id": self.creds["sales_channel_client_id"],
            },
        )
        return Client(self.base_url, token)


def from_address(address: str) -> httpx.Client:
    """A client whose connections come from another loopback address (another "client")."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=120)


@contextmanager
def extra_server(server: Server, data_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    """Another ``kassa serve`` process on the database of ``server``, with ``env`` on top."""
    srv = Server(server.backend, server.database_url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {**server.env, "KASSA_DATA_DIR": str(data_dir), **env}
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def document(type_: str, attributes: dict[str, Any], id_: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "attributes": attributes}
    if id_ is not None:
        data["id"] = id_
    return {"data": data}


def error_at(r: httpx.Response, status: int, pointer: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["errors"][0]
    if pointer is not None:
        assert err.get("source", {}).get("pointer") == pointer, err
    return err
