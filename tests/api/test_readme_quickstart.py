"""The README's quick start, executed line by line exactly as written.

It runs in a scratch directory that links the repository's parts (so ``var/`` is a fresh
data directory) on the ports the README names; lines marked "leave it running" are started
in the background and awaited.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT

PORTS = (8080, 8081, 9090)


def quickstart_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README.md has no bash block under ## Quick start"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _venv_ready() -> bool:
    """The stamp `make` leaves after installing: without it `make serve` would install."""
    sha = hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    python = ROOT / ".venv" / "bin" / "python"
    if not python.exists():
        return False
    tag = subprocess.run(
        [str(python), "-c", 'import sys; print("py%d.%d.%d" % sys.version_info[:3])'],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (ROOT / ".venv" / f".installed-{sha}-{tag}").exists()


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    if any(_busy(port) for port in PORTS):
        pytest.skip(f"one of the README's ports {PORTS} is in use here")
    if not _venv_ready():
        pytest.skip("the virtualenv is not installed for this pyproject.toml: run `make setup`")
    for name in ("Makefile", "pyproject.toml", "src", "docs", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield tmp_path, started
    finally:
        for proc in started:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}:\n{log.read_text()}")
        if _busy(port):
            if port == 9090:
                return
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"nothing answers on {port}:\n{log.read_text()}")


def test_quick_start_runs_as_written(clone: tuple[Path, list[subprocess.Popen[bytes]]]) -> None:
    work, started = clone
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "BASE", "CREDS"))}
    lines = quickstart_lines()
    assert lines[0].startswith("make serve"), "make serve comes first"
    outputs: list[str] = []
    for n, line in enumerate(lines):
        if "leave it running" in line:
            log = work / f"background-{n}.log"
            proc = subprocess.Popen(
                ["bash", "-c", line],
                cwd=work,
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started.append(proc)
            port = re.search(r"KASSA_PORT=(\d+)", line)
            _wait_for(
                int(port.group(1)) if port else 9090 if "fake-gateway" in line else 8080, proc, log
            )
            continue
        done = subprocess.run(
            ["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    token, walkthrough, demo = outputs
    assert '"access_token"' in token, token
    assert walkthrough.count('{"status":"placed","payment_status":"authorized"}') == 2
    assert "order 2 was paid with wallet entry" in demo
    serve_log = (work / "background-0.log").read_text()
    for said in (
        "==> Applying database migrations",
        "Migrating",
        "] applying e0135df9d999  initial schema ... done in",  # one line per migration
        "Organization  demo-shop",
        "Kassa         http://127.0.0.1:8080",
        "Request log   ",
    ):
        assert said in serve_log, serve_log
