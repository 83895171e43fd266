"""Per-IP rate limits (api-conventions §11), counted where every process sees them.

A window is kept per key as ``(started, hits, previous)``: the hits counted since
``started`` and the hits of the window just before it. At time ``t`` the load of a key is

    previous × (1 − (t − started) / span) + hits

so a fresh key is counted exactly (a burst of ``quota`` hits fills it until ``span`` seconds
after its first hit) and the load then slides out smoothly rather than dropping to zero at a
window boundary. A hit is counted only when it fits: refused requests do not count.

The counters live in the database (``rate_counters``, one upsert per request) or, when
``KASSA_REDIS_URL`` is set, in Redis (one script call per request).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import create_async_engine

from kassa.store.db import Database, statement_count
from kassa.store.schema import rate_counters

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
_PRUNE_ONE_IN = 200
"""On average one counted request in this many also deletes the keys nobody used lately."""


class SlidingWindow:
    """An exact sliding window in the memory of one process (a reference model for tests)."""

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
        return headers(self.limit, self.limit.count - self.remaining(key))


def headers(limit: Limit, load: float) -> dict[str, str]:
    """The ``X-Ratelimit-*`` headers of a window carrying ``load`` hits."""
    remaining = max(0, limit.count - math.ceil(load - 1e-9))
    return {
        "X-Ratelimit-Limit": str(limit.count),
        "X-Ratelimit-Interval": str(int(limit.window)),
        "X-Ratelimit-Remaining": str(remaining),
    }


def request_class(method: str, parts: list[str]) -> str:
    if method not in ("GET", "HEAD"):
        return "writes"
    return "cacheable" if parts and parts[0] in CACHEABLE else "uncacheable"


def window_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Counter(Protocol):
    async def take(self, windows: Sequence[tuple[str, Limit]]) -> tuple[bool, list[float]]:
        """Count one hit on every window if each has room, else on none.

        Returns whether it was counted and each window's load afterwards."""
        ...

    async def close(self) -> None: ...


def _counted(*_args: Any) -> None:
    """Count the statement in ``X-Kassa-Queries`` like those of the main engine."""
    counter = statement_count.get()
    if counter is not None:
        counter[0] += 1


class DatabaseCounter:
    """Windows in ``rate_counters``: one multi-row upsert per request.

    Each row takes its hit only if it has room, in the same statement; when one window of a
    request is full and another is not, the hit is taken back from the others (a second
    statement, on refusals only)."""

    def __init__(self, db: Database):
        self.db = db
        self.engine = db.engine
        if not db.is_sqlite:
            # A lost count costs nothing, a flush to disk per request does: PostgreSQL commits
            # these without waiting for the WAL (a few connections of their own).
            self.engine = create_async_engine(
                db.url,
                pool_size=1,
                max_overflow=4,
                connect_args={"server_settings": {"synchronous_commit": "off"}},
            )
            event.listen(self.engine.sync_engine, "before_cursor_execute", _counted)

    def _upsert(self, windows: Sequence[tuple[str, Limit]], t: float) -> Any:
        table = rate_counters
        insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        rows = [
            {
                "key": key,
                "started": t,
                "hits": 1 if limit.count >= 1 else 0,
                "previous": 0,
                "span": float(limit.window),
                "quota": limit.count,
                "allowed": limit.count >= 1,
                "expires": t + 2 * limit.window,
            }
            for key, limit in windows
        ]
        stmt = insert(table).values(rows)
        new = stmt.excluded
        now = sa.literal(t, sa.Float)
        age = now - table.c.started
        span = new.span
        current = age < span
        recent = age < span * 2
        started = sa.case((current, table.c.started), (recent, table.c.started + span), else_=now)
        previous = sa.case((current, table.c.previous), (recent, table.c.hits), else_=0)
        hits = sa.case((current, table.c.hits), else_=0)
        # previous × (1 − (t − started) / span) + hits + 1 ≤ quota, times span
        fits = previous * (span - (now - started)) + (hits + 1) * span <= new.quota * span
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "started": started,
                "previous": previous,
                "hits": hits + sa.case((fits, 1), else_=0),
                "span": span,
                "quota": new.quota,
                "allowed": fits,
                "expires": started + span * 2,
            },
        )
        return stmt.returning(
            table.c.key, table.c.started, table.c.hits, table.c.previous, table.c.allowed
        )

    async def take(self, windows: Sequence[tuple[str, Limit]]) -> tuple[bool, list[float]]:
        t = time.time()
        async with self.engine.connect() as conn:
            if self.db.is_sqlite:
                conn = await conn.execution_options(kassa_immediate=True)
            async with conn.begin():
                rows = {r.key: r for r in (await conn.execute(self._upsert(windows, t))).all()}
                ok = all(r.allowed for r in rows.values())
                if not ok:
                    back = [k for k, r in rows.items() if r.allowed]
                    if back:
                        table = rate_counters
                        await conn.execute(
                            table.update()
                            .where(table.c.key.in_(back), table.c.hits > 0)
                            .values(hits=table.c.hits - 1)
                        )
                if secrets.randbelow(_PRUNE_ONE_IN) == 0:
                    await conn.execute(rate_counters.delete().where(rate_counters.c.expires < t))
        loads = []
        for key, limit in windows:
            r = rows[key]
            weight = max(0.0, 1 - (t - r.started) / limit.window)
            taken_back = 1 if (not ok and r.allowed) else 0
            loads.append(r.previous * weight + r.hits - taken_back)
        return ok, loads

    async def close(self) -> None:
        if self.engine is not self.db.engine:
            await self.engine.dispose()


