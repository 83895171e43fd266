"""Body checks: attribute values are coerced or refused with the documented error shapes."""

from __future__ import annotations

from typing import Any

import pytest

from kassa.engine.writes import _coerce, parse_changes, parse_json
from kassa.jsonapi.errors import ApiError
from kassa.resources.registry import build_registry
from kassa.resources.wire import WireField

POINTER = "/data/attributes/x"


def refused(field: WireField, value: Any) -> dict[str, Any]:
    with pytest.raises(ApiError) as info:
        _coerce(field, value, POINTER)
    return dict(info.value.errors[0])


@pytest.mark.parametrize(
    ("ftype", "value", "expected"),
    [
        ("integer", 5, 5),
        ("integer", " 7 ", 7),
        ("integer", "-3", -3),
        ("integer", 2**31 - 1, 2**31 - 1),
        ("float", 3, 3.0),
        ("float", 1e308, 1e308),
        ("string", "x" * 65_535, "x" * 65_535),
        ("boolean", False, False),
        # The official CLI's `-a name=value` sends every value as text.
        ("float", "43.77", 43.77),
        ("float", "-7", -7.0),
        ("float", "1e3", 1000.0),
        ("boolean", "true", True),
        ("boolean", "FALSE", False),
        ("object", {"a": [1]}, {"a": [1]}),
        ("array", [], []),
        ("string", None, None),
    ],
)
def test_accepted_values(ftype: str, value: Any, expected: Any) -> None:
    assert _coerce(WireField("x", ftype), value, POINTER) == expected


@pytest.mark.parametrize(
    ("ftype", "value"),
    [
        ("integer", "--5"),
        ("integer", "+5"),
        ("integer", "1.5"),
        ("integer", 1.5),
        ("integer", True),
        ("integer", "٣"),
        ("integer", "9" * 25),
        ("float", "1.5.2"),
        ("float", "nan"),
        ("float", "1e999"),
        ("float", " "),
        ("float", False),
        ("string", 5),
        ("string", {"a": 1}),
        ("boolean", "yes"),
        ("boolean", "1"),
        ("boolean", 1),
        ("object", []),
        ("array", {}),
        ("datetime", 5),
        ("datetime", "yesterday"),
        ("datetime", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_wrong_types_are_400(ftype: str, value: Any) -> None:
    err = refused(WireField("x", ftype), value)
    assert (err["code"], err["status"], err["source"]) == (
        "INVALID_FIELD_VALUE",
        "400",
        {"pointer": POINTER},
    )
    assert len(err["detail"]) < 120


@pytest.mark.parametrize(
    ("value", "error", "count"),
    [
        (2**31, "less_than_or_equal_to", 2**31 - 1),
        (-(2**40), "greater_than_or_equal_to", -(2**31 - 1)),
    ],
)
def test_integer_range_is_a_validation_error(value: int, error: str, count: int) -> None:
    err = refused(WireField("x", "integer"), value)
    assert (err["code"], err["status"]) == ("VALIDATION_ERROR", "422")
    assert err["meta"] == {"error": error, "count": count}
    assert err["detail"] == f"x - {err['title']}"


def test_string_length_limits() -> None:
    err = refused(WireField("x", "string"), "x" * 65_536)
    assert err["meta"] == {"error": "too_long", "count": 65_535}
    with pytest.raises(ApiError) as info:
        _coerce(WireField("x", "string"), "x" * 256, POINTER, indexed=True)
    assert info.value.errors[0]["title"] == "is too long (maximum is 255 characters)"


@pytest.mark.parametrize("value", [True, "true", 1, "1"])
def test_trigger_true_values(value: Any) -> None:
    assert _coerce(WireField("_place", "boolean"), value, POINTER) is True


@pytest.mark.parametrize("value", [False, "false", 0, "0"])
def test_trigger_false_values(value: Any) -> None:
    assert _coerce(WireField("_place", "boolean"), value, POINTER) is False


@pytest.mark.parametrize("value", ["yes", 2, 1.0, [], {}])
def test_trigger_other_values(value: Any) -> None:
    assert refused(WireField("_place", "boolean"), value)["code"] == "INVALID_FIELD_VALUE"


def code(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApiError) as info:
        fn(*args, **kwargs)
    return str(info.value.errors[0]["code"])


def test_documents() -> None:
    skus = build_registry()["skus"]
    assert code(parse_json, b"[]") == "PARAM_MISSING"
    assert code(parse_json, b"{") == "INVALID_DATA_FORMAT"
    assert code(parse_json, b'{"data":{"type":"skus","attributes":{"a":"\\u0000"}}}') == (
        "INVALID_DATA_FORMAT"
    )
    ok = {"type": "skus", "attributes": {"code": "A", "name": "B"}}
    changes = parse_changes(skus, ok, create=True, url_id=None)
    assert changes.values == {"code": "A", "name": "B"}
    assert code(parse_changes, skus, {**ok, "attributes": []}, create=True, url_id=None) == (
        "INVALID_DATA_FORMAT"
    )
    assert code(parse_changes, skus, {**ok, "type": "x"}, create=True, url_id=None) == (
        "TYPE_MISMATCH"
    )
    assert code(parse_changes, skus, ok, create=False, url_id="abc") == "PARAM_MISSING"
    assert code(parse_changes, skus, {**ok, "id": "xyz"}, create=False, url_id="abc") == (
        "KEY_NOT_INCLUDED_IN_URL"
    )
    assert code(
        parse_changes, skus, {**ok, "attributes": {"id": "x"}}, create=True, url_id=None
    ) == ("PARAM_NOT_ALLOWED")
    assert (
        code(
            parse_changes, skus, {**ok, "attributes": {"code": "C" * 256}}, create=True, url_id=None
        )
        == "VALIDATION_ERROR"
    )
    for linkage in ("x", {}, {"data": 5}, {"data": [{"type": "shipping_categories", "id": "a"}]}):
        doc = {**ok, "relationships": {"shipping_category": linkage}}
        assert code(parse_changes, skus, doc, create=True, url_id=None) == "INVALID_LINKS_OBJECT"
    doc = {**ok, "relationships": {"shipping_category": {"data": {"type": "skus", "id": "a"}}}}
    assert code(parse_changes, skus, doc, create=True, url_id=None) == "TYPE_MISMATCH"
