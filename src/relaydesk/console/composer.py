"""The journey view and its forms: reply (through ``queue_reply``, on the current channel,
another one, or with an approved template), offer a call back, and resolve. Notes and
transfers are in composer_actions.py; what the composer shows is in composing.py."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.canned.queries import all_canned
from relaydesk.channels.models import Channel
from relaydesk.console import auth
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.composing import (
    canned_options,
    channel_options,
    customer_language,
    insert_text,
    kb_suggestions,
    notes_of,
    template_payload,
    templates_of,
    transfer_targets,
    variable_values,
    with_notes,
)
from relaydesk.console.context import configured_providers, gather_context
from relaydesk.console.queries import JourneyPage, journey_page
from relaydesk.console.rendering import render
from relaydesk.console.unread import seen, seen_notices
from relaydesk.console.visibility import may_see
from relaydesk.console.workload import PRESENCES, desk
from relaydesk.hub import Hub
from relaydesk.journeys.actions import (
    JourneyNotFound,
    Reply,
    ReplyRefused,
    queue_reply,
    resolve_journey,
)
from relaydesk.journeys.models import Journey
from relaydesk.journeys.queries import current_journey_id
from relaydesk.journeys.states import InvalidTransition
from relaydesk.kb.queries import load_knowledge_base

router = APIRouter()

OUTCOMES = ("resolved", "purchase", "retained", "churned", "no_response", "duplicate")
MAX_REPLY = 32_768
MAX_TEMPLATE_VALUES = 20
CALLBACK_TEXT = (
    "We can call you back on {phone}. Reply with a time that suits you and we will ring you then."
)


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def parse_journey_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise HTTPException(404, "no such journey") from None


def reply_block(user: ConsoleUser, owner_type: str, owner_agent_id: uuid.UUID | None) -> str | None:
    """Why ``user`` may not write on (or resolve) the journey; None when they may.

    Only the person who holds the journey writes on it (supervisors and admins may step in
    on an agent's journey): a reply on a journey the bot or the queue holds would have the
    bot answer the customer too, or a second agent take the same customer through an offer.
    """
    if owner_type == "agent":
        if owner_agent_id == user.agent_id or user.sees_everything:
            return None
        return "Another agent owns this journey; ask a supervisor to transfer it."
    if owner_type == "bot":
        return "The bot is handling this journey; transfer it to a person before replying."
    if owner_type == "queue":
        return "This journey waits in the queue for a person; accept its offer to reply."
    return "Nobody holds this journey yet; routing decides who takes it."


def can_reply(user: ConsoleUser, page: JourneyPage) -> bool:
    owner = page.journey.owner
    return reply_block(user, owner.type, owner.agent_id) is None


class NotYours(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _check_holder(session: AsyncSession, user: ConsoleUser, journey_id: uuid.UUID) -> None:
    """The ownership check again, under the journey's row lock, inside the write: the page
    the agent looked at may be out of date (an offer taken, a transfer)."""
    row = (
        await session.execute(
            select(Journey.owner_type, Journey.owner_agent_id)
            .where(Journey.id == journey_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise JourneyNotFound(str(journey_id))
    blocked = reply_block(user, row.owner_type, row.owner_agent_id)
    if blocked is not None:
        raise NotYours(blocked)


NOT_VISIBLE = "This journey is not in your work: it is held by someone else or another team's."


async def _load(
    hub: Hub, journey_id: uuid.UUID, user: ConsoleUser
) -> JourneyPage | RedirectResponse:
    async with hub.db.read() as session:
        current = await current_journey_id(session, journey_id)
        if current is None:
            raise HTTPException(404, "no such journey")
        if not await may_see(session, user, current):
            raise HTTPException(403, NOT_VISIBLE)
        if current != journey_id:
            return RedirectResponse(f"/console/journeys/{current}", status_code=303)
        page = await journey_page(session, journey_id)
        if page is not None:
            page.timeline = with_notes(page.timeline, await notes_of(session, journey_id))
    if page is None:
        raise HTTPException(404, "no such journey")
    return page


async def _render(
    hub: Hub, user: ConsoleUser, page: JourneyPage, status: int = 200, **extra: Any
) -> Response:
    values: dict[str, Any] = {
        "refusal": None,
        "draft": "",
        "notice": None,
        "chosen_channel": "",
        "chosen_template": "",
        "template_values": "",
        "note_draft": "",
        "note_error": None,
        "transfer_error": None,
        "canned_notice": None,
        **extra,
    }
    async with hub.db.read() as session:
        options = await channel_options(
            session, page.journey.id, page.journey.customer_id, clock.now()
        )
        canned = canned_options(
            await all_canned(session), variable_values(page, user), customer_language(page)
        )
        targets = await transfer_targets(session, user)
        if "desk" not in values:
            values["desk"] = await desk(session, user.agent_id)
        providers = await configured_providers(session, hub.http)
    suggestions = kb_suggestions(await load_knowledge_base(hub), page)
    values["context"] = await gather_context(providers, page.customer)
    return render(
        "journey.html",
        status,
        user=user,
        page=page,
        can_reply=can_reply(user, page),
        reply_block=reply_block(user, page.journey.owner.type, page.journey.owner.agent_id),
        outcomes=OUTCOMES,
        channel_options=options,
        canned=canned,
        suggestions=[(m, insert_text(m)) for m in suggestions],
        targets=targets,
        presences=PRESENCES,
        here=f"/console/journeys/{page.journey.id}",
        **values,
    )


NOTICES = {
    "reply": "Reply queued for delivery.",
    "callback": "Call-back offer queued for delivery.",
    "resolved": "Journey resolved.",
    "next_update": "Next status update planned.",
    "note": "Internal note added.",
    "transferred": "Journey transferred.",
}


@router.get("/journeys/{journey_id}")
async def journey_page_route(
    journey_id: str,
    request: Request,
    user: UserDep,
    sent: str | None = None,
    canned: str | None = None,
    article: str | None = None,
    lang: str | None = None,
) -> Response:
    """``?canned=NAME`` or ``?article=SLUG&lang=LANG`` puts that text in the reply box (the
    no-script way to use a canned reply or a suggestion; the page's script does it in place)."""
    hub = _hub(request)
    seen_at = clock.now()
    loaded = await _load(hub, parse_journey_id(journey_id), user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    await seen(hub, user, loaded.journey.id, seen_at)
    await seen_notices(hub, user, loaded.journey.id)
    extra: dict[str, Any] = {"notice": NOTICES.get(sent or "")}
    if canned:
        async with hub.db.read() as session:
            rows = [r for r in await all_canned(session) if r.name == canned]
        found = canned_options(rows, variable_values(loaded, user), customer_language(loaded))
        if not found:
            extra["canned_notice"] = f"No canned reply named {canned[:100]!r}."
        elif found[0].error:
            extra["canned_notice"] = f"{found[0].title}: {found[0].error}"
        else:
            extra["draft"] = found[0].text
            if found[0].missing:
                extra["canned_notice"] = "Fill in before sending: " + ", ".join(
                    "{" + m + "}" for m in found[0].missing
                )
    if article:
        kb = await load_knowledge_base(hub)
        wanted = (lang or "")[:8] or customer_language(loaded) or "en"
        match = kb.variant(article[:100], wanted)
        if match is None:
            extra["canned_notice"] = f"No article {article[:100]!r}."
        else:
            extra["draft"] = insert_text(match)
    return await _render(hub, user, loaded, **extra)


async def _template_reply(
    hub: Hub, channel_name: str | None, template: str, raw_values: str
) -> tuple[dict[str, Any] | None, str | None]:
    """(the template payload, None) or (None, what is wrong with the form)."""
    async with hub.db.read() as session:
        channel = (
            await session.scalar(select(Channel).where(Channel.name == channel_name))
            if channel_name
            else None
        )
    if channel is None:
        return None, "Choose the channel to send the template on."
    if template not in templates_of(channel):
        known = ", ".join(templates_of(channel)) or "none"
        return (
            None,
            f"{channel.name} has no approved template {template[:100]!r} (configured: {known}).",
        )
    values = [line.strip() for line in raw_values.splitlines() if line.strip()]
    if len(values) > MAX_TEMPLATE_VALUES:
        return None, f"A template takes at most {MAX_TEMPLATE_VALUES} values."
    return template_payload(channel, template, values), None


@router.post("/journeys/{journey_id}/reply")
async def reply_route(journey_id: str, request: Request, user: UserDep) -> Response:
    """A reply on the chosen channel (or the customer's latest); ``template`` sends an
    approved template where the reply window is closed; ``callback=1`` sends the call-back
    offer (the customer's phone on file) on the chosen written channel."""
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target, user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    text = form.get("text", "").strip()
    channel = form.get("channel", "").strip() or None
    template = form.get("template", "").strip()
    callback = form.get("callback") == "1"
    keep = {
        "draft": form.get("text", ""),
        "chosen_channel": channel or "",
        "chosen_template": template,
        "template_values": form.get("template_values", ""),
    }
    blocked = reply_block(user, loaded.journey.owner.type, loaded.journey.owner.agent_id)
    if blocked is not None:
        return await _render(hub, user, loaded, 403, refusal=blocked, **keep)
    payload: dict[str, Any] | None = None
    meta: dict[str, Any] = {}
    if callback:
        phone = loaded.customer.phone if loaded.customer else None
        if not phone:
            return await _render(
                hub,
                user,
                loaded,
                400,
                refusal="The customer has no phone number to call back.",
                **keep,
            )
        text = CALLBACK_TEXT.format(phone=phone)
        meta = {"kind": "callback_offer"}
    elif template:
        payload, problem = await _template_reply(
            hub, channel, template, form.get("template_values", "")
        )
        if problem is not None:
            return await _render(hub, user, loaded, 400, refusal=problem, **keep)
        if not text:
            assert payload is not None
            values = ", ".join(payload["params"])
            text = f"[template {template}]" + (f" {values}" if values else "")
    if not text:
        return await _render(hub, user, loaded, 400, refusal="Write a reply first.", **keep)
    if len(text) > MAX_REPLY:
        return await _render(
            hub, user, loaded, 400, refusal=f"A reply is at most {MAX_REPLY} characters.", **keep
        )
    reply = Reply(
        text=text,
        author_type="agent",
        author_id=str(user.agent_id),
        channel=channel,
        template=payload,
        meta=meta,
    )

    async def write(session: AsyncSession) -> None:
        await _check_holder(session, user, target)
        await queue_reply(session, target, reply)

    try:
        await hub.db.transaction(write)
    except NotYours as exc:
        return await _render(hub, user, loaded, 409, refusal=exc.reason, **keep)
    except ReplyRefused as exc:
        return await _render(hub, user, loaded, 409, refusal=exc.reason, **keep)
    hub.wake_worker()
    sent = "callback" if callback else "reply"
    return RedirectResponse(f"/console/journeys/{target}?sent={sent}#composer", status_code=303)


@router.post("/journeys/{journey_id}/resolve")
async def resolve_route(journey_id: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target, user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    outcome = form.get("outcome", "")
    if outcome not in OUTCOMES:
        return await _render(
            hub, user, loaded, 400, refusal=f"Choose an outcome: {', '.join(OUTCOMES)}."
        )
    blocked = reply_block(user, loaded.journey.owner.type, loaded.journey.owner.agent_id)
    if blocked is not None:
        return await _render(hub, user, loaded, 403, refusal=blocked)
    actor = f"agent:{user.agent_id}"

    async def write(session: AsyncSession) -> None:
        await _check_holder(session, user, target)
        await resolve_journey(session, target, outcome=outcome, actor=actor)

    try:
        await hub.db.transaction(write)
    except NotYours as exc:
        return await _render(hub, user, loaded, 409, refusal=exc.reason)
    except InvalidTransition:
        return await _render(
            hub, user, loaded, 409, refusal=f"A {loaded.journey.status} journey cannot be resolved."
        )
    except JourneyNotFound:
        raise HTTPException(404, "no such journey") from None
    hub.wake_worker()
    return RedirectResponse(f"/console/journeys/{target}?sent=resolved", status_code=303)