# KEYS: the windows; ARGV: now, then span and quota of each window. All or none take a hit.
_SCRIPT = """
local t = tonumber(ARGV[1])
local state = {}
local ok = true
for i, key in ipairs(KEYS) do
  local span = tonumber(ARGV[2 * i])
  local quota = tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', key, 'started', 'hits', 'previous')
  local started, hits, previous = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if started == nil then
    started, hits, previous = t, 0, 0
  elseif t - started >= 2 * span then
    started, hits, previous = t, 0, 0
  elseif t - started >= span then
    started, hits, previous = started + span, 0, hits
  end
  local load = previous * (1 - (t - started) / span) + hits
  if load + 1 > quota then ok = false end
  state[i] = {started, hits, previous, span, load}
end
local out = {ok and 1 or 0}
for i, key in ipairs(KEYS) do
  local s = state[i]
  local hits = s[2]
  if ok then hits = hits + 1 end
  redis.call('HSET', key, 'started', tostring(s[1]), 'hits', hits, 'previous', s[3])
  redis.call('PEXPIRE', key, math.ceil(2000 * s[4]))
  out[i + 1] = tostring(s[5] + (ok and 1 or 0))
end
return out
"""


class RedisCounter:
    """Windows in Redis (``KASSA_REDIS_URL``): one script call per request, atomic."""

    def __init__(self, url: str):
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)
        self.script = self.redis.register_script(_SCRIPT)

    async def take(self, windows: Sequence[tuple[str, Limit]]) -> tuple[bool, list[float]]:
        args: list[Any] = [repr(time.time())]
        for _key, limit in windows:
            args += [repr(float(limit.window)), limit.count]
        out = await self.script(keys=[f"kassa:rl:{key}" for key, _ in windows], args=args)
        return bool(int(out[0])), [float(x) for x in out[1:]]

    async def close(self) -> None:
        await self.redis.aclose()


def counter_for(redis_url: str | None, db: Database) -> Counter:
    return RedisCounter(redis_url) if redis_url else DatabaseCounter(db)


class TokenLimiter:
    """``/oauth/token``: ``limit`` requests per minute and client address."""

    def __init__(self, counter: Counter, limit: int):
        self.counter = counter
        self.limit = Limit(limit, 60)

    async def check(self, client: str) -> tuple[bool, dict[str, str]]:
        ok, [load] = await self.counter.take([(window_key("token", client), self.limit)])
        return ok, headers(self.limit, load)


class ApiLimiter:
    """The average (per class) and burst windows of the resource API."""

    def __init__(self, counter: Counter):
        self.counter = counter

    async def check(
        self, client: str, mode: str, method: str, parts: list[str]
    ) -> tuple[bool, dict[str, str]]:
        """Whether the request may run, and the ``X-Ratelimit-*`` headers to send."""
        cls = request_class(method, parts)
        mode = mode if mode == "live" else "test"
        average, burst = API_LIMITS[(cls, mode)]
        endpoint = parts[0] if parts else ""
        if len(parts) > 1:
            endpoint += "/:id" + "".join(f"/{p}" for p in parts[2:3])
        burst_scope = f"{client} {endpoint}" if cls == "cacheable" else client
        windows = [
            (window_key("average", cls, mode, client), average),
            (window_key("burst", cls, mode, burst_scope), burst),
        ]
        ok, loads = await self.counter.take(windows)
        return ok, headers(average, loads[0])
