"""Test helpers: a running Kassa server, an HTTP client for it, and a ready-made shop."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

JSONAPI = "application/vnd.api+json"
ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "KASSA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_reachable() -> bool:
    return postgres_status()[0]


def postgres_status() -> tuple[bool, str]:
    """Whether the test PostgreSQL is usable, and why (in words, for the report header).

    When the server answers but the database of ``KASSA_TEST_POSTGRES_URL`` does not exist,
    it is created (through the server's ``postgres`` database) rather than skipped.
    """
    import asyncpg

    url = _plain(POSTGRES_URL)
    shown = url.split("@")[-1]
    base, _, name = url.rpartition("/")

    async def probe() -> tuple[bool, str]:
        created = ""
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except asyncpg.InvalidCatalogNameError:
            try:
                admin = await asyncpg.connect(f"{base}/postgres", timeout=3)
                try:
                    await admin.execute(f'CREATE DATABASE "{name}"')
                except asyncpg.DuplicateDatabaseError:
                    pass  # another run created it meanwhile
                finally:
                    await admin.close()
                conn = await asyncpg.connect(url, timeout=3)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                return False, f"database {name!r} is missing and could not be created: {exc}"
            created = f"; created the missing database {name!r}"
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            return False, f"PostgreSQL at {shown} is not reachable ({exc or type(exc).__name__})"
        await conn.close()
        return True, f"PostgreSQL reachable at {shown}{created}"

    return asyncio.run(probe())


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def create_postgres_database() -> str:
    import asyncpg

    name = "kassa_test_" + secrets.token_hex(4)

    async def create() -> None:
        conn = await asyncpg.connect(_plain(POSTGRES_URL))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    asyncio.run(create())
    base, _, _db = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]

    async def drop() -> None:
        conn = await asyncpg.connect(_plain(POSTGRES_URL))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(drop())


def new_database(backend: str, data_dir: Path) -> str:
    """A database of its own for ``backend``: a new PostgreSQL database (drop it with
    :func:`drop_postgres_database`) or a SQLite file in ``data_dir``; not migrated yet."""
    if backend == "postgres":
        if not postgres_reachable():
            pytest.fail("PostgreSQL is not reachable (KASSA_TEST_POSTGRES_URL)")
        return create_postgres_database()
    return f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"


@dataclass
class Server:
    backend: str
    database_url: str
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(
        self, workers: int = 1, extra_env: dict[str, str] | None = None, migrate: bool = True
    ) -> None:
        port = int(self.base_url.rsplit(":", 1)[1])
        env = {**os.environ, **self.env, **(extra_env or {})}
        if migrate:
            subprocess.run(
                [sys.executable, "-m", "kassa", "migrate"],
                env=env,
                check=True,
                capture_output=True,
            )
        log = open(self.data_dir / f"server-{port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kassa",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"server did not start; see {self.data_dir}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def new_org(self, mode: str = "test", slug: str | None = None) -> dict[str, Any]:
        from kassa.bootstrap import init_organization
        from kassa.settings import Settings

        settings = Settings(database_url=self.database_url)
        slug = slug or "shop-" + secrets.token_hex(4)
        return asyncio.run(init_organization(settings, slug, slug.title(), mode=mode))


def new_server(backend: str, data_dir: Path, url: str, **env: str) -> Server:
    """A ``kassa serve`` (not started) on ``url``, its files in ``data_dir``, plus ``env``."""
    srv = Server(backend, url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir), **env}
    return srv


def decode_jwt(token: str) -> dict[str, Any]:
    """Decode the payload with plain base64, as the official TypeScript SDK does."""
    segment = token.split(".")[1]
    assert "-" not in segment and "_" not in segment, "payload is not plain base64"
    return json.loads(base64.b64decode(segment + "=" * (-len(segment) % 4)))


class Client:
    """A thin JSON:API client: every call goes over real HTTP."""

    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url
        self.token = token
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": JSONAPI, "Content-Type": JSONAPI}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None, headers=self.headers())

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, content=json.dumps(body), headers=self.headers())

    def patch(self, path: str, body: Any, **params: Any) -> httpx.Response:
        return self.http.patch(
            path, content=json.dumps(body), headers=self.headers(), params=params or None
        )

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(path, headers=self.headers())

    def create(
        self,
        type_: str,
        attributes: dict[str, Any] | None = None,
        relationships: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST and expect 201; returns the resource object."""
        data: dict[str, Any] = {"type": type_, "attributes": attributes or {}}
        if relationships:
            data["relationships"] = {
                k: {"data": ({"type": v[0], "id": v[1]} if v else None)}
                for k, v in relationships.items()
            }
        response = self.post(f"/api/{type_}", {"data": data})
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def update(
        self,
        type_: str,
        id_: str,
        attributes: dict[str, Any] | None = None,
        relationships: dict[str, Any] | None = None,
        **params: Any,
    ) -> httpx.Response:
        data: dict[str, Any] = {"type": type_, "id": id_, "attributes": attributes or {}}
        if relationships:
            data["relationships"] = {
                k: {"data": ({"type": v[0], "id": v[1]} if v else None)}
                for k, v in relationships.items()
            }
        return self.patch(f"/api/{type_}/{id_}", {"data": data}, **params)

    def token_request(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post("/oauth/token", json=body, headers={"Accept": "application/json"})


def token_for(base_url: str, body: dict[str, Any]) -> str:
    response = httpx.post(base_url + "/oauth/token", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def error_of(response: httpx.Response) -> dict[str, Any]:
    return response.json()["errors"][0]
