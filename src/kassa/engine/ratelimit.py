"""Per-IP sliding-window rate limits (api-conventions §11), kept in the memory of one process."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

CACHEABLE = frozenset(
    {
        "skus",
        "prices",
        "price_lists",
        "markets",
        "stock_items",
        "stock_locations",
        "sku_options",
        "bundles",
        "promotions",
        "imports",
    }
)


@dataclass(frozen=True)
class Limit:
    count: int
    window: float
    """Seconds."""


# (class, mode) -> (average, burst)
API_LIMITS: dict[tuple[str, str], tuple[Limit, Limit]] = {
    ("cacheable", "live"): (Limit(1000, 60), Limit(250, 10)),
    ("cacheable", "test"): (Limit(500, 60), Limit(125, 10)),
    ("uncacheable", "live"): (Limit(200, 60), Limit(50, 10)),
    ("uncacheable", "test"): (Limit(100, 60), Limit(25, 10)),
    ("writes", "live"): (Limit(200, 60), Limit(50, 10)),
    ("writes", "test"): (Limit(100, 60), Limit(25, 10)),
}
_MAX_KEYS = 50_000


class SlidingWindow:
    """Hits per key within the last ``limit.window`` seconds; counts are never reset."""

    def __init__(self, limit: Limit):
        self.limit = limit
        self.hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, stamp: float) -> deque[float]:
        if len(self.hits) > _MAX_KEYS:
            self.hits = {k: q for k, q in self.hits.items() if q and q[-1] > stamp - 60}
        q = self.hits.setdefault(key, deque())
        while q and q[0] <= stamp - self.limit.window:
            q.popleft()
        return q

    def remaining(self, key: str, stamp: float | None = None) -> int:
        stamp = time.monotonic() if stamp is None else stamp
        return max(0, self.limit.count - len(self._recent(key, stamp)))

    def hit(self, key: str, stamp: float | None = None) -> None:
        stamp = time.monotonic() if stamp is None else stamp
        self._recent(key, stamp).append(stamp)

    def allow(self, key: str) -> bool:
        """Count one hit unless the window is full."""
        stamp = time.monotonic()
        if self.remaining(key, stamp) == 0:
            return False
        self.hit(key, stamp)
        return True

    def headers(self, key: str) -> dict[str, str]:
        return {
            "X-Ratelimit-Limit": str(self.limit.count),
            "X-Ratelimit-Interval": str(int(self.limit.window)),
            "X-Ratelimit-Remaining": str(self.remaining(key)),
        }


def request_class(method: str, parts: list[str]) -> str:
    if method not in ("GET", "HEAD"):
        return "writes"
    return "cacheable" if parts and parts[0] in CACHEABLE else "uncacheable"


class ApiLimiter:
    """The average (per class) and burst windows of the resource API."""

    def __init__(self) -> None:
        self.average = {key: SlidingWindow(avg) for key, (avg, _) in API_LIMITS.items()}
        self.burst = {key: SlidingWindow(burst) for key, (_, burst) in API_LIMITS.items()}

    def check(
        self, client: str, mode: str, method: str, parts: list[str]
    ) -> tuple[bool, dict[str, str]]:
        """Whether the request may run, and the ``X-Ratelimit-*`` headers to send."""
        cls = request_class(method, parts)
        key = (cls, mode if mode == "live" else "test")
        average, burst = self.average[key], self.burst[key]
        endpoint = parts[0] if parts else ""
        if len(parts) > 1:
            endpoint += "/:id" + "".join(f"/{p}" for p in parts[2:3])
        burst_key = f"{client} {endpoint}" if cls == "cacheable" else client
        stamp = time.monotonic()
        ok = average.remaining(client, stamp) > 0 and burst.remaining(burst_key, stamp) > 0
        if ok:
            average.hit(client, stamp)
            burst.hit(burst_key, stamp)
        return ok, average.headers(client)
