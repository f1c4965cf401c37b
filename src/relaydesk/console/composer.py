"""The journey view and its forms: reply (through ``queue_reply``) and resolve."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.console import auth
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.context import configured_providers, gather_context
from relaydesk.console.queries import JourneyPage, journey_page
from relaydesk.console.rendering import render
from relaydesk.console.unread import seen
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

router = APIRouter()

OUTCOMES = ("resolved", "purchase", "retained", "churned", "no_response", "duplicate")
MAX_REPLY = 32_768


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
    if page is None:
        raise HTTPException(404, "no such journey")
    return page


def _render(user: ConsoleUser, page: JourneyPage, status: int = 200, **extra: Any) -> Response:
    context: dict[str, Any] = {
        "refusal": None,
        "draft": "",
        "notice": None,
        "chosen_channel": "",
        **extra,
    }
    return render(
        "journey.html",
        status,
        user=user,
        page=page,
        can_reply=can_reply(user, page),
        reply_block=reply_block(user, page.journey.owner.type, page.journey.owner.agent_id),
        outcomes=OUTCOMES,
        **context,
    )


@router.get("/journeys/{journey_id}")
async def journey_page_route(
    journey_id: str, request: Request, user: UserDep, sent: str | None = None
) -> Response:
    seen_at = clock.now()
    loaded = await _load(_hub(request), parse_journey_id(journey_id), user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    await seen(_hub(request), user, loaded.journey.id, seen_at)
    notice = {
        "reply": "Reply queued for delivery.",
        "resolved": "Journey resolved.",
        "next_update": "Next status update planned.",
    }.get(sent or "")
    async with _hub(request).db.read() as session:
        mine = await desk(session, user.agent_id)
        providers = await configured_providers(session, _hub(request).http)
    context = await gather_context(providers, loaded.customer)
    here = f"/console/journeys/{loaded.journey.id}"
    return _render(
        user, loaded, notice=notice, desk=mine, presences=PRESENCES, here=here, context=context
    )


@router.post("/journeys/{journey_id}/reply")
async def reply_route(journey_id: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target, user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    text = form.get("text", "").strip()
    channel = form.get("channel", "").strip() or None
    keep = {"draft": form.get("text", ""), "chosen_channel": channel or ""}
    blocked = reply_block(user, loaded.journey.owner.type, loaded.journey.owner.agent_id)
    if blocked is not None:
        return _render(user, loaded, 403, refusal=blocked, **keep)
    if not text:
        return _render(user, loaded, 400, refusal="Write a reply first.", **keep)
    if len(text) > MAX_REPLY:
        return _render(
            user, loaded, 400, refusal=f"A reply is at most {MAX_REPLY} characters.", **keep
        )
    reply = Reply(text=text, author_type="agent", author_id=str(user.agent_id), channel=channel)

    async def write(session: AsyncSession) -> None:
        await _check_holder(session, user, target)
        await queue_reply(session, target, reply)

    try:
        await hub.db.transaction(write)
    except NotYours as exc:
        return _render(user, loaded, 409, refusal=exc.reason, **keep)
    except ReplyRefused as exc:
        return _render(user, loaded, 409, refusal=exc.reason, **keep)
    hub.wake_worker()
    return RedirectResponse(f"/console/journeys/{target}?sent=reply#composer", status_code=303)


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
        return _render(user, loaded, 400, refusal=f"Choose an outcome: {', '.join(OUTCOMES)}.")
    blocked = reply_block(user, loaded.journey.owner.type, loaded.journey.owner.agent_id)
    if blocked is not None:
        return _render(user, loaded, 403, refusal=blocked)
    actor = f"agent:{user.agent_id}"

    async def write(session: AsyncSession) -> None:
        await _check_holder(session, user, target)
        await resolve_journey(session, target, outcome=outcome, actor=actor)

    try:
        await hub.db.transaction(write)
    except NotYours as exc:
        return _render(user, loaded, 409, refusal=exc.reason)
    except InvalidTransition:
        return _render(
            user, loaded, 409, refusal=f"A {loaded.journey.status} journey cannot be resolved."
        )
    except JourneyNotFound:
        raise HTTPException(404, "no such journey") from None
    hub.wake_worker()
    return RedirectResponse(f"/console/journeys/{target}?sent=resolved", status_code=303)
