"""Web chat test support: a websocket client speaking the frame protocol, a fake mail channel."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from relaydesk.app import create_app
from relaydesk.channels.base import (
    Capabilities,
    ChannelAdapter,
    ChannelConfig,
    OutboundMessage,
    SendResult,
)
from relaydesk.hub import Hub
from relaydesk.worker import Worker

SHOP = "http://shop.test:8080"

WORKSPACE = f"""
channels:
  - name: chat
    kind: webchat
    settings:
      allowed_origins: ["{SHOP}", "https://other.test"]
      title: Northwind help
      verification_channel: mail
      rate_limit: 5
      max_text_length: 200
  - name: chat-noverify
    kind: webchat
    settings:
      allowed_origins: ["{SHOP}"]
  - name: chat-plain
    kind: webchat
    settings:
      allowed_origins: ["{SHOP}"]
      ask_email: false
  - name: web
    kind: api
  - name: mail
    kind: test_mail
"""


class FakeMailConfig(ChannelConfig):
    pass


class FakeMail(ChannelAdapter):
    """Stands in for the email channel: records what it is asked to send."""

    kind: ClassVar[str] = "test_mail"
    Config: ClassVar[type[ChannelConfig]] = FakeMailConfig
    capabilities: ClassVar[Capabilities] = Capabilities(channel_class="email")
    accepts_webhooks: ClassVar[bool] = False
    sent: ClassVar[list[OutboundMessage]] = []
    fail_with: ClassVar[list[Exception]] = []

    async def send(self, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        if FakeMail.fail_with:
            raise FakeMail.fail_with.pop(0)
        FakeMail.sent.append(message)
        return SendResult(external_id=f"mail-{len(FakeMail.sent)}")


@dataclass
class Widget:
    """A visitor's widget, speaking the frame protocol."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    welcome: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def expect(self, kind: str, wait: float = 5.0) -> dict[str, Any]:
        """The next frame of ``kind`` (others are kept in ``frames``)."""
        async with asyncio.timeout(wait):
            while True:
                frame = json.loads(await self.ws.recv())
                self.frames.append(frame)
                if frame["type"] == kind:
                    return dict(frame)

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Frames that arrive within ``seconds`` (to show that nothing else came)."""
        got: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    got.append(json.loads(await self.ws.recv()))
        self.frames.extend(got)
        return got

    async def say(self, text: str, client_msg_id: str, **extra: Any) -> dict[str, Any]:
        await self.send(type="message", client_msg_id=client_msg_id, text=text, **extra)
        return await self.expect("ack")

    @property
    def token(self) -> str:
        return str(self.welcome["token"])

    @property
    def visitor(self) -> str:
        return str(self.welcome["visitor"])


def socket_url(base: str, channel: str = "chat") -> str:
    return base.replace("http://", "ws://") + f"/widget/ws/{channel}"


@contextlib.asynccontextmanager
async def open_widget(
    base: str, *, channel: str = "chat", token: str | None = None, origin: str = SHOP
) -> AsyncIterator[Widget]:
    async with connect(
        socket_url(base, channel), origin=Origin(origin), proxy=None, open_timeout=5
    ) as ws:
        widget = Widget(ws)
        await widget.send(**({"type": "resume", "token": token} if token else {"type": "hello"}))
        widget.welcome = await widget.expect("welcome")
        widget.history = (await widget.expect("history"))["messages"]
        yield widget


@contextlib.asynccontextmanager
async def serve(hub: Hub) -> AsyncIterator[str]:
    """Serve ``hub`` with uvicorn on a free port; yields its base URL (http://127.0.0.1:P)."""
    config = uvicorn.Config(
        create_app(hub=hub), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def deliver(hub: Hub) -> int:
    """Run the outbox until it is empty (the worker's job in production)."""
    return await Worker(hub).drain()
