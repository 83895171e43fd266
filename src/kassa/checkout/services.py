"""The checkout as services with explicit arguments: ``place(session, order_id)``.

Each function does what the order trigger of the same purpose does over the API, on one
order, in one step of the session's unit of work: the order is read first (locked on
PostgreSQL), then the trigger's rule runs on it, with its order lock, gateway callouts and
transactions as always. A refusal raises :class:`kassa.failures.Failure`. Nothing here knows
HTTP; the API reaches the same rules through the resource declarations' triggers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kassa.checkout import lifecycle, placing
from kassa.failures import not_found
from kassa.payments import wallet
from kassa.session import Changes, Row, Session

Rule = Callable[[Session, Row, Any, Changes], Awaitable[None]]


async def _on_order(session: Session, order_id: str, trigger: str, rule: Rule, value: Any) -> None:
    try:
        async with session.step():
            order = await session.get("orders", order_id, for_update=True)
            if order is None:
                raise not_found()
            await rule(session, order, value, Changes(triggers={trigger: value}))
    finally:
        await session.unit.abandon()  # whatever a refused rule left open, as the API does


async def place(session: Session, order_id: str) -> None:
    """Place the order: authorize its payment source and reserve its stock (``_place``)."""
    await _on_order(session, order_id, "_place", placing.place, True)


async def approve(session: Session, order_id: str) -> None:
    await _on_order(session, order_id, "_approve", lifecycle.approve, True)


async def capture(session: Session, order_id: str) -> None:
    await _on_order(session, order_id, "_capture", lifecycle.capture, True)


async def approve_and_capture(session: Session, order_id: str) -> None:
    await _on_order(session, order_id, "_approve_and_capture", lifecycle.approve_and_capture, True)


async def refund(session: Session, order_id: str) -> None:
    """Refund what the order's captures left (``_refund``)."""
    await _on_order(session, order_id, "_refund", lifecycle.refund, True)


async def cancel(session: Session, order_id: str) -> None:
    await _on_order(session, order_id, "_cancel", lifecycle.cancel, True)


async def save_to_wallet(session: Session, order_id: str) -> None:
    """Save the order's payment source into its customer's wallet, once."""
    await _on_order(session, order_id, wallet.SAVE, wallet.save, True)


async def pay_with_wallet(session: Session, order_id: str, entry_id: str) -> None:
    """Pay the order with a copy of the customer's wallet entry ``entry_id``."""
    await _on_order(session, order_id, wallet.REUSE, wallet.reuse, entry_id)
