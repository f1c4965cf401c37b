"""Driving the bot through the API channel and the worker, for the bot listener tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.helpers.workspace import apply_text

from relaydesk.bot.dialogue import DialogueTexts
from relaydesk.bot.listeners import BotRuntime, use_runtime
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack
from relaydesk.channels.models import Channel
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Message
from relaydesk.journeys.states import JourneyOwner

WORKSPACE = """
version: 1
channels:
  - name: web
    kind: api
  - name: app
    kind: api
"""
SENDER = {"email": "kim@example.com", "handle": "kim-1"}


@pytest.fixture(scope="module")
def runtime_parts(model: NluModel, pack: Pack) -> tuple[NluModel, Pack, DialogueTexts]:
    return model, pack, DialogueTexts.load()


@pytest.fixture(autouse=True)
async def bot(hub: Hub, runtime_parts: tuple[NluModel, Pack, DialogueTexts]) -> None:
    model, pack, texts = runtime_parts
    use_runtime(hub, BotRuntime(model=model, pack=pack, texts=texts))
    await apply_text(hub, WORKSPACE)


async def post(client: httpx.AsyncClient, text: str, channel: str = "web") -> dict[str, Any]:
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": channel,
            "external_id": uuid.uuid4().hex,
            "text": text,
            "sender": SENDER,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def hand_to(hub: Hub, journey_id: str, owner: JourneyOwner = JourneyOwner.BOT) -> None:
    await hub.db.transaction(
        lambda s: change_owner(s, uuid.UUID(journey_id), owner, reason="test", actor="test")
    )


async def bot_replies(hub: Hub, journey_id: str) -> list[tuple[Message, str]]:
    async with hub.db.read() as session:
        rows = (
            await session.execute(
                select(Message, Channel.name)
                .join(Channel, Channel.id == Message.channel_id)
                .where(
                    Message.journey_id == uuid.UUID(journey_id),
                    Message.direction == "outbound",
                    Message.author_type == "bot",
                )
                .order_by(Message.created_at, Message.id)
            )
        ).all()
    return [(m, name) for m, name in rows]


async def journey(client: httpx.AsyncClient, journey_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/journeys/{journey_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())
