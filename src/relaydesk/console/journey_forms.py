"""The journey view's internal-note and transfer forms (composer.py holds reply/resolve).

A note may be written by anyone who may see the journey; a transfer only by whoever holds
it (supervisors and admins may step in), through routing's own ``transfer`` action — the
one ``POST /api/v1/journeys/{id}/transfer`` uses.
"""

from __future__ import annotations

import uuid
from typing import Literal, cast

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.console import auth
from relaydesk.console.auth import UserDep
from relaydesk.console.composer import (
    NotYours,
    _check_holder,
    _hub,
    _load,
    _render,
    parse_journey_id,
    reply_block,
    router,
)
from relaydesk.journeys.actions import InvalidNote, JourneyNotFound, add_note
from relaydesk.journeys.actions.notes import MAX_NOTE
from relaydesk.routing.actions import TransferRefused, transfer

TARGETS = ("agent", "team", "bot")
MAX_REASON = 300


@router.post("/journeys/{journey_id}/notes")
async def note_route(journey_id: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target, user)  # 403 unless the agent may see the journey
    if isinstance(loaded, RedirectResponse):
        return loaded
    text = form.get("note", "")
    if len(text.strip()) > MAX_NOTE:
        return await _render(
            hub,
            user,
            loaded,
            400,
            note_error=f"A note is at most {MAX_NOTE} characters.",
            note_draft=text,
        )
    try:
        await hub.db.transaction(
            lambda s: add_note(s, target, text, agent_id=user.agent_id, agent_name=user.name)
        )
    except InvalidNote as exc:
        return await _render(hub, user, loaded, 400, note_error=str(exc), note_draft=text)
    except JourneyNotFound:
        raise HTTPException(404, "no such journey") from None
    hub.wake_worker()
    return RedirectResponse(f"/console/journeys/{target}?sent=note#notes", status_code=303)


@router.post("/journeys/{journey_id}/transfer")
async def transfer_route(journey_id: str, request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    target = parse_journey_id(journey_id)
    loaded = await _load(hub, target, user)
    if isinstance(loaded, RedirectResponse):
        return loaded
    blocked = reply_block(user, loaded.journey.owner.type, loaded.journey.owner.agent_id)
    if blocked is not None:
        return await _render(hub, user, loaded, 403, transfer_error=blocked)
    raw = form.get("target", "")
    kind, _, value = raw.partition(":")
    reason = form.get("reason", "").strip()[:MAX_REASON] or "console transfer"
    agent_id: uuid.UUID | None = None
    team: str | None = None
    if kind not in TARGETS or (kind != "bot" and not value):
        return await _render(
            hub, user, loaded, 400, transfer_error="Choose an agent, a team or the bot."
        )
    if kind == "agent":
        try:
            agent_id = uuid.UUID(value)
        except ValueError:
            return await _render(hub, user, loaded, 400, transfer_error="No such agent.")
        if agent_id == user.agent_id:
            return await _render(
                hub, user, loaded, 400, transfer_error="The journey is already yours."
            )
    elif kind == "team":
        team = value[:100]
    actor = f"agent:{user.agent_id}"

    async def write(session: AsyncSession) -> None:
        await _check_holder(session, user, target)
        await transfer(
            session,
            target,
            cast(Literal["agent", "team", "bot"], kind),
            actor=actor,
            reason=reason,
            agent_id=agent_id,
            team=team,
        )

    try:
        await hub.db.transaction(write)
    except NotYours as exc:
        return await _render(hub, user, loaded, 409, transfer_error=exc.reason)
    except TransferRefused as exc:
        return await _render(hub, user, loaded, 409, transfer_error=f"Not transferred: {exc}.")
    except JourneyNotFound:
        raise HTTPException(404, "no such journey") from None
    hub.wake_worker()
    if user.sees_everything:
        return RedirectResponse(f"/console/journeys/{target}?sent=transferred", status_code=303)
    return RedirectResponse("/console", status_code=303)
