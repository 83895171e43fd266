"""Money is integer cents; ``*_float`` and ``formatted_*`` are derived when serializing."""

from __future__ import annotations

from functools import lru_cache

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "SEK": "kr "}
# Currencies written 1.234,56 (the rest use 1,234.56).
_COMMA_DECIMAL = {"EUR", "SEK", "DKK", "NOK", "PLN", "CZK", "BRL"}
_ZERO_DECIMAL = {"JPY", "KRW", "CLP", "VND", "ISK"}


def exponent(currency: str | None) -> int:
    return 0 if currency in _ZERO_DECIMAL else 2


def to_float(cents: int | None, currency: str | None = None) -> float | None:
    if cents is None:
        return None
    return cents / (10 ** exponent(currency))


@lru_cache(maxsize=16384)
def format_amount(cents: int | None, currency: str | None) -> str | None:
    """Deterministic display string: symbol first, e.g. ``€1.234,56``, ``-$34.80``.

    Memoized: a list of 25 orders formats about 500 amounts, mostly the same few (the
    profile of the order list had this function first by own time)."""
    if cents is None:
        return None
    exp = exponent(currency)
    sign = "-" if cents < 0 else ""
    units, minor = divmod(abs(cents), 10**exp) if exp else (abs(cents), 0)
    comma = currency in _COMMA_DECIMAL
    grouped = f"{units:,}".replace(",", "." if comma else ",")
    body = grouped if not exp else f"{grouped}{',' if comma else '.'}{minor:0{exp}d}"
    symbol = _SYMBOLS.get(currency or "", f"{currency} " if currency else "")
    return f"{sign}{symbol}{body}"
