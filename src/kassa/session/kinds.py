"""What the row helpers need to know about a stored type, and nothing more.

The API layer's resource declarations satisfy these protocols structurally, so a
:class:`~kassa.session.core.Session` can read and write rows without importing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa


class FieldDefault(Protocol):
    @property
    def default(self) -> Any: ...


class Declared(Protocol):
    """One stored type: its table, its row filter and the values a new row starts with."""

    @property
    def table(self) -> sa.Table: ...

    @property
    def defaults(self) -> Mapping[str, Any]:
        """Column defaults on create; a callable is called for each new row."""
        ...

    @property
    def fields(self) -> Mapping[str, FieldDefault]: ...

    @property
    def type_value(self) -> str | None:
        """The value of a shared table's ``type`` column for this type."""
        ...

    @property
    def tenant_scoped(self) -> bool: ...

    def base_where(self) -> list[sa.ColumnElement[bool]]: ...


class Catalog(Protocol):
    """Stored types by name."""

    def __getitem__(self, type_: str, /) -> Declared: ...
