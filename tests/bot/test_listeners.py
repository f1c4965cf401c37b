"""The bot in the live system: API channel in, worker, replies out, owner and handoff package."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from tests.helpers.bot_worker import (
    bot,
    bot_replies,
    hand_to,
    journey,
    post,
    runtime_parts,
)

from relaydesk import clock
from relaydesk.bot.actions import Recorded, record_turn
from relaydesk.bot.dialogue import BotTurn, DialogueState
from relaydesk.bot.listeners import answer, runtime_for
from relaydesk.bot.models import BotDialogue
from relaydesk.bus import Event, OutboxEntry
from relaydesk.hub import Hub
from relaydesk.journeys.states import JourneyOwner
from relaydesk.settings import Settings
from relaydesk.worker import Worker

__all__ = ["bot", "runtime_parts"]  # fixtures from the helper


async def test_the_bot_asks_answers_and_resolves_only_after_confirmation(
    hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    first = await post(client, "where is my order?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    [(ask, channel)] = await bot_replies(hub, jid)
    assert channel == "web"
    assert ask.text.startswith("What is your order number?")
    assert "buttons" not in ask.meta
    assert ask.delivery_status == "sent"  # delivered through the channel adapter

    manual_clock.advance(timedelta(seconds=20))
    await post(client, "48213")
    await Worker(hub).drain()
    replies = await bot_replies(hub, jid)
    assert len(replies) == 2
    answer_msg = replies[1][0]
    assert "/help/order-status?lang=en" in answer_msg.text
    assert answer_msg.text.endswith("Did that solve it?")
    assert answer_msg.meta["buttons"] == [
        {"id": "yes", "title": "Yes"},
        {"id": "no", "title": "No"},
        {"id": "TALK_TO_PERSON", "title": "Talk to a person"},
    ]
    view = await journey(client, jid)
    assert view["context"]["order_number"] == "48213"
    assert (view["owner"]["type"], view["status"], view["handoff"]) == ("bot", "open", None)

    manual_clock.advance(timedelta(seconds=20))
    await post(client, "Yes")
    await Worker(hub).drain()
    replies = await bot_replies(hub, jid)
    assert replies[-1][0].text.startswith("Great, glad I could help!")
    view = await journey(client, jid)
    assert (view["status"], view["outcome"]) == ("resolved", "resolved_by_bot")
    async with hub.db.read() as session:
        row = await session.get(BotDialogue, uuid.UUID(jid))
    assert row is not None and row.state["turns"] == 3 and row.state["awaiting"] is None
    assert len(row.state["transcript"]) == 6  # three customer messages, three replies


async def test_a_request_for_a_person_goes_to_the_queue_with_the_package(
    hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    first = await post(client, "where is my order #48213?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    manual_clock.advance(timedelta(seconds=20))
    ask = await post(client, "I want to talk to a real person")
    await Worker(hub).drain()
    view = await journey(client, jid)
    assert view["owner"]["type"] == "queue"
    package = view["handoff"]
    assert package["reason"] == "human_request"
    assert package["intent"] == "order_status" and package["confidence"] > 0.9
    assert package["facts"] == {"order_number": "48213"}  # the journey's, not the profile
    assert package["articles_offered"] == ["order-status"]
    replies = await bot_replies(hub, jid)
    assert replies[-1][0].text.startswith("I'm connecting you with a person now.")
    ids = package["transcript"]["message_ids"]
    assert ids == [
        first["message_id"],
        str(replies[0][0].id),
        ask["message_id"],
        str(replies[1][0].id),
    ]
    assert package["transcript"]["journey_id"] == jid
    assert package["summary"].startswith("The customer asked for a person.")
    async with hub.db.read() as session:
        events = (
            await session.scalars(
                select(Event)
                .where(Event.name == "journey.owner_changed", Event.journey_id == uuid.UUID(jid))
                .order_by(Event.occurred_at, Event.id)
            )
        ).all()
    last = events[-1]
    assert (last.payload["from_owner"], last.payload["to_owner"]) == ("bot", "queue")
    assert last.payload["reason"] == "human_request" and last.actor == "bot"
    # the queue owns it now: the bot stays silent
    await post(client, "hello? anyone?")
    await Worker(hub).drain()
    assert len(await bot_replies(hub, jid)) == 2


async def test_facts_said_on_another_channel_are_not_asked_again(
    hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    first = await post(client, "where is my order?", channel="web")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    manual_clock.advance(timedelta(minutes=2))
    second = await post(client, "it's #55123", channel="app")
    assert second["journey_id"] == jid
    await Worker(hub).drain()
    replies = await bot_replies(hub, jid)
    assert [name for _, name in replies] == ["web", "app"]  # replies where the customer wrote
    assert "/help/order-status" in replies[1][0].text
    manual_clock.advance(timedelta(minutes=2))
    await post(client, "how do I return an item and get a refund?", channel="web")
    await Worker(hub).drain()
    replies = await bot_replies(hub, jid)
    assert len(replies) == 3 and replies[2][1] == "web"
    assert "/help/returns-and-refunds" in replies[2][0].text  # no second "order number?"
    assert (await journey(client, jid))["context"]["order_number"] == "55123"


async def test_a_retried_event_sends_no_second_reply(hub: Hub, client: httpx.AsyncClient) -> None:
    first = await post(client, "how long does delivery take?")
    jid, mid = first["journey_id"], first["message_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    assert len(await bot_replies(hub, jid)) == 1
    async with hub.db.read() as session:
        entries = (
            await session.scalars(
                select(OutboxEntry.id).where(OutboxEntry.listener.like("relaydesk.bot.%"))
            )
        ).all()
    assert entries  # both bot listeners ran: the message and the owner change

    async def redo(session: Any) -> None:
        await session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(entries))
            .values(status="pending", available_at=clock.now(), locked_until=None)
        )

    await hub.db.transaction(redo)
    assert await Worker(hub).drain() >= len(entries)
    assert len(await bot_replies(hub, jid)) == 1
    assert await answer(hub, uuid.UUID(jid), uuid.UUID(mid)) is None


async def test_a_turn_decided_from_an_old_snapshot_is_not_recorded(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    first = await post(client, "how long does delivery take?")
    jid, mid = uuid.UUID(first["journey_id"]), uuid.UUID(first["message_id"])
    await hand_to(hub, first["journey_id"])
    await Worker(hub).drain()
    second = await post(client, "and to Norway?")
    turn = BotTurn((), DialogueState())

    async def record(expected: int, message_id: uuid.UUID) -> Recorded:
        result = await hub.db.transaction(
            lambda s: record_turn(s, jid, message_id, turn, expected_turns=expected, analysis=None)
        )
        return result.outcome

    assert await record(1, mid) is Recorded.DUPLICATE
    assert await record(0, uuid.UUID(second["message_id"])) is Recorded.STALE
    await hand_to(hub, first["journey_id"], JourneyOwner.QUEUE)
    assert await record(1, uuid.UUID(second["message_id"])) is Recorded.NOT_OURS


async def test_handing_a_journey_to_the_bot_answers_the_latest_message(
    hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    first = await post(client, "hello")
    jid = first["journey_id"]
    manual_clock.advance(timedelta(seconds=5))
    await post(client, "how long does delivery take?")
    await hand_to(hub, jid, JourneyOwner.QUEUE)  # waiting for a person (no agent here)
    await Worker(hub).drain()
    assert await bot_replies(hub, jid) == []  # not the bot's journey
    await hand_to(hub, jid)
    await Worker(hub).drain()
    [(reply, _)] = await bot_replies(hub, jid)
    assert "/help/delivery-options" in reply.text


async def test_the_journey_view_has_no_package_before_a_handoff(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    first = await post(client, "hi")
    view = await journey(client, first["journey_id"])
    assert view["handoff"] is None and view["owner"]["type"] == "unassigned"


async def test_each_hub_keeps_one_runtime(hub: Hub, settings: Settings) -> None:
    other = Hub.from_settings(settings)
    try:
        assert runtime_for(hub) is runtime_for(hub)
        assert runtime_for(other) is not runtime_for(hub)
    finally:
        await other.close()
