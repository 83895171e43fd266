"""The read scenarios: capture Kassa's answer, serve it from the bare endpoint, run wrk on both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson

from bench.scenarios import JSONAPI, Read

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Capture:
    read: Read
    url_path: str  # path and query string, as sent
    body: bytes
    statements: int


@dataclass
class WrkResult:
    rps: float
    p50: float
    p99: float


@dataclass
class ReadResult:
    read: Read
    size: int
    statements: int
    kassa: WrkResult
    baseline: WrkResult

    @property
    def ratio(self) -> float:
        return self.kassa.rps / self.baseline.rps if self.baseline.rps else 0.0


def capture(base_url: str, read: Read, token: str, folder: Path) -> Capture:
    """GET the scenario from Kassa and keep its answer for the bare endpoint."""
    url_path = read.path + ("?" + urlencode(read.params) if read.params else "")
    headers = {"Accept": JSONAPI, "Authorization": f"Bearer {token}"}
    r = httpx.get(base_url + url_path, headers=headers, timeout=60)
    if r.status_code != 200:
        raise RuntimeError(f"{read.label}: {r.status_code} {r.text[:500]}")
    meta = {"path": read.path, "status": r.status_code, "headers": dict(r.headers)}
    (folder / f"{read.name}.json").write_bytes(orjson.dumps(meta))
    (folder / f"{read.name}.body").write_bytes(r.content)
    return Capture(read, url_path, r.content, int(r.headers.get("X-Kassa-Queries", "-1")))


def start_baseline(
    port: int,
    workers: int,
    captures: Path,
    app: str = "bench.baseline_app:build_app",
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """The bare app (or another ``app`` factory) under the uvicorn settings of ``kassa serve``."""
    cmd = [sys.executable, "-m", "uvicorn", app, "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    full_env = {**os.environ, **(env or {}), "KASSA_BENCH_CAPTURES": str(captures)}
    proc = subprocess.Popen([*cmd, "--no-access-log"], cwd=ROOT, env=full_env)
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the baseline app did not start")


def same_bytes(baseline_url: str, cap: Capture) -> None:
    """The bare endpoint answers the scenario's request with Kassa's body, byte for byte."""
    r = httpx.get(baseline_url + cap.url_path, timeout=10)
    if r.content != cap.body or r.headers.get("content-type") != JSONAPI:
        raise RuntimeError(f"the baseline does not serve the bytes of {cap.read.label}")


def wrk(url: str, token: str | None, duration: float, connections: int) -> WrkResult:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    cmd += ["-H", f"Accept: {JSONAPI}"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")

    def latency(pct: str) -> float:
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if m is None:
            raise RuntimeError(f"no {pct}% latency in wrk output:\n{out}")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return WrkResult(float(rps.group(1)), latency("50"), latency("99"))


def measure(
    cap: Capture,
    kassa_url: str,
    baseline_url: str,
    token: str,
    warmup: float,
    duration: float,
    connections: int,
) -> ReadResult:
    """wrk on the bare endpoint, then on Kassa, the same request line and headers."""
    results = []
    for base in (baseline_url, kassa_url):
        if warmup > 0:
            wrk(base + cap.url_path, token, warmup, connections)
        results.append(wrk(base + cap.url_path, token, duration, connections))
    return ReadResult(cap.read, len(cap.body), cap.statements, results[1], results[0])
