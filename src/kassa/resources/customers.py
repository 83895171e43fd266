"""Addresses, customers, their address book, password resets, and tags."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from kassa.auth import accounts
from kassa.auth.passwords import check_new_password, hash_password
from kassa.auth.tokens import login_lifetime
from kassa.emails import normalized_email
from kassa.ids import new_id, now
from kassa.jsonapi.errors import Invalid, attr, blank, invalid, rel, validation
from kassa.resources import contract
from kassa.resources.base import Access, Changes, Resource, Row, reverse, verbs
from kassa.session import Session, scopes

_SINGLE = verbs("create", "retrieve", "update", "delete")


# --- addresses ------------------------------------------------------------------------------


def _full_name(row: Row) -> str | None:
    if row.get("business"):
        return row.get("company")
    names = [row.get("first_name"), row.get("last_name")]
    return " ".join(n for n in names if n) or None


def _full_address(row: Row) -> str | None:
    city = " ".join(p for p in (row.get("zip_code"), row.get("city")) if p)
    region = " ".join(
        p for p in (city, f"({row['state_code']})" if row.get("state_code") else "") if p
    )
    parts = [
        row.get("line_1"),
        row.get("line_2"),
        region,
        row.get("country_code"),
        row.get("phone"),
    ]
    return ", ".join(p for p in parts if p) or None


def _address_name(row: Row) -> str | None:
    parts = [_full_name(row), _full_address(row)]
    return ", ".join(p for p in parts if p) or None


_ADDRESS_REQUIRED = ("line_1", "city", "zip_code", "country_code", "phone")


def check_address(row: Row) -> None:
    errors = []
    needed = ["company"] if row.get("business") else ["first_name", "last_name"]
    for name in (*needed, *_ADDRESS_REQUIRED):
        if not row.get(name):
            errors.append(validation(attr(name), "can't be blank", "blank"))
    code = row.get("country_code")
    if code and not re.fullmatch(r"[A-Za-z]{2}", code):
        errors.append(validation(attr("country_code"), "is invalid", "invalid"))
    if errors:
        raise Invalid(errors)


async def _address_create(ctx: Session, values: Row, _c: Changes) -> None:
    check_address(values)
    if values.get("country_code"):
        values["country_code"] = values["country_code"].upper()
    if ctx.principal.customer_id:
        values["owner_customer_id"] = ctx.principal.customer_id


async def _address_update(ctx: Session, row: Row, values: Row, _c: Changes) -> None:
    merged = {**row, **values}
    check_address(merged)
    if values.get("country_code"):
        values["country_code"] = values["country_code"].upper()


ADDRESSES = Resource(
    contract.ADDRESSES,
    access=Access(guest=_SINGLE, customer=_SINGLE, scope=scopes.addresses_scope),
    computed={"full_name": _full_name, "full_address": _full_address, "name": _address_name},
    defaults={"business": False, "is_localized": False, "is_geocoded": False},
    extra_columns=[sa.Column("owner_customer_id", sa.String(16), nullable=True, index=True)],
    optional=frozenset({"first_name", "last_name", "company", *_ADDRESS_REQUIRED}),
    before_create=_address_create,
    before_update=_address_update,
)


# --- customers ------------------------------------------------------------------------------


async def _email_checks(ctx: Session, sent: Any, own_id: str | None = None) -> str:
    email = normalized_email(sent)
    if email is None:
        raise invalid(attr("email"), "is invalid", "invalid")
    table = ctx.table("customers")
    rows = await ctx.select("customers", sa.func.lower(table.c.email) == email)
    if any(r["id"] != own_id for r in rows):
        raise invalid(attr("email"), "has already been taken", "taken", value=email)
    return email


def _no_group_from_sales_channels(ctx: Session, changes: Changes) -> None:
    """Customer groups open private markets: only integrations assign them."""
    if ctx.principal.sales_channel and "customer_group" in changes.relationships:
        raise invalid(rel("customer_group"), "is invalid", "invalid")


async def _customer_create(ctx: Session, values: Row, changes: Changes) -> None:
    _no_group_from_sales_channels(ctx, changes)
    if not values.get("email"):
        raise invalid(attr("email"), "can't be blank", "blank")
    values["email"] = await _email_checks(ctx, values["email"])
    values["id"] = new_id()
    values["shopper_reference"] = values.get("shopper_reference") or values["id"]
    values["profile_id"] = values.get("profile_id") or values["id"]
    password = changes.inputs.get("password")
    if password is not None:
        chosen = check_new_password(password, "password")
        values["password_hash"] = await hash_password(chosen)
        values["has_password"] = True


async def _customer_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    _no_group_from_sales_channels(ctx, changes)
    if "email" in values:
        values["email"] = await _email_checks(ctx, values["email"], row["id"])
    password = changes.inputs.get("password")
    if password is not None:
        chosen = check_new_password(password, "password")
        values["password_hash"] = await hash_password(chosen)
        values["has_password"] = True
        await accounts.password_changed(ctx.conn, row["id"], login_lifetime(ctx.settings))


async def _customer_delete(ctx: Session, row: Row) -> None:
    orders = ctx.table("orders")
    placed = await ctx.select(
        "orders", orders.c.customer_id == row["id"], orders.c.placed_at.is_not(None)
    )
    if placed:
        from kassa.jsonapi.errors import ApiError

        raise ApiError.of(423, "LOCKED")


CUSTOMERS = Resource(
    contract.CUSTOMERS,
    list_indexes=True,  # grows with the shop: kassa.resources.tables.list_indexes
    searched=("email", "reference"),
    access=Access(
        guest=verbs("create"),
        customer=verbs("list", "retrieve", "update", "delete"),
        scope=scopes.self_customer,
    ),
    defaults={"status": "prospect", "has_password": False, "total_orders_count": 0},
    not_stored=frozenset({"jwt_custom_claim", "anonymization_info", "anonymization_status"}),
    computed={
        "jwt_custom_claim": lambda _r: None,
        "anonymization_info": lambda _r: None,
        "anonymization_status": lambda _r: None,
    },
    optional=frozenset({"shopper_reference", "profile_id"}),
    extra_columns=[sa.Column("password_hash", sa.String, nullable=True)],
    unique=[("email",)],
    relationships={
        "customer_addresses": reverse("customer_addresses", "customer_id"),
        "customer_payment_sources": reverse("customer_payment_sources", "customer_id"),
        "orders": reverse("orders", "customer_id"),
    },
    before_create=_customer_create,
    before_update=_customer_update,
    before_delete=_customer_delete,
)


async def _customer_address_create(ctx: Session, values: Row, changes: Changes) -> None:
    p = ctx.principal
    if p.customer_id:
        values["customer_id"] = p.customer_id
    customer = changes.related.get("customer")
    if customer is None and values.get("customer_id"):
        customer = await ctx.get("customers", values["customer_id"])
    if customer is not None:
        values["customer_email"] = customer["email"]
    elif values.get("customer_email") is not None:
        email = normalized_email(values["customer_email"])
        if email is None:
            raise invalid(attr("customer_email"), "is invalid", "invalid")
        values["customer_email"] = email
    address = changes.related.get("address")
    if address is not None:
        values["name"] = _address_name(address)
        if address.get("owner_customer_id") is None and values.get("customer_id"):
            await ctx.update(
                "addresses", address["id"], {"owner_customer_id": values["customer_id"]}
            )


CUSTOMER_ADDRESSES = Resource(
    contract.CUSTOMER_ADDRESSES,
    access=Access(
        customer=verbs(*("list", "retrieve", "create", "update", "delete")),
        scope=scopes.owned_by_customer,
    ),
    optional=frozenset({"customer", "customer_email"}),
    before_create=_customer_address_create,
)


# --- password resets -----------------------------------------------------------------------
#
# An integration creates a reset for a customer's e-mail and gets the token in the answer
# (the only time it is shown); the shop delivers it, and whoever holds it sets a new password
# with ``_reset_password_token`` + ``customer_password`` (a sales channel token will do).
# A sales channel may also create a reset: the answer never carries a token and looks the same
# whether or not a customer has the e-mail; when one has, the token goes to the shop's
# backend in the customer_password_resets.create webhook only (kassa.webhooks).


async def _reset_create(ctx: Session, values: Row, _c: Changes) -> None:
    sent = values.get("customer_email")
    if sent in (None, ""):
        raise blank(attr("customer_email"))
    email = normalized_email(sent)
    if email is None:
        raise invalid(attr("customer_email"), "is invalid", "invalid")
    values["customer_email"] = email
    values["id"] = new_id()
    customers = ctx.table("customers")
    found = await ctx.select("customers", sa.func.lower(customers.c.email) == email)
    values["customer_id"] = found[0]["id"] if found else None
    if not ctx.principal.integration and not found:
        return
    if not found:
        raise invalid(attr("customer_email"), "is invalid", "invalid")
    if ctx.principal.integration:  # a storefront cannot cancel the tokens already sent
        await _void_pending_resets(ctx, found[0]["id"])
    # The integration sees the token in its answer; a sales channel never does: the shop
    # learns it from the customer_password_resets.create webhook (and e-mails it).
    token = accounts.new_reset_token(values["id"], shown=ctx.principal.integration)
    values["reset_password_token_digest"] = accounts.token_digest(token)
    ctx.events.reveal(values["id"], {"reset_password_token": token})


async def _void_pending_resets(ctx: Session, customer_id: str) -> None:
    """Only the newest token of a customer works: the older unused ones stop working."""
    resets = ctx.table("customer_password_resets")
    await ctx.conn.execute(
        resets.update()
        .where(
            *ctx.scoped("customer_password_resets"),
            resets.c.customer_id == customer_id,
            resets.c.reset_password_at.is_(None),
        )
        .values(reset_password_token_digest=None, updated_at=now())
    )


async def _reset_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    token = changes.triggers.pop("_reset_password_token", None)
    password = changes.inputs.get("customer_password")
    if token is None and password is None and ctx.principal.integration:
        return  # reference, reference_origin, metadata
    if token is None:
        raise blank(attr("_reset_password_token"))
    if password is None:
        raise blank(attr("customer_password"))
    at = now()
    digest = row.get("reset_password_token_digest")
    expired = (at - row["created_at"]).total_seconds() >= ctx.settings.password_reset_ttl
    customer = await ctx.get("customers", row.get("customer_id"))
    if (
        expired
        or customer is None
        or row.get("reset_password_at") is not None
        or not accounts.token_matches(digest, token)
    ):
        raise invalid(attr("_reset_password_token"), "is invalid", "invalid")
    check_new_password(password, "customer_password")
    resets = ctx.table("customer_password_resets")
    used = await ctx.update(
        "customer_password_resets",
        row["id"],
        {"reset_password_at": at, "reset_password_token_digest": None},
        resets.c.reset_password_at.is_(None),
        resets.c.reset_password_token_digest == digest,
    )
    if not used:  # a concurrent reset with the same token won
        raise invalid(attr("_reset_password_token"), "is invalid", "invalid")
    await ctx.update(
        "customers",
        customer["id"],
        {"password_hash": await hash_password(password), "has_password": True},
    )
    await accounts.password_changed(ctx.conn, customer["id"], login_lifetime(ctx.settings))
    await _void_pending_resets(ctx, customer["id"])


CUSTOMER_PASSWORD_RESETS = Resource(
    contract.CUSTOMER_PASSWORD_RESETS,
    access=Access(guest=verbs("create", "update"), customer=verbs("create", "update")),
    computed={"reset_password_token": accounts.issued_token},
    extra_columns=[sa.Column("reset_password_token_digest", sa.String(64), nullable=True)],
    before_create=_reset_create,
    before_update=_reset_update,
)


# --- tags -----------------------------------------------------------------------------------

_TAG = re.compile(r"^[a-z0-9_:-]{1,25}$")


async def _tag_create(ctx: Session, values: Row, _c: Changes) -> None:
    name = str(values.get("name") or "").lower()
    if not _TAG.match(name):
        raise invalid(attr("name"), "is invalid", "invalid")
    table = ctx.table("tags")
    if await ctx.select("tags", table.c.name == name):
        raise invalid(attr("name"), "has already been taken", "taken", value=name)
    values["name"] = name


async def _tag_update(ctx: Session, row: Row, values: Row, changes: Changes) -> None:
    if "name" in values:
        name = str(values.get("name") or "").lower()
        if not _TAG.match(name):
            raise invalid(attr("name"), "is invalid", "invalid")
        table = ctx.table("tags")
        if any(r["id"] != row["id"] for r in await ctx.select("tags", table.c.name == name)):
            raise invalid(attr("name"), "has already been taken", "taken", value=name)
        values["name"] = name


TAGS = Resource(
    contract.TAGS, unique=[("name",)], before_create=_tag_create, before_update=_tag_update
)

ALL = [ADDRESSES, CUSTOMERS, CUSTOMER_ADDRESSES, CUSTOMER_PASSWORD_RESETS, TAGS]
