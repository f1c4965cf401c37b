"""Unread markers: opening a journey marks it read for the agent; the inbox shows a journey
as unread when a customer message arrived after that (console/queries.py ``unread_among``).

New inbound messages already reach every console over the live socket (``message.received``),
and the inbox re-reads itself, so a journey turns unread again live without more work here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from relaydesk.console.actions import mark_read
from relaydesk.console.auth import ConsoleUser
from relaydesk.console.queries import unread_among
from relaydesk.hub import Hub
from relaydesk.sla.actions import dismiss_notices
from relaydesk.sla.queries import has_open_notice


async def seen(hub: Hub, user: ConsoleUser, journey_id: uuid.UUID, at: datetime) -> None:
    """Record that ``user`` saw ``journey_id`` as it was at ``at`` (the page's read time).

    Only written when it changes something (the journey was unread), so the page's live
    refreshes and repeated visits cost a read, not a write."""
    async with hub.db.read() as session:
        if journey_id not in await unread_among(session, user.agent_id, [journey_id]):
            return
    await hub.db.transaction(lambda s: mark_read(s, user.agent_id, journey_id, at))


async def seen_notices(hub: Hub, user: ConsoleUser, journey_id: uuid.UUID) -> None:
    """Opening a journey is seeing its SLA escalation notices (``notices.py``); a read, not a
    write, when there are none."""
    async with hub.db.read() as session:
        if not await has_open_notice(session, user.agent_id, journey_id):
            return
    await hub.db.transaction(lambda s: dismiss_notices(s, user.agent_id, journey_id=journey_id))
