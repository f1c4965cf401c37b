"""Replies go out through the outbox: signed callbacks, retries, Retry-After, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.bus import OutboxEntry
from relaydesk.hub import Hub
from relaydesk.journeys.actions import Reply, queue_reply
from relaydesk.worker import MAX_ATTEMPTS, Worker

CALLBACK_WORKSPACE = """
version: 1
channels:
  - name: web
    kind: api
    settings:
      callback_url: {url}/inbox
      callback_secret: env:RELAYDESK_TEST_CALLBACK_SECRET
  - name: pull
    kind: api
"""


@pytest.fixture(autouse=True)
async def workspace(hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYDESK_TEST_CALLBACK_SECRET", "s3cret")
    await apply_text(hub, CALLBACK_WORKSPACE.format(url=provider.url))


async def start_journey(client: httpx.AsyncClient, channel: str = "web") -> dict[str, str]:
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": channel,
            "external_id": f"in-{channel}",
            "text": "Hello?",
            "sender": {"email": "kim@example.com", "handle": "kim-1"},
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def outbox_entry(hub: Hub) -> OutboxEntry:
    async with hub.db.read() as session:
        return (
            await session.scalars(
                select(OutboxEntry).where(OutboxEntry.listener.like("%delivery.deliver"))
            )
        ).one()


async def test_reply_is_delivered_to_the_signed_callback(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    journey = await start_journey(client)
    queued = await client.post(
        f"/api/v1/journeys/{journey['journey_id']}/messages",
        json={"text": "Hi Kim, it ships today.", "buttons": ["Thanks", "Track it"]},
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["delivery_status"] == "queued"
    assert provider.requests == []  # no provider call inside the request
    await Worker(hub).drain()
    [request] = provider.requests
    assert request.path == "/inbox"
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-relaydesk-signature"] == expected
    assert request.json()["text"] == "Hi Kim, it ships today."
    assert request.json()["buttons"] == ["Thanks", "Track it"]
    assert request.json()["recipient"] == {}
    message = (await client.get(f"/api/v1/messages/{queued.json()['id']}")).json()
    assert message["delivery_status"] == "sent"
    assert message["direction"] == "outbound"
    channels = (await client.get("/api/v1/channels")).json()["items"]
    web = next(c for c in channels if c["name"] == "web")
    assert web["health"]["last_outbound_at"] is not None
    assert web["health"]["last_inbound_at"] is not None
    assert web["settings"]["callback_secret"] == "env:RELAYDESK_TEST_CALLBACK_SECRET"
    # delivering the same event again sends nothing new
    await Worker(hub).drain()
    assert len(provider.requests) == 1


async def test_retry_after_is_honoured_then_delivered(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider, manual_clock: clock.ManualClock
) -> None:
    journey = await start_journey(client)
    provider.then(Scripted(429, {"error": "slow down"}, {"Retry-After": "120"}))
    reply = (
        await client.post(
            f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "one"}
        )
    ).json()
    worker = Worker(hub)
    await worker.run_once()
    entry = await outbox_entry(hub)
    assert entry.status == "pending"
    assert entry.available_at >= clock.now() + timedelta(seconds=120)
    assert "429" in (entry.last_error or "")
    manual_clock.advance(timedelta(seconds=60))
    await worker.drain()
    assert len(provider.requests) == 1  # not before Retry-After
    manual_clock.advance(timedelta(seconds=61))
    await worker.drain()
    assert len(provider.requests) == 2
    assert (await client.get(f"/api/v1/messages/{reply['id']}")).json()["delivery_status"] == "sent"
    web = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "web"
    )
    assert "429" in web["health"]["last_error"]


async def test_server_errors_and_timeouts_retry_with_backoff(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider, manual_clock: clock.ManualClock
) -> None:
    journey = await start_journey(client)
    provider.then(Scripted(503, b"down"), Scripted(500, b"oops"))
    reply = (
        await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    ).json()
    worker = Worker(hub)
    for _ in range(3):
        await worker.drain()
        manual_clock.advance(timedelta(minutes=5))
    assert len(provider.requests) == 3
    assert (await client.get(f"/api/v1/messages/{reply['id']}")).json()["delivery_status"] == "sent"


async def test_permanent_error_fails_without_retry(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider, manual_clock: clock.ManualClock
) -> None:
    journey = await start_journey(client)
    provider.then(Scripted(400, {"error": "unknown recipient"}))
    reply = (
        await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    ).json()
    await Worker(hub).drain()
    manual_clock.advance(timedelta(hours=2))
    await Worker(hub).drain()
    assert len(provider.requests) == 1
    message = (await client.get(f"/api/v1/messages/{reply['id']}")).json()
    assert message["delivery_status"] == "failed"
    assert message["delivery_error_code"] == "400"
    assert "unknown recipient" in message["delivery_error"]
    assert (await outbox_entry(hub)).status == "done"


async def test_dead_letter_is_visible_and_can_be_retried(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider, manual_clock: clock.ManualClock
) -> None:
    journey = await start_journey(client)
    provider.default = Scripted(503, b"down for maintenance")
    reply = (
        await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    ).json()
    worker = Worker(hub)
    for _ in range(MAX_ATTEMPTS + 1):
        await worker.drain()
        manual_clock.advance(timedelta(hours=2))
    assert len(provider.requests) == MAX_ATTEMPTS
    dead = (await client.get("/api/v1/outbox", params={"status": "dead"})).json()["items"]
    assert len(dead) == 1
    assert dead[0]["event_name"] == "message.queued"
    assert dead[0]["payload"]["message_id"] == reply["id"]
    message = (await client.get(f"/api/v1/messages/{reply['id']}")).json()
    assert message["delivery_status"] == "failed"
    assert message["delivery_error_code"] == "dead_letter"

    provider.default = Scripted(200)
    retried = await client.post(f"/api/v1/outbox/{dead[0]['id']}/retry")
    assert retried.status_code == 200
    assert (await client.post(f"/api/v1/outbox/{dead[0]['id']}/retry")).status_code == 404
    await worker.drain()
    # the message was marked failed; a retried dead letter does not resend a failed message
    assert len(provider.requests) == MAX_ATTEMPTS


async def test_unreachable_callback_is_transient(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    journey = await start_journey(client)
    provider.stop()
    await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    await Worker(hub).drain()
    entry = await outbox_entry(hub)
    assert entry.status == "pending" and entry.attempts == 1
    assert "unreachable" in (entry.last_error or "")


async def test_pull_channel_replies_count_as_sent(client: httpx.AsyncClient, hub: Hub) -> None:
    journey = await start_journey(client, channel="pull")
    reply = (
        await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    ).json()
    await Worker(hub).drain()
    assert (await client.get(f"/api/v1/messages/{reply['id']}")).json()["delivery_status"] == "sent"
    timeline = (await client.get(f"/api/v1/customers/{journey['customer_id']}/timeline")).json()[
        "items"
    ]
    assert [(i["direction"], i["author"]) for i in timeline] == [
        ("inbound", "customer"),
        ("outbound", "agent"),
    ]


async def test_refused_replies_say_why(client: httpx.AsyncClient, hub: Hub) -> None:
    journey = await start_journey(client)
    await client.patch(
        f"/api/v1/customers/{journey['customer_id']}", json={"consent": {"web": "revoked"}}
    )
    refused = await client.post(
        f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "opted_out"
    assert "opted out of web" in refused.json()["detail"]
    other = await client.post(
        f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x", "channel": "pull"}
    )
    assert other.status_code == 202  # switching to a channel the customer can be reached on
    missing = await client.post(
        "/api/v1/journeys/01a20000-0000-7000-8000-000000000000/messages", json={"text": "x"}
    )
    assert missing.status_code == 404
    empty = await client.post(
        f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": ""}
    )
    assert empty.status_code == 422


async def test_secrets_must_resolve(
    client: httpx.AsyncClient, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAYDESK_TEST_CALLBACK_SECRET")
    journey = await start_journey(client)
    await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    await Worker(hub).drain()
    entry = await outbox_entry(hub)
    assert entry.status == "pending"
    assert "RELAYDESK_TEST_CALLBACK_SECRET is not set" in (entry.last_error or "")


async def test_files_become_links_where_the_channel_cannot_attach_them(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider
) -> None:
    journey = uuid.UUID((await start_journey(client))["journey_id"])
    files = [{"url": "https://files.example.com/label.pdf", "filename": "label.pdf"}]
    buttons = [{"id": "ok", "title": "Got it"}]
    sent = Reply(text="Your label", meta={"attachments": files, "buttons": buttons})
    await hub.db.transaction(lambda s: queue_reply(s, journey, sent))
    await Worker(hub).drain()
    [request] = provider.requests
    body = request.json()
    assert body["text"] == "Your label\n\nlabel.pdf: https://files.example.com/label.pdf"
    assert (body["buttons"], body["choices"]) == (["Got it"], buttons)


async def test_a_sent_message_is_not_sent_again_when_storing_the_result_fails(
    client: httpx.AsyncClient, hub: Hub, provider: LoopbackProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider accepted it: a retry would reach the customer twice. It is recorded as sent
    (without the provider's id) and the channel's health says what went wrong."""
    from relaydesk.channels import delivery

    real, calls = delivery.record_sent, []

    async def fails_once(*args: object) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("the database said no")
        await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(delivery, "record_sent", fails_once)
    journey = await start_journey(client)
    reply = (
        await client.post(f"/api/v1/journeys/{journey['journey_id']}/messages", json={"text": "x"})
    ).json()
    await Worker(hub).drain()
    await Worker(hub).drain()
    assert len(provider.requests) == 1
    assert (await client.get(f"/api/v1/messages/{reply['id']}")).json()["delivery_status"] == "sent"
    web = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "web"
    )
    assert "storing the provider's id failed (RuntimeError)" in web["health"]["last_error"]
