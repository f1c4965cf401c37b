"""Web chat routes: the widget's websocket, its static files and the demo shop page.

- ``GET /widget.js`` — the loader the snippet includes (a classic script, short cache);
- ``GET /widget/{file}`` — its ES modules and stylesheet (versioned, CORS-enabled, since the
  loader imports them from the shop's page);
- ``WS /widget/ws/{channel}`` — the chat itself (Origin checked before accepting);
- ``GET /demo/shop`` — a sample shop page carrying the snippet.
"""

from __future__ import annotations

import hashlib
import html
import logging
from functools import lru_cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from relaydesk.channels.base import ChannelMisconfigured
from relaydesk.channels.registry import build_adapter
from relaydesk.channels.webchat.adapter import KIND, WebchatChannel
from relaydesk.channels.webchat.queries import enabled_channels
from relaydesk.channels.webchat.session import VisitorSession
from relaydesk.hub import Hub
from relaydesk.journeys.api import channel_by_name

log = logging.getLogger("relaydesk.webchat")
router = APIRouter(tags=["web chat"])

CONSOLE = Path(__file__).resolve().parents[2] / "console"
STATIC = CONSOLE / "static" / "widget"
DEMO_TEMPLATE = CONSOLE / "templates" / "demo_shop.html"
JS = "text/javascript; charset=utf-8"
ASSETS = {
    "chat.js": JS,
    "connection.js": JS,
    "email.js": JS,
    "view.js": JS,
    "widget.css": "text/css; charset=utf-8",
}
"""The widget's files; ``__VERSION__`` in a script becomes the assets' content hash, so a
module and the modules it imports always come from the same release."""


@lru_cache(maxsize=1)
def assets_version() -> str:
    digest = hashlib.sha256()
    for name in ["widget.js", *sorted(ASSETS)]:
        digest.update((STATIC / name).read_bytes())
    return digest.hexdigest()[:12]


def _asset_headers(cache: str) -> dict[str, str]:
    return {
        "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }


@lru_cache(maxsize=16)
def _asset(name: str) -> bytes:
    data = (STATIC / name).read_bytes()
    if name.endswith(".js"):
        data = data.replace(b"__VERSION__", assets_version().encode())
    return data


@router.get("/widget.js", include_in_schema=False)
async def widget_loader() -> Response:
    return Response(
        _asset("widget.js"), media_type=JS, headers=_asset_headers("public, max-age=300")
    )


@router.get("/widget/{name}", include_in_schema=False)
async def widget_asset(name: str, v: str | None = None) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return JSONResponse({"error": "not_found", "detail": "no such widget file"}, 404)
    versioned = v == assets_version()
    cache = "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
    return Response(_asset(name), media_type=media_type, headers=_asset_headers(cache))


async def _deny(websocket: WebSocket, status: int, error: str, detail: str) -> None:
    """Refuse the handshake with an HTTP status (browsers only see that it failed)."""
    try:
        await websocket.send_denial_response(
            JSONResponse({"error": error, "detail": detail}, status_code=status)
        )
    except RuntimeError:  # the server lacks the denial-response extension
        await websocket.close(code=1008)


@router.websocket("/widget/ws/{channel}")
async def widget_socket(websocket: WebSocket, channel: str) -> None:
    hub: Hub = websocket.app.state.hub
    row = await channel_by_name(hub, channel)
    adapter: WebchatChannel | None = None
    if row is not None and row.enabled and row.kind == KIND:
        try:
            built = build_adapter(row.name, row.kind, row.settings)
        except (ChannelMisconfigured, ValidationError):
            built = None
        adapter = built if isinstance(built, WebchatChannel) else None
    if row is None or adapter is None:
        await _deny(websocket, 404, "unknown_channel", "no enabled web chat channel of that name")
        return
    origin = websocket.headers.get("origin")
    if not adapter.origin_allowed(origin, websocket.headers.get("host"), hub.settings.public_url):
        log.warning(
            "webchat %s: refused a connection from origin %s",
            channel,
            (origin or "(none)")[:200],
        )
        await _deny(
            websocket,
            403,
            "origin_not_allowed",
            "this site is not in the channel's allowed_origins",
        )
        return
    await websocket.accept()
    await VisitorSession(hub, websocket, row, adapter).run()


@router.get("/demo/shop", include_in_schema=False)
async def demo_shop(request: Request, channel: str | None = None) -> HTMLResponse:
    hub: Hub = request.app.state.hub
    async with hub.db.read() as session:
        names = await enabled_channels(session)
    chosen = channel if channel in names else (names[0] if names and channel is None else None)
    if chosen is not None:
        snippet = f'<script src="/widget.js" data-channel="{html.escape(chosen)}" async></script>'
        notice = ""
    else:
        snippet = ""
        wanted = f" named {html.escape(channel)}" if channel else ""
        notice = (
            f'<p class="notice">No web chat channel{wanted} is enabled: add one '
            "(<code>kind: webchat</code>) to the workspace file to see the chat here.</p>"
        )
    page = Template(DEMO_TEMPLATE.read_text(encoding="utf-8")).substitute(
        snippet=snippet, notice=notice
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
