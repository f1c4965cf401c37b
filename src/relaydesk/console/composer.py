"""The journey view and its forms: reply (through ``queue_reply``) and resolve."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from relaydesk.console import auth
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.queries import JourneyPage, journey_page
from relaydesk.console.rendering import render
from relaydesk.console.workload import PRESENCES, desk
from relaydesk.hub import Hub
from relaydesk.journeys.actions import (
    JourneyNotFound,
    Reply,
    ReplyRefused,
    queue_reply,
    resolve_journey,
)
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


def can_reply(user: ConsoleUser, page: JourneyPage) -> bool:
    """Supervisors and admins always; agents unless another agent owns the journey."""
    owner = page.journey.owner
    return user.sees_everything or owner.type != "agent" or owner.agent_id == user.agent_id


async def _load(hub: Hub, journey_id: uuid.UUID) -> JourneyPage | RedirectResponse:
    async with hub.db.read() as session:
        current = await current_journey_id(session, journey_id)
        if current is None:
            raise HTTPException(404, "no such journey")
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
        outcomes=OUTCOMES,
        **context,
    )


@router.get("/journeys/{journey_id}")
async def journey_page_route(
    journey_id: str, request: Request, user: UserDep, sent: str | None = None
) -> Response:
    loaded = await _load(_hub(request), parse_journey_id(journey_id))
    if isinstance(loaded, RedirectResponse):
        return loaded
    notice = {"reply": "Reply queued for delivery.", "resolved": "Journey resolved."}.get(
        sent or ""
    )
    async with _hub(request).db.read() as session:
        mine = await desk(session, user.agent_id)
    here = f"/console/journeys/{loaded.journey.id}"
    return _render(user, loaded, notice=notice, desk=mine, presences=PRESENCES, here=here)


@router.post("/journeys/{journey_id}/reply")
async def reply_route(journey_id: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target)
    if isinstance(loaded, RedirectResponse):
        return loaded
    text = form.get("text", "").strip()
    channel = form.get("channel", "").strip() or None
    keep = {"draft": form.get("text", ""), "chosen_channel": channel or ""}
    if not can_reply(user, loaded):
        return _render(
            user,
            loaded,
            403,
            refusal="Another agent owns this journey; ask a supervisor to transfer it.",
            **keep,
        )
    if not text:
        return _render(user, loaded, 400, refusal="Write a reply first.", **keep)
    if len(text) > MAX_REPLY:
        return _render(
            user, loaded, 400, refusal=f"A reply is at most {MAX_REPLY} characters.", **keep
        )
    reply = Reply(text=text, author_type="agent", author_id=str(user.agent_id), channel=channel)
    try:
        await hub.db.transaction(lambda s: queue_reply(s, target, reply))
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
    loaded = await _load(hub, target)
    if isinstance(loaded, RedirectResponse):
        return loaded
    outcome = form.get("outcome", "")
    if outcome not in OUTCOMES:
        return _render(user, loaded, 400, refusal=f"Choose an outcome: {', '.join(OUTCOMES)}.")
    if not can_reply(user, loaded):
        return _render(user, loaded, 403, refusal="Another agent owns this journey.")
    actor = f"agent:{user.agent_id}"
    try:
        await hub.db.transaction(lambda s: resolve_journey(s, target, outcome=outcome, actor=actor))
    except InvalidTransition:
        return _render(
            user, loaded, 409, refusal=f"A {loaded.journey.status} journey cannot be resolved."
        )
    except JourneyNotFound:
        raise HTTPException(404, "no such journey") from None
    hub.wake_worker()
    return RedirectResponse(f"/console/journeys/{target}?sent=resolved", status_code=303)
