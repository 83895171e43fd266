"""Property-based attacks driven by the served OpenAPI document (schemathesis + Hypothesis).

Every operation is called with cases generated from its schema, as each kind of token that
may call it (plus an integration token for the rest), with real ids of a populated shop in
the path most of the time. Each response must be no 5xx, and must conform to the document:
a documented status code, the documented content type, a body matching the schema.

Failures are collected, not raised at the first one, so one run reports all of them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
VERBS = ("create", "retrieve", "update", "delete")
METHOD_ORDER = {"GET": 0, "POST": 1, "PATCH": 2, "DELETE": 3}


def examples(default: int) -> int:
    """``KASSA_FUZZ_EXAMPLES``: examples per operation (and per token kind)."""
    return int(os.environ.get("KASSA_FUZZ_EXAMPLES", default))


@dataclass
class Failure:
    operation: str
    kind: str
    message: str
    curl: str

    def __str__(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else "?"
        return f"{self.operation} [{self.kind}]: {first}\n    {self.curl}"


@dataclass
class Report:
    operations: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    transitions: Counter[str] = field(default_factory=Counter)
    """Stateful steps that followed a link, by link."""

    def add(self, other: Report) -> None:
        self.operations |= other.operations
        self.requests += other.requests
        self.statuses.update(other.statuses)
        self.failures += other.failures
        self.seconds += other.seconds
        self.transitions.update(other.transitions)

    def summary(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        lines = [
            f"operations covered: {len(self.operations)}",
            f"requests sent: {self.requests} ({codes})",
            f"links followed: {sum(self.transitions.values())} ({len(self.transitions)} distinct)",
            f"failures: {len(self.failures)}",
            f"seconds: {self.seconds:.0f}",
        ]
        seen: set[tuple[str, str]] = set()
        for failure in self.failures:
            key = (failure.operation, str(failure).splitlines()[0])
            if key not in seen:
                seen.add(key)
                lines.append(str(failure))
        return "\n".join(lines)


def _message(exc: BaseException) -> str:
    parts = getattr(exc, "exceptions", None)
    if parts:
        return "\n".join(_message(p) for p in parts)
    return f"{type(exc).__name__}: {exc}"


class Fuzzer:
    """One schemathesis schema over a live server, and the callers to attack it with."""

    def __init__(
        self,
        document: dict[str, Any],
        base_url: str,
        tokens: dict[str, str],
        ids: dict[str, list[str]],
    ) -> None:
        self.schema = schemathesis.openapi.from_dict(document)
        self.base_url = base_url
        self.tokens = tokens
        self.ids = ids

    def headers(self, kind: str | None) -> dict[str, str]:
        token = self.tokens.get(kind or "")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def operations(self) -> list[Any]:
        ops = [result.ok() for result in self.schema.get_all_operations()]
        return sorted(ops, key=lambda op: (METHOD_ORDER.get(op.method.upper(), 9), op.path))

    def labels(self) -> set[str]:
        return {label(op) for op in self.operations()}

    def _strategy(self, op: Any, negative: bool) -> Any:
        mode = GenerationMode.NEGATIVE if negative else GenerationMode.POSITIVE
        resource = op.path.split("/")[2] if op.path.startswith("/api/") else None
        if "{id}" not in op.path or resource is None:
            return op.as_strategy(generation_mode=mode)
        known = self.ids.get(resource, [])
        choices = st.sampled_from([*known, "unknownId1"]) if known else st.just("unknownId1")

        def with_id(id_: str) -> Any:
            return op.as_strategy(generation_mode=mode, path_parameters={"id": id_}).map(_same_id)

        return choices.flatmap(with_id)

    def run_operation(
        self, op: Any, kind: str | None, count: int, negative: bool = False
    ) -> Report:
        """``count`` cases of ``op`` as ``kind``; ``negative`` ones break the schema on purpose
        (and must still get a documented 4xx)."""
        report = Report()
        name = label(op)
        report.operations.add(name)
        headers = self.headers(kind)

        @_settings(count, phases=[Phase.explicit, Phase.generate])
        @hypothesis.given(case=self._strategy(op, negative))
        def attack(case: Any) -> None:
            try:
                response = case.call(base_url=self.base_url, headers=headers, timeout=60)
            except Exception as exc:  # a connection reset is a finding too
                report.failures.append(Failure(name, kind or "-", _message(exc), ""))
                return
            report.requests += 1
            report.statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:
                curl = case.as_curl_command(headers=headers)
                report.failures.append(Failure(name, kind or "-", _message(exc), curl))

        start = time.monotonic()
        # Unsatisfiable: nothing of this operation can break its schema (negative mode).
        with contextlib.suppress(hypothesis.errors.Unsatisfiable):
            attack()
        report.seconds = time.monotonic() - start
        return report

    def run(self, plan: list[tuple[Any, str | None, int, bool]]) -> Report:
        total = Report()
        for op, kind, count, negative in plan:
            total.add(self.run_operation(op, kind, count, negative))
        return total


def label(op: Any) -> str:
    return f"{op.method.upper()} {op.path}"


def _settings(count: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
        **extra,
    )


def stateful(document: dict[str, Any], base_url: str, kind: str, token: str, count: int) -> Report:
    """Scenarios that start with a create and follow its links (retrieve, update, delete),
    among the operations ``kind`` may call."""
    report = Report()
    headers = {"Authorization": f"Bearer {token}"}
    allowed = {
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method in ("get", "post", "patch", "delete") and kind in op.get("x-kassa-access", ())
    }
    types = {
        op_id.removeprefix("create_")
        for op_id in allowed
        if op_id.startswith("create_") and not _needs_relationships(document, op_id)
    }
    wanted = {f"{verb}_{t}" for t in types for verb in VERBS} & allowed
    schema = schemathesis.openapi.from_dict(document).include(operation_id=sorted(wanted))
    machine = schema.as_state_machine()

    class Scenario(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers, "timeout": 60}

        def step(self, input: Any) -> Any:
            if input.transition is not None and input.is_applied:
                report.transitions[input.transition.id] += 1
            return super().step(input)

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            name = label(case.operation)
            report.operations.add(name)
            report.requests += 1
            report.statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:
                curl = case.as_curl_command(headers=headers)
                report.failures.append(Failure(name, kind, _message(exc), curl))

    start = time.monotonic()
    Scenario.run(settings=_settings(2 * count, phases=[Phase.generate], stateful_step_count=6))
    report.seconds = time.monotonic() - start
    return report


def _needs_relationships(document: dict[str, Any], op_id: str) -> bool:
    """Whether a create needs ids of other rows (a random document then never succeeds,
    and no link is ever followed from it)."""
    path = "/api/" + op_id.removeprefix("create_")
    content = document["paths"][path]["post"]["requestBody"]["content"]
    data = next(iter(content.values()))["schema"]["properties"]["data"]
    return "relationships" in data.get("required", [])


def _same_id(case: Any) -> Any:
    """A PATCH names its resource twice: keep the body's ``data.id`` the path's, mostly."""
    body = case.body
    if case.method.upper() == "PATCH" and isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict):
            data["id"] = case.path_parameters["id"]
    return case
