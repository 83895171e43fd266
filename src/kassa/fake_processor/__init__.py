"""Reference payment processor: a fake external payment gateway that Kassa calls over HTTP.

Tests and the demo run it on loopback (see :class:`ProcessorServer`). It is also the
example to copy when writing your own gateway endpoint for external payments.

Callouts
--------
Kassa sends ``POST {gateway_url}/{action}`` for each action of an external payment,
where ``action`` is one of ``authorize``, ``capture``, ``void``, ``refund`` and ``token``.
Here the gateway URL is ``http://host:port/{account}``; ``account`` is a free namespace,
so independent tests never see each other's state.

The body is a JSON:API document::

    {"data": {"id": "...", "type": "...", "attributes": {...}, "meta": {...}},
     "included": [{"id": "...", "type": "orders", "attributes": {...}}, ...]}

and the ``X-CommerceLayer-Signature`` header carries
``base64(HMAC-SHA256(key=shared_secret, msg=raw_body))``. Always verify it against the
raw body bytes, before parsing (re-serialising the JSON changes the bytes); see :func:`sign`
and :func:`verify`. A mismatch is answered with HTTP 401 and
``{"success": false, "error": {"code": "INVALID_SIGNATURE", "message": "signature mismatch"}}``.

Answers
-------
Approved ``authorize``/``capture``/``void``/``refund`` (HTTP 200)::

    {"success": true, "data": {"transaction_token": "ft_...", "amount_cents": 1000}}

Approved ``token`` (HTTP 200)::

    {"success": true, "data": {"customer_token": "cus_...", "payment_source_token": "pm_..."}}

Declined (HTTP 200)::

    {"success": false, "data": {"transaction_token": "ft_...", "amount_cents": 1000,
                                "error": {"code": "CARD_DECLINED", "message": "..."}}}

Accepted for asynchronous completion (HTTP 202)::

    {"success": true, "data": {"action_id": "act_...", "transaction_token": "ft_...",
                               "amount_cents": 1000}}

A real gateway later reports the outcome to Kassa with
``POST {kassa}/webhook_callbacks/external_gateways/{gateway id}``, body
``{"success": true, "data": {"action_id": "act_..."}}`` signed the same way (tests send it
themselves; see :mod:`kassa.payments.async_completion`).

Idempotency
-----------
Kassa sends ``Idempotency-Key: <id>`` with every callout, the id of the transaction (or
wallet entry) the callout creates, and repeats it in ``data.meta.idempotency_key``; a
repeated callout (the recovery after a crash) carries the same key and the same body.
The processor answers a key once: a repeat gets the first answer again (waiting for it
while the first call is still being answered) and has no further effect; an answer of HTTP
5xx is not kept (nothing happened), so its repeat is processed afresh. The same key for
another action is refused with 422 ``IDEMPOTENCY_KEY_REUSED``. Without a key every call is
a new transaction.

The amount comes from ``data.meta.amount_cents`` (else the ``total_amount_with_taxes_cents``
of the first included ``orders``) for ``authorize``, and from ``data.attributes`` field
``capture_amount_cents``, ``void_balance_cents`` or ``refund_amount_cents`` otherwise.

Control routes (tests only)
---------------------------
* ``PUT /_accounts/{account}`` ``{"shared_secret": "..."}``: set (or, with null, unset)
  the secret; calls to an account without a secret are not verified.
* ``PUT /_accounts/{account}/behaviour/{action}`` ``{"mode": ...}``: script the next
  answers. Modes: ``approve``; ``decline`` (``code``, ``message``); ``timeout``
  (``seconds``, then approve); ``http_error`` (``status``); ``garbage`` (200, body
  ``not json``); ``async`` (202). Optional ``times`` (revert to approve after N calls),
  ``metadata`` (merged into success ``data``), ``payment_instrument`` (added to
  authorize success ``data``), ``hold`` (seconds to wait before answering, in any mode;
  the answer is decided after the wait).
* ``GET /_accounts/{account}/calls``: the ledger of received calls, in arrival order (each
  with its ``idempotency_key`` and whether it was ``replayed``).
* ``GET /_accounts/{account}/charges``: the effects, one per approved call that was not a
  replay.
* ``DELETE /_accounts/{account}/calls``: clear the ledger.

Run standalone with ``python -m kassa.fake_processor --host 127.0.0.1 --port 9090``.

Modules
-------
* :mod:`kassa.fake_processor.protocol`: signatures, actions, reading a callout's body.
* :mod:`kassa.fake_processor.state`: accounts, scripted behaviours, idempotency keys.
* :mod:`kassa.fake_processor.routes`: the application (callouts and control routes).
* :mod:`kassa.fake_processor.server`: :class:`ProcessorServer` and the command line.
"""

from kassa.fake_processor.protocol import (
    ACTIONS,
    IDEMPOTENCY_HEADER,
    MODES,
    SIGNATURE_HEADER,
    sign,
    verify,
)
from kassa.fake_processor.routes import build_app
from kassa.fake_processor.server import ProcessorServer, main
from kassa.fake_processor.state import Account, Behaviour

__all__ = [
    "ACTIONS",
    "IDEMPOTENCY_HEADER",
    "MODES",
    "SIGNATURE_HEADER",
    "Account",
    "Behaviour",
    "ProcessorServer",
    "build_app",
    "main",
    "sign",
    "verify",
]
