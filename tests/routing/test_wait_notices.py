"""Queued customers are told their position and expected wait, in their language, once per
material change and not too often; a retried event sends nothing twice."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from tests.routing.helpers import HUMAN, WORKSPACE, drain, post, setup

from relaydesk import clock
from relaydesk.customers.models import Customer
from relaydesk.hub import Hub
from relaydesk.journeys.models import Journey, Message
from relaydesk.routing.actions.notices import NOTICE
from relaydesk.routing.listeners import tell_waiting
from relaydesk.routing.models import WaitNotice

NOTICES = WORKSPACE + "  wait_notices: {enabled: true, min_interval: 60s, min_change: 1}\n"


async def _notices(hub: Hub, journey_id: uuid.UUID) -> list[str]:
    async with hub.db.read() as session:
        rows = (
            await session.scalars(
                select(Message)
                .where(Message.journey_id == journey_id, Message.direction == "outbound")
                .order_by(Message.created_at, Message.id)
            )
        ).all()
    return [m.text for m in rows if m.meta.get("notice") == NOTICE]


async def _set_locale(hub: Hub, journey_id: uuid.UUID, locale: str) -> None:
    async with hub.db.read() as session:
        customer_id = await session.scalar(
            select(Journey.customer_id).where(Journey.id == journey_id)
        )
    await hub.db.transaction(
        lambda s: s.execute(
            update(Customer).where(Customer.id == customer_id).values(locale=locale)
        )
    )


async def test_position_and_wait_told_once_then_on_change(
    routed_hub: Hub, client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    agents = await setup(routed_hub, NOTICES)  # nobody online: both wait
    first = await post(client, "m1", "c1@example.com", HUMAN)
    second = await post(client, "m2", "c2@example.com", HUMAN)
    await _set_locale(routed_hub, second, "sv-SE")
    await drain(routed_hub)
    assert await _notices(routed_hub, first) == [
        "You are number 1 in the queue; a person will answer as soon as one is free."
    ]
    assert await _notices(routed_hub, second) == [
        "Du är nummer 2 i kön; en person svarar så snart någon är ledig."
    ]

    # a retried event (or any event meanwhile) with nothing changed sends nothing
    assert await tell_waiting(routed_hub) == 0
    await drain(routed_hub)
    assert len(await _notices(routed_hub, second)) == 1

    # the first journey leaves the queue (back to the bot, which hands the human request
    # straight back, behind the second): both moved, but each is told again only a minute
    # after its last notice
    manual_clock.advance(timedelta(seconds=20))
    moved = await client.post(f"/api/v1/journeys/{first}/transfer", json={"to": "bot"})
    assert moved.status_code == 200, moved.text
    await drain(routed_hub)
    assert len(await _notices(routed_hub, second)) == 1  # too soon
    manual_clock.advance(timedelta(seconds=40))
    assert await tell_waiting(routed_hub) == 2
    told = await _notices(routed_hub, second)
    assert told[-1] == "Du är nummer 1 i kön; en person svarar så snart någon är ledig."
    assert (await _notices(routed_hub, first))[-1].startswith("You are number 2 in the queue")
    assert await tell_waiting(routed_hub) == 0
    assert agents  # the workspace's agents stayed offline throughout
    async with routed_hub.db.read() as session:
        row = await session.get(WaitNotice, second)
    assert row is not None and row.sent == 2 and row.position == 1


async def test_off_by_default(routed_hub: Hub, client: httpx.AsyncClient) -> None:
    await setup(routed_hub)
    journey_id = await post(client, "m1", "c1@example.com", HUMAN)
    await drain(routed_hub)
    assert await _notices(routed_hub, journey_id) == []
    assert await tell_waiting(routed_hub) == 0


def test_wait_notice_settings_are_checked() -> None:
    import pytest
    from pydantic import ValidationError

    from relaydesk.routing.schemas import RoutingConfig

    config = RoutingConfig.model_validate(
        {"wait_notices": {"enabled": True, "min_interval": "5m", "min_change": 2}}
    )
    assert config.wait_notices.min_interval == timedelta(minutes=5)
    for bad in ({"min_change": 0}, {"min_interval": "soon"}, {"often": True}):
        with pytest.raises(ValidationError):
            RoutingConfig.model_validate({"wait_notices": bad})


def test_notice_text_uses_the_estimate_in_the_language() -> None:
    from relaydesk.routing.actions.notices import notice_text

    assert notice_text("en", 3, 300.0) == (
        "You are number 3 in the queue; the expected wait is about 5 minutes."
    )
    assert notice_text("de", 2, 20.0).startswith("Sie sind Nummer 2")  # at least a minute
    assert "1 Minute" in notice_text("de", 2, 20.0)
