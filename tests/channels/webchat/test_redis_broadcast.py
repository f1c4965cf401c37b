"""Live fan-out through Redis: several instances, reconnects, and a reply crossing instances.

Needs a Redis server: RELAYDESK_TEST_REDIS_URL (default redis://127.0.0.1:6379/0). Without one
these tests skip; when RELAYDESK_TEST_REQUIRE names redis (CI) they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tests.channels.webchat.support import deliver, open_widget, serve
from tests.conftest import required

from relaydesk.channels.webchat.broadcast import RESYNC, RedisBroadcast, live_broadcast
from relaydesk.hub import Hub
from relaydesk.settings import Settings

REDIS_URL = os.environ.get("RELAYDESK_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        if required("redis"):
            pytest.fail(f"Redis is required (RELAYDESK_TEST_REQUIRE) but {REDIS_URL}: {exc}")
        pytest.skip(
            f"Redis tests skipped: nothing answered at {REDIS_URL}. Run them with "
            "RELAYDESK_TEST_REDIS_URL=redis://host:6379/0 make test"
        )
    finally:
        await client.aclose()
    return REDIS_URL


async def next_frame(queue: asyncio.Queue[dict[str, Any]], wait: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(wait):
        return await queue.get()


async def test_a_message_published_on_one_instance_reaches_another(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    one, two = RedisBroadcast(redis_url, prefix=prefix), RedisBroadcast(redis_url, prefix=prefix)
    try:
        async with one.subscribe("topic-a") as a, one.subscribe("topic-b") as b:
            assert one.subscriber_count("topic-a") == 1
            await two.publish("topic-a", {"type": "message", "n": 1})
            await two.publish("topic-a", {"type": "message", "n": 2})
            assert await next_frame(a) == {"type": "message", "n": 1}
            assert await next_frame(a) == {"type": "message", "n": 2}
            await asyncio.sleep(0.1)
            assert b.empty()  # topics are separate
        assert one.subscriber_count("topic-a") == 0
    finally:
        await one.close()
        await two.close()


async def test_after_a_lost_connection_subscribers_are_told_to_resync(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    listener, sender = (
        RedisBroadcast(redis_url, prefix=prefix),
        RedisBroadcast(redis_url, prefix=prefix),
    )
    admin = Redis.from_url(redis_url)
    try:
        async with listener.subscribe("visitor") as queue:
            killed = await admin.client_kill_filter(_type="pubsub", skipme=True)
            assert killed >= 1
            assert await next_frame(queue, 15) == RESYNC
            await sender.publish("visitor", {"type": "message", "after": "reconnect"})
            assert await next_frame(queue) == {"type": "message", "after": "reconnect"}
    finally:
        await admin.aclose()
        await listener.close()
        await sender.close()


async def test_live_broadcast_follows_the_redis_setting(settings: Settings, redis_url: str) -> None:
    plain = Hub.from_settings(settings.model_copy(update={"redis_url": None}))
    shared = Hub.from_settings(settings.model_copy(update={"redis_url": redis_url}))
    try:
        assert not isinstance(live_broadcast(plain), RedisBroadcast)
        chosen = live_broadcast(shared)
        assert isinstance(chosen, RedisBroadcast) and live_broadcast(shared) is chosen
    finally:
        await plain.close()
        await shared.close()


async def test_a_reply_sent_by_another_instance_reaches_the_widget(
    settings: Settings, redis_url: str, hub: Hub, workspace: None, client: httpx.AsyncClient
) -> None:
    """Instance A holds the visitor's socket; instance B's worker delivers the agent's reply."""
    clustered = settings.model_copy(update={"redis_url": redis_url})
    web = Hub.from_settings(clustered)
    worker = Hub.from_settings(clustered)
    try:
        async with serve(web) as base, open_widget(base) as widget:
            ack = await widget.say("Is anyone there?", "r1")
            message = (await client.get(f"/api/v1/messages/{ack['id']}")).json()
            response = await client.post(
                f"/api/v1/journeys/{message['journey_id']}/messages",
                json={"text": "Yes, Ada here."},
            )
            assert response.status_code == 202
            await deliver(worker)
            frame = await widget.expect("message")
            while frame["from"] != "agent":
                frame = await widget.expect("message")
            assert frame["text"] == "Yes, Ada here." and frame["id"] == response.json()["id"]
            assert isinstance(web.broadcast, RedisBroadcast)
            assert isinstance(worker.broadcast, RedisBroadcast)
    finally:
        await web.close()
        await worker.close()
