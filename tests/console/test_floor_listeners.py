"""The live queues page hears when a journey changes hands or an agent's availability
changes: ids only go to the console topic."""

from __future__ import annotations

import asyncio
import uuid

from relaydesk import clock
from relaydesk.bus import StoredEvent
from relaydesk.console.floor_listeners import announce_availability, announce_owner
from relaydesk.hub import Hub
from relaydesk.journeys.listeners import LIVE_TOPIC


def _event(name: str, journey_id: uuid.UUID | None, payload: dict[str, object]) -> StoredEvent:
    return StoredEvent(
        id=uuid.uuid4(),
        name=name,
        occurred_at=clock.now(),
        customer_id=uuid.uuid4(),
        journey_id=journey_id,
        actor="test",
        payload=payload,
    )


async def test_owner_and_availability_changes_reach_the_console_topic(hub: Hub) -> None:
    journey = uuid.uuid4()
    async with hub.broadcast.subscribe(LIVE_TOPIC) as queue:
        await announce_owner(
            hub,
            _event("journey.owner_changed", journey, {"to_owner": "queue", "reason": "x"}),
        )
        await announce_availability(
            hub,
            _event(
                "routing.agent_availability",
                None,
                {"agent_id": str(uuid.uuid4()), "presence": "away", "reason": "secret reason"},
            ),
        )
        first = await asyncio.wait_for(queue.get(), 5)
        second = await asyncio.wait_for(queue.get(), 5)
    assert first == {"type": "floor.owner", "journey_id": str(journey)}
    assert second == {"type": "floor.agent", "journey_id": None}  # nothing about the agent
