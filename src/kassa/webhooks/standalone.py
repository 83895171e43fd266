"""``kassa worker``: the background worker in a process of its own, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

from kassa.engine.context import Services
from kassa.outbound import Policy, client
from kassa.resources.registry import build_registry
from kassa.settings import Settings
from kassa.store.db import Database
from kassa.webhooks.config import WebhookConfig
from kassa.webhooks.worker import Worker


async def serve_worker(settings: Settings, config: WebhookConfig | None = None) -> None:
    db = Database(settings.database_url, log_sql=settings.sql_log)
    policy = Policy(allow_private=settings.outbound_allow_private)
    http = client(policy, settings.callout_timeout, headers={"User-Agent": "Kassa/0.1"})
    services = Services(settings, db, build_registry(), http)
    worker = Worker(services, config or WebhookConfig.from_env())
    worker.deliver_events = True  # KASSA_WEBHOOK_WORKER turns off only the one in `serve`
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await http.aclose()
        await db.dispose()


def run_worker(settings: Settings) -> int:
    asyncio.run(serve_worker(settings))
    return 0
