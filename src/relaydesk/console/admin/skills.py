"""The skills page: each active agent's level per skill (none, 1, 2, 3), and a new skill as a
column. Each agent's new skills are checked with ``AgentSpec`` (like the agent page) and
saved through ``update_agent``, so a changed agent gets its own audit entry and routing
hears of it; an unchanged agent is not written."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.console.access import may_edit
from relaydesk.console.admin.actions import NotFound, Refused, update_skills
from relaydesk.console.admin.common import can_read, edit_form, hub_of, who
from relaydesk.console.admin.forms import Errors
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.rendering import render
from relaydesk.workspace.schemas import AgentSpec, check_skill_name

router = APIRouter()
LEVELS = ("1", "2", "3")


async def _active_agents(request: Request) -> tuple[list[Agent], dict[uuid.UUID, list[str]]]:
    async with hub_of(request).db.read() as session:
        agents = list(
            (
                await session.scalars(
                    select(Agent).where(Agent.active.is_(True)).order_by(Agent.name, Agent.id)
                )
            ).all()
        )
        teams: dict[uuid.UUID, list[str]] = {}
        for agent_id, name in await session.execute(
            select(agent_teams.c.agent_id, Team.name)
            .join(Team, Team.id == agent_teams.c.team_id)
            .order_by(Team.name)
        ):
            teams.setdefault(agent_id, []).append(name)
    return agents, teams


def _page(
    user: ConsoleUser,
    agents: list[Agent],
    skills: list[str],
    form: dict[str, str],
    errors: Errors,
    saved: str | None,
) -> Response:
    return render(
        "admin/skills.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        agents=agents,
        skills=skills,
        levels=LEVELS,
        form=form,
        errors=errors,
        saved=saved,
    )


def _current_form(agents: list[Agent], skills: list[str]) -> dict[str, str]:
    form = {"new_skill": ""}
    for i, agent in enumerate(agents):
        for j, skill in enumerate(skills):
            form[f"level_{i}_{j}"] = str((agent.skills or {}).get(skill, ""))
        form[f"level_{i}_new"] = ""
    return form


@router.get("/skills")
async def skills_page(request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    agents, _ = await _active_agents(request)
    skills = sorted({skill for a in agents for skill in (a.skills or {})})
    notice = None
    if saved:
        notice = "Nothing changed." if saved == "0" else f"Skills saved ({saved} changed)."
    return _page(user, agents, skills, _current_form(agents, skills), {}, notice)


def _level(raw: str) -> Any:
    """'' → no skill; a whole number for the spec to bound; anything else as typed, for the
    spec to refuse by name."""
    text = raw.strip()
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _spec(agent: Agent, teams: list[str], skills: dict[str, Any]) -> AgentSpec:
    """The agent as stored with only its skills replaced. The stored capacity is kept as it
    is (an empty one means the defaults), so a skills edit never rewrites it."""
    spec = AgentSpec(
        email=agent.email,
        name=agent.name,
        role=agent.role,
        teams=teams,
        languages=list(agent.languages or []),
        skills=skills,
        capacity=dict(agent.capacity or {}),
        active=agent.active,
    )
    return spec.model_copy(update={"capacity": dict(agent.capacity or {})})


@router.post("/skills")
async def skills_save(request: Request, user: UserDep) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    agents, teams = await _active_agents(request)
    by_id = {str(a.id): a for a in agents}
    count = int(posted["skill_count"]) if posted.get("skill_count", "").isdigit() else 0
    skills = [posted.get(f"skill_{j}", "") for j in range(min(count, 500))]
    shown = [by_id.get(posted.get(f"agent_{i}", "")) for i in range(len(by_id) + 1)]
    rows = [a for a in shown if a is not None]
    form = {k: v for k, v in posted.items() if k.startswith("level_") or k == "new_skill"}
    form["new_skill"] = new = form.get("new_skill", "").strip()
    errors: Errors = {}
    if len(rows) != len(agents):
        errors[""] = "The active agents changed since this page was loaded; reload it."
    if new:
        try:
            check_skill_name(new)
        except ValueError as exc:
            errors["new_skill"] = str(exc)
        if new in skills:
            errors["new_skill"] = f"a skill named {new!r} is already a column; set levels there"
        elif not any(_level(posted.get(f"level_{i}_new", "")) for i in range(len(rows))):
            errors["new_skill"] = "give at least one agent a level in the new skill"
    specs: list[tuple[uuid.UUID, AgentSpec]] = []
    for i, agent in enumerate(rows):
        wanted = dict(agent.skills or {})
        fields: dict[str, str] = {}
        columns = [(j, name) for j, name in enumerate(skills)]
        if new and "new_skill" not in errors:
            columns.append((-1, new))
        for j, name in columns:
            field = f"level_{i}_new" if j < 0 else f"level_{i}_{j}"
            fields[name] = field
            level = _level(posted.get(field, ""))
            if level is None:
                wanted.pop(name, None)
            else:
                wanted[name] = level
        if wanted == dict(agent.skills or {}):
            continue
        try:
            spec = _spec(agent, teams.get(agent.id, []), wanted)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = [str(part) for part in error["loc"]]
                message = error["msg"].removeprefix("Value error, ")
                if loc[:1] == ["skills"] and len(loc) > 1 and loc[1] in fields:
                    errors.setdefault(fields[loc[1]], f"{agent.name}, {loc[1]}: {message}")
                else:
                    errors.setdefault("", f"{agent.name}: {'.'.join(loc)}: {message}")
            continue
        specs.append((agent.id, spec))
    if errors:
        return _page(user, rows or agents, skills, form, errors, None)
    try:
        changed = await hub_of(request).db.transaction(lambda s: update_skills(s, specs, who(user)))
    except (Refused, NotFound) as exc:
        return _page(user, rows, skills, form, {"": str(exc)}, None)
    if changed:
        hub_of(request).wake_worker()
    return RedirectResponse(f"/console/admin/skills?saved={changed}", status_code=303)
