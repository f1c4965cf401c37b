"""``/console/supervisor``: the live queues page (supervisors and admins).

Waiting journeys with routing's queue position, value, SLA risk and estimated wait; agents'
presence and occupancy; a reassign form per waiting journey that calls routing's
``transfer`` (the same action as ``POST /api/v1/journeys/{id}/transfer``). The page is
re-read when the console socket reports a change (live.js, ``data-live="supervisor"``).
"""

from __future__ import annotations

import uuid
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.audit.actions import record
from relaydesk.console import auth
from relaydesk.console.access import SUPERVISING, gate
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.floor import SORTS, floor
from relaydesk.console.rendering import render
from relaydesk.console.workload import PRESENCES, desk
from relaydesk.hub import Hub
from relaydesk.journeys.actions import JourneyNotFound
from relaydesk.routing.actions import TransferRefused, transfer

router = APIRouter()

REFUSALS = {
    "journey_closed": "That journey is closed now.",
    "unknown_agent": "That agent is not active.",
    "unknown_team": "There is no such team.",
    "agent_unavailable": "That agent is not online.",
    "no_capacity": "That agent takes no conversations of this kind.",
    "over_capacity": "That agent is at capacity.",
    "already_assigned": "The journey is already that agent's.",
    "journey_not_found": "There is no such journey.",
    "bad_target": "Choose an agent, a team or the bot.",
}


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


@router.get("/supervisor")
async def queues_page(
    request: Request,
    user: UserDep,
    sort: str = "position",
    done: str | None = None,
    error: str | None = None,
) -> Response:
    denied = gate(user, SUPERVISING)
    if denied is not None:
        return denied
    return await _page(
        request,
        user,
        sort,
        notice="Reassigned." if done == "reassigned" else None,
        error=REFUSALS.get(error or ""),
    )


async def _page(
    request: Request,
    user: ConsoleUser,
    sort: str = "position",
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    hub = _hub(request)
    chosen = sort if sort in SORTS else "position"
    async with hub.db.read() as session:
        view = await floor(session, clock.now(), sort=chosen)
        mine = await desk(session, user.agent_id)
    return render(
        "supervisor/queues.html",
        user=user,
        floor=view,
        sort=chosen,
        sorts=SORTS,
        desk=mine,
        presences=PRESENCES,
        here="/console/supervisor",
        notice=notice,
        error=error,
        status=status,
    )


def _target(raw: str) -> tuple[Literal["agent", "team", "bot"], uuid.UUID | None, str | None]:
    kind, _, rest = raw.partition(":")
    if kind == "agent":
        return "agent", uuid.UUID(rest), None
    if kind == "team" and 0 < len(rest) <= 100:
        return "team", None, rest
    if kind == "bot" and not rest:
        return "bot", None, None
    raise ValueError(raw)


async def _reassign(
    hub: Hub, user: ConsoleUser, journey_id: uuid.UUID, raw_target: str, *, force: bool = False
) -> tuple[str, str | None] | None:
    """None when done, else a REFUSALS code and the action's own words (load, capacity)."""
    try:
        to, agent_id, team = _target(raw_target)
    except ValueError:
        return "bad_target", None
    actor = f"agent:{user.agent_id}"
    forced_by = user.agent_id if force and to == "agent" else None

    async def run(session: AsyncSession) -> None:
        done = await transfer(
            session,
            journey_id,
            to,
            actor=actor,
            reason="supervisor",
            agent_id=agent_id,
            team=team,
            forced_by=forced_by,
        )
        await record(
            session,
            actor=actor,
            actor_name=user.name,
            action="journey.reassigned",
            target_kind="journey",
            target=str(journey_id),
            after={
                "to": to,
                "agent_id": str(agent_id) if agent_id else None,
                "team": team,
                "outcome": done.routed.target,
                "forced": forced_by is not None,
            },
        )

    try:
        await hub.db.transaction(run)
    except JourneyNotFound:
        return "journey_not_found", None
    except TransferRefused as exc:
        return (exc.code, str(exc)) if exc.code in REFUSALS else ("bad_target", None)
    hub.wake_worker()
    return None


@router.post("/supervisor/journeys/{journey_id}/reassign")
async def reassign_route(journey_id: str, request: Request, user: UserDep) -> Response:
    form = await auth.read_form(request)
    auth.check_csrf(user, request, form)
    denied = gate(user, SUPERVISING)
    if denied is not None:
        return denied
    try:
        parsed = uuid.UUID(journey_id)
    except ValueError:
        refused: tuple[str, str | None] | None = ("journey_not_found", None)
    else:
        force = form.get("force", "") == "yes"
        refused = await _reassign(_hub(request), user, parsed, form.get("target", ""), force=force)
    if refused is not None and refused[0] == "over_capacity":
        # The form error names the load and capacity; ticking "force" assigns anyway.
        detail = f"{refused[1]}. Tick “force over capacity” to assign anyway (recorded)."
        return await _page(request, user, error=detail, status=409)
    query = {"done": "reassigned"} if refused is None else {"error": refused[0]}
    return RedirectResponse("/console/supervisor?" + urlencode(query), status_code=303)
