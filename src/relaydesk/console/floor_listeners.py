"""Tell live consoles when the floor changes: a journey changed hands (queued, assigned,
back to the bot), an agent's availability changed, or a reply's delivery status moved.
Ids only go down the socket."""

from __future__ import annotations

from relaydesk.bus import StoredEvent, on
from relaydesk.hub import Hub
from relaydesk.journeys.events import MessageDeliveryChanged, OwnerChanged
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.routing.events import AgentAvailabilityChanged


@on(OwnerChanged)
async def announce_owner(hub: Hub, event: StoredEvent) -> None:
    journey = str(event.journey_id) if event.journey_id else None
    await hub.broadcast.publish(LIVE_TOPIC, {"type": "floor.owner", "journey_id": journey})


@on(AgentAvailabilityChanged)
async def announce_availability(hub: Hub, event: StoredEvent) -> None:
    await hub.broadcast.publish(LIVE_TOPIC, {"type": "floor.agent", "journey_id": None})


@on(MessageDeliveryChanged)
async def announce_delivery(hub: Hub, event: StoredEvent) -> None:
    """A reply was sent, delivered, read or failed: the journey page shows it live."""
    journey = str(event.journey_id) if event.journey_id else None
    await hub.broadcast.publish(LIVE_TOPIC, {"type": "message.delivery", "journey_id": journey})
