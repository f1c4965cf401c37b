"""One widget connection: hello, history, then frames both ways until the socket closes.

The socket carries live pushes (replies, the visitor's messages from other tabs) from the
broadcast, and stores what the visitor sends through the same actions as every channel:
``ingest_inbound`` for messages (idempotent on the visitor's ``client_msg_id``),
webchat/actions.py for email claims, codes and receipts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from relaydesk import clock
from relaydesk.channels.models import Channel
from relaydesk.channels.webchat import actions, limits, tokens
from relaydesk.channels.webchat.adapter import WebchatChannel
from relaydesk.channels.webchat.broadcast import RESYNC, live_broadcast, visitor_topic
from relaydesk.channels.webchat.listeners import push_message
from relaydesk.channels.webchat.protocol import (
    MAX_FRAME_BYTES,
    ChatMessage,
    Email,
    FrameError,
    Hello,
    Ping,
    Receipt,
    Typing,
    Verify,
    error_frame,
    parse_frame,
)
from relaydesk.channels.webchat.queries import email_state, history, visitor_customer
from relaydesk.customers.identities import InvalidIdentity, identity_key
from relaydesk.hub import Hub
from relaydesk.journeys.actions import ingest_inbound
from relaydesk.journeys.api import workspace_config
from relaydesk.journeys.listeners import LIVE_TOPIC
from relaydesk.signing import signing_key

log = logging.getLogger("relaydesk.webchat")

HELLO_TIMEOUT = 15.0
MAX_BAD_HELLOS = 5
"""Frames that are not a hello before the socket is closed (1008)."""
MAX_REFUSED_FRAMES = 50
"""A client that keeps flooding after this many refused frames is disconnected."""
CODE_ERRORS = {
    "bad_code": "that code is not right",
    "locked": "too many wrong codes; ask for a new one",
    "expired": "the code has expired; ask for a new one",
    "no_code": "there is no code to check; ask for one first",
    "code_pending": "the code is still on its way",
}


class VisitorSession:
    def __init__(self, hub: Hub, websocket: WebSocket, channel: Channel, adapter: WebchatChannel):
        self.hub = hub
        self.ws = websocket
        self.channel = channel
        self.adapter = adapter
        self.config = adapter.settings
        self.visitor = ""
        self.bucket = limits.FrameBucket()
        self._send_lock = asyncio.Lock()
        self._last_typing = 0.0

    @property
    def handle(self) -> Any:
        return self.adapter.visitor_key(self.visitor)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                await self.ws.send_text(json.dumps(frame, separators=(",", ":"), default=str))

    async def run(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            hello = await self._hello()
            if hello is None:
                return
            key = await signing_key(self.hub)
            known = tokens.read(key, self.channel.name, hello.token) if hello.token else None
            self.visitor = known or tokens.new_visitor_id()
            topic = visitor_topic(self.channel.name, self.visitor)
            async with live_broadcast(self.hub).subscribe(topic) as queue:
                await self.send(await self._welcome(key, resumed=known is not None))
                await self.send_history()
                await self._serve(queue)

    async def _serve(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Read the visitor's frames and forward live pushes until either side stops."""
        tasks = {
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._pump(queue)),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect | OSError):
                log.warning(
                    "webchat %s: connection ended (%s)", self.channel.name, type(error).__name__
                )

    async def _receive_text(self) -> str | None:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            await self.send(error_frame("bad_frame", "frames are JSON text, not binary"))
            return None
        if len(text.encode()) > MAX_FRAME_BYTES:
            await self.ws.close(code=1009, reason=f"frames are at most {MAX_FRAME_BYTES} bytes")
            raise WebSocketDisconnect(1009)
        return str(text)

    async def _hello(self) -> Hello | None:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                return await self._await_hello()
        except TimeoutError:
            await self.ws.close(code=4408, reason="send a hello frame first")
            return None

    async def _await_hello(self) -> Hello | None:
        for _ in range(MAX_BAD_HELLOS):
            text = await self._receive_text()
            if text is None:
                continue
            try:
                frame = parse_frame(text)
            except FrameError as exc:
                await self.send(exc.frame())
                continue
            if isinstance(frame, Hello):
                return frame
            await self.send(error_frame("hello_first", "send a hello (or resume) frame first"))
        await self.ws.close(code=1008, reason="send a hello frame first")
        return None

    async def _welcome(self, key: str, *, resumed: bool) -> dict[str, Any]:
        async with self.hub.db.read() as session:
            state = await email_state(session, self.channel.name, self.visitor)
        limit = min(self.config.max_text_length, self.hub.settings.max_text_length)
        return {
            "type": "welcome",
            "visitor": self.visitor,
            "token": tokens.issue(key, self.channel.name, self.visitor),
            "resumed": resumed,
            "channel": {
                "title": self.config.title,
                "greeting": self.config.greeting,
                "ask_email": self.config.ask_email,
                "verification": bool(self.config.verification_channel),
                "color": self.config.color,
            },
            "email": None
            if state is None
            else {"address": state.address, "status": _email_status(state.status)},
            "limits": {
                "max_text_length": limit,
                "messages_per_minute": self.config.rate_limit,
                "max_frame_bytes": MAX_FRAME_BYTES,
            },
        }

    async def send_history(self) -> None:
        async with self.hub.db.read() as session:
            customer = await visitor_customer(session, self.channel.name, self.visitor)
            if customer is None:
                frames: list[dict[str, Any]] = []
                complete = True
            else:
                frames, complete = await history(session, self.channel.id, customer, self.visitor)
        await self.send({"type": "history", "messages": frames, "complete": complete})

    async def _pump(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            frame = await queue.get()
            if frame.get("type") == RESYNC["type"]:
                await self.send_history()
            else:
                await self.send(frame)

    async def _receive_loop(self) -> None:
        while True:
            text = await self._receive_text()
            if text is None:
                continue
            frame: Any = None
            try:
                frame = parse_frame(text)
                if not self.bucket.take():
                    if self.bucket.refused > MAX_REFUSED_FRAMES:
                        await self.ws.close(code=1008, reason="too many frames")
                        return
                    raise FrameError(
                        "slow_down", "too many frames; slow down", retry_after=2, **_cid(frame)
                    )
                await self._handle(frame)
            except FrameError as exc:
                await self.send(exc.frame())
            except (WebSocketDisconnect, asyncio.CancelledError):
                raise
            except Exception as exc:  # the hub's fault: say so, keep the connection
                # The type only: database errors quote their parameters (the visitor's text).
                log.error("webchat %s: a frame failed (%s)", self.channel.name, type(exc).__name__)
                await self.send(
                    error_frame(
                        "server_error",
                        "something went wrong; retrying",
                        retry_after=5,
                        **_cid(frame),
                    )
                )

    async def _handle(self, frame: Any) -> None:
        if isinstance(frame, ChatMessage):
            await self._message(frame)
        elif isinstance(frame, Receipt):
            await self._receipt(frame)
        elif isinstance(frame, Email):
            await self._email(frame)
        elif isinstance(frame, Verify):
            await self._verify(frame)
        elif isinstance(frame, Typing):
            await self._typing(frame)
        elif isinstance(frame, Ping):
            await self.send({"type": "pong"})
        elif isinstance(frame, Hello):
            await self.send(error_frame("already_started", "this connection already said hello"))

    async def _message(self, frame: ChatMessage) -> None:
        cid = frame.client_msg_id
        text = frame.text.strip()
        limit = min(self.config.max_text_length, self.hub.settings.max_text_length)
        if not text:
            raise FrameError("empty_text", "the message is empty", client_msg_id=cid)
        if len(text) > limit:
            raise FrameError(
                "text_too_long",
                f"messages are at most {limit} characters",
                client_msg_id=cid,
                limit=limit,
            )
        wait = limits.messages.check(f"{self.channel.name}:{self.visitor}", self.config.rate_limit)
        if wait is not None:
            raise FrameError(
                "rate_limited",
                f"at most {self.config.rate_limit} messages a minute; this one will be "
                "sent shortly",
                client_msg_id=cid,
                retry_after=round(wait, 1),
            )
        inbound = self.adapter.inbound(
            self.visitor,
            cid,
            text,
            human_request=frame.meta.human_request,
            button=frame.meta.button,
        )
        config = await workspace_config(self.hub)
        result = await self.hub.db.transaction(
            lambda s: ingest_inbound(s, self.channel, inbound, journey_window=config.journey_window)
        )
        self.hub.wake_worker()
        if not result.duplicate:
            await self._mirror(result.message_id)
        await self.send(
            {
                "type": "ack",
                "client_msg_id": cid,
                "id": str(result.message_id),
                "created_at": clock.now().isoformat(),
                "duplicate": result.duplicate,
            }
        )

    async def _mirror(self, message_id: uuid.UUID) -> None:
        """Show the message in the visitor's other tabs and devices: live only, best effort
        (they re-read the history whenever they reconnect)."""
        try:
            await push_message(self.hub, message_id)
        except Exception as exc:
            log.warning(
                "webchat %s: live mirror failed (%s)", self.channel.name, type(exc).__name__
            )

    async def _receipt(self, frame: Receipt) -> None:
        async with self.hub.db.read() as session:
            customer = await visitor_customer(session, self.channel.name, self.visitor)
        if customer is None:
            return
        ids = list(dict.fromkeys(frame.ids))
        changed = await self.hub.db.transaction(
            lambda s: actions.record_receipts(s, self.channel, customer, ids, frame.status)
        )
        if changed:
            self.hub.wake_worker()

    async def _email(self, frame: Email) -> None:
        if not self.config.ask_email:
            raise FrameError("email_disabled", "this chat does not take email addresses")
        try:
            email = identity_key("email", frame.address)
        except InvalidIdentity as exc:
            raise FrameError("bad_email", f"not an email address: {exc.reason}") from None
        verify = bool(self.config.verification_channel)
        try:
            outcome = await self.hub.db.transaction(
                lambda s: actions.claim_email(
                    s, self.channel.name, self.handle, email, verify=verify
                )
            )
        except actions.VerificationRefused as exc:
            raise FrameError(exc.code, exc.detail, retry_after=exc.retry_after) from None
        self.hub.wake_worker()
        status = _email_status(outcome.status)
        await self.send({"type": "email_status", "status": status, "address": email.value})

    async def _verify(self, frame: Verify) -> None:
        key = await signing_key(self.hub)
        outcome = await self.hub.db.transaction(
            lambda s: actions.check_code(s, self.channel.name, self.handle, frame.code, key)
        )
        if outcome.status != "verified":
            code = "code_" + outcome.status if outcome.status in ("locked", "expired") else None
            raise FrameError(
                code or outcome.status,
                CODE_ERRORS.get(outcome.status, outcome.status),
                attempts_left=outcome.attempts_left,
            )
        self.hub.wake_worker()
        async with self.hub.db.read() as session:
            state = await email_state(session, self.channel.name, self.visitor)
        address = state.address if state is not None else None
        await self.send({"type": "email_status", "status": "verified", "address": address})
        await self.send_history()

    async def _typing(self, frame: Typing) -> None:
        """Tell live consoles (at most every 2 s); the visitor's text is never sent."""
        loop = asyncio.get_running_loop()
        if frame.on and loop.time() - self._last_typing < 2.0:
            return
        self._last_typing = loop.time()
        async with self.hub.db.read() as session:
            customer = await visitor_customer(session, self.channel.name, self.visitor)
        if customer is not None:
            await live_broadcast(self.hub).publish(
                LIVE_TOPIC,
                {
                    "type": "webchat.typing",
                    "channel": self.channel.name,
                    "customer_id": str(customer),
                    "on": frame.on,
                },
            )


def _cid(frame: Any) -> dict[str, str]:
    return {"client_msg_id": frame.client_msg_id} if isinstance(frame, ChatMessage) else {}


def _email_status(status: str) -> str:
    """What the widget shows: claimed, pending (code on its way), sent, verified, failed,
    locked."""
    return status if status != "superseded" else "claimed"
