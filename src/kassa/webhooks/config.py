"""Webhook delivery settings, read from ``KASSA_WEBHOOK_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WebhookConfig:
    worker: bool = True
    """Run the delivery worker inside ``kassa serve`` (``kassa worker`` runs it alone)."""
    timeout: float = 5.0
    """Seconds a receiver has to answer 2xx (Commerce Layer: 5)."""
    max_retries: int = 10
    """Retries after the first attempt before an event is given up (Commerce Layer: 10)."""
    backoff_base: float = 15.0
    """Seconds before the first retry; each next one waits twice as long (with jitter)."""
    backoff_max: float = 3600.0
    """Longest wait between two attempts."""
    circuit_threshold: int = 30
    """Consecutive failed attempts that open a webhook's circuit (Commerce Layer: 30)."""
    poll_interval: float = 0.5
    """Seconds an idle worker waits before looking for due events again."""
    lease: float = 60.0
    """Seconds a claimed event stays reserved for the worker that claimed it."""
    batch: int = 50
    """Events claimed at once."""

    @classmethod
    def from_env(cls) -> WebhookConfig:
        return cls(
            worker=_bool("KASSA_WEBHOOK_WORKER", True),
            timeout=_float("KASSA_WEBHOOK_TIMEOUT", 5.0),
            max_retries=max(0, _int("KASSA_WEBHOOK_MAX_RETRIES", 10)),
            backoff_base=_float("KASSA_WEBHOOK_BACKOFF_BASE", 15.0),
            backoff_max=_float("KASSA_WEBHOOK_BACKOFF_MAX", 3600.0),
            circuit_threshold=max(1, _int("KASSA_WEBHOOK_CIRCUIT_THRESHOLD", 30)),
            poll_interval=_float("KASSA_WEBHOOK_POLL_INTERVAL", 0.5),
            lease=_float("KASSA_WEBHOOK_LEASE", 60.0),
            batch=max(1, _int("KASSA_WEBHOOK_BATCH", 50)),
        )

    def backoff(self, failures: int, jitter: float) -> float:
        """Seconds before the retry that follows ``failures`` failed attempts.

        ``jitter`` in [0, 1) spreads retries over the upper half of the step, so receivers
        that come back do not get every held event at the same instant.
        """
        step = min(self.backoff_max, self.backoff_base * 2 ** max(failures - 1, 0))
        return step * (0.5 + jitter / 2)
