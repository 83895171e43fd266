"""Customer passwords (argon2) and application secrets (SHA-256 of a random secret).

Argon2 is slow and memory-hard on purpose (64 MiB a hash with the library's defaults), so
hashes run on a small pool of their own: ``KASSA_PASSWORD_HASH_CONCURRENCY`` at once per
process, the rest wait their turn holding nothing but their arguments. A login storm then
costs latency, never memory. Waiting hashes are served round-robin over *lanes* (the
client address, for logins), so one client's storm does not stand in front of everyone
else's logins: they wait for one hash per busy client, not for the whole storm.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kassa.failures import attr, invalid
from kassa.settings import Settings

_hasher = PasswordHasher()
_T = TypeVar("_T")
_lock = threading.Lock()
_pool: _FairPool | None = None
_dummy: str | None = None

MAX_PASSWORD_LENGTH = 128


@cache
def _settings() -> Settings:
    return Settings.from_env()


class _FairPool:
    """``slots`` threads; a job waits for a free slot, and slots go round-robin over lanes."""

    def __init__(self, slots: int):
        self.free = slots
        self.threads = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="kassa-argon2")
        self.lanes: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    async def run(self, lane: str, fn: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        if self.free > 0 and not self.lanes:
            self.free -= 1
        else:
            turn: asyncio.Future[None] = loop.create_future()
            self.lanes.setdefault(lane, deque()).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # the slot was handed over just as the caller left
                raise
        job = loop.run_in_executor(self.threads, fn, *args)
        try:
            return await asyncio.shield(job)
        finally:
            # A caller that leaves early keeps its slot until its hash is really done.
            if job.done():
                self._release()
            else:
                job.add_done_callback(lambda _job: self._release())

    def _release(self) -> None:
        while self.lanes:
            lane, waiting = next(iter(self.lanes.items()))
            turn = waiting.popleft()
            if waiting:
                self.lanes.move_to_end(lane)
            else:
                del self.lanes[lane]
            if not turn.done():
                turn.set_result(None)
                return
        self.free += 1


def _fair_pool() -> _FairPool:
    global _pool
    with _lock:
        if _pool is None:
            _pool = _FairPool(max(1, _settings().password_hash_concurrency))
        return _pool


def _dummy_hash() -> str:
    """A hash of a random password, verified when there is no real one to compare against."""
    global _dummy
    with _lock:
        if _dummy is None:
            _dummy = _hasher.hash(secrets.token_urlsafe(16))
        return _dummy


def _verify(stored: str | None, password: str) -> bool:
    real = stored if stored and stored.startswith("$argon2") else None
    try:
        ok = _hasher.verify(real or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and real is not None


async def hash_password(password: str, lane: str = "") -> str:
    return await _fair_pool().run(lane, _hasher.hash, password)


async def verify_password(stored: str | None, password: str, lane: str = "") -> bool:
    """Whether ``password`` matches ``stored``; costs one argon2 verification either way.

    With no stored hash (an unknown e-mail, a customer without a password) the password is
    checked against a dummy hash, so the answer takes as long as for a wrong password.
    """
    return await _fair_pool().run(lane, _verify, stored, password)


def check_new_password(value: object, name: str) -> str:
    """A password a customer may choose; else an invalid failure at the attribute ``name``."""
    minimum = _settings().password_min_length
    if not isinstance(value, str) or len(value) < minimum:
        title = f"is too short (minimum is {minimum} characters)"
        raise invalid(attr(name), title, "too_short", count=minimum)
    if len(value) > MAX_PASSWORD_LENGTH:
        title = f"is too long (maximum is {MAX_PASSWORD_LENGTH} characters)"
        raise invalid(attr(name), title, "too_long", count=MAX_PASSWORD_LENGTH)
    return value


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored: str | None, secret: str | None) -> bool:
    if not stored or not isinstance(secret, str) or not secret:
        return False
    return hmac.compare_digest(stored, hash_secret(secret))
