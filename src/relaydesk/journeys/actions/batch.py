"""Ingesting many messages in one transaction, with the outcome of one by one, in order.

What most messages need is done for the whole batch with one statement per table: repeats
already stored, first messages of new customers, and follow-ups from known customers into
the open conversation of their active journey. Everything else — claims, merges, reopening,
a new conversation, anything that depends on an earlier message of the same batch — goes
through the one-message path (``inbound.ingest_one``), one by one, in order, after them.
``tests/journeys/test_ingest_batch.py`` runs every case both ways and compares.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from relaydesk import clock
from relaydesk.channels.base import InboundMessage, storable
from relaydesk.channels.models import Channel
from relaydesk.customers.actions import SenderIdentities, create_customers, identity_owners
from relaydesk.customers.identities import IdentityKey
from relaydesk.customers.models import Customer
from relaydesk.journeys.actions.inbound import (
    Inbound,
    IngestResult,
    find_duplicates,
    happened_at_of,
    ingest_one,
    insert_messages,
    joined,
    open_first,
)
from relaydesk.journeys.models import Conversation, Journey
from relaydesk.journeys.states import (
    ACTIVE_JOURNEY_STATUSES,
    ConversationStatus,
    JourneyTrigger,
    next_journey_status,
)


async def ingest_inbound(
    session: AsyncSession,
    channel: Channel,
    inbound: InboundMessage,
    *,
    journey_window: timedelta,
) -> IngestResult:
    """Store one customer message exactly once and attach it to the customer's journey.

    Resolve the sender to one customer, join their active journey (or reopen one resolved
    within ``journey_window``, or open a new one), find or open the conversation on this
    channel, store the message and publish ``MessageReceived``. A repeat of the same
    (channel, external id) returns the original ids and writes nothing.
    """
    (result,) = await ingest_many(
        session, [Inbound(channel, inbound)], journey_window=journey_window
    )
    return result


async def ingest_many(
    session: AsyncSession, items: Sequence[Inbound], *, journey_window: timedelta
) -> list[IngestResult]:
    """``ingest_inbound`` for many messages in one transaction (results in their order)."""
    if not items:
        return []
    items = [Inbound(item.channel, storable(item.message)) for item in items]
    results: list[IngestResult | None] = [None] * len(items)
    stored = await find_duplicates(session, list({item.key for item in items}))
    pending = []
    for index, item in enumerate(items):
        if item.key in stored:
            results[index] = stored[item.key]
        else:
            pending.append(index)
    split = await _split(session, items, pending)
    if split.fresh:
        created = await _ingest_new_customers(session, [items[i] for i in split.fresh])
        for index, result in zip(split.fresh, created, strict=True):
            results[index] = result
    if split.returning:
        results_of = await _ingest_returning(session, items, split.returning)
        for index, result in results_of.items():
            results[index] = result
    for index in split.rest:
        if results[index] is not None:
            continue
        # A message that shares nothing with the others of the batch needs no second look.
        alone = index in split.alone
        results[index] = await ingest_one(
            session, items[index], journey_window, owners=split.owners if alone else None
        )
    assert all(result is not None for result in results), "every message has its result"
    return cast(list[IngestResult], results)


@dataclass
class _Split:
    fresh: list[int]
    """First messages of new customers that share nothing with the rest of the batch."""
    returning: dict[int, uuid.UUID]
    """Messages of one known customer each (the first of that customer in the batch), with
    every identity already theirs and no claims or thread references: candidates for the
    bulk follow-up (the rest of them stay in ``rest``, in case they are not)."""
    rest: list[int]
    alone: set[int]
    """Messages sharing no identity or external id with another of the batch."""
    owners: dict[IdentityKey, uuid.UUID]


async def _split(session: AsyncSession, items: Sequence[Inbound], pending: list[int]) -> _Split:
    seen: Counter[object] = Counter()
    for index in pending:
        seen[items[index].key] += 1
        sender = items[index].message.sender
        seen.update({key for key, _ in sender.identities} | set(sender.claims))
    owners = await identity_owners(
        session, {key for i in pending for key, _ in items[i].message.sender.identities}
    )
    split = _Split([], {}, [], set(), owners)
    touched: set[uuid.UUID] = set()
    """Customers an earlier message of the batch belongs to: the bulk follow-up runs before
    the one-by-one path, so it may only take a customer's first message of the batch."""
    for index in pending:
        message = items[index].message
        keys = [key for key, _ in message.sender.identities]
        known = {owners[key] for key in keys if key in owners}
        first_touch = not known & touched
        touched |= known
        shared = seen[items[index].key] != 1 or any(
            seen[k] != 1 for k in (*keys, *message.sender.claims)
        )
        if shared:
            split.rest.append(index)
            continue
        split.alone.add(index)
        if keys and not message.sender.claims and not known:
            split.fresh.append(index)
            continue
        split.rest.append(index)
        simple = not message.sender.claims and not message.thread_refs
        if simple and first_touch and len(known) == 1 and all(key in owners for key in keys):
            split.returning[index] = next(iter(known))
    return split


async def _ingest_new_customers(
    session: AsyncSession, items: Sequence[Inbound]
) -> list[IngestResult]:
    now = clock.now()
    customer_ids = await create_customers(
        session,
        [
            SenderIdentities(
                trusted=item.message.sender.identities,
                name=item.message.sender.name,
                channel=item.channel.name,
            )
            for item in items
        ],
    )
    times = [happened_at_of(item.message, now) for item in items]
    threads = await open_first(
        session,
        [(cid, item, at) for cid, item, at in zip(customer_ids, items, times, strict=True)],
        now,
    )
    message_ids = await insert_messages(
        session,
        [
            (item, cid, jid, conv, at)
            for item, cid, (jid, conv), at in zip(items, customer_ids, threads, times, strict=True)
        ],
        now,
    )
    return [
        IngestResult(mid, conv, jid, cid, duplicate=False)
        for mid, cid, (jid, conv) in zip(message_ids, customer_ids, threads, strict=True)
    ]


