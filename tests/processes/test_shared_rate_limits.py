"""``KASSA_RATE_LIMIT=1`` on two server processes: one count per client address, not per
process, in the database or in Redis (``KASSA_REDIS_URL``)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.processes.cluster import Cluster, running
from tests.support import JSONAPI

REDIS_DB = {"sqlite": 14, "postgres": 15}
"""A Redis database of its own per backend, emptied before use."""


def _redis_env(backend: str) -> dict[str, str]:
    import redis

    url = f"redis://127.0.0.1:6379/{REDIS_DB[backend]}"
    try:
        redis.Redis.from_url(url, socket_timeout=2).flushdb()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {url}: {exc}")
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    return {"KASSA_REDIS_URL": url}


def _token(url: str, body: dict[str, str]) -> httpx.Response:
    return httpx.post(url + "/oauth/token", json=body, timeout=30)


@pytest.mark.parametrize("store", ["database", "redis"])
def test_the_31st_token_request_is_refused_by_whichever_process(
    cluster: Cluster, store: str, tmp_path: Path
) -> None:
    backend = cluster.backend
    env = {"KASSA_RATE_LIMIT": "1"}
    if store == "redis":
        env |= _redis_env(backend)
    # Two more processes on the cluster's database, rate limited. Only rate-limited servers
    # count, and this is the one test of its database that counts in it.
    with running(
        backend, tmp_path, env, processes=2, separate=True, database_url=cluster.database_url
    ) as limited:
        creds = cluster.first.new_org()
        body = {
            "grant_type": "client_credentials",
            "client_id": creds["integration_client_id"],
            "client_secret": creds["integration_client_secret"],
        }
        a, b = limited.urls
        answers = [_token((a, b)[n % 2], body) for n in range(30)]
        assert [r.status_code for r in answers] == [200] * 30, answers[-1].text
        left = [int(r.headers["X-Ratelimit-Remaining"]) for r in answers]
        assert left == list(range(29, -1, -1))  # one count, whichever process answered
        for url in (a, b, a):
            refused = _token(url, body)
            assert refused.status_code == 429, refused.text
            assert refused.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
            assert refused.headers["X-Ratelimit-Remaining"] == "0"
        # The API's windows are shared too.
        headers = {
            "Accept": JSONAPI,
            "Authorization": f"Bearer {answers[0].json()['access_token']}",
        }
        first = httpx.get(a + "/api/organization", headers=headers)
        second = httpx.get(b + "/api/organization", headers=headers)
        assert first.status_code == second.status_code == 200, first.text
        assert int(second.headers["X-Ratelimit-Remaining"]) == (
            int(first.headers["X-Ratelimit-Remaining"]) - 1
        )
        assert first.headers["X-Ratelimit-Limit"] == "100"
