"""A batch of messages (``ingest_many``) ends exactly as the same messages one by one.

The batch stores repeats and new customers' first messages in bulk and everything else one
by one, after them; these tests run each scenario both ways on the same database and compare
what was stored (ids renamed in order of appearance) and which events were logged.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.helpers.ingest_invariants import assert_ingest_invariants, reset_domain_data
from tests.helpers.workspace import apply_text

from relaydesk.bus import Event
from relaydesk.channels.base import InboundMessage, Sender
from relaydesk.channels.models import Channel
from relaydesk.customers.identities import Assurance, IdentityKey, identity_key
from relaydesk.hub import Hub
from relaydesk.ingest import IngestQueue
from relaydesk.journeys.actions import Inbound, IngestResult, ingest_inbound, ingest_many
from relaydesk.journeys.models import Journey, Message

WINDOW = timedelta(days=7)
Spec = tuple[str, str, dict[str, str]]
"""(channel, external id, sender identities: email / phone / handle / claimed_email)"""


@pytest.fixture(autouse=True)
async def workspace(hub: Hub) -> None:
    await apply_text(hub)


def inbound(channel: str, external_id: str, who: dict[str, str]) -> InboundMessage:
    trusted: list[tuple[IdentityKey, str]] = []
    for kind in ("email", "phone"):
        if kind in who:
            trusted.append((identity_key(kind, who[kind]), Assurance.INTEGRATION.value))
    if "handle" in who:
        key = identity_key("handle", who["handle"], scope=channel)
        trusted.append((key, Assurance.INTEGRATION.value))
    if "twice" in who:  # a sender that lists its identities twice
        trusted += trusted
    claims = (identity_key("email", who["claimed_email"]),) if "claimed_email" in who else ()
    return InboundMessage(
        channel=channel,
        external_id=external_id,
        sender=Sender(identities=tuple(trusted), claims=claims, name=who.get("name")),
        text=f"text of {external_id}",
        context={"order_number": external_id} if external_id.endswith("o") else {},
    )


async def channels(hub: Hub) -> dict[str, Channel]:
    async with hub.db.read() as session:
        return {c.name: c for c in (await session.scalars(select(Channel))).all()}


async def outcome(hub: Hub, results: list[IngestResult]) -> dict[str, Any]:
    """What the run left, with every id replaced by its order of first appearance."""
    names: dict[uuid.UUID, str] = {}

    def name(kind: str, value: uuid.UUID) -> str:
        return names.setdefault(value, f"{kind}{sum(v.startswith(kind) for v in names.values())}")

    answers = [
        (
            name("m", r.message_id),
            name("v", r.conversation_id),
            name("j", r.journey_id),
            name("c", r.customer_id),
            r.duplicate,
        )
        for r in results
    ]
    async with hub.db.read() as session:
        stored = (
            await session.execute(
                select(Message.external_id, Message.conversation_id, Message.journey_id)
                .where(Message.direction == "inbound")
                .order_by(Message.external_id)
            )
        ).all()
        journeys = (
            await session.execute(select(Journey.id, Journey.status, Journey.context))
        ).all()
        events = Counter(
            (
                await session.scalars(select(Event.name).where(Event.name.not_like("workspace.%")))
            ).all()
        )
    state = await assert_ingest_invariants(hub)
    return {
        "answers": answers,
        "stored": [(e, names.get(c, "?"), names.get(j, "?")) for e, c, j in stored],
        "events": events,
        "journey_states": sorted(
            (names.get(jid, "?"), status, sorted(context.items()))
            for jid, status, context in journeys
        ),
        "customers": len(state.live_customers),
        "merged": len(state.merged_customers),
        "journeys": len(state.journeys),
        "claims": sorted((c.kind, c.value) for c in state.claims),
        "suggestions": len(state.suggestions),
    }


async def one_by_one(hub: Hub, specs: list[Spec]) -> list[IngestResult]:
    by_name = await channels(hub)
    return [
        await hub.db.transaction(
            lambda s, c=c, e=e, w=w: ingest_inbound(
                s, by_name[c], inbound(c, e, w), journey_window=WINDOW
            )
        )
        for c, e, w in specs
    ]


async def as_batch(hub: Hub, specs: list[Spec]) -> list[IngestResult]:
    by_name = await channels(hub)
    items = [Inbound(by_name[c], inbound(c, e, w)) for c, e, w in specs]
    return await hub.db.transaction(lambda s: ingest_many(s, items, journey_window=WINDOW))


ADA = {"email": "ada@example.com", "name": "Ada"}
ADA_PHONE = {"phone": "+46701234567"}
ADA_BOTH = {"email": "ada@example.com", "phone": "+46701234567"}
BO = {"email": "bo@example.com"}

SCENARIOS: dict[str, tuple[list[Spec], list[Spec]]] = {
    # (stored before, then the batch)
    "new customers": ([], [("web", f"n{i}o", {"email": f"c{i}@example.com"}) for i in range(5)]),
    "repeats in and before the batch": (
        [("web", "a1", ADA)],
        [("web", "a1", ADA), ("web", "b1", BO), ("web", "b1", BO), ("app", "a1", ADA)],
    ),
    "one new person twice, then by phone too": (
        [],
        [("web", "x1o", ADA), ("app", "x2", ADA), ("app", "x3", ADA_BOTH), ("web", "x4", BO)],
    ),
    "email and phone meet and merge": (
        [("web", "e1", ADA), ("app", "p1", ADA_PHONE)],
        [("app", "both", ADA_BOTH), ("web", "fresh", BO), ("web", "e2", ADA)],
    ),
    "claims stay claims": (
        [("web", "t1", ADA)],
        [
            ("widget", "w1", {"handle": "v-1", "claimed_email": "ada@example.com"}),
            ("widget", "w2", {"handle": "v-2"}),
            ("widget", "w3", {"handle": "v-1"}),
        ],
    ),
    "follow-ups into open conversations": (
        [("web", "f1", ADA_BOTH), ("app", "f2", BO), ("app", "f3", ADA)],
        [("web", "f4o", ADA), ("app", "f5", BO), ("app", "f6", ADA_PHONE), ("web", "f7", BO)],
    ),
    "a customer's earlier message goes one by one, so the later one does too": (
        [("web", "o1", ADA_BOTH)],
        [
            ("web", "o2", {"email": "ada@example.com", "claimed_email": "bo@example.com"}),
            ("app", "o3o", ADA_PHONE),
        ],
    ),
    "a name the customer did not have yet": (
        [("web", "n1", {"email": "bo@example.com"})],
        [("web", "n2", {"email": "bo@example.com", "name": "Bo"})],
    ),
    "an identity listed twice": (
        [],
        [("web", "d1", {**ADA, "twice": "yes"}), ("web", "d2", {**BO, "twice": "yes"})],
    ),
    "returning customer on another channel": (
        [("web", "r1o", ADA)],
        [("app", "r2", ADA), ("web", "r3", {"email": "new@example.com"}), ("web", "r4", ADA)],
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_a_batch_ends_like_the_same_messages_one_by_one(hub: Hub, scenario: str) -> None:
    before, batch = SCENARIOS[scenario]
    await one_by_one(hub, before)
    sequential = await outcome(hub, (await one_by_one(hub, before + batch))[len(before) :])
    await reset_domain_data(hub)
    await one_by_one(hub, before)
    batched = await outcome(hub, await as_batch(hub, batch))
    assert batched == sequential


async def test_an_empty_batch_writes_nothing(hub: Hub) -> None:
    assert await hub.db.transaction(lambda s: ingest_many(s, [], journey_window=WINDOW)) == []


async def test_the_queue_answers_each_request_with_its_own_results(hub: Hub) -> None:
    import asyncio

    by_name = await channels(hub)
    queue = IngestQueue(hub.db)
    jobs = [
        [Inbound(by_name["web"], inbound("web", f"q{i}", {"email": f"q{i}@example.com"}))]
        for i in range(30)
    ]
    jobs.append([Inbound(by_name["web"], inbound("web", "q0", {"email": "q0@example.com"}))])
    done = await asyncio.gather(*(queue.submit(job, journey_window=WINDOW) for job in jobs))
    assert [d.results[0].duplicate for d in done] == [False] * 30 + [True]
    assert done[-1].results[0].message_id == done[0].results[0].message_id
    assert len({d.results[0].customer_id for d in done}) == 30


async def test_one_bad_request_fails_alone(hub: Hub) -> None:
    """A batch that fails is retried request by request: only the bad one gets the error."""
    import asyncio

    by_name = await channels(hub)
    queue = IngestQueue(hub.db)
    good = [
        [Inbound(by_name["web"], inbound("web", f"g{i}", {"email": f"g{i}@example.com"}))]
        for i in range(5)
    ]
    nobody = InboundMessage(channel="web", external_id="bad", sender=Sender(()), text="?")
    bad = [Inbound(by_name["web"], nobody)]  # no identity at all: resolve_sender refuses
    outcomes = await asyncio.gather(
        *(queue.submit(job, journey_window=WINDOW) for job in [*good[:2], bad, *good[2:]]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[2], ValueError)
    assert all(not isinstance(o, BaseException) for i, o in enumerate(outcomes) if i != 2)
    state = await assert_ingest_invariants(hub)
    assert len(state.inbound()) == 5


async def test_finish_runs_in_the_same_transaction_with_the_requests_results(hub: Hub) -> None:
    by_name = await channels(hub)
    queue = IngestQueue(hub.db)
    seen: list[list[IngestResult]] = []

    async def finish(session: Any, results: list[IngestResult]) -> str:
        seen.append(results)
        stored = await session.scalar(
            select(Message.external_id).where(Message.id == results[0].message_id)
        )
        return str(stored)

    job = [Inbound(by_name["app"], inbound("app", "f1", ADA))]
    done = await queue.submit(job, journey_window=WINDOW, finish=finish)
    assert done.finished == "f1"
    assert seen == [done.results]


async def test_a_follow_up_reopens_a_journey_waiting_on_the_customer(hub: Hub) -> None:
    from sqlalchemy import update

    from relaydesk.journeys.models import Journey

    async def wait_on_customer(session: Any) -> None:
        await session.execute(update(Journey).values(status="waiting"))

    (first,) = await one_by_one(hub, [("web", "w1", ADA)])
    await hub.db.transaction(wait_on_customer)
    (follow_up,) = await as_batch(hub, [("web", "w2", ADA)])
    assert (follow_up.journey_id, follow_up.conversation_id) == (
        first.journey_id,
        first.conversation_id,
    )
    async with hub.db.read() as session:
        status = await session.scalar(select(Journey.status).where(Journey.id == first.journey_id))
    assert status == "open"


async def test_a_follow_up_keeps_a_journey_pending_and_the_bots_facts(hub: Hub) -> None:
    """The bulk follow-up writes status and context: what others changed before must stay."""
    from sqlalchemy import update

    from relaydesk.journeys.models import Journey

    (first,) = await one_by_one(hub, [("web", "k1", ADA)])

    async def company_investigates(session: Any) -> None:
        await session.execute(
            update(Journey).values(status="pending", context={"order_number": "77", "x": 1})
        )

    await hub.db.transaction(company_investigates)
    (follow_up,) = await as_batch(hub, [("web", "k2o", ADA)])
    assert follow_up.journey_id == first.journey_id
    async with hub.db.read() as session:
        journey = (
            await session.execute(
                select(Journey.status, Journey.context).where(Journey.id == first.journey_id)
            )
        ).one()
    assert journey.status == "pending"
    assert journey.context == {"order_number": "k2o", "x": 1}
