"""Live fan-out helpers for the widget (topics); the backends live in relaydesk.realtime."""

from __future__ import annotations

from relaydesk.hub import Hub
from relaydesk.realtime import RESYNC, Broadcast, RedisBroadcast

__all__ = ["RESYNC", "RedisBroadcast", "live_broadcast", "visitor_topic"]


def live_broadcast(hub: Hub) -> Broadcast:
    """The hub's broadcast; with ``RELAYDESK_REDIS_URL`` set, the Redis one (shared by every
    instance). Installed on the hub, so ``hub.close()`` closes it."""
    return hub.broadcast


def visitor_topic(channel: str, visitor: str) -> str:
    return f"webchat:{channel}:{visitor}"
