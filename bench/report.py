"""Markdown tables for ``bench/run.py``: one page per backend and one for the whole run."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from bench.load import FlowResult, percentile

if TYPE_CHECKING:
    from bench.run import BackendResult

# The targets (ratios to the same-bytes bare endpoint; flows/s on SQLite, one worker).
TARGETS = {
    "retrieve": "≥ 0.20",
    "skus": "≥ 0.20",
    "orders": "≥ 0.10",
    "checkout": "≥ 60/s",
    "wallet": "≥ 25/s",
}
FLOW_LABELS = {
    "checkout": "checkout: 7 requests, POST orders … PATCH `_place` (gateway on loopback)",
    "wallet": "wallet story: 2 orders, save to wallet, reuse, place (15 requests)",
}


def _setup(args: argparse.Namespace, started: datetime, machine: str) -> str:
    return (
        f"{started:%Y-%m-%d %H:%M} UTC; {machine}. wrk -t2 -c{args.connections}, "
        f"{args.duration:g} s per scenario after a {args.warmup:g} s warm-up; "
        f"{args.clients} concurrent write clients."
    )


def _flow_row(flows: FlowResult) -> str:
    p50, p99 = percentile(flows.flow_ms, 0.5), percentile(flows.flow_ms, 0.99)
    return (
        f"| {FLOW_LABELS.get(flows.name, flows.name)} | {flows.rate:.1f} | {p50:.0f} | "
        f"{p99:.0f} | {flows.statements} | {flows.flows} | {len(flows.errors)} |"
    )


def backend_report(
    result: BackendResult, args: argparse.Namespace, started: datetime, machine: str
) -> str:
    w = result.workers
    lines = [f"# Kassa benchmark: {result.backend}, {w} worker{'s' if w != 1 else ''}", ""]
    lines += [_setup(args, started, machine), ""]
    if result.reads:
        lines += [
            "Reads: requests per second against a bare Starlette endpoint serving the same "
            "bytes (body, status and headers captured from Kassa in this run) under the same "
            "uvicorn settings.",
            "",
            "| read | bytes | SQL statements | req/s | bare req/s | ratio | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in result.reads:
            lines.append(
                f"| {r.read.label} | {r.size} | {r.statements} | {r.kassa.rps:.0f} | "
                f"{r.baseline.rps:.0f} | {r.ratio:.3f} | {r.kassa.p50:.2f} | {r.kassa.p99:.2f} |"
            )
        lines.append("")
    if result.writes:
        lines += [
            f"Writes: {args.clients} concurrent clients, each a logged-in customer repeating "
            "the flow; latencies are the sums of the flow's timed requests.",
            "",
            "| flow | flows/s | p50 ms | p99 ms | SQL statements | flows | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [_flow_row(f) for f in result.writes]
        cpu = ", ".join(f"{f.name} {f.client_cpu:.0%}" for f in result.writes)
        lines += ["", f"CPU the load generator itself used (of one core): {cpu}."]
        for flows in result.writes:
            lines += ["", f"Steps of the {flows.name} flow:", ""]
            lines += ["| step | p50 ms | p99 ms | SQL statements |", "| --- | ---: | ---: | ---: |"]
            for name, step in flows.steps.items():
                lines.append(
                    f"| {name} | {percentile(step.ms, 0.5):.1f} | "
                    f"{percentile(step.ms, 0.99):.1f} | {step.usual_statements} |"
                )
            for error in flows.errors[:5]:
                lines.append(f"\nerror: `{error[:200]}`")
        lines.append("")
    for text in result.profiles:
        lines += [text, ""]
    return "\n".join(lines).rstrip() + "\n"


def combined_report(
    results: list[BackendResult], args: argparse.Namespace, started: datetime, machine: str
) -> str:
    lines = [
        "# Kassa benchmark",
        "",
        _setup(args, started, machine),
        "",
        "| scenario | backend | ratio to bare / flows/s | SQL statements | p99 ms | target |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        where = f"{result.backend}, {result.workers} worker{'s' if result.workers != 1 else ''}"
        for r in result.reads:
            lines.append(
                f"| {r.read.label} | {where} | {r.ratio:.3f} | {r.statements} | "
                f"{r.kassa.p99:.1f} | {TARGETS.get(r.read.name, '')} |"
            )
        for f in result.writes:
            lines.append(
                f"| {FLOW_LABELS.get(f.name, f.name)} | {where} | {f.rate:.1f}/s | "
                f"{f.statements} | {percentile(f.flow_ms, 0.99):.0f} | "
                f"{TARGETS.get(f.name, '')} |"
            )
    by_backend = {r.backend: r for r in results}
    if {"sqlite", "postgres"} <= set(by_backend):
        lines += ["", *_versus(by_backend["sqlite"], by_backend["postgres"])]
    return "\n".join(lines) + "\n"


def _versus(sqlite: BackendResult, postgres: BackendResult) -> list[str]:
    """The target "PostgreSQL with two workers at least as fast as SQLite with one"."""
    lines = [
        "PostgreSQL against SQLite (requests or flows per second; ≥ 1.00 is the target):",
        "",
        "| scenario | SQLite | PostgreSQL | PostgreSQL / SQLite |",
        "| --- | ---: | ---: | ---: |",
    ]
    pg_reads = {r.read.name: r for r in postgres.reads}
    for r in sqlite.reads:
        if r.read.name in pg_reads:
            a, b = r.kassa.rps, pg_reads[r.read.name].kassa.rps
            lines.append(f"| {r.read.name} | {a:.0f} | {b:.0f} | {b / a if a else 0:.2f} |")
    pg_writes = {f.name: f for f in postgres.writes}
    for f in sqlite.writes:
        if f.name in pg_writes:
            a, b = f.rate, pg_writes[f.name].rate
            lines.append(f"| {f.name} | {a:.1f} | {b:.1f} | {b / a if a else 0:.2f} |")
    return lines
