"""``kassa demo`` tells the wallet story against a freshly initialised ``kassa serve``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Server, free_port


def _kassa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make serve` in miniature: migrate, init (credentials file), serve, on a temp SQLite."""
    data_dir: Path = tmp_path_factory.mktemp("kassa-demo")
    url = f"sqlite+aiosqlite:///{data_dir / 'kassa.sqlite3'}"
    srv = Server("sqlite", url, f"http://127.0.0.1:{free_port()}", data_dir)
    srv.env = {"KASSA_DATABASE_URL": url, "KASSA_DATA_DIR": str(data_dir)}
    for command in ("migrate", "init"):
        done = _kassa(command, env=srv.env)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (data_dir / "credentials.json").exists()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_demo_runs_the_wallet_story(served: Server) -> None:
    done = _kassa("demo", "--base-url", served.base_url, env=served.env)
    out = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{out}\n{done.stderr}"
    assert "Organization demo-shop" in out
    # Numbered steps with their total, [ 1/10] to [10/10]; the two seed requests among them.
    steps = re.findall(r"^\[\s*(\d+)/(\d+)\] ", out, re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, 11)), out
    assert {total for _, total in steps} == {"10"}, out
    assert re.search(r"\(10 steps in \d+\.\d s\)", out), out
    assert "_save_payment_source_to_customer_wallet" in out
    assert "?include=available_customer_payment_sources" in out
    # The wallet entry's tokens, as the reference processor's token_url issued them.
    customer_token = re.search(r"customer_token\s+(cus_[0-9a-f]+)", out)
    source_token = re.search(r"payment_source_token (pm_[0-9a-f]+)", out)
    assert customer_token and source_token, out
    entry = re.search(r"wallet entry (\w+)", out)
    assert entry, out
    assert f'{{"_customer_payment_source_id": "{entry.group(1)}"}}' in out
    # Both orders placed and authorized; the second one with the saved source.
    assert "status placed, payment_status authorized, number 1" in out
    assert "status placed, payment_status authorized, number 2" in out
    assert "authorize payment_source_token tok_demo_card" in out
    assert f"authorize payment_source_token {source_token.group(1)} -> HTTP 200" in out
    assert out.count("(signature ok)") == 3, out
    assert f"order 2 was paid with wallet entry {entry.group(1)}" in out


def test_demo_explains_missing_credentials(tmp_path: Path) -> None:
    done = _kassa("demo", "--base-url", "http://127.0.0.1:9", env={"KASSA_DATA_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "run `kassa init` (or `make serve`) first" in done.stdout


def test_demo_explains_a_server_that_is_not_running(served: Server) -> None:
    done = _kassa("demo", "--base-url", f"http://127.0.0.1:{free_port()}", env=served.env)
    assert done.returncode == 1
    assert "Start it with `make serve`" in done.stdout


def test_demo_finds_the_running_server_without_being_told(served: Server) -> None:
    """`make serve` on another port, `kassa demo` in another shell without KASSA_PORT: the
    demo reads the URL the running server left in the data directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("KASSA_PORT", "KASSA_HOST")}
    done = subprocess.run(
        [sys.executable, "-m", "kassa", "demo"],
        env={**env, **served.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Server        {served.base_url}  (from the running `kassa serve`" in done.stdout
    assert "order 2 was paid with wallet entry" in done.stdout
