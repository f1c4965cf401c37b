"""A web chat customer's typing reaches the consoles that may see the customer's journey,
as the journey id and on/off only (never the customer or the text)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from tests.channels.webchat.support import serve
from tests.console.support import sign_in
from tests.console.test_live import ws_url
from tests.console.test_pages import scene  # noqa: F401  (the fixture)
from tests.console.test_visibility import _user
from websockets.asyncio.client import connect
from websockets.typing import Origin

from relaydesk.console import auth
from relaydesk.console.live import Gate, TypingJourneys, _frame
from relaydesk.hub import Hub
from relaydesk.journeys.listeners import LIVE_TOPIC


def _typing(customer_id: uuid.UUID | str, on: bool = True) -> dict[str, Any]:
    return {"type": "webchat.typing", "channel": "chat", "customer_id": str(customer_id), "on": on}


async def test_typing_names_the_open_journey_and_respects_visibility(
    hub: Hub,
    scene: dict[str, Any],  # noqa: F811
) -> None:
    maja = scene["journeys"]["Maja"]
    typing = TypingJourneys(hub)
    resolved = await typing.resolve(_typing(maja.customer_id))
    assert resolved == {"type": "webchat.typing", "journey_id": str(maja.id), "on": True}
    assert _frame(resolved) == {"type": "typing", "journey_id": str(maja.id), "on": True}
    assert await typing.resolve(_typing(uuid.uuid4())) is None  # no journey
    assert await typing.resolve(_typing("not-a-uuid")) is None
    alice, bob = Gate(hub, _user(scene["alice"])), Gate(hub, _user(scene["bob"]))
    assert await alice.allows(resolved)
    assert not await bob.allows(resolved)  # Maja's journey is Alice's


async def test_agent_socket_hears_the_customer_typing(
    hub: Hub,
    scene: dict[str, Any],  # noqa: F811
) -> None:
    maja = scene["journeys"]["Maja"]
    async with serve(hub) as base, httpx.AsyncClient(base_url=base) as http:
        assert (await sign_in(http, "alice@example.com")).status_code == 303
        cookie = http.cookies[auth.SESSION_COOKIE]
        async with connect(
            ws_url(base),
            origin=Origin(base),
            proxy=None,
            additional_headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"},
        ) as socket:
            assert json.loads(await socket.recv()) == {"type": "hello"}
            await hub.broadcast.publish(LIVE_TOPIC, _typing(uuid.uuid4()))  # nobody's
            await hub.broadcast.publish(LIVE_TOPIC, _typing(maja.customer_id, on=False))
            frame = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert frame == {"type": "typing", "journey_id": str(maja.id), "on": False}


async def test_the_agent_holding_the_journey_shows_typing_in_the_customers_widget(
    hub: Hub,
    scene: dict[str, Any],  # noqa: F811
) -> None:
    """Only the holder's composer reaches the widget, as on/off, never the text; a frame that
    is not JSON, names no journey or comes too soon after the last is dropped."""
    from sqlalchemy import select
    from tests.console.support import WORKSPACE
    from tests.helpers.workspace import apply_text

    from relaydesk import clock
    from relaydesk.channels.models import Channel
    from relaydesk.channels.webchat.broadcast import live_broadcast, visitor_topic
    from relaydesk.console.live import AgentTyping
    from relaydesk.customers.models import Identity
    from relaydesk.journeys.models import Conversation

    with_chat = WORKSPACE.replace(
        "  - name: website\n", "  - name: chat\n    kind: webchat\n  - name: website\n", 1
    )
    assert "kind: webchat" in with_chat
    await apply_text(hub, with_chat)
    maja = scene["journeys"]["Maja"]

    async def widget_conversation(session: Any) -> None:
        chat = await session.scalar(select(Channel.id).where(Channel.name == "chat"))
        now = clock.now()
        session.add(
            Identity(
                customer_id=maja.customer_id,
                kind="handle",
                scope="chat",
                value="visitor-1",
                assurance="provider",
                created_at=now,
            )
        )
        session.add(
            Conversation(
                journey_id=maja.id,
                customer_id=maja.customer_id,
                channel_id=chat,
                status="open",
                created_at=now,
                last_message_at=now,
            )
        )

    await hub.db.transaction(widget_conversation)
    frame = json.dumps({"type": "typing", "journey_id": str(maja.id), "on": True})
    async with live_broadcast(hub).subscribe(visitor_topic("chat", "visitor-1")) as queue:
        await AgentTyping(hub, _user(scene["bob"])).handle(frame)  # not his journey
        alice = AgentTyping(hub, _user(scene["alice"]))
        for junk in ("not json", "[]", json.dumps({"type": "typing", "journey_id": "x"})):
            await alice.handle(junk)
        await alice.handle(frame)
        await alice.handle(frame)  # within 2 s: dropped
        await alice.handle(json.dumps({"type": "typing", "journey_id": str(maja.id)}))
        got = [await asyncio.wait_for(queue.get(), 5) for _ in range(2)]
        assert queue.empty()
    assert got == [{"type": "typing", "on": True}, {"type": "typing", "on": False}]
