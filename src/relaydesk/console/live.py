"""``WS /console/ws``: tells signed-in consoles which journeys changed, so they refresh.

Only the event type and the journey id go down the socket (no personal data); the page then
re-reads what it shows through the same authenticated routes. An agent's socket carries
only the journeys the agent may see (console/visibility.py), or saw on this socket before
(so a journey taken away still refreshes the page that shows it); supervisors get all.
A web chat customer's typing becomes ``{"type": "typing", "journey_id", "on"}`` for the
customer's open journey, under the same rule (never the customer id or the text).
The session cookie authenticates the handshake, and the Origin must be this hub (no
cross-site hijacking).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from sqlalchemy import select

from relaydesk.channels.models import Channel
from relaydesk.channels.webchat.adapter import KIND as WEBCHAT
from relaydesk.channels.webchat.broadcast import live_broadcast, visitor_topic
from relaydesk.channels.webchat.queries import visitors_of
from relaydesk.console import auth
from relaydesk.console.auth import ConsoleUser
from relaydesk.console.queries import open_journey_of
from relaydesk.console.visibility import may_see, visible_now
from relaydesk.hub import Hub
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.journeys.models import Conversation, Journey
from relaydesk.realtime import RESYNC

log = logging.getLogger("relaydesk.console")
router = APIRouter()

RECHECK_EVERY = 60.0
"""Seconds between re-reads of the session, so a sign-out or expiry closes the socket."""
CLOSE_SIGNED_OUT = 4401


def origin_allowed(origin: str | None, host: str | None, public_url: str | None) -> bool:
    if origin is None:
        return True  # not a browser (browsers always send Origin on websockets)
    netloc = urlsplit(origin).netloc
    if host and netloc == host:
        return True
    return bool(public_url) and origin.rstrip("/") == (public_url or "").rstrip("/")


async def _deny(websocket: WebSocket, status: int, error: str, detail: str) -> None:
    try:
        await websocket.send_denial_response(
            JSONResponse({"error": error, "detail": detail}, status_code=status)
        )
    except RuntimeError:  # the server lacks the denial-response extension
        await websocket.close(code=1008)


TYPING = "webchat.typing"
TYPING_JOURNEY_TTL = 30.0
"""Seconds a socket remembers which journey a typing customer is on."""


def _frame(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("type") == RESYNC["type"]:
        return {"type": "resync"}
    if message.get("type") == TYPING:
        return {
            "type": "typing",
            "journey_id": message.get("journey_id"),
            "on": bool(message.get("on")),
        }
    return {"type": str(message.get("type", "")), "journey_id": message.get("journey_id")}


class TypingJourneys:
    """The web chat says which *customer* is typing; the console needs the journey. The
    customer's open journey is looked up once per customer and remembered briefly."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.known: dict[uuid.UUID, tuple[float, uuid.UUID | None]] = {}

    async def journey_of(self, customer_id: uuid.UUID) -> uuid.UUID | None:
        now = asyncio.get_running_loop().time()
        hit = self.known.get(customer_id)
        if hit is not None and now - hit[0] < TYPING_JOURNEY_TTL:
            return hit[1]
        async with self.hub.db.read() as session:
            found = await open_journey_of(session, customer_id)
        if len(self.known) > 1000:
            self.known.clear()
        self.known[customer_id] = (now, found)
        return found

    async def resolve(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """A typing event with its journey id (and without the customer), or None."""
        try:
            customer_id = uuid.UUID(str(message.get("customer_id")))
        except ValueError:
            return None
        journey_id = await self.journey_of(customer_id)
        if journey_id is None:
            return None
        return {"type": TYPING, "journey_id": str(journey_id), "on": bool(message.get("on"))}


class Gate:
    """Decides, per event, whether this socket's user may hear of the journey."""

    def __init__(self, hub: Hub, user: ConsoleUser) -> None:
        self.hub = hub
        self.user = user
        self.known: set[uuid.UUID] = set()

    async def seed(self) -> None:
        if not self.user.sees_everything:
            async with self.hub.db.read() as session:
                self.known = await visible_now(session, self.user)

    async def allows(self, message: dict[str, Any]) -> bool:
        if self.user.sees_everything or message.get("type") == RESYNC["type"]:
            return True
        raw = message.get("journey_id")
        if raw is None:
            return False  # not about a journey this agent can be shown to see
        try:
            journey_id = uuid.UUID(str(raw))
        except ValueError:
            return False
        if journey_id in self.known:
            return True
        async with self.hub.db.read() as session:
            seen = await may_see(session, self.user, journey_id)
        if seen:
            self.known.add(journey_id)
        return seen


AGENT_TYPING_EVERY = 2.0
"""Seconds between two "typing" frames an agent's composer sends to the widget."""


class AgentTyping:
    """The agent typing in the composer shows "Support is typing…" in the customer's open
    web chat widgets: only for a journey the agent holds, at most every 2 s, never the text."""

    def __init__(self, hub: Hub, user: ConsoleUser) -> None:
        self.hub, self.user = hub, user
        self._last: dict[uuid.UUID, float] = {}

    async def handle(self, raw: str) -> None:
        try:
            frame = json.loads(raw)
            journey_id = uuid.UUID(str(frame["journey_id"]))
        except (ValueError, TypeError, KeyError):
            return
        if not isinstance(frame, dict) or frame.get("type") != "typing":
            return
        on = frame.get("on") is True
        now = asyncio.get_running_loop().time()
        if on and now - self._last.get(journey_id, -AGENT_TYPING_EVERY) < AGENT_TYPING_EVERY:
            return
        self._last[journey_id] = now
        async with self.hub.db.read() as session:
            journey = await session.get(Journey, journey_id)
            if journey is None or journey.owner_agent_id != self.user.agent_id:
                return
            channels = (
                await session.scalars(
                    select(Channel.name)
                    .join(Conversation, Conversation.channel_id == Channel.id)
                    .where(Conversation.journey_id == journey_id, Channel.kind == WEBCHAT)
                    .distinct()
                )
            ).all()
            targets = [
                (name, visitor)
                for name in channels
                for visitor in await visitors_of(session, name, journey.customer_id)
            ]
        for name, visitor in targets:
            await live_broadcast(self.hub).publish(
                visitor_topic(name, visitor), {"type": "typing", "on": on}
            )


@router.websocket("/ws")
async def console_socket(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    user = await auth.load_user(hub, websocket.cookies.get(auth.SESSION_COOKIE))
    if user is None:
        await _deny(websocket, 401, "unauthorized", "sign in to the console first")
        return
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), hub.settings.public_url
    ):
        await _deny(websocket, 403, "origin_not_allowed", "connect from the console's own pages")
        return
    cookie = websocket.cookies.get(auth.SESSION_COOKIE)
    gate = Gate(hub, user)
    typing = TypingJourneys(hub)
    await gate.seed()
    async with hub.broadcast.subscribe(LIVE_TOPIC) as queue:
        await websocket.accept()
        await websocket.send_json({"type": "hello"})

        async def forward() -> None:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), RECHECK_EVERY)
                except TimeoutError:
                    if await auth.load_user(hub, cookie) is None:
                        await websocket.close(code=CLOSE_SIGNED_OUT)
                        return
                    continue
                if message.get("type") == TYPING:
                    resolved = await typing.resolve(message)
                    if resolved is None:
                        continue
                    message = resolved
                if await gate.allows(message):
                    await websocket.send_json(_frame(message))

        agent_typing = AgentTyping(hub, user)

        async def drain() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    raw = await websocket.receive_text()
                    if len(raw) <= 512:  # the only frame a console sends: typing on/off
                        await agent_typing.handle(raw)

        tasks = [asyncio.create_task(forward()), asyncio.create_task(drain())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
