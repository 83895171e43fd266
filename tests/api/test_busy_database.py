"""A write that cannot get the database in time answers a retryable 423, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support import Client, Server, free_port, token_for


def test_a_write_kept_from_sqlite_past_the_busy_wait_answers_423_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kassa.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    srv = Server("sqlite", url, f"http://127.0.0.1:{free_port()}", tmp_path)
    srv.env = {
        "KASSA_DATABASE_URL": url,
        "KASSA_DATA_DIR": str(tmp_path),
        "KASSA_SQLITE_BUSY_SECONDS": "0.5",
    }
    srv.start()
    try:
        creds = srv.new_org()
        admin = Client(
            srv.base_url,
            token_for(
                srv.base_url,
                {
                    "grant_type": "client_credentials",
                    "client_id": creds["integration_client_id"],
                    "client_secret": creds["integration_client_secret"],
                },
            ),
        )
        body = {"data": {"type": "customers", "attributes": {"email": "busy@example.com"}}}
        # Another process (a backup, a migration, a stuck writer) holds the write lock.
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            refused = admin.post("/api/customers", body)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert refused.status_code == 423, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"].startswith("application/vnd.api+json")
        [error] = refused.json()["errors"]
        assert (error["status"], error["code"], error["title"]) == ("423", "LOCKED", "Locked")
        assert admin.get("/api/customers").json()["data"] == []  # nothing half-written
        # Once the lock is gone, the same request succeeds, once.
        assert admin.post("/api/customers", body).status_code == 201
        listed = admin.get("/api/customers").json()["data"]
        assert [c["attributes"]["email"] for c in listed] == ["busy@example.com"]
    finally:
        srv.stop()
