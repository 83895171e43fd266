"""Recovery of callouts left in flight by a process that died.

:func:`recover_once` finds the callouts whose lease (:mod:`kassa.payments.leases`) has
expired, takes each order's lock, repeats the callout with the same idempotency key (or,
when ``KASSA_CALLOUT_IDEMPOTENCY`` is off, records it as failed without calling) and
finishes the work the dead process was doing: an order left ``placing`` ends placed with
its one authorization, or back where it was with a failed authorization; a capture, void
or refund is recorded and the order settled; a wallet save creates its entry. No human
step. ``kassa serve`` runs a scan at start-up and every ``KASSA_RECOVERY_INTERVAL_SECONDS``
(:func:`run_periodically`); any other process may call :func:`recover_once`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import sqlalchemy as sa

from kassa.auth.principal import Principal
from kassa.checkout.placing import conclude_placement, restore_stock
from kassa.failures import Failure
from kassa.ids import now
from kassa.orders import locks, stock
from kassa.orders.rules import line_items
from kassa.payments import callouts, flows, leases, wallet
from kassa.payments.callouts import Outcome
from kassa.payments.leases import Lease
from kassa.payments.transactions import rebalance, settle
from kassa.session import Services, Session
from kassa.session.rows import Row

log = logging.getLogger("kassa.recovery")

INTERRUPTED = "CALLOUT_INTERRUPTED"
"""``error_code`` of a transaction whose callout was interrupted and not repeated."""


def _ctx(services: Services, lease: Lease) -> Session:
    principal = Principal(
        organization_id=lease.organization_id,
        organization_slug="",
        mode=lease.mode,
        application_id="",
        kind="integration",
    )
    settings = services.settings
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return Session(services, principal, base.rstrip("/"))


async def recover_once(services: Services, limit: int = 50) -> int:
    """One scan: finish every callout whose lease has expired; how many were finished."""
    async with services.db.engine.connect() as conn:
        found = await leases.expired(conn, limit)
    done = 0
    for lease in found:
        try:
            if await recover(services, lease):
                done += 1
        except Exception:
            log.exception("recovery of callout %s (order %s) failed", lease.key, lease.order_id)
    return done


async def recover(services: Services, lease: Lease) -> bool:
    """Finish one expired callout; ``False`` if somebody else holds the order or the lease."""
    ctx = _ctx(services, lease)
    async with ctx.step():
        taken = await locks.try_lock(ctx, lease.order_id)
        if taken is None:
            if not await _order_exists(ctx, lease.order_id):
                await leases.drop(ctx, lease.key)
            return False
        _row, token = taken
        claimed = await leases.claim(ctx, lease.key)
        if claimed is None:
            await locks.release(ctx, lease.order_id, token)
            return False
        recorded = await _recorded(ctx, claimed)
        # The lock and the claim are committed before the callout is repeated.
        async with ctx.unit.outside_transaction():
            outcome = None if recorded else await _repeat(ctx, claimed)
        await _finish(ctx, claimed, outcome)
        await locks.release(ctx, lease.order_id, token)
    log.info(
        "recovered %s callout %s of order %s: %s",
        lease.action,
        lease.key,
        lease.order_id,
        outcome.kind if outcome is not None else "already recorded",
    )
    return True


async def _order_exists(ctx: Session, order_id: str) -> bool:
    return await ctx.get("orders", order_id) is not None


async def _recorded(ctx: Session, lease: Lease) -> bool:
    """Whether the outcome of the callout is stored already (its id is the key)."""
    kind = "customer_payment_sources" if lease.action == "token" else "transactions"
    table = ctx.table(kind)
    stmt = sa.select(table.c.id).where(table.c.id == lease.key, *ctx.scoped(kind))
    return (await ctx.conn.execute(stmt)).first() is not None


async def _repeat(ctx: Session, lease: Lease) -> Outcome:
    """The callout again, same body and key; or a failure when repeats are not allowed."""
    if not ctx.settings.callout_idempotency:
        return Outcome(
            "failure",
            error_code=INTERRUPTED,
            message="callout interrupted; its outcome is unknown (not repeated)",
        )
    async with ctx.step(write=False):
        gateway = await ctx.get("external_gateways", lease.gateway_id)
    if gateway is None:
        return Outcome("failure", error_code=INTERRUPTED, message="gateway no longer exists")
    return await callouts.call(ctx, gateway, lease.action, lease.body.encode(), lease.key)


async def _finish(ctx: Session, lease: Lease, outcome: Outcome | None) -> None:
    """Record ``outcome`` (``None``: recorded already) and finish what the callout served."""
    order = await ctx.get("orders", lease.order_id)
    if order is None:
        await leases.drop(ctx, lease.key)
        return
    if lease.action == "token":
        await _finish_save(ctx, lease, order, outcome)
        return
    pay = await flows.load(ctx, order)
    if outcome is None:
        txn = next((x for x in pay.txns if x["id"] == lease.key), None)
        assert txn is not None
        outcome = _as_outcome(txn)
    else:
        target, reference = await _target(ctx, lease, pay)
        if target is None:
            outcome = Outcome("failure", error_code=INTERRUPTED, message="source no longer exists")
            target = {"id": lease.target_id}
        await flows.conclude(
            ctx,
            pay,
            lease.action,
            lease.target_type,
            target,
            lease.amount_cents,
            outcome,
            lease.key,
            reference=reference,
            gateway_id=lease.gateway_id,
        )
    await leases.drop(ctx, lease.key)
    if outcome.ok and lease.purpose in (flows.APPROVE_AND_CAPTURE, flows.CANCEL):
        await _finish_trigger(ctx, lease, order, pay)
        return
    if lease.purpose == "place" and order["status"] == "placing":
        items = await line_items(ctx, order["id"])
        skus = await stock.skus_of(ctx, items)
        before = str(lease.context.get("status_before") or "pending")
        # A decline is committed with its failed authorization and raised: nobody to answer.
        with contextlib.suppress(Failure):
            await conclude_placement(ctx, pay, order, items, skus, outcome, before)
        return
    await settle(ctx, order, pay.txns)


async def _finish_trigger(ctx: Session, lease: Lease, order: Row, pay: flows.Payment) -> None:
    """What ``_approve_and_capture`` or ``_cancel`` does after its last callout succeeded.

    Only when nothing is left for the trigger (an order with several authorizations whose
    first was interrupted is settled as it is, and the trigger can be sent again).
    """
    await rebalance(ctx, pay.txns)
    balance = (
        "capture_balance_cents"
        if lease.purpose == flows.APPROVE_AND_CAPTURE
        else "void_balance_cents"
    )
    values: Row | None = None
    if any(int(t.get(balance) or 0) > 0 for t in pay.succeeded("authorizations")):
        values = None
    elif lease.purpose == flows.APPROVE_AND_CAPTURE and order["status"] == "placed":
        values = {"status": "approved", "approved_at": now()}
    elif lease.purpose == flows.CANCEL and order["status"] in ("pending", "placed", "approved"):
        if order.get("placed_at") is not None:
            await restore_stock(ctx, order)
        values = {"status": "cancelled", "cancelled_at": now()}
    await settle(ctx, order, pay.txns, values)


async def _target(ctx: Session, lease: Lease, pay: flows.Payment) -> tuple[Row | None, Row | None]:
    """The row the callout was about, and the transaction it refers to (not authorize)."""
    if lease.action == "authorize":
        return await ctx.get(lease.target_type, lease.target_id), None
    reference = next((x for x in pay.txns if x["id"] == lease.target_id), None)
    return reference, reference


def _as_outcome(txn: Row) -> Outcome:
    if txn.get("succeeded"):
        return Outcome("success", message=txn.get("message"))
    if txn.get("pending"):
        return Outcome("pending", message=txn.get("message"))
    return Outcome("failure", error_code=txn.get("error_code"), message=txn.get("message"))


async def _finish_save(ctx: Session, lease: Lease, order: Row, outcome: Outcome | None) -> None:
    """A wallet save: the entry ``key`` on success; nothing otherwise (no entry)."""
    await leases.drop(ctx, lease.key)
    if outcome is None or not outcome.ok or not order.get("customer_id"):
        return
    source = await ctx.get("external_payments", lease.target_id)
    if source is None or source.get("wallet_id"):
        return
    method = await ctx.get("payment_methods", order.get("payment_method_id"))
    await wallet.store_entry(ctx, order, source, method, outcome, lease.key)


async def run_periodically(services: Services, stop: asyncio.Event) -> None:
    """Scan at once, then every ``recovery_interval_seconds`` (with jitter) until ``stop``."""
    interval = services.settings.recovery_interval_seconds
    while not stop.is_set():
        try:
            await recover_once(services)
        except Exception:
            log.exception("recovery scan failed")
        delay = interval * (0.8 + 0.4 * random.random())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
