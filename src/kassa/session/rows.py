"""Plain row values and what a write asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass
class Changes:
    """What a write request asked for, after shape checks.

    ``values`` are column values to store; ``inputs`` the write-only attributes that are not
    columns (``password``, ``sku_code`` shortcuts…); ``triggers`` the ``_name`` commands;
    ``relationships`` maps a relationship name to ``None`` or ``(type, id)`` or a list.
    """

    values: Row = field(default_factory=dict)
    inputs: Row = field(default_factory=dict)
    triggers: Row = field(default_factory=dict)
    relationships: dict[str, Any] = field(default_factory=dict)
    sent_attributes: set[str] = field(default_factory=set)
    existing_id: str | None = None
    """Set by a create hook that updated an existing row instead (``_update_quantity``)."""
    related: dict[str, Any] = field(default_factory=dict)
    """The rows the sent to-one relationships point at (``None`` when cleared)."""
