"""Journeys combined after a customer merge: the bot keeps one memory of both."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from tests.helpers.bot_worker import bot_replies, hand_to, post

from relaydesk import clock
from relaydesk.bot.actions import merge_dialogues
from relaydesk.bot.dialogue import DialogueState
from relaydesk.bot.dialogue.state import merge_states
from relaydesk.bot.models import BotDialogue
from relaydesk.customers.actions import merge_customers
from relaydesk.hub import Hub
from relaydesk.journeys.models import Journey
from relaydesk.worker import Worker

__all__ = ["bot", "runtime_parts"]  # fixtures from the helper
from tests.helpers.bot_worker import bot, runtime_parts

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_newer_state_carries_the_topic_and_both_histories_are_kept() -> None:
    old = DialogueState(
        intent="returns_refunds",
        language="pl",
        asked=("order_number",),
        offered=("returns-and-refunds",),
        awaiting="confirm",
        turns=3,
        updated_at=T0,
        transcript=("m1", "r1", "m2"),
    )
    new = DialogueState(
        intent="billing",
        asked=("email",),
        offered=("billing-and-payments", "returns-and-refunds"),
        alternatives=("returns-and-refunds", "account-access"),
        awaiting="fact",
        awaiting_fact="email",
        turns=1,
        updated_at=T0 + timedelta(minutes=5),
        transcript=("m9",),
    )
    for merged in (merge_states(old, new), merge_states(new, old)):  # order does not matter
        assert (merged.intent, merged.awaiting, merged.awaiting_fact) == (
            "billing",
            "fact",
            "email",
        )
        assert merged.language == "pl"  # the newer side had none
        assert merged.offered == ("returns-and-refunds", "billing-and-payments")
        assert merged.alternatives == ("account-access",)  # never offer one again
        assert merged.asked == ("order_number", "email")
        assert merged.turns == 4
        assert merged.transcript == ("m1", "r1", "m2", "m9")
        assert merged.updated_at == new.updated_at
    assert merge_states(old, new, limit=2).transcript == ("m2", "m9")
    assert merge_states(DialogueState(), new).intent == "billing"


async def _dialogue(hub: Hub, journey_id: uuid.UUID) -> BotDialogue | None:
    async with hub.db.read() as session:
        return await session.get(BotDialogue, journey_id)


async def test_a_customer_merge_folds_the_bot_dialogues(
    hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    # Two people as far as the hub knows: one asks about a return on web, later the same
    # person (a new address) asks about billing on the app; the bot talks on both.
    first = await post(client, "I want to return my shoes")
    await hand_to(hub, first["journey_id"])
    await Worker(hub).drain()
    manual_clock.advance(timedelta(minutes=3))
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": "app",
            "external_id": uuid.uuid4().hex,
            "text": "why was I charged twice?",
            "sender": {"email": "kim.other@example.com", "handle": "kim-2"},
        },
    )
    assert response.status_code == 201, response.text
    second = response.json()
    await hand_to(hub, second["journey_id"])
    await Worker(hub).drain()
    keep_id, fold_id = uuid.UUID(first["journey_id"]), uuid.UUID(second["journey_id"])
    before_keep, before_fold = await _dialogue(hub, keep_id), await _dialogue(hub, fold_id)
    assert before_keep is not None and before_fold is not None
    kept_state = DialogueState.from_dict(before_keep.state)
    fold_state = DialogueState.from_dict(before_fold.state)

    async with hub.db.read() as session:
        survivor = (await session.get(Journey, keep_id)).customer_id  # type: ignore[union-attr]
        merged = (await session.get(Journey, fold_id)).customer_id  # type: ignore[union-attr]
    await hub.db.transaction(
        lambda s: merge_customers(
            s, survivor_id=survivor, merged_id=merged, actor="test", reason="same person"
        )
    )
    await Worker(hub).drain()

    assert await _dialogue(hub, fold_id) is None
    after = await _dialogue(hub, keep_id)
    assert after is not None
    state = DialogueState.from_dict(after.state)
    assert state.intent == fold_state.intent  # the latest conversation carries on
    assert set(kept_state.transcript) | set(fold_state.transcript) == set(state.transcript)
    assert state.turns == kept_state.turns + fold_state.turns
    assert after.last_message_id == before_fold.last_message_id
    # A retried event changes nothing more.
    assert await hub.db.transaction(lambda s: merge_dialogues(s, keep_id, fold_id)) is False

    # The next message on the combined journey is answered from the merged memory.
    manual_clock.advance(timedelta(seconds=30))
    replies_before = len(await bot_replies(hub, str(keep_id)))
    await post(client, "thanks, bye")
    await Worker(hub).drain()
    assert len(await bot_replies(hub, str(keep_id))) == replies_before + 1
