"""The CLI says what it does, and every request gets an id and (when asked) one log line."""

from __future__ import annotations

import io
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

from kassa.progress import Progress
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


def test_migrate_shows_each_migration_as_it_applies_then_says_up_to_date(tmp_path: Path) -> None:
    env = {"KASSA_DATA_DIR": str(tmp_path)}
    first = _kassa("migrate", env=env)
    assert first.returncode == 0, first.stderr
    # One line per revision, numbered against the total and timed: [2/7] applying <rev> ...
    steps = re.findall(
        r"^  \[\s*(\d+)/(\d+)\] applying (\w+)  .+ \.\.\. done in \d+\.\d s$",
        first.stdout,
        re.MULTILINE,
    )
    assert steps and steps[0][2] == "e0135df9d999", first.stdout
    assert [int(n) for n, _, _ in steps] == list(range(1, len(steps) + 1))
    assert {int(total) for _, total, _ in steps} == {len(steps)}
    assert re.search(rf"^Applied {len(steps)} migrations? in \d+\.\d s\.$", first.stdout, re.M)
    assert str(tmp_path / "kassa.sqlite3") in first.stdout
    again = _kassa("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert "applying" not in again.stdout
    assert "Already up to date" in again.stdout


def test_migrate_explains_a_database_it_cannot_use(server: Server, tmp_path: Path) -> None:
    """No traceback: the missing database (PostgreSQL) or unusable file (SQLite) is named."""
    if server.backend == "postgres":
        base = server.database_url.rsplit("/", 1)[0]
        name = "kassa_missing_" + secrets.token_hex(4)
        done = _kassa("migrate", env={"KASSA_DATABASE_URL": f"{base}/{name}"})
        expected = f"the PostgreSQL database '{name}' does not exist on "
        assert expected in done.stderr and "create it with: createdb " in done.stderr
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        url = f"sqlite+aiosqlite:///{blocker / 'kassa.sqlite3'}"
        done = _kassa("migrate", env={"KASSA_DATABASE_URL": url})
        assert "kassa migrate: cannot use the database sqlite+aiosqlite:///" in done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_migrate_explains_a_postgresql_server_that_is_not_running() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/kassa"
    done = _kassa("migrate", env={"KASSA_DATABASE_URL": url})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "kassa migrate: cannot connect to PostgreSQL at 127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


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


def test_progress_bar_into_a_log_writes_at_most_one_line_per_tenth() -> None:
    """`kassa seed` into a file or CI log: no carriage-return flood, the end always shown."""
    out = io.StringIO()
    progress = Progress(1000, "orders   ", out=out)
    for _ in range(250):
        progress.advance(4)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 11, lines  # 0% .. 100%
    assert lines[-1].startswith("orders    [" + "#" * 30 + "] 100% 1,000/1,000"), lines[-1]
