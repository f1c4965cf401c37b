"""Writes for the web chat channel: email claims and their one-time codes, read receipts.

Security model for a typed address:

- it is a *claim* (customers.IdentityClaim): it never links the visitor to anyone, and a
  claim of another customer's address only becomes a merge suggestion for an agent;
- a 6-digit code goes to the address (through the outbox, never from a request handler);
  only its HMAC is stored, it expires after ``CODE_TTL``, and ``MAX_ATTEMPTS`` wrong
  guesses lock it; code requests are limited per visitor and per address;
- the code is bound to the visitor who asked for it; only the right code turns the address
  into a *verified* identity, through the same resolve/merge path as every channel
  (customers.actions.resolve_sender), so the conversation joins the customer's others.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bus import publish
from relaydesk.channels.actions import apply_delivery_update
from relaydesk.channels.base import DeliveryUpdate
from relaydesk.channels.models import Channel
from relaydesk.channels.webchat.events import WebchatCodeRequested, WebchatEmailVerified
from relaydesk.channels.webchat.models import WebchatVerification
from relaydesk.channels.webchat.queries import latest_verification
from relaydesk.customers.actions import SenderIdentities, resolve_sender
from relaydesk.customers.identities import Assurance, IdentityKey
from relaydesk.customers.models import Identity
from relaydesk.db import new_id
from relaydesk.journeys.models import Message

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CODES_PER_VISITOR = (3, timedelta(hours=1))
CODES_PER_ADDRESS = (5, timedelta(hours=24))
OPEN_STATUSES = ("pending", "sent")


class VerificationRefused(Exception):
    def __init__(self, code: str, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class ClaimOutcome:
    verification_id: uuid.UUID
    status: str
    customer_id: uuid.UUID


def code_hash(key: str, verification_id: uuid.UUID, code: str) -> str:
    message = f"{verification_id}:{code}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


async def _requests_since(session: AsyncSession, *conditions: object) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(WebchatVerification)
        .where(WebchatVerification.status != "claimed", *conditions)  # type: ignore[arg-type]
    )
    return int(count or 0)


async def _check_limits(session: AsyncSession, channel: str, visitor: str, email: str) -> None:
    now = clock.now()
    most, within = CODES_PER_VISITOR
    mine = await _requests_since(
        session,
        WebchatVerification.channel == channel,
        WebchatVerification.visitor == visitor,
        WebchatVerification.created_at > now - within,
    )
    if mine >= most:
        raise VerificationRefused(
            "too_many_codes",
            f"at most {most} codes an hour; try again later",
            retry_after=int(within.total_seconds()),
        )
    most, within = CODES_PER_ADDRESS
    theirs = await _requests_since(
        session,
        WebchatVerification.email == email,
        WebchatVerification.created_at > now - within,
    )
    if theirs >= most:
        raise VerificationRefused(
            "too_many_codes",
            "too many codes were sent to this address today; try again tomorrow",
            retry_after=int(within.total_seconds()),
        )


async def claim_email(
    session: AsyncSession,
    channel: str,
    handle: IdentityKey,
    email: IdentityKey,
    *,
    verify: bool,
) -> ClaimOutcome:
    """Record a typed address as the visitor's claim and, if ``verify``, queue a code."""
    visitor = handle.value
    if verify:
        await _check_limits(session, channel, visitor, email.value)
    resolution = await resolve_sender(
        session,
        SenderIdentities(
            trusted=[(handle, Assurance.PROVIDER.value)], claims=[email], channel=channel
        ),
    )
    customer_id = resolution.customer_id
    owner = await session.scalar(
        select(Identity.customer_id).where(
            Identity.kind == email.kind,
            Identity.scope == email.scope,
            Identity.value == email.value,
        )
    )
    now = clock.now()
    await session.execute(
        update(WebchatVerification)
        .where(
            WebchatVerification.channel == channel,
            WebchatVerification.visitor == visitor,
            WebchatVerification.status.in_(OPEN_STATUSES),
        )
        .values(status="superseded", code_hash=None)
    )
    # Already theirs (verified before, or added by an agent): nothing to prove.
    already = owner == customer_id
    status = "verified" if already else ("pending" if verify else "claimed")
    row = WebchatVerification(
        id=new_id(),
        channel=channel,
        visitor=visitor,
        customer_id=customer_id,
        email=email.value,
        status=status,
        attempts=0,
        created_at=now,
        verified_at=now if status == "verified" else None,
    )
    session.add(row)
    await session.flush()
    if status == "pending":
        await publish(
            session,
            WebchatCodeRequested(customer_id=customer_id, verification_id=row.id, channel=channel),
        )
    return ClaimOutcome(row.id, status, customer_id)


