"""The agent's own forms: presence switch and answers to offers.

They call the same routing actions as ``PUT /api/v1/agents/{id}/presence`` and
``POST /api/v1/offers/{id}/accept|decline``, so the console and the API cannot disagree.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from relaydesk.console import auth
from relaydesk.console.auth import UserDep
from relaydesk.console.workload import PRESENCES
from relaydesk.hub import Hub
from relaydesk.routing.actions import (
    AgentNotFound,
    OfferClosed,
    OfferNotFound,
    accept_offer,
    decline_offer,
    set_presence,
)
from relaydesk.routing.models import Assignment

router = APIRouter()


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


@router.post("/presence")
async def presence_route(request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    presence = form.get("presence", "")
    if presence not in PRESENCES:
        raise HTTPException(400, f"presence is one of {', '.join(PRESENCES)}")
    actor = f"agent:{user.agent_id}"
    try:
        await hub.db.transaction(lambda s: set_presence(s, user.agent_id, presence, actor=actor))
    except AgentNotFound:
        raise HTTPException(403, "this account cannot take conversations") from None
    hub.wake_worker()
    return RedirectResponse(auth.safe_next(form.get("next")), status_code=303)


async def _own_offer(hub: Hub, raw: str, agent_id: uuid.UUID) -> uuid.UUID:
    """Only the offered agent answers an offer; others get the same 404 as a missing one."""
    try:
        offer_id = uuid.UUID(raw)
    except ValueError:
        raise HTTPException(404, "no such offer") from None
    async with hub.db.read() as session:
        owner = await session.get(Assignment, offer_id)
    if owner is None or owner.agent_id != agent_id:
        raise HTTPException(404, "no such offer")
    return offer_id


@router.post("/offers/{offer_id}/{verb}")
async def answer_route(offer_id: str, verb: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    if verb not in ("accept", "decline"):
        raise HTTPException(404, "no such form")
    target = await _own_offer(hub, offer_id, user.agent_id)
    action = accept_offer if verb == "accept" else decline_offer
    actor = f"agent:{user.agent_id}"
    try:
        answered = await hub.db.transaction(lambda s: action(s, target, actor=actor))
    except OfferNotFound:
        raise HTTPException(404, "no such offer") from None
    except OfferClosed as exc:
        # Back to the inbox (a plain form has nowhere better to go), saying why.
        return RedirectResponse(f"/console?offer={exc.status}", status_code=303)
    hub.wake_worker()
    if verb == "accept":
        return RedirectResponse(f"/console/journeys/{answered.journey_id}", status_code=303)
    return RedirectResponse("/console", status_code=303)
