"""E-mail address syntax, the one rule for ``customers.email`` and every ``customer_email``.

The check is deliberately plain: a dot-atom local part of printable ASCII, an ``@``, and a
domain of at least two DNS labels (an internationalized domain is accepted when it has an
IDNA form). Nothing is looked up; whether mail arrives is the shop's business.
"""

from __future__ import annotations

import re

MAX_LENGTH = 254
"""The longest address SMTP carries (RFC 5321, forward-path less the angle brackets)."""
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def normalized_email(value: object) -> str | None:
    """The address trimmed and lower-cased, or ``None`` when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_LENGTH or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if len(local) > 64 or not _LOCAL.fullmatch(local):
        return None
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    return text.lower()
