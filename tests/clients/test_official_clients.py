"""The official Commerce Layer clients run the seed flow against a live ``kassa serve``.

Two clients, unchanged apart from where they connect:

* ``seed_flow.mjs``: ``@commercelayer/js-auth`` 8.0.1 + ``@commercelayer/sdk`` 7.12.1 on Node,
  through the URL-rewriting fetch of ``kassa_fetch.mjs`` (domain ``kassa.localhost``);
* ``python_seed_flow.py``: the PyPI ``commercelayer`` 3.0.4 client, in its own virtualenv.

``make test`` installs both (``make clients``); a missing install fails here, it never skips.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa.fake_processor import ProcessorServer
from tests.clients.pyclient import PY_CLIENT, PythonClientPool
from tests.support import Server

pytestmark = pytest.mark.clients

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules" / "@commercelayer"
FLOW_ENV = (
    "KASSA_BASE_URL",
    "KASSA_DOMAIN",
    "ORG_SLUG",
    "INTEGRATION_CLIENT_ID",
    "INTEGRATION_CLIENT_SECRET",
    "SALES_CHANNEL_CLIENT_ID",
    "PROCESSOR_URL",
)
TIMEOUT = 120


def _client_env(server: Server, processor: ProcessorServer, account: str) -> dict[str, str]:
    creds = server.new_org()
    return {
        **os.environ,
        "KASSA_BASE_URL": server.base_url,
        # The domain the server puts in `iss`; the JS clients derive their URLs from it.
        "KASSA_DOMAIN": server.env.get("KASSA_DOMAIN", "kassa.localhost"),
        "ORG_SLUG": creds["organization_slug"],
        "INTEGRATION_CLIENT_ID": creds["integration_client_id"],
        "INTEGRATION_CLIENT_SECRET": creds["integration_client_secret"],
        "SALES_CHANNEL_CLIENT_ID": creds["sales_channel_client_id"],
        "PROCESSOR_URL": f"{processor.url}/{account}",
    }


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, cwd=HERE, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"{' '.join(argv)} did not finish in {TIMEOUT}s\n{out or ''}")


def _assert_passed(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    assert "# passed:" in result.stdout, result.stdout
    print(result.stdout)  # the numbered steps, shown with -s / -rP


def _assert_processor_saw_the_story(processor: ProcessorServer, account: str) -> None:
    """Two signed authorizations and one wallet token call; order 2 paid with the wallet token."""
    calls: list[dict[str, Any]] = httpx.get(f"{processor.url}/_accounts/{account}/calls").json()[
        "calls"
    ]
    assert [c["action"] for c in calls] == ["authorize", "token", "authorize"], calls
    assert all(c["signature_valid"] is True and c["status"] == 200 for c in calls), calls
    first, token, second = calls
    assert first["json"]["data"]["attributes"]["payment_source_token"] == "tok_abc"
    wallet_token = token["response"]["data"]["payment_source_token"]
    assert second["json"]["data"]["attributes"]["payment_source_token"] == wallet_token


@pytest.fixture(autouse=True, scope="module")
def _warm_python_client(python_client: PythonClientPool) -> None:
    """Start the Python client processes before the JS test, so they import meanwhile."""


def test_js_sdk_runs_the_seed_flow(server: Server, processor: ProcessorServer) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node (>= 20) is not on PATH: the official JS clients cannot run")
    if not (NODE_MODULES / "sdk").is_dir() or not (NODE_MODULES / "js-auth").is_dir():
        pytest.fail(f"{NODE_MODULES} is missing: run `make clients` (npm ci in tests/clients)")
    account = "acct-js-" + secrets.token_hex(4)
    result = _run([node, "seed_flow.mjs"], _client_env(server, processor, account))
    _assert_passed(result, "seed_flow.mjs (@commercelayer/sdk 7.12.1)")
    _assert_processor_saw_the_story(processor, account)


def test_python_client_runs_the_seed_flow(
    server: Server, processor: ProcessorServer, python_client: PythonClientPool
) -> None:
    if not PY_CLIENT.exists():
        pytest.fail(f"{PY_CLIENT} is missing: run `make clients` (commercelayer==3.0.4 venv)")
    account = "acct-py-" + secrets.token_hex(4)
    env = _client_env(server, processor, account)
    result = python_client.run({k: env[k] for k in FLOW_ENV})
    _assert_passed(result, "python_seed_flow.py (commercelayer 3.0.4)")
    _assert_processor_saw_the_story(processor, account)
