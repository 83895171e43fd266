"""The domain's view of one unit of work: who acts, the shared services, rows and scopes.

Domain packages (``orders``, ``payments``, ``checkout``) take a :class:`Session`; the API
layer's request context (:class:`kassa.engine.context.Ctx`) extends it with the query and
the resource declarations. Nothing here knows HTTP or JSON:API.
"""

from kassa.session.core import Services, Session
from kassa.session.kinds import Catalog, Declared
from kassa.session.rows import Changes, Row

__all__ = ["Catalog", "Changes", "Declared", "Row", "Services", "Session"]
