"""The bot and channel specifics: controls, button presses, system messages, numbered
choices, refused replies and phone calls (API channel in, worker, replies out)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.helpers.bot_worker import (
    bot,
    bot_replies,
    hand_to,
    journey,
    post,
    runtime_parts,
)

from relaydesk import clock
from relaydesk.channels.api_channel import ApiChannel
from relaydesk.channels.base import InboundMessage, Sender
from relaydesk.channels.models import Channel
from relaydesk.customers.identities import identity_key
from relaydesk.customers.models import Consent
from relaydesk.hub import Hub
from relaydesk.journeys.actions import ingest_inbound
from relaydesk.worker import Worker

__all__ = ["bot", "runtime_parts"]  # fixtures from the helper


async def test_a_channel_control_hands_off_without_words(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    first = await post(client, "how long does delivery take?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    async with hub.db.read() as session:
        web = (await session.scalars(select(Channel).where(Channel.name == "web"))).one()
    control = InboundMessage(
        channel="web",
        external_id="control-1",
        sender=Sender(identities=((identity_key("handle", "kim-1", scope="web"), "integration"),)),
        text="[Talk to a person]",
        author_type="system",
        meta={"requests_human": True},
    )
    await hub.db.transaction(
        lambda s: ingest_inbound(s, web, control, journey_window=timedelta(days=7))
    )
    await Worker(hub).drain()
    view = await journey(client, jid)
    assert view["owner"]["type"] == "queue"
    assert view["handoff"]["reason"] == "human_request"
    assert view["handoff"]["intent"] == "delivery"


async def test_system_messages_are_not_answered(hub: Hub, client: httpx.AsyncClient) -> None:
    first = await post(client, "how long does delivery take?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    async with hub.db.read() as session:
        web = (await session.scalars(select(Channel).where(Channel.name == "web"))).one()
    note = InboundMessage(
        channel="web",
        external_id="note-1",
        sender=Sender(identities=((identity_key("handle", "kim-1", scope="web"), "integration"),)),
        text="[call started]",
        author_type="system",
    )
    await hub.db.transaction(
        lambda s: ingest_inbound(s, web, note, journey_window=timedelta(days=7))
    )
    await Worker(hub).drain()
    assert len(await bot_replies(hub, jid)) == 1
    assert (await journey(client, jid))["owner"]["type"] == "bot"


async def test_without_buttons_the_choices_are_numbered(
    hub: Hub, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ApiChannel, "supports_buttons", False, raising=False)
    first = await post(client, "jak długo trwa dostawa?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    [(reply, _)] = await bot_replies(hub, jid)
    assert reply.text.endswith("Odpowiedz numerem:\n1. Tak\n2. Nie\n3. Porozmawiaj z konsultantem")
    assert "buttons" not in reply.meta
    await post(client, "1")
    await Worker(hub).drain()
    assert (await journey(client, jid))["outcome"] == "resolved_by_bot"


async def test_a_reply_the_channel_refuses_becomes_a_handoff(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    first = await post(client, "how long does delivery take?")
    jid = first["journey_id"]

    async def opt_out(session: Any) -> None:
        session.add(
            Consent(
                customer_id=uuid.UUID(first["customer_id"]),
                channel="web",
                status="revoked",
                source="test",
                updated_at=clock.now(),
            )
        )

    await hub.db.transaction(opt_out)
    await hand_to(hub, jid)
    await Worker(hub).drain()
    assert await bot_replies(hub, jid) == []
    view = await journey(client, jid)
    assert view["owner"]["type"] == "queue"
    assert view["handoff"]["reason"] == "bot_cannot_reply"
    assert view["handoff"]["articles_offered"] == ["delivery-options"]


async def test_on_a_phone_call_the_bot_hands_off_instead_of_writing(
    hub: Hub, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ApiChannel, "takes_written_replies", False, raising=False)
    first = await post(client, "how long does delivery take?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    assert await bot_replies(hub, jid) == []
    view = await journey(client, jid)
    assert view["owner"]["type"] == "queue"
    assert view["handoff"]["reason"] == "bot_cannot_reply"
    assert view["handoff"]["intent"] == "delivery"


async def test_a_pressed_button_is_understood_by_its_id(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    first = await post(client, "how long does delivery take?")
    jid = first["journey_id"]
    await hand_to(hub, jid)
    await Worker(hub).drain()
    async with hub.db.read() as session:
        web = (await session.scalars(select(Channel).where(Channel.name == "web"))).one()
    press = InboundMessage(
        channel="web",
        external_id="press-1",
        sender=Sender(identities=((identity_key("handle", "kim-1", scope="web"), "integration"),)),
        text="👍",
        meta={"payload": "yes"},
    )
    await hub.db.transaction(
        lambda s: ingest_inbound(s, web, press, journey_window=timedelta(days=7))
    )
    await Worker(hub).drain()
    assert (await journey(client, jid))["outcome"] == "resolved_by_bot"
