"""Domain failures and their one mapping to JSON:API (status, error objects, pointers)."""

from __future__ import annotations

import orjson
import pytest

from kassa import failures
from kassa.failures import Failure, Kind, Problem, attr, rel
from kassa.jsonapi import errors as jsonapi


def _wire(failure: Failure) -> tuple[int, bytes, dict[str, str]]:
    err = jsonapi.api_error(failure)
    return err.status, orjson.dumps({"errors": err.errors}), err.headers


def test_unauthorized_and_invalid_token_are_401s() -> None:
    assert jsonapi.api_error(failures.unauthorized()).errors == [
        {
            "title": "Access denied",
            "detail": "You are not authorized to perform this action on the requested resource.",
            "code": "UNAUTHORIZED",
            "status": "401",
        }
    ]
    err = jsonapi.api_error(failures.invalid_token())
    assert (err.status, err.headers) == (401, {})
    assert err.errors == [
        {
            "title": "Invalid token",
            "detail": "The access token you provided is invalid.",
            "code": "INVALID_TOKEN",
            "status": "401",
        }
    ]


def test_not_found_is_a_404() -> None:
    err = jsonapi.api_error(failures.not_found())
    assert err.status == 404
    assert err.errors == [
        {
            "title": "Record not found",
            "detail": "The requested resource was not found. Please double-check the resource id.",
            "code": "RECORD_NOT_FOUND",
            "status": "404",
        }
    ]


def test_locked_is_a_423_with_its_detail() -> None:
    err = jsonapi.api_error(failures.locked("Another request is processing this order."))
    assert (err.status, err.headers) == (423, {})
    assert err.errors == [
        {
            "title": "Locked",
            "detail": "Another request is processing this order.",
            "code": "LOCKED",
            "status": "423",
        }
    ]


def test_retry_after_becomes_a_header() -> None:
    err = jsonapi.api_error(Failure(Kind.LOCKED, title="Locked", detail="Busy.", retry_after=2))
    assert err.headers == {"Retry-After": "2"}


def test_an_attribute_problem_points_at_the_attribute() -> None:
    err = jsonapi.api_error(
        failures.invalid(attr("quantity"), "must be greater than 0", "greater_than", count=0)
    )
    assert err.status == 422
    assert err.errors == [
        {
            "title": "must be greater than 0",
            "detail": "quantity - must be greater than 0",
            "code": "VALIDATION_ERROR",
            "status": "422",
            "source": {"pointer": "/data/attributes/quantity"},
            "meta": {"error": "greater_than", "count": 0},
        }
    ]


def test_a_relationship_problem_points_at_the_relationship() -> None:
    err = jsonapi.api_error(failures.blank(rel("payment_source")))
    assert err.errors == [
        {
            "title": "can't be blank",
            "detail": "payment_source - can't be blank",
            "code": "VALIDATION_ERROR",
            "status": "422",
            "source": {"pointer": "/data/relationships/payment_source"},
            "meta": {"error": "blank"},
        }
    ]


def test_every_problem_is_one_error_object_in_order() -> None:
    problems = [
        Problem(rel("line_items"), "can't be blank", "blank"),
        Problem(attr("quantity"), "is out of stock", "out_of_stock", {"line_item_id": "x"}),
    ]
    err = jsonapi.api_error(failures.invalid_all(problems))
    assert err.status == 422
    assert [e["source"]["pointer"] for e in err.errors] == [
        "/data/relationships/line_items",
        "/data/attributes/quantity",
    ]
    assert err.errors[1]["meta"] == {"error": "out_of_stock", "line_item_id": "x"}


@pytest.mark.parametrize(
    ("failure", "before"),
    [
        (failures.unauthorized(), jsonapi.unauthorized()),
        (failures.invalid_token(), jsonapi.invalid_token()),
        (failures.not_found(), jsonapi.not_found()),
        (
            failures.locked("Retry later."),
            jsonapi.ApiError.of(423, "LOCKED", "Locked", "Retry later."),
        ),
        (failures.blank(attr("customer_email")), jsonapi.blank(jsonapi.attr("customer_email"))),
        (
            failures.not_editable(attr("_refresh")),
            jsonapi.not_editable(jsonapi.attr("_refresh")),
        ),
        (failures.invalid_transition("_place"), jsonapi.invalid_transition("_place")),
        (
            failures.invalid(rel("payment_source"), "is invalid", "invalid"),
            jsonapi.invalid(jsonapi.rel("payment_source"), "is invalid", "invalid"),
        ),
        (
            failures.invalid(attr("password"), "is too short", "too_short", count=8),
            jsonapi.Invalid(
                [
                    jsonapi.validation(
                        "/data/attributes/password", "is too short", "too_short", count=8
                    )
                ]
            ),
        ),
    ],
)
def test_the_wire_bytes_are_those_of_the_json_api_helpers(
    failure: Failure, before: jsonapi.ApiError
) -> None:
    """The mapped failure is byte for byte what the API layer's own helpers produce."""
    assert _wire(failure) == (
        before.status,
        orjson.dumps({"errors": before.errors}),
        before.headers,
    )


def test_an_api_error_passes_through() -> None:
    err = jsonapi.bad_request("INVALID_INCLUDE", "x is not a valid relationship path.")
    assert jsonapi.api_error(err) is err


def test_a_failure_knows_no_http() -> None:
    failure = failures.blank(rel("payment_source"))
    assert failure.kind is Kind.INVALID and failure.code == "VALIDATION_ERROR"
    assert failure.problems[0].field == failures.Field("payment_source", relationship=True)
    assert str(failure) == "payment_source - can't be blank"
    assert str(failures.locked("Busy.")) == "Busy."
    assert failures.invalid_token().code == "INVALID_TOKEN"
    assert not hasattr(failure, "status")
