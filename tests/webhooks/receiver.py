"""A webhook receiver on loopback for the tests: records every request, answers as told."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def doc(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers.get("x-kassa-event-id", "")


class Receiver:
    """``plan``: statuses for the next requests, in order; then ``status`` for the rest.
    ``hold``: seconds to wait before answering the next request (once); ``pace``: seconds to
    wait before answering every request."""

    def __init__(self, status: int = 200, port: int = 0) -> None:
        self.status = status
        self.plan: list[int] = []
        self.hold = 0.0
        self.pace = 0.0
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    status = owner.plan.pop(0) if owner.plan else owner.status
                    hold, owner.hold = owner.hold + owner.pace, 0.0
                if hold:
                    time.sleep(hold)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner.lock:
                    owner.hits.append(Hit(self.path, headers, body, status, time.time()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def ok_hits(self) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if 200 <= h.status < 300]

    def all_hits(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)

    def wait(self, count: int, timeout: float = 15.0, ok: bool = True) -> list[Hit]:
        """Wait until ``count`` requests (successful ones when ``ok``) arrived."""
        deadline = time.time() + timeout
        while True:
            hits = self.ok_hits() if ok else self.all_hits()
            if len(hits) >= count or time.time() > deadline:
                return hits
            time.sleep(0.02)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
