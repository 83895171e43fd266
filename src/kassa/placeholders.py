"""Answers for Commerce Layer resources Kassa does not build yet, so clients learn why.

- ``bundles`` (Kassa has no bundles): ``GET /api/bundles`` is a valid, empty list, so clients
  that look bundles up before adding SKUs to a cart (the official CLI's ``checkout``) go on;
  ``GET /api/bundles/{id}`` is a 404 saying bundles do not exist here. Any write is a 405.
"""

from __future__ import annotations

from typing import Any

from kassa.jsonapi.errors import ApiError


def answer(method: str, parts: list[str], base_url: str, page_size: int) -> dict[str, Any] | None:
    """The document for a placeholder path; ``None`` when the path is not one of them.

    Raises the explanatory :class:`ApiError` for the paths that have no answer.
    """
    if not parts or parts[0] != "bundles":
        return None
    if method != "GET":
        raise ApiError.of(405, "METHOD_NOT_ALLOWED")
    if len(parts) == 1:
        first = f"{base_url}/api/bundles?page[number]=1&page[size]={page_size}"
        return {
            "data": [],
            "meta": {"record_count": 0, "page_count": 0},
            "links": {"first": first, "last": first},
        }
    raise ApiError.of(
        404, "RECORD_NOT_FOUND", "Not found", "Bundles are not available in this Kassa version."
    )
