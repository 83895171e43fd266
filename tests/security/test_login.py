"""Attacks on the password grant: account probing by timing, guessing, login storms, and weak
passwords (issue: security, item 4).

The throttle tests run on two extra server processes sharing the session's database, with a
short window so a locked account recovers within the test: ``strict`` (3 failures an
account, 6 an address) and ``roomy`` (limits out of the way, for the login storm).
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.security.accounts_helpers import Org, document, error_at, extra_server, from_address
from tests.shop import Shop
from tests.support import Client, Server

WINDOW = 8
ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 6
HASH_CONCURRENCY = 2
ARGON2_MIB = 64
"""Memory of one argon2 hash with the library's default parameters."""


@pytest.fixture(scope="module")
def strict(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "KASSA_LOGIN_WINDOW": str(WINDOW),
        "KASSA_LOGIN_ACCOUNT_LIMIT": str(ACCOUNT_LIMIT),
        "KASSA_LOGIN_ADDRESS_LIMIT": str(ADDRESS_LIMIT),
    }
    with extra_server(server, tmp_path_factory.mktemp("strict"), env) as srv:
        yield srv


@pytest.fixture(scope="module")
def roomy(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "KASSA_LOGIN_WINDOW": str(WINDOW),
        "KASSA_LOGIN_ACCOUNT_LIMIT": "1000",
        "KASSA_LOGIN_ADDRESS_LIMIT": "1000",
        "KASSA_PASSWORD_HASH_CONCURRENCY": str(HASH_CONCURRENCY),
    }
    with extra_server(server, tmp_path_factory.mktemp("roomy"), env) as srv:
        yield srv


def assert_throttled(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    err = r.json()["errors"][0]
    assert err["status"] == 429 and err["code"] == "TOO_MANY_REQUESTS", err
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= WINDOW, wait
    return wait


def assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["errors"][0]["title"] == "invalid_grant"


# --- timing -------------------------------------------------------------------------------


def test_unknown_emails_take_as_long_as_wrong_passwords(roomy: Server) -> None:
    """Probing which e-mails have an account by how fast the login fails tells nothing:
    an unknown e-mail and a customer without password cost one argon2 check like a wrong
    password does."""
    org = Org.new(roomy)
    _, email = org.customer()
    passwordless = f"p-{secrets.token_hex(4)}@example.com"
    org.admin.create("customers", {"email": passwordless})
    timings: dict[str, list[float]] = {"wrong": [], "unknown": [], "passwordless": []}
    with httpx.Client(timeout=60) as http:
        org.login(email, "warm-up-pw", http)  # the first check also builds the dummy hash
        for _ in range(7):
            for kind, username in (
                ("wrong", email),
                ("unknown", f"nobody-{secrets.token_hex(4)}@example.com"),
                ("passwordless", passwordless),
            ):
                start = time.perf_counter()
                r = org.login(username, "not-the-password", http)
                timings[kind].append(time.perf_counter() - start)
                assert_refused(r)
                assert r.json() == org.login(username, "again-not-it", http).json()
    wrong = statistics.median(timings["wrong"])
    for kind in ("unknown", "passwordless"):
        other = statistics.median(timings[kind])
        assert 0.5 * wrong <= other <= 2 * wrong, (kind, timings)


# --- throttling -----------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_account_then_recover(strict: Server) -> None:
    org = Org.new(strict)
    _, email = org.customer()
    _, bystander = org.customer()
    for _ in range(ACCOUNT_LIMIT):
        assert_refused(org.login(email, "guess-123"))
    # Throttled: even the right password is refused, so guessing on gives no answer at all.
    wait = assert_throttled(org.login(email, "guess-456"))
    assert_throttled(org.login(email, "secret-pw"))
    assert_throttled(org.login(email.upper(), "secret-pw"))
    # Another account from the same address is not locked out with it.
    assert org.login(bystander, "secret-pw").status_code == 200
    time.sleep(wait + 0.2)
    assert org.login(email, "secret-pw").status_code == 200
    # A successful login clears the account's count: a typo afterwards is not the last straw.
    assert_refused(org.login(email, "typo-pw-1"))
    assert org.login(email, "secret-pw").status_code == 200


def test_unknown_emails_are_throttled_like_real_ones(strict: Server) -> None:
    """A 429 that only real accounts got would tell which e-mails have one."""
    org = Org.new(strict)
    _, real = org.customer()
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    for username in (real, unknown):
        answers = [org.login(username, f"guess-{i}-pw").status_code for i in range(4)]
        assert answers == [401, 401, 401, 429], (username, answers)


def test_failed_logins_are_throttled_per_address(strict: Server) -> None:
    """Spraying one password over many accounts is cut at the address limit."""
    org = Org.new(strict)
    _, email = org.customer()
    for _ in range(ADDRESS_LIMIT):
        assert_refused(org.login(f"target-{secrets.token_hex(4)}@example.com", "Summer2024!"))
    wait = assert_throttled(org.login(f"target-{secrets.token_hex(4)}@example.com", "Summer2024!"))
    assert_throttled(org.login(email, "secret-pw"))
    # The same customer from another address, and other organizations' customers behind
    # this one, are not affected.
    with from_address("127.0.0.2") as elsewhere_http:
        assert org.login(email, "secret-pw", elsewhere_http).status_code == 200
    other = Org.new(strict)
    _, elsewhere = other.customer()
    assert other.login(elsewhere, "secret-pw").status_code == 200
    time.sleep(wait + 0.2)
    assert org.login(email, "secret-pw").status_code == 200


def test_failures_are_counted_across_processes(strict: Server, roomy: Server) -> None:
    """The counts live in the database: failures spread over two processes add up."""
    org = Org.new(strict)
    _, email = org.customer()
    assert_refused(org.login(email, "guess-1-pw"))
    assert_refused(org.on(roomy.base_url).login(email, "guess-2-pw"))
    assert_refused(org.login(email, "guess-3-pw"))
    assert_throttled(org.login(email, "secret-pw"))


def test_a_concurrent_burst_is_cut_at_the_limit(strict: Server) -> None:
    """Guesses sent all at once are counted before they are checked, so a burst cannot
    slip past the limit while the first checks are still running."""
    org = Org.new(strict)
    _, email = org.customer()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: org.login(email, f"burst-{i}-pw").status_code, range(20)))
    assert answers.count(401) == ACCOUNT_LIMIT, answers
    assert answers.count(429) == 20 - ACCOUNT_LIMIT, answers