_CUSTOMERS = cast(Table, Customer.__table__)
_JOURNEYS = cast(Table, Journey.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)
_UPDATE_JOURNEY = (
    update(_JOURNEYS)
    .where(_JOURNEYS.c.id == bindparam("j_id"))
    .values(
        status=bindparam("j_status"),
        context=bindparam("j_context"),
        last_activity_at=bindparam("j_last_activity_at"),
        updated_at=bindparam("j_updated_at"),
    )
)
_UPDATE_CONVERSATION = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("c_id"))
    .values(
        last_message_at=bindparam("c_last_message_at"),
        reply_to=bindparam("c_reply_to"),
        last_inbound_at=bindparam("c_last_inbound_at"),
    )
)


async def _ingest_returning(
    session: AsyncSession, items: Sequence[Inbound], returning: dict[int, uuid.UUID]
) -> dict[int, IngestResult]:
    """Follow-ups of known customers into the open conversation (same channel and thread) of
    their active journey. The customers are locked first, as the one-message path does, then
    the journeys and conversations written (so nobody's change between the read and the
    write is put back). A message with no active journey or no such conversation, or whose
    name would be filled in, is left to that path; so is the whole step when a customer was
    merged away meanwhile (its messages must keep their order with the survivor's)."""
    customers = {
        row.id: row
        for row in await session.execute(
            select(_CUSTOMERS.c.id, _CUSTOMERS.c.merged_into_id, _CUSTOMERS.c.name)
            .where(_CUSTOMERS.c.id.in_(sorted(set(returning.values()))))
            .order_by(_CUSTOMERS.c.id)
            .with_for_update()
        )
    }
    if any(row.merged_into_id is not None for row in customers.values()):
        return {}
    # A customer with a survey waiting may be answering it (outreach claims those messages).
    from relaydesk.outreach.actions.claims import surveyed_customers

    surveyed = await surveyed_customers(session, set(returning.values()))
    live = {
        index: customer_id
        for index, customer_id in returning.items()
        if (row := customers.get(customer_id)) is not None
        and customer_id not in surveyed
        and (row.name is not None or not items[index].message.sender.name)
    }
    if not live:
        return {}
    journeys: dict[uuid.UUID, Any] = {}
    for row in await session.execute(
        select(_JOURNEYS)
        .where(
            _JOURNEYS.c.customer_id.in_(set(live.values())),
            _JOURNEYS.c.status.in_(ACTIVE_JOURNEY_STATUSES),
        )
        .order_by(_JOURNEYS.c.last_activity_at.desc(), _JOURNEYS.c.id.desc())
        .with_for_update()
    ):
        journeys.setdefault(row.customer_id, row)  # the most recent active one
    if not journeys:
        return {}
    conversations: dict[tuple[uuid.UUID, uuid.UUID, str], Any] = {}
    for row in await session.execute(
        select(_CONVERSATIONS)
        .where(
            _CONVERSATIONS.c.journey_id.in_([j.id for j in journeys.values()]),
            _CONVERSATIONS.c.status == ConversationStatus.OPEN.value,
        )
        .order_by(_CONVERSATIONS.c.id)
        .with_for_update()
    ):
        conversations[(row.journey_id, row.channel_id, row.thread_key)] = row
    now = clock.now()
    journey_rows: list[dict[str, Any]] = []
    conversation_rows: list[dict[str, Any]] = []
    messages: list[tuple[Inbound, uuid.UUID, uuid.UUID, uuid.UUID, Any]] = []
    handled: list[int] = []
    for index, customer_id in live.items():
        item = items[index]
        journey = journeys.get(customer_id)
        if journey is None:
            continue
        conversation = conversations.get((journey.id, item.channel.id, item.message.thread_key))
        if conversation is None:
            continue
        at = happened_at_of(item.message, now)
        journey_values, conversation_values = joined(journey, conversation, item.message, at, now)
        status = next_journey_status(journey.status, JourneyTrigger.CUSTOMER_MESSAGE)
        journey_rows.append(
            {"j_id": journey.id, "j_status": status.value}
            | {f"j_{key}": value for key, value in journey_values.items()}
        )
        conversation_rows.append(
            {"c_id": conversation.id}
            | {f"c_{key}": value for key, value in conversation_values.items()}
        )
        messages.append((item, customer_id, journey.id, conversation.id, at))
        handled.append(index)
    if not handled:
        return {}
    await session.execute(_UPDATE_JOURNEY, journey_rows)
    await session.execute(_UPDATE_CONVERSATION, conversation_rows)
    _expire_loaded(session, journey_rows, conversation_rows)
    message_ids = await insert_messages(session, messages, now)
    return {
        index: IngestResult(message_id, conversation_id, journey_id, customer_id, duplicate=False)
        for index, message_id, (_, customer_id, journey_id, conversation_id, _) in zip(
            handled, message_ids, messages, strict=True
        )
    }


def _expire_loaded(
    session: AsyncSession, journeys: list[dict[str, Any]], conversations: list[dict[str, Any]]
) -> None:
    """Rows changed behind the ORM's back: objects a caller loaded earlier reload them."""
    identity_map = session.sync_session.identity_map
    for model, rows, key in ((Journey, journeys, "j_id"), (Conversation, conversations, "c_id")):
        for row in rows:
            loaded = identity_map.get(identity_key(model, row[key]))
            if loaded is not None:
                session.expire(loaded)
