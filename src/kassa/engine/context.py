"""The request context: the domain session plus the query and the resource declarations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kassa.auth.principal import Principal
from kassa.jsonapi.errors import ApiError
from kassa.resources.base import Registry, Resource, Row
from kassa.session import Services as SessionServices
from kassa.session import Session
from kassa.store.unit import UnitOfWork

if TYPE_CHECKING:
    from kassa.jsonapi.query import Query


@dataclass
class Services(SessionServices):
    """The process's services, with the resource declarations as the catalog."""

    registry: Registry

    async def document(
        self, session: Session, type_: str, row: Row, includes: Sequence[str]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``row`` rendered for an integration in ``session``'s transaction; ``includes``
        that are not relationship paths are left out instead of refused."""
        from kassa.engine.documents import known_includes, render

        p = session.principal
        principal = Principal(
            organization_id=p.organization_id,
            organization_slug=p.organization_slug,
            mode=p.mode,
            application_id=p.application_id,
            kind="integration",
        )
        sys = Ctx(self, principal, session.base_url, unit=session.unit)
        res = self.registry[type_]
        tree = known_includes(sys, res, [tuple(str(path).split(".")) for path in includes])
        data, included = await render(sys, res, [row], tree)
        return data[0], included

    async def visible_row(self, session: Session, type_: str, id_: object) -> Row | None:
        from kassa.engine.policy import readable_row

        return await readable_row(self.registry, session, type_, id_)


class Ctx(Session):
    """One request: a :class:`~kassa.session.Session` that also knows the query string and
    the resource declarations (the API layer's view of the same unit of work)."""

    services: Services

    def __init__(
        self,
        services: Services,
        principal: Principal,
        base_url: str,
        query: Query | None = None,
        *,
        unit: UnitOfWork | None = None,
    ) -> None:
        super().__init__(services, principal, base_url, unit=unit)
        self.registry = services.registry
        self.query = query
        self.query_error: ApiError | None = None
        """A malformed query string, reported once the caller's permission is known."""

    def res(self, type_: str) -> Resource:
        return self.registry[type_]
