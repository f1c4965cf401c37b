"""The one webhook route for every provider: ``POST /hooks/{channel}`` (and ``GET`` for
providers that verify with a challenge).

Look up the channel, verify the signature (bad → 401/403, nothing stored, the body never
logged), parse, store everything in one transaction, and only then answer 2xx.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from relaydesk.api.deps import HubDep
from relaydesk.channels.actions import WebhookOutcome, finish_webhook, record_channel_error
from relaydesk.channels.base import (
    ChannelAdapter,
    ChannelMisconfigured,
    PayloadError,
    SignatureError,
    WebhookReply,
    WebhookRequest,
    capped,
    without_nul,
)
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import adapter_for
from relaydesk.hub import Hub
from relaydesk.journeys.actions import Inbound
from relaydesk.journeys.api import channel_by_name, workspace_config

log = logging.getLogger("relaydesk.webhooks")
router = APIRouter(tags=["webhooks"], include_in_schema=True)


def _problem(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def public_url(hub: Hub, request: Request) -> str:
    """The URL the provider called, as it signed it (behind a proxy: RELAYDESK_PUBLIC_URL)."""
    if hub.settings.public_url:
        url = hub.settings.public_url + request.url.path
        return f"{url}?{request.url.query}" if request.url.query else url
    return str(request.url)


async def _prepare(
    hub: Hub, name: str, request: Request
) -> tuple[Channel, ChannelAdapter, WebhookRequest] | JSONResponse:
    channel = await channel_by_name(hub, name)
    if channel is None or not channel.enabled:
        return _problem(404, "unknown_channel", f"no enabled channel named {name!r}")
    try:
        adapter = adapter_for(channel)
    except ChannelMisconfigured as exc:
        problem = str(exc)
        await hub.db.transaction(lambda s: record_channel_error(s, channel.id, problem))
        return _problem(503, "channel_misconfigured", f"channel {name!r} is not configured")
    if not adapter.accepts_webhooks:
        return _problem(404, "no_webhooks", f"{channel.kind} channels take no webhooks")
    body = await request.body()
    webhook = WebhookRequest(
        method=request.method,
        url=public_url(hub, request),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=list(request.query_params.multi_items()),
        body=body,
    )
    return channel, adapter, webhook


def _reply(reply: WebhookReply) -> Response:
    return Response(reply.body, status_code=reply.status, media_type=reply.content_type)


@router.get("/hooks/{channel}", summary="Provider verification handshake")
async def verify_webhook(channel: str, request: Request, hub: HubDep) -> Response:
    prepared = await _prepare(hub, channel, request)
    if isinstance(prepared, JSONResponse):
        return prepared
    _, adapter, webhook = prepared
    try:
        reply = adapter.challenge(webhook)
    except SignatureError as exc:
        log.warning("webhook challenge refused on channel %s", channel)
        return _problem(exc.status, "bad_challenge", str(exc))
    if reply is None:
        return _problem(405, "method_not_allowed", "this channel has no GET handshake")
    return _reply(reply)


@router.post("/hooks/{channel}", summary="Provider webhook (signed by the provider)")
async def receive_webhook(channel: str, request: Request, hub: HubDep) -> Response:
    prepared = await _prepare(hub, channel, request)
    if isinstance(prepared, JSONResponse):
        return prepared
    row, adapter, webhook = prepared
    try:
        await adapter.verify(webhook)
    except SignatureError as exc:
        log.warning(
            "webhook signature rejected on channel %s (%d bytes)", channel, len(webhook.body)
        )
        return _problem(exc.status, "bad_signature", str(exc))
    except ChannelMisconfigured as exc:
        problem = str(exc)
        await hub.db.transaction(lambda s: record_channel_error(s, row.id, problem))
        return _problem(503, "channel_misconfigured", f"channel {channel!r} is not configured")
    try:
        # NUL cannot be stored on PostgreSQL: not in a message, a status or a keyword either
        parsed = without_nul(adapter.parse(webhook))
    except PayloadError as exc:
        log.warning("unreadable webhook on channel %s: %s", channel, type(exc).__name__)
        return _problem(400, "bad_payload", str(exc))
    config = await workspace_config(hub)
    limit = hub.settings.max_text_length
    stored = await hub.ingest.submit(
        [Inbound(row, capped(message, limit)) for message in parsed.messages],
        journey_window=config.journey_window,
        finish=lambda s, results: finish_webhook(s, row, parsed, list(results)),
    )
    outcome = stored.finished
    assert isinstance(outcome, WebhookOutcome)
    hub.wake_worker()
    return _reply(adapter.after_processing(parsed, outcome.results))
