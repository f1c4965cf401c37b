"""``WS /console/ws``: only signed-in consoles from the hub's own pages; frames carry no
personal data; a revoked session closes the socket."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.channels.webchat.support import serve
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from relaydesk.console import auth, live
from relaydesk.hub import Hub
from relaydesk.journeys.listeners import LIVE_TOPIC


@pytest.fixture
async def server(hub: Hub) -> AsyncIterator[str]:
    async with serve(hub) as base:
        yield base


async def _cookie(base: str) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(base_url=base)
    response = await sign_in(http, "alice@example.com")
    assert response.status_code == 303
    return http, http.cookies[auth.SESSION_COOKIE]


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/console/ws"


async def test_refused_without_a_session(server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server), origin=Origin(server), proxy=None):
            pass
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as forged:
        async with connect(
            ws_url(server),
            origin=Origin(server),
            proxy=None,
            additional_headers={"Cookie": f"{auth.SESSION_COOKIE}=forged.value"},
        ):
            pass
    assert forged.value.response.status_code == 401


async def test_refused_from_another_site(server: str, make_agent: MakeAgent) -> None:
    await make_agent("alice@example.com")
    http, cookie = await _cookie(server)
    await http.aclose()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            ws_url(server),
            origin=Origin("https://evil.example"),
            proxy=None,
            additional_headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"},
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_signed_in_console_gets_journey_changes_without_personal_data(
    server: str, make_agent: MakeAgent, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "RECHECK_EVERY", 0.2)
    # A supervisor hears of every journey (agents only of theirs: tests/console/test_visibility.py)
    await make_agent("alice@example.com", role="supervisor")
    http, cookie = await _cookie(server)
    journey_id = str(uuid.uuid4())
    async with connect(
        ws_url(server),
        origin=Origin(server),
        proxy=None,
        additional_headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"},
    ) as socket:
        assert json.loads(await socket.recv()) == {"type": "hello"}
        await hub.broadcast.publish(
            LIVE_TOPIC,
            {
                "type": "message.received",
                "journey_id": journey_id,
                "customer_id": str(uuid.uuid4()),
                "message_id": str(uuid.uuid4()),
                "channel": "website",
            },
        )
        frame = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert frame == {"type": "message.received", "journey_id": journey_id}

        page = await http.get("/console")
        await http.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == live.CLOSE_SIGNED_OUT
    await http.aclose()


def test_origin_rules() -> None:
    assert live.origin_allowed("http://hub.test:8000", "hub.test:8000", None)
    assert live.origin_allowed(
        "https://support.example", "10.0.0.5:8000", "https://support.example"
    )
    assert not live.origin_allowed("https://evil.example", "hub.test:8000", None)
    assert not live.origin_allowed("https://evil.example", "hub.test", "https://support.example")
