"""The CLI says what it does, and every request gets an id and (when asked) one log line."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Server, free_port, token_for


def _kassa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    return subprocess.run(
        [sys.executable, "-m", "kassa", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_lists_the_migrations_it_applied_then_says_up_to_date(tmp_path: Path) -> None:
    env = {"KASSA_DATA_DIR": str(tmp_path)}
    first = _kassa("migrate", env=env)
    assert first.returncode == 0, first.stderr
    applied = re.findall(r"^  applied (\w+)  ", first.stdout, re.MULTILINE)
    assert len(applied) >= 1 and applied[0] == "e0135df9d999", first.stdout
    assert f"Applied {len(applied)} migration" in first.stdout
    assert str(tmp_path / "kassa.sqlite3") in first.stdout
    again = _kassa("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stdout
    assert "Already up to date" in again.stdout


def test_init_says_created_then_reused_and_where_the_credentials_are(tmp_path: Path) -> None:
    env = {"KASSA_DATA_DIR": str(tmp_path)}
    assert _kassa("migrate", env=env).returncode == 0
    first = _kassa("init", env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"Organization  demo-shop \(\w+\) created, test mode", first.stdout)
    assert f"Saved in      {tmp_path / 'credentials.json'}" in first.stdout
    again = _kassa("init", env=env)
    assert re.search(r"Organization  demo-shop \(\w+\) reused", again.stdout), again.stdout


def test_serve_banner_says_url_credentials_and_request_log(tmp_path: Path) -> None:
    port = free_port()
    env = {"KASSA_DATA_DIR": str(tmp_path), "KASSA_PORT": str(port)}
    assert _kassa("migrate", env=env).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve", "--access-log", "--log-level", "warning"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(5)]
        text = "".join(banner)
        assert f"Kassa         http://127.0.0.1:{port}" in text, text
        assert f"{tmp_path / 'credentials.json'}  (missing: run `kassa init`" in text, text
        assert "Request log   standard output, one line per request" in text, text
        _wait(f"http://127.0.0.1:{port}")
        marker = json.loads((tmp_path / "server.json").read_text())
        assert marker["url"] == f"http://127.0.0.1:{port}"
        sent = httpx.get(f"http://127.0.0.1:{port}/api/skus", headers={"X-Request-Id": "abc-1"})
        assert sent.status_code == 401
        line = proc.stdout.readline()
        while line.startswith("GET /health 200 "):  # the start-up polls, logged too
            line = proc.stdout.readline()
        assert line.startswith("GET /api/skus 401 ") and line.rstrip().endswith("id=abc-1"), line
    finally:
        proc.terminate()
        proc.wait(10)
    assert not (tmp_path / "server.json").exists()


def _wait(base: str) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.fixture(scope="module")
def json_logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("kassa-jsonlog")
    url = f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    srv = Server("sqlite", url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir)}
    srv.start(extra_env={"KASSA_LOG_FORMAT": "json"})
    try:
        yield srv
    finally:
        srv.stop()


def _log_lines(srv: Server, last_path: str) -> list[dict[str, object]]:
    """The JSON lines, once the one for ``last_path`` is written; start-up polls left out."""
    port = srv.base_url.rsplit(":", 1)[1]
    deadline = time.time() + 10
    while True:
        raw = (srv.data_dir / f"server-{port}.log").read_text().splitlines()
        lines = [json.loads(line) for line in raw if line.startswith("{")]
        if any(e["path"] == last_path for e in lines) or time.time() > deadline:
            return [e for e in lines if e["path"] != "/health"]
        time.sleep(0.1)


def test_json_request_log_has_one_line_per_request_and_no_secret(json_logged: Server) -> None:
    creds = json_logged.new_org()
    secret = creds["integration_client_secret"]
    token = token_for(
        json_logged.base_url,
        {
            "grant_type": "client_credentials",
            "client_id": creds["integration_client_id"],
            "client_secret": secret,
        },
    )
    marker = "who-" + secrets.token_hex(4)
    listed = httpx.get(
        json_logged.base_url + "/api/customers",
        params={"filter[q][email_eq]": f"{marker}@example.com"},
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42"},
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["x-request-id"] == "trace-42"
    httpx.get(json_logged.base_url + "/nowhere")
    text = json_logged.data_dir / f"server-{json_logged.base_url.rsplit(':', 1)[1]}.log"
    lines = _log_lines(json_logged, "/nowhere")
    assert [(e["method"], e["path"], e["status"]) for e in lines[-3:]] == [
        ("POST", "/oauth/token", 200),
        ("GET", "/api/customers", 200),
        ("GET", "/nowhere", 404),
    ], lines
    for entry in lines:
        assert set(entry) == {"ts", "method", "path", "status", "duration_ms", "request_id"}
        assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert lines[-2]["request_id"] == "trace-42"
    raw = text.read_text()
    for leaked in (token, secret, marker, creds["integration_client_id"]):
        assert leaked not in raw


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("req-1.a:b@c/d+e=f", True), ("has space", False), ("x" * 129, False), ("é", False)],
)
def test_every_response_has_a_request_id(server: Server, sent: str, echoed: bool) -> None:
    """Echoed when sane, replaced otherwise; on answers of every part of the stack."""
    requests = [
        ("GET", "/health", {}),
        ("GET", "/api/skus", {}),  # 401 from the API
        ("GET", "/unknown", {}),  # 404 from the router
        ("POST", "/oauth/token", {}),  # 4xx from OAuth
        ("GET", "/health", {"Host": "evil.example"}),  # 400 from the host check
    ]
    seen = set()
    for method, path, extra in requests:
        headers = {"X-Request-Id": sent.encode("utf-8"), **extra}
        response = httpx.request(method, server.base_url + path, headers=headers)
        rid = response.headers.get("x-request-id")
        assert rid, (method, path, response.status_code)
        assert response.headers.get_list("x-request-id") == [rid]
        if echoed:
            assert rid == sent
        else:
            assert rid != sent and re.fullmatch(r"[0-9a-f]{32}", rid), rid
            seen.add(rid)
    assert echoed or len(seen) == len(requests)  # a fresh id per request
