"""The README's curl walk-through runs as written against a live server, and fails loudly."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

from kassa.fake_processor import ProcessorServer
from tests.support import ROOT, Server, free_port

SCRIPT = ROOT / "docs" / "walkthrough.sh"
PLACED = '{"status":"placed","payment_status":"authorized"}'


def _run(
    env: dict[str, str], cwd: Path | None = None, script: str = str(SCRIPT)
) -> subprocess.CompletedProcess[str]:
    assert shutil.which("jq"), "the walk-through needs jq (apt-get install jq)"
    return subprocess.run(
        ["bash", script],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _creds(server: Server, directory: Path) -> Path:
    creds = directory / "credentials.json"
    creds.write_text(json.dumps(server.new_org()))
    return creds


def test_readme_walkthrough_runs(
    server: Server, processor: ProcessorServer, tmp_path: Path
) -> None:
    result = _run(
        {
            "BASE": server.base_url,
            "GATEWAY": f"{processor.url}/walk-{secrets.token_hex(3)}",
            "CREDS": str(_creds(server, tmp_path)),
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(PLACED) == 2, result.stdout + result.stderr
    labels = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert [label[4:6] for label in labels[:6]] == ["0.", "1.", "2.", "3.", "4.", "5."], labels
    saved = json.loads(result.stderr.strip().splitlines()[-1])
    entry = saved["included"][0]
    assert entry["type"] == "customer_payment_sources"
    assert entry["attributes"]["payment_source_token"].startswith("pm_")
    assert entry["attributes"]["customer_token"].startswith("cus_")
    assert f"paid with wallet entry {entry['id']}" in result.stdout


def test_walkthrough_runs_from_the_docs_directory(
    server: Server, processor: ProcessorServer, tmp_path: Path
) -> None:
    """No BASE and no CREDS: the server comes from KASSA_PORT, the credentials file from
    KASSA_DATA_DIR, as `make serve` would set them; the script is named relative to docs/."""
    _creds(server, tmp_path)
    result = _run(
        {
            "KASSA_PORT": server.base_url.rsplit(":", 1)[1],
            "KASSA_DATA_DIR": str(tmp_path),
            "GATEWAY": f"{processor.url}/walk-{secrets.token_hex(3)}",
        },
        cwd=ROOT / "docs",
        script="walkthrough.sh",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(PLACED) == 2, result.stdout + result.stderr
    assert f"credentials {tmp_path / 'credentials.json'}" in result.stdout


def test_walkthrough_names_a_missing_processor(server: Server, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = _run(
        {
            "BASE": server.base_url,
            "GATEWAY": f"http://127.0.0.1:{port}/walk",
            "CREDS": str(_creds(server, tmp_path)),
        }
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"payment processor at http://127.0.0.1:{port}" in result.stderr
    assert f"kassa fake-gateway --port {port}" in result.stderr
    assert "1. An integration token" not in result.stdout  # stopped before any request


def test_walkthrough_names_a_missing_server(tmp_path: Path) -> None:
    result = _run({"BASE": f"http://127.0.0.1:{free_port()}", "CREDS": str(tmp_path / "x")})
    assert result.returncode != 0
    assert "Kassa server at http://127.0.0.1:" in result.stderr
    assert "make serve" in result.stderr


def test_walkthrough_names_a_missing_credentials_file(
    server: Server, processor: ProcessorServer, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "credentials.json"
    result = _run({"BASE": server.base_url, "GATEWAY": processor.url, "CREDS": str(missing)})
    assert result.returncode != 0
    assert f"credentials file {missing} does not exist" in result.stderr
    assert "kassa init" in result.stderr


def test_walkthrough_stops_at_the_first_unexpected_status(
    server: Server, processor: ProcessorServer, tmp_path: Path
) -> None:
    """A wrong secret: step 1 gets 401 and the run stops there with the request and the
    response, the secret left out."""
    creds = json.loads(_creds(server, tmp_path).read_text())
    secret = "wrong-" + secrets.token_hex(8)
    (tmp_path / "credentials.json").write_text(
        json.dumps({**creds, "integration_client_secret": secret})
    )
    result = _run(
        {
            "BASE": server.base_url,
            "GATEWAY": processor.url,
            "CREDS": str(tmp_path / "credentials.json"),
        }
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'FAILED at step "1. An integration token' in result.stderr
    assert "expected HTTP 200, got HTTP 401" in result.stderr
    assert f"request:  POST {server.base_url}/oauth/token" in result.stderr
    assert "response: {" in result.stderr and "invalid_client" in result.stderr.lower()
    assert secret not in result.stderr + result.stdout
    assert "2. A market" not in result.stdout
