"""create_app(): routes, middleware and the lifespan that runs the worker."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relaydesk import __version__, heap
from relaydesk.api.deps import TokenCache
from relaydesk.api.errors import UNAUTHORIZED, install_error_handlers
from relaydesk.api.router import router as api_router
from relaydesk.bus import load_listeners
from relaydesk.channels.receivers import Receivers
from relaydesk.channels.webchat.routes import router as webchat_router
from relaydesk.channels.webhook import router as webhook_router
from relaydesk.console.pages import router as console_router
from relaydesk.hub import Hub
from relaydesk.kb import api as kb_api
from relaydesk.kb import help as kb_help
from relaydesk.routing import api as routing_api
from relaydesk.settings import Settings, get_settings
from relaydesk.worker import Worker

log = logging.getLogger("relaydesk")


class BodySizeLimit:
    """Refuse bodies over ``limit`` bytes with 413 before reading them into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(send, self.limit)


class BearerFirst:
    """An /api/v1 request without a bearer token gets 401 before its body is read, so a
    caller without a token learns that first (not that its JSON is broken). The token itself
    is checked by the routes' dependency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v1/"):
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            if header[:7].lower() != b"bearer " or not header[7:].strip():
                await _json(send, 401, _NO_TOKEN, [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


_NO_TOKEN = (
    b'{"error":"unauthorized","detail":"send an API token as \'Authorization: Bearer <token>\' '
    b'(create one with `relaydesk token create NAME`)"}'
)


async def _json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = (
        b'{"error":"payload_too_large","detail":"request body over '
        + str(limit).encode()
        + b' bytes"}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _start_bot_model(hub: Hub) -> None:
    """The workspace's bot model starts training at launch (best effort: else on first use)."""
    from sqlalchemy.exc import SQLAlchemyError

    from relaydesk.bot.listeners import start_training

    try:
        await start_training(hub)
    except (SQLAlchemyError, OSError):  # not migrated or not reachable: first use trains it
        return


def create_app(settings: Settings | None = None, *, hub: Hub | None = None) -> FastAPI:
    settings = settings or (hub.settings if hub else get_settings())
    load_listeners()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = hub is None
        running = hub or Hub.from_settings(settings)
        app.state.hub = running
        await _start_bot_model(running)
        worker = Worker(running) if settings.run_worker else None
        receivers = Receivers(running) if settings.run_worker else None
        if worker is not None and receivers is not None:
            worker.start()
            receivers.start()
        heap.settle("server start")
        try:
            yield
        finally:
            if receivers is not None:
                await receivers.stop()
            if worker is not None:
                await worker.stop()
            if owned:
                await running.close()

    app = FastAPI(
        title="Relaydesk",
        version=__version__,
        description="Omnichannel customer-service hub: one customer, one journey, every channel.",
        lifespan=lifespan,
    )
    app.state.token_cache = TokenCache()
    if hub is not None:
        app.state.hub = hub
    install_error_handlers(app)
    app.add_middleware(BearerFirst)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api_router)
    app.include_router(webhook_router)
    app.include_router(webchat_router)
    app.include_router(kb_api.router, prefix="/api/v1", responses=UNAUTHORIZED)
    app.include_router(routing_api.router, prefix="/api/v1", responses=UNAUTHORIZED)
    app.include_router(kb_help.router)
    app.include_router(console_router)
    return app