# --- login storm ----------------------------------------------------------------------------


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_login_storm_leaves_memory_flat_and_real_logins_fast(roomy: Server) -> None:
    assert roomy.process is not None
    pid = roomy.process.pid
    org = Org.new(roomy)
    _, email = org.customer()
    start = time.perf_counter()
    assert org.login(email, "secret-pw").status_code == 200
    alone = time.perf_counter() - start
    assert_refused(org.login(email, "warm-up-pw"))
    baseline = _rss_mib(pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mib(pid))
            time.sleep(0.005)

    def attacker(i: int) -> int:
        with from_address("127.0.0.2") as http:
            username = f"storm-{i}-{secrets.token_hex(2)}@example.com"
            return org.login(username, "x" * 12, http).status_code

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(41) as pool:
            storm = [pool.submit(attacker, i) for i in range(40)]
            time.sleep(0.3)  # the storm is queued at the hashers
            start = time.perf_counter()
            real = pool.submit(org.login, email, "secret-pw").result()
            during = time.perf_counter() - start
            answers = [f.result() for f in storm]
            storm_time = time.perf_counter() - start
    finally:
        done.set()
        sampler.join()
    assert real.status_code == 200, real.text
    assert answers == [401] * 40
    # At most HASH_CONCURRENCY hashes hold their memory at once (one more for slack), and
    # what they held is given back.
    assert peak - baseline < (HASH_CONCURRENCY + 1) * ARGON2_MIB, (baseline, peak)
    assert _rss_mib(pid) - baseline < ARGON2_MIB, (baseline, _rss_mib(pid))
    # The real login waited for one hash of the storm, not for the forty queued before it
    # (which take about 20 times a login on two hashers).
    assert during < 10 * alone + 2, (during, alone, storm_time)
    assert during < storm_time / 3, (during, alone, storm_time)


# --- password rules -------------------------------------------------------------------------


TOO_SHORT = "is too short (minimum is 8 characters)"


def test_sign_up_and_password_changes_need_eight_characters(roomy: Server) -> None:
    org = Org.new(roomy)
    guest = org.guest()
    email = f"new-{secrets.token_hex(4)}@example.com"
    for short in ("", "1234567", "passwd"):
        r = guest.post("/api/customers", document("customers", {"email": email, "password": short}))
        err = error_at(r, 422, "/data/attributes/password")
        assert err["title"] == TOO_SHORT and err["detail"] == f"password - {TOO_SHORT}", err
        assert err["code"] == "VALIDATION_ERROR" and err["meta"]["error"] == "too_short", err
    r = org.admin.post("/api/customers", document("customers", {"email": email, "password": "x"}))
    error_at(r, 422, "/data/attributes/password")
    assert org.admin.get("/api/customers", **{"filter[q][email_eq]": email}).json()["data"] == []
    r = guest.post(
        "/api/customers", document("customers", {"email": email, "password": "12345678"})
    )
    assert r.status_code == 201, r.text
    customer_id = r.json()["data"]["id"]
    token = org.login(email, "12345678").json()["access_token"]
    me = Client(org.base_url, token)
    for who in (me, org.admin):
        r = who.update("customers", customer_id, {"password": "short"})
        error_at(r, 422, "/data/attributes/password")
    assert org.login(email, "12345678").status_code == 200
    assert me.update("customers", customer_id, {"password": "a-longer-one"}).status_code == 200
    assert org.login(email, "a-longer-one").status_code == 200


def test_order_sign_up_needs_eight_characters(shop: Shop) -> None:
    guest = shop.guest()
    email = f"buyer-{secrets.token_hex(4)}@example.com"
    r = guest.post(
        "/api/orders",
        document("orders", {"customer_email": email, "customer_password": "short"}),
    )
    err = error_at(r, 422, "/data/attributes/customer_password")
    assert err["title"] == TOO_SHORT, err
    found = shop.admin.get("/api/customers", **{"filter[q][email_eq]": email}).json()["data"]
    assert found == []
    r = guest.post(
        "/api/orders",
        document("orders", {"customer_email": email, "customer_password": "long-enough"}),
    )
    assert r.status_code == 201, r.text
