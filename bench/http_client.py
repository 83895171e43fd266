"""A minimal HTTP/1.1 keep-alive client for the load generator.

httpx costs about a millisecond of CPU per request, which on a two-core machine caps a
Python load generator near 300 requests per second, below what the write targets need
(60 checkouts of 7 requests per second). This client does only what the bench sends: one
connection, one request at a time, ``Content-Length`` or chunked answers; about a tenth of
the cost. It is not a general HTTP client.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


class HttpError(Exception):
    """The connection failed or the answer could not be read."""


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]  # lower-case names
    content: bytes


class Connection:
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        fixed = {"Host": f"{self.host}:{self.port}", **headers}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        target = path + ("?" + urlencode(params) if params else "")
        head = f"{method} {target} HTTP/1.1\r\n{self._fixed}Content-Length: {len(body)}\r\n\r\n"
        for attempt in (1, 2):  # a kept-alive connection the server closed: open a new one
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None
            try:
                self._writer.write(head.encode("latin-1") + body)
                return await self._read(self._reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                await self.close()
                if attempt == 2:
                    raise HttpError(f"{method} {target}: {exc!r}") from exc
        raise AssertionError("unreachable")

    async def _read(self, reader: asyncio.StreamReader) -> Answer:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = await _chunks(reader)
        else:
            content = b""
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, headers, content)


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
