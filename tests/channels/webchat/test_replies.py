"""Replies reach open widgets live; the widget reports delivered and read."""

from __future__ import annotations

import uuid

import httpx
from tests.channels.webchat.support import deliver, open_widget
from tests.conftest import scalar

from relaydesk.channels.webchat.adapter import WebchatChannel
from relaydesk.hub import Hub


async def journey_of(client: httpx.AsyncClient, message_id: str) -> str:
    return str((await client.get(f"/api/v1/messages/{message_id}")).json()["journey_id"])


async def reply(client: httpx.AsyncClient, journey_id: str, text: str, **extra: object) -> str:
    response = await client.post(
        f"/api/v1/journeys/{journey_id}/messages", json={"text": text, **extra}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def status_of(client: httpx.AsyncClient, message_id: str) -> str:
    return str((await client.get(f"/api/v1/messages/{message_id}")).json()["delivery_status"])


async def test_an_agent_reply_is_pushed_live_and_marked_delivered_then_read(
    server: str, hub: Hub, client: httpx.AsyncClient
) -> None:
    async with open_widget(server) as widget, open_widget(server, token="") as stranger:
        ack = await widget.say("Where is my parcel?", "q1")
        journey = await journey_of(client, ack["id"])
        reply_id = await reply(client, journey, "It ships today.", buttons=["Thanks", "Track it"])
        assert await status_of(client, reply_id) == "queued"
        assert [f for f in await widget.quiet() if f.get("id") == reply_id] == []
        await deliver(hub)
        pushed = await widget.expect("message")
        while pushed["id"] != reply_id:  # the visitor's own message comes back for other tabs
            pushed = await widget.expect("message")
        assert pushed["from"] == "agent" and pushed["text"] == "It ships today."
        assert pushed["status"] == "sent" and pushed["buttons"] == ["Thanks", "Track it"]
        assert pushed["choices"] == [
            {"id": "Thanks", "title": "Thanks"},
            {"id": "Track it", "title": "Track it"},
        ]
        assert await status_of(client, reply_id) == "sent"
        assert all(f.get("id") != reply_id for f in await stranger.quiet())

        await stranger.send(type="receipt", status="read", ids=[reply_id])  # not theirs
        await stranger.send(type="ping")
        await stranger.expect("pong")
        assert await status_of(client, reply_id) == "sent"

        await widget.send(type="receipt", status="delivered", ids=[reply_id])
        await widget.send(type="ping")
        await widget.expect("pong")
        assert await status_of(client, reply_id) == "delivered"
        await widget.send(type="receipt", status="read", ids=[reply_id, str(uuid.uuid4())])
        await widget.send(type="receipt", status="delivered", ids=[reply_id])  # never goes back
        await widget.send(type="ping")
        await widget.expect("pong")
        assert await status_of(client, reply_id) == "read"
    events = await scalar(
        hub, "select count(*) from events where name = 'message.delivery_changed'"
    )
    assert events == 3  # sent, delivered, read


async def test_a_reply_while_away_is_in_the_history_and_sent_only_once_live(
    server: str, hub: Hub, client: httpx.AsyncClient
) -> None:
    async with open_widget(server) as widget:
        ack = await widget.say("Hello?", "h")
    journey = await journey_of(client, ack["id"])
    reply_id = await reply(client, journey, "Hi! How can I help?")
    async with open_widget(server, token=widget.token) as away:
        assert [m["text"] for m in away.history] == ["Hello?"]  # queued replies wait for delivery
    await deliver(hub)
    async with open_widget(server, token=widget.token) as back:
        assert [(m["from"], m["text"]) for m in back.history] == [
            ("visitor", "Hello?"),
            ("agent", "Hi! How can I help?"),
        ]
        assert back.history[1]["id"] == reply_id and "client_msg_id" not in back.history[1]


async def test_other_tabs_of_the_visitor_see_their_messages(server: str, hub: Hub) -> None:
    async with open_widget(server) as tab1, open_widget(server, token=tab1.token) as tab2:
        ack = await tab1.say("typed in tab 1", "t1")
        await deliver(hub)
        mirrored = await tab2.expect("message")
        assert mirrored["id"] == ack["id"] and mirrored["client_msg_id"] == "t1"
        assert mirrored["from"] == "visitor"


async def test_a_reply_can_start_on_webchat_for_a_known_visitor(
    server: str, hub: Hub, client: httpx.AsyncClient
) -> None:
    async with open_widget(server) as widget:
        ack = await widget.say("hi", "first")
        journey = await journey_of(client, ack["id"])
        await reply(client, journey, "Reply on the widget", channel="chat")
        await deliver(hub)
        assert any(f.get("text") == "Reply on the widget" for f in await widget.quiet(1.0))
    address = WebchatChannel.address_from_identities(
        [("handle", "chat", widget.visitor), ("email", "", "a@b.c")], "chat"
    )
    assert address == {"visitor": widget.visitor}
    assert WebchatChannel.address_from_identities([("email", "", "a@b.c")], "chat") is None
