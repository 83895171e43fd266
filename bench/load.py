"""A small load generator for the write flows: N concurrent clients on one event loop.

Each client is one logged-in customer with its own keep-alive connection; it runs the flow
of :mod:`bench.scenarios` over and over, first for a warm-up, then for the measured window.
Per step it records the latency and the SQL statements the server reported
(``X-Kassa-Queries``, from ``KASSA_QUERY_COUNT_HEADER=1``). The requests go through the
small client of :mod:`bench.http_client` on uvloop, so that the generator's own CPU stays
far below the server's (``FlowResult.client_cpu`` reports it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import uvloop

from bench.http_client import Connection, HttpError
from bench.scenarios import HEADERS, Flow, FlowError, check


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile by the nearest-rank method (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


@dataclass
class Step:
    ms: list[float] = field(default_factory=list)
    statements: Counter[int] = field(default_factory=Counter)

    @property
    def usual_statements(self) -> str:
        """The statement count most requests of the step ran, and the range when it varied."""
        if not self.statements:
            return "–"
        common = self.statements.most_common(1)[0][0]
        low, high = min(self.statements), max(self.statements)
        return str(common) if low == high else f"{common} ({low}–{high})"


@dataclass
class FlowResult:
    name: str
    clients: int
    seconds: float = 0.0
    flow_ms: list[float] = field(default_factory=list)
    flow_statements: list[int] = field(default_factory=list)
    steps: dict[str, Step] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    client_cpu: float = 0.0
    """CPU seconds per second the load generator itself used (1.0 = a whole core)."""

    @property
    def flows(self) -> int:
        return len(self.flow_ms)

    @property
    def rate(self) -> float:
        return self.flows / self.seconds if self.seconds else 0.0

    @property
    def statements(self) -> str:
        if not self.flow_statements:
            return "–"
        common = statistics.mode(self.flow_statements)
        low, high = min(self.flow_statements), max(self.flow_statements)
        return str(common) if low == high else f"{common} ({low}–{high})"


async def _one(http: Connection, flow: Flow, result: FlowResult | None) -> None:
    call = next(flow)
    steps: list[tuple[str, float, int]] = []
    while True:
        body = b"" if call.body is None else orjson.dumps(call.body)
        started = time.perf_counter()
        answer = await http.request(call.method, call.path, call.params, body)
        ms = (time.perf_counter() - started) * 1000
        if call.timed:
            steps.append((call.step, ms, int(answer.headers.get("x-kassa-queries", "0"))))
        try:
            call = flow.send(check(call, answer.status_code, answer.content))
        except StopIteration:
            break
    if result is not None:
        for name, ms, statements in steps:
            step = result.steps.setdefault(name, Step())
            step.ms.append(ms)
            step.statements[statements] += 1
        result.flow_ms.append(sum(ms for _, ms, _ in steps))
        result.flow_statements.append(sum(n for _, _, n in steps))


async def _client(
    base_url: str,
    token: str,
    make_flow: Callable[[], Flow],
    until: float,
    result: FlowResult | None,
    errors: list[str],
) -> None:
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    async with Connection(base_url, headers) as http:
        while time.monotonic() < until and len(errors) < 20:
            try:
                await _one(http, make_flow(), result)
            except (FlowError, HttpError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")


async def _run(
    name: str,
    base_url: str,
    tokens: list[str],
    make_flow: Callable[[], Flow],
    warmup: float,
    duration: float,
) -> FlowResult:
    result = FlowResult(name, len(tokens))
    if warmup > 0:
        until = time.monotonic() + warmup
        await asyncio.gather(
            *(_client(base_url, t, make_flow, until, None, result.errors) for t in tokens)
        )
    started, cpu = time.monotonic(), time.process_time()
    until = started + duration
    await asyncio.gather(
        *(_client(base_url, t, make_flow, until, result, result.errors) for t in tokens)
    )
    result.seconds = time.monotonic() - started
    result.client_cpu = (time.process_time() - cpu) / result.seconds
    return result


def run_flows(
    name: str,
    base_url: str,
    tokens: list[str],
    make_flow: Callable[[], Flow],
    warmup: float,
    duration: float,
) -> FlowResult:
    """``len(tokens)`` clients running ``make_flow()`` flows: warm-up, then ``duration`` s."""
    return uvloop.run(_run(name, base_url, tokens, make_flow, warmup, duration))


def run_count(
    base_url: str, tokens: list[str], make_flow: Callable[[], Flow], count: int
) -> FlowResult:
    """Exactly ``count`` flows, spread over the clients (building a shop's history)."""

    async def client(token: str, n: int, result: FlowResult) -> None:
        headers = {**HEADERS, "Authorization": f"Bearer {token}"}
        async with Connection(base_url, headers) as http:
            for _ in range(n):
                try:
                    await _one(http, make_flow(), result)
                except (FlowError, HttpError) as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")

    async def everything() -> FlowResult:
        result = FlowResult("setup", len(tokens))
        shares = [count // len(tokens) + (i < count % len(tokens)) for i in range(len(tokens))]
        await asyncio.gather(*(client(t, n, result) for t, n in zip(tokens, shares, strict=True)))
        return result

    return uvloop.run(everything())
