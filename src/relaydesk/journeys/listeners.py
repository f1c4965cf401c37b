"""Reactions to journey events."""

from __future__ import annotations

from relaydesk.bus import StoredEvent, on
from relaydesk.hub import Hub
from relaydesk.journeys.events import JourneyNoteAdded, MessageReceived

LIVE_TOPIC = "journeys"


@on(MessageReceived)
async def announce_message(hub: Hub, event: StoredEvent) -> None:
    """Tell live consoles; repeating it is harmless (clients key on the message id)."""
    await hub.broadcast.publish(
        LIVE_TOPIC,
        {
            "type": event.name,
            "journey_id": str(event.journey_id),
            "customer_id": str(event.customer_id),
            **event.payload,
        },
    )


@on(JourneyNoteAdded)
async def announce_note(hub: Hub, event: StoredEvent) -> None:
    """Other agents on the journey see the note appear (the payload carries no text)."""
    await hub.broadcast.publish(
        LIVE_TOPIC,
        {
            "type": event.name,
            "journey_id": str(event.journey_id),
            "customer_id": str(event.customer_id),
            **event.payload,
        },
    )
