"""The README's curl walk-through runs as written against a live server."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

from kassa.fake_processor import ProcessorServer
from tests.support import ROOT, Server


def test_readme_walkthrough_runs(
    server: Server, processor: ProcessorServer, tmp_path: Path
) -> None:
    assert shutil.which("jq"), "the walk-through needs jq (apt-get install jq)"
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps(server.new_org()))
    result = subprocess.run(
        ["bash", str(ROOT / "docs" / "walkthrough.sh")],
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "BASE": server.base_url,
            "GATEWAY": f"{processor.url}/walk-{secrets.token_hex(3)}",
            "CREDS": str(creds),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    placed = '{"status":"placed","payment_status":"authorized"}'
    assert result.stdout.count(placed) == 2, result.stdout + result.stderr
    saved = json.loads(result.stderr.strip().splitlines()[-1])
    entry = saved["included"][0]
    assert entry["type"] == "customer_payment_sources"
    assert entry["attributes"]["payment_source_token"].startswith("pm_")
    assert entry["attributes"]["customer_token"].startswith("cus_")