@dataclass(frozen=True)
class IssuedCode:
    code: str
    email: str
    channel: str
    visitor: str


async def issue_code(
    session: AsyncSession, verification_id: uuid.UUID, key: str
) -> IssuedCode | None:
    """A fresh code for a pending request (None if it was sent, superseded or done)."""
    row = await session.scalar(
        select(WebchatVerification)
        .where(WebchatVerification.id == verification_id)
        .with_for_update()
    )
    if row is None or row.status != "pending":
        return None
    code = f"{secrets.randbelow(1_000_000):06d}"
    row.code_hash = code_hash(key, row.id, code)
    row.expires_at = clock.now() + CODE_TTL
    row.attempts = 0
    await session.flush()
    return IssuedCode(code, row.email, row.channel, row.visitor)


async def finish_sending(session: AsyncSession, verification_id: uuid.UUID, *, sent: bool) -> bool:
    """Mark a pending code sent (or failed); False if the request moved on meanwhile."""
    row = await session.get(WebchatVerification, verification_id, with_for_update=True)
    if row is None or row.status != "pending":
        return False
    now = clock.now()
    if sent:
        row.status, row.sent_at = "sent", now
    else:
        row.status, row.code_hash = "failed", None
    return True


@dataclass(frozen=True)
class CodeOutcome:
    status: str
    """verified | bad_code | locked | expired | no_code | code_pending"""
    attempts_left: int = 0
    customer_id: uuid.UUID | None = None
    merged: bool = False


def _normalize_code(code: str) -> str:
    return "".join(ch for ch in code if ch not in " -")


async def check_code(
    session: AsyncSession, channel: str, handle: IdentityKey, code: str, key: str
) -> CodeOutcome:
    """Try the visitor's code; the right one makes the address a verified identity."""
    row = await latest_verification(session, channel, handle.value, for_update=True)
    if row is None or row.status in ("claimed", "superseded", "failed"):
        return CodeOutcome("no_code")
    if row.status == "pending":
        return CodeOutcome("code_pending")
    if row.status == "verified":
        return CodeOutcome("verified", customer_id=row.customer_id)
    if row.status == "locked" or row.attempts >= MAX_ATTEMPTS:
        return CodeOutcome("locked")
    now = clock.now()
    if row.expires_at is None or row.expires_at <= now or row.code_hash is None:
        return CodeOutcome("expired")
    expected = row.code_hash
    if not hmac.compare_digest(expected, code_hash(key, row.id, _normalize_code(code))):
        row.attempts += 1
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.code_hash = "locked", None
            return CodeOutcome("locked")
        return CodeOutcome("bad_code", attempts_left=MAX_ATTEMPTS - row.attempts)
    row.status, row.verified_at, row.code_hash = "verified", now, None
    email = IdentityKey("email", "", row.email)
    resolution = await resolve_sender(
        session,
        SenderIdentities(
            trusted=[(handle, Assurance.PROVIDER.value), (email, Assurance.VERIFIED.value)],
            channel=channel,
        ),
    )
    merged = bool(resolution.merged)
    await publish(
        session,
        WebchatEmailVerified(
            customer_id=resolution.customer_id,
            verification_id=row.id,
            channel=channel,
            merged=merged,
        ),
    )
    return CodeOutcome("verified", customer_id=resolution.customer_id, merged=merged)


async def record_receipts(
    session: AsyncSession,
    channel: Channel,
    customer_id: uuid.UUID,
    message_ids: list[uuid.UUID],
    status: str,
) -> int:
    """Mark the visitor's own replies delivered or read; other ids are ignored."""
    rows = (
        await session.scalars(
            select(Message).where(
                Message.id.in_(message_ids),
                Message.channel_id == channel.id,
                Message.customer_id == customer_id,
                Message.direction == "outbound",
                Message.external_id.is_not(None),
            )
        )
    ).all()
    changed = 0
    for message in rows:
        assert message.external_id is not None
        update_ = DeliveryUpdate(external_id=message.external_id, status=status)
        changed += await apply_delivery_update(session, channel, update_)
    return changed
