"""JSON:API error objects, the exception that carries them to the HTTP layer, and the one
mapping of a domain :class:`~kassa.failures.Failure` to them (:func:`api_error`)."""

from __future__ import annotations

from typing import Any

import orjson

from kassa.failures import Failure, Field, Kind, Problem

TITLES = {
    "UNAUTHORIZED": (
        "Access denied",
        "You are not authorized to perform this action on the requested resource.",
    ),
    "INVALID_TOKEN": ("Invalid token", "The access token you provided is invalid."),
    "RECORD_NOT_FOUND": (
        "Record not found",
        "The requested resource was not found. Please double-check the resource id.",
    ),
    "NOT_ACCEPTABLE": ("Not acceptable", "The Accept header must be application/vnd.api+json."),
    "UNSUPPORTED_MEDIA_TYPE": (
        "Unsupported media type",
        "The Content-Type header must be application/vnd.api+json.",
    ),
    "METHOD_NOT_ALLOWED": ("Method not allowed", "This action is not supported by the resource."),
    "LOCKED": ("Locked", "The resource cannot be deleted because other records depend on it."),
    "TOO_MANY_REQUESTS": ("Too many requests", "The rate limit was exceeded."),
    "RECORD_NOT_UNIQUE": ("Record not unique", "The record conflicts with an existing one."),
    "INTERNAL_SERVER_ERROR": ("Internal server error", "Something went wrong."),
    "REQUEST_ENTITY_TOO_LARGE": (
        "Request entity too large",
        "The request body is larger than this server accepts.",
    ),
    "INVALID_HOST": ("Invalid host", "The Host header names a host this server does not serve."),
}


def shown(value: Any, limit: int = 60) -> str:
    """A client-sent value for an error detail, written as JSON (``null``, ``true``,
    ``"text"``: never a Python spelling such as ``None``) and cut short so huge input is not
    echoed back."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = orjson.dumps(str(value)).decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_object(
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    pointer: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    default_title, default_detail = TITLES.get(code, (code.replace("_", " ").lower(), None))
    obj: dict[str, Any] = {
        "title": title or default_title,
        "detail": detail or default_detail or title or default_title,
        "code": code,
        "status": str(status),
    }
    if pointer is not None:
        obj["source"] = {"pointer": pointer}
    if meta:
        obj["meta"] = meta
    return obj


class ApiError(Exception):
    """Raised anywhere below the HTTP layer; rendered as a JSON:API error document."""

    def __init__(
        self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
    ):
        super().__init__(errors[0].get("title") if errors else str(status))
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    @classmethod
    def of(
        cls,
        status: int,
        code: str,
        title: str | None = None,
        detail: str | None = None,
        pointer: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> ApiError:
        return cls(status, [error_object(status, code, title, detail, pointer, meta)])


def unauthorized() -> ApiError:
    return ApiError.of(401, "UNAUTHORIZED")


def invalid_token() -> ApiError:
    return ApiError.of(401, "INVALID_TOKEN")


def not_found() -> ApiError:
    return ApiError.of(404, "RECORD_NOT_FOUND")


def bad_request(
    code: str, detail: str, pointer: str | None = None, title: str | None = None
) -> ApiError:
    return ApiError.of(400, code, title or code.replace("_", " ").capitalize(), detail, pointer)


def field_name(pointer: str) -> str:
    return pointer.rsplit("/", 1)[-1]


def validation(pointer: str, title: str, error: str, **meta: Any) -> dict[str, Any]:
    """One 422 error object: ``detail`` is ``"<field> - <title>"``."""
    return error_object(
        422,
        "VALIDATION_ERROR",
        title,
        f"{field_name(pointer)} - {title}",
        pointer,
        {"error": error, **meta},
    )


class Invalid(ApiError):
    """A 422 with one or more validation error objects."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(422, errors)


def invalid(pointer: str, title: str, error: str, **meta: Any) -> Invalid:
    return Invalid([validation(pointer, title, error, **meta)])


def attr(name: str) -> str:
    return f"/data/attributes/{name}"


def rel(name: str) -> str:
    return f"/data/relationships/{name}"


def blank(pointer: str) -> Invalid:
    return invalid(pointer, "can't be blank", "blank")


def not_editable(pointer: str) -> Invalid:
    return invalid(pointer, "cannot be set on a non-editable order", "not_editable")


def invalid_transition(trigger: str) -> Invalid:
    return invalid(attr(trigger), "cannot be performed in the current status", "invalid_transition")


STATUS = {Kind.UNAUTHORIZED: 401, Kind.NOT_FOUND: 404, Kind.INVALID: 422, Kind.LOCKED: 423}
"""The HTTP status of each kind of domain failure."""


def pointer_of(at: Field) -> str:
    return rel(at.name) if at.relationship else attr(at.name)


def _problem(status: int, code: str, problem: Problem) -> dict[str, Any]:
    at = problem.field
    meta = {"error": problem.error, **problem.meta}
    detail = f"{at.name} - {problem.title}"
    return error_object(status, code, problem.title, detail, pointer_of(at), meta)


def api_error(exc: ApiError | Failure) -> ApiError:
    """What the client is sent for ``exc``: a domain failure's status, error objects (one a
    problem, each pointing at its field) and headers; an :class:`ApiError` as it is."""
    if isinstance(exc, ApiError):
        return exc
    status = STATUS[exc.kind]
    if exc.problems:
        errors = [_problem(status, exc.code, p) for p in exc.problems]
    else:
        errors = [error_object(status, exc.code, exc.title, exc.detail)]
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return ApiError(status, errors, headers)
