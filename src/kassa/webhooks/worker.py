"""The background worker: delivers due webhook events, and runs other periodic jobs.

It runs inside ``kassa serve`` (one per server process, unless ``KASSA_WEBHOOK_WORKER=0``)
and alone as ``kassa worker``; any number of them share one database. Each round claims a
batch of due events (:mod:`kassa.webhooks.queue`), delivers the events of each webhook in
order, one at a time, and different webhooks side by side. A commit that wrote events wakes
the worker of the same process at once; other processes find them at their next poll.

Other periodic work (a recovery scan…) registers once with :func:`register` (or on one worker
with :meth:`Worker.every`) and runs between rounds, in every worker, including a
``kassa serve`` whose delivery is turned off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy.exc import DBAPIError

from kassa.engine.context import Services
from kassa.events.outbox import WAKE
from kassa.ids import now
from kassa.outbound import Policy, client
from kassa.store.conflicts import is_transient
from kassa.webhooks import delivery, queue
from kassa.webhooks.config import WebhookConfig
from kassa.webhooks.payloads import Wanted, render_all

log = logging.getLogger("kassa.webhooks")
_FINISH_TRIES = 3
Job = Callable[[Services], Awaitable[None]]

_REGISTERED: list[tuple[float, str, Job]] = []


def register(seconds: float, name: str, job: Job) -> None:
    """Run ``job(services)`` about every ``seconds`` in every worker started afterwards."""
    _REGISTERED.append((seconds, name, job))


@dataclass
class Periodic:
    name: str
    seconds: float
    job: Job
    due: float = 0.0


class Worker:
    def __init__(self, services: Services, config: WebhookConfig | None = None) -> None:
        self.services = services
        self.config = config or WebhookConfig.from_env()
        self.owner = "w_" + secrets.token_hex(8)
        self.jobs: list[Periodic] = [Periodic(n, s, j) for s, n, j in _REGISTERED]
        self.wake = asyncio.Event()
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.deliver_events = self.config.worker
        """``False`` in a ``kassa serve`` with ``KASSA_WEBHOOK_WORKER=0``: jobs only."""

    def every(self, seconds: float, name: str, job: Job) -> None:
        """Run ``job`` about every ``seconds`` (errors are logged, the loop goes on)."""
        self.jobs.append(Periodic(name, seconds, job))

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.services.extras[WAKE] = self.wake
        self._task = asyncio.create_task(self.run(), name="kassa-worker")

    async def stop(self) -> None:
        self.services.extras.pop(WAKE, None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        policy = Policy(allow_private=self.services.settings.outbound_allow_private)
        headers = {"User-Agent": "Kassa-Webhooks/0.1"}
        self._http = client(policy, self.config.timeout, headers=headers)
        try:
            while True:
                busy = False
                if self.deliver_events:
                    try:
                        busy = self._busy = await self.round() > 0
                    except Exception:
                        log.exception("webhook delivery round failed")
                await self._run_jobs()
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self.config.poll_interval)
                        self._busy = True  # woken by a commit that wrote events: claim at once
                    self.wake.clear()
        finally:
            await self._http.aclose()
            self._http = None

    async def _run_jobs(self) -> None:
        clock = time.monotonic()
        for job in self.jobs:
            if clock < job.due:
                continue
            job.due = clock + job.seconds
            try:
                await job.job(self.services)
            except Exception:
                log.exception("periodic job %s failed", job.name)

    # --- one round ----------------------------------------------------------------------

    async def round(self) -> int:
        """Claim, render, send and record one batch; the number of events claimed.

        Three short transactions a round, whatever the batch holds: the claim, a read that
        renders the bodies not rendered yet, and, once every request has been answered or
        has timed out, one that records all the outcomes.
        """
        # The claim's lease must outlast the round: a send may take up to the timeout, so a new
        # one starts only while it still ends well inside the lease.
        last_start = time.monotonic() + self.config.lease - 1.5 * self.config.timeout
        claimed, hooks = await self._claim()
        if not claimed:
            return 0
        gone = [e for e in claimed if e.webhook_id not in hooks]  # deleted meanwhile
        claimed = [e for e in claimed if e.webhook_id in hooks]
        try:
            await self._render(claimed, hooks)
        except Exception:
            log.exception("webhook payloads could not be rendered")
            await self._finish({}, [*gone, *claimed])
            return len(claimed)
        groups: dict[str, list[queue.Claimed]] = {}
        for event in claimed:
            groups.setdefault(event.webhook_id, []).append(event)
        sends = [self._send(hooks[h], events, last_start) for h, events in groups.items()]
        done = await asyncio.gather(*sends)
        attempts = {h: (hooks[h], made) for h, (made, _rest) in zip(groups, done, strict=True)}
        unsent = [e for _made, rest in done for e in rest]
        await self._finish(attempts, [*gone, *unsent])
        return len(claimed) + len(gone)

    async def _render(self, events: list[queue.Claimed], hooks: dict[str, dict[str, Any]]) -> None:
        todo = [e for e in events if e.body is None]
        wanted = [
            Wanted(
                e.organization_id,
                e.mode,
                e.topic,
                e.resource_type,
                e.resource_id,
                hooks[e.webhook_id].get("include_resources"),
                orjson.loads(e.extra) if e.extra else None,
            )
            for e in todo
        ]
        for event, body in zip(todo, await render_all(self.services, wanted), strict=True):
            event.body = body.decode()

    async def _send(
        self, hook: dict[str, Any], events: list[queue.Claimed], last_start: float
    ) -> tuple[list[delivery.Attempt], list[queue.Claimed]]:
        """Send one webhook's events in order; stop where its circuit opens, or once a send
        started now could outlast the lease (``last_start``, monotonic; the first is always
        sent). The rest go back unsent, in order, for the next round.

        Returns the attempts made and the events left unsent."""
        assert self._http is not None
        failures = int(hook.get("circuit_failure_count") or 0)
        made: list[delivery.Attempt] = []
        for i, event in enumerate(events):
            if i and time.monotonic() > last_start:
                return made, events[i:]
            assert event.body is not None
            attempt = await delivery.post(self._http, hook, event, event.body)
            made.append(attempt)
            failures = 0 if attempt.ok else failures + 1
            if failures >= self.config.circuit_threshold:
                return made, events[i + 1 :]
        return made, []

    async def _finish(
        self,
        attempts: dict[str, tuple[dict[str, Any], list[delivery.Attempt]]],
        unsent: list[queue.Claimed],
    ) -> None:
        """Record a round's outcomes in one transaction.

        Webhook rows are written in id order, so two workers finishing at once lock them in
        the same order; a conflict the database still reports (a deadlock or a serialization
        failure) is retried, because the requests were sent and their outcomes must not wait
        for the lease to run out."""
        for attempt in range(_FINISH_TRIES):
            conn = await self.services.db.connect(True)
            try:
                for hook_id in sorted(attempts):
                    hook, made = attempts[hook_id]
                    await delivery.record(self.services, conn, self.config, hook, made, self.owner)
                await queue.release(conn, unsent, self.owner)
                await conn.commit()
                return
            except DBAPIError as exc:
                if attempt + 1 == _FINISH_TRIES or not is_transient(exc):
                    raise
                log.warning("webhook outcomes hit a conflict; recording them again: %s", exc)
            finally:
                await self.services.db.close(conn)

    async def _anything_due(self) -> bool:
        """A read-only look first, so an idle worker never takes SQLite's write lock."""
        db = self.services.db
        conn = await db.connect(False)
        try:
            return await queue.anything_due(conn, self.services.registry["webhooks"].table, now())
        finally:
            await db.close(conn)

    async def _claim(self) -> tuple[list[queue.Claimed], dict[str, dict[str, Any]]]:
        db = self.services.db
        webhooks = self.services.registry["webhooks"].table
        if not self._busy and not await self._anything_due():
            return [], {}
        conn = await db.connect(True)
        try:
            claimed = await queue.claim(
                conn,
                webhooks,
                self.owner,
                now(),
                self.config.lease,
                self.config.batch,
                db.is_sqlite,
            )
            hooks: dict[str, dict[str, Any]] = {}
            if claimed:
                ids = sorted({e.webhook_id for e in claimed})
                rows = await conn.execute(webhooks.select().where(webhooks.c.id.in_(ids)))
                hooks = {r["id"]: dict(r) for r in rows.mappings()}
            await conn.commit()
        finally:
            await db.close(conn)
        return claimed, hooks


def start_worker(services: Services) -> Worker | None:
    """The worker of a ``kassa serve`` process, started; ``None`` when it has nothing to do
    (delivery turned off by ``KASSA_WEBHOOK_WORKER=0`` and no periodic job registered)."""
    config = WebhookConfig.from_env()
    if not config.worker and not _REGISTERED:
        return None
    worker = Worker(services, config)
    worker.start()
    return worker
