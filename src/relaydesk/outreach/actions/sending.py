"""Sending one outreach message through the journeys' reply path (never a second one).

``queue_reply`` applies consent, opt-outs and the channel's reply window and raises
``ReplyRefused`` with a code; we try the free text first and, when the window is closed and
a template is configured for the channel, the template; a refusal is returned, not raised,
so the caller records it as the reason for a skip. Each attempt runs in a savepoint, so a
refused one leaves nothing behind (not even the conversation it may have opened).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.channels.models import Channel
from relaydesk.channels.registry import adapter_class
from relaydesk.journeys.actions.replies import Reply, ReplyRefused, queue_reply
from relaydesk.journeys.models import Message
from relaydesk.outreach.config import TemplateRef


@dataclass(frozen=True)
class Outgoing:
    text: str
    template: TemplateRef | None = None
    variables: dict[str, str] = field(default_factory=dict)
    """Filled into the template's params."""
    buttons: list[dict[str, str]] = field(default_factory=list)
    """Shown as buttons only where the channel has enough of them."""
    purpose: str = "service"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sent:
    message: Message | None
    code: str | None = None
    detail: str | None = None


def template_for(templates: dict[str, TemplateRef], channel: Channel) -> TemplateRef | None:
    return templates.get(channel.name) or templates.get(channel.kind)


def _template_payload(ref: TemplateRef, variables: dict[str, str]) -> dict[str, Any]:
    """Both providers' shapes: Cloud API ``params`` in order, Twilio ``variables`` by number."""
    params = [param.format_map(_Missing(variables)) for param in ref.params]
    payload: dict[str, Any] = {
        "name": ref.name,
        "params": params,
        "variables": {str(i): value for i, value in enumerate(params, 1)},
    }
    if ref.language:
        payload["language"] = ref.language
    return payload


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


async def send(
    session: AsyncSession,
    journey_id: uuid.UUID,
    channel: Channel,
    outgoing: Outgoing,
    *,
    author: str,
) -> Sent:
    adapter = adapter_class(channel.kind)
    limit = adapter.max_buttons
    buttons = (
        outgoing.buttons
        if adapter.supports_buttons and (limit is None or len(outgoing.buttons) <= limit)
        else []
    )
    meta = {**outgoing.meta, "purpose": outgoing.purpose, "outreach": True}
    if buttons:
        meta["buttons"] = buttons
    attempts = [
        Reply(
            text=outgoing.text,
            author_type="system",
            author_id=author,
            channel=channel.name,
            meta=meta,
        )
    ]
    if outgoing.template is not None:
        attempts.append(
            Reply(
                text=outgoing.text,
                author_type="system",
                author_id=author,
                channel=channel.name,
                template=_template_payload(outgoing.template, outgoing.variables),
                meta={**outgoing.meta, "purpose": outgoing.purpose, "outreach": True},
            )
        )
    refused: ReplyRefused | None = None
    for attempt in attempts:
        try:
            async with session.begin_nested():
                message = await queue_reply(session, journey_id, attempt)
        except ReplyRefused as exc:
            refused = exc
            if exc.code != "window_closed":
                break
            continue
        return Sent(message)
    assert refused is not None
    return Sent(None, refused.code, refused.reason)
