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
