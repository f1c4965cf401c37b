"""Admin pages for agents (role, teams, languages, skills, capacity, active) and teams; the
skills matrix is skills.py. Validation is ``AgentSpec``/``TeamSpec`` from the workspace file."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.agents.passwords import (
    MIN_LENGTH,
    WeakPassword,
    check_password_rules,
    hash_password,
)
from relaydesk.console.access import may_edit
from relaydesk.console.admin.actions import (
    NotFound,
    Refused,
    add_agent,
    save_team,
    update_agent,
)
from relaydesk.console.admin.common import can_read, edit_form, hub_of, who
from relaydesk.console.admin.forms import Errors, errors_of, levels, words
from relaydesk.console.auth import ConsoleUser, UserDep
from relaydesk.console.rendering import render
from relaydesk.workspace.schemas import CHANNEL_CLASSES, AgentSpec, TeamSpec

router = APIRouter()
ROLES = ("agent", "supervisor", "admin")


async def _teams_by_agent(request: Request) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    async with hub_of(request).db.read() as session:
        for agent_id, name in await session.execute(
            select(agent_teams.c.agent_id, Team.name)
            .join(Team, Team.id == agent_teams.c.team_id)
            .order_by(Team.name)
        ):
            found.setdefault(agent_id, []).append(name)
    return found


@router.get("/agents")
async def agents_page(request: Request, user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    async with hub_of(request).db.read() as session:
        agents = (await session.scalars(select(Agent).order_by(Agent.name, Agent.id))).all()
    return render(
        "admin/agents.html",
        user=user,
        editable=may_edit(user),
        agents=agents,
        teams=await _teams_by_agent(request),
    )


async def _agent(request: Request, raw: str) -> tuple[Agent, list[str], list[str]] | None:
    try:
        agent_id = uuid.UUID(raw)
    except ValueError:
        return None
    async with hub_of(request).db.read() as session:
        agent = await session.get(Agent, agent_id)
        names = list((await session.scalars(select(Team.name).order_by(Team.name))).all())
    if agent is None:
        return None
    return agent, (await _teams_by_agent(request)).get(agent.id, []), names


def _agent_page(
    user: ConsoleUser,
    agent: Agent | None,
    all_teams: list[str],
    form: dict[str, Any],
    errors: Errors,
    saved: str | None,
) -> Response:
    return render(
        "admin/agent.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        agent=agent,
        all_teams=all_teams,
        roles=ROLES,
        classes=CHANNEL_CLASSES,
        form=form,
        errors=errors,
        saved=saved,
        min_password=MIN_LENGTH,
    )


async def _team_names(request: Request) -> list[str]:
    async with hub_of(request).db.read() as session:
        return list((await session.scalars(select(Team.name).order_by(Team.name))).all())


@router.get("/agents/new")
async def new_agent_page(request: Request, user: UserDep) -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    form = {
        "email": "",
        "name": "",
        "role": "agent",
        "teams": [],
        "languages": "",
        "skills": "",
        "capacity": dict.fromkeys(CHANNEL_CLASSES, ""),
        "active": True,
    }
    return _agent_page(user, None, await _team_names(request), form, {}, None)


def _agent_form(posted: dict[str, str], teams: list[str]) -> dict[str, Any]:
    """The agent form as typed (shown again with the errors)."""
    return {
        "name": posted.get("name", ""),
        "role": posted.get("role", ""),
        "teams": teams,
        "languages": posted.get("languages", ""),
        "skills": posted.get("skills", ""),
        "capacity": {c: posted.get(f"capacity_{c}", "") for c in CHANNEL_CLASSES},
        "active": posted.get("active") == "on",
    }


def _agent_spec(email: str, form: dict[str, Any], posted: dict[str, str]) -> AgentSpec:
    """The typed form checked as the workspace file's agent entry (ValidationError if not)."""
    return AgentSpec(
        email=email,
        name=form["name"].strip(),
        role=form["role"],
        teams=form["teams"],
        languages=words(form["languages"]),
        skills=levels(form["skills"]),
        capacity=_capacity(posted),
        active=form["active"],
    )


def _posted_teams(body: bytes) -> list[str]:
    pairs = parse_qsl(body.decode("utf-8", "replace"), max_num_fields=200)
    return [v for k, v in pairs if k == "teams"]


@router.post("/agents/new")
async def new_agent_save(request: Request, user: UserDep) -> Response:
    """Create a console user, as ``relaydesk agent create`` does, with the workspace file's
    agent fields; the admin types the first password (the CLI's rule, argon2 hashed)."""
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    all_teams = await _team_names(request)
    email = posted.get("email", "").strip()
    form = {"email": email, **_agent_form(posted, _posted_teams(await request.body()))}
    errors: Errors = {}
    try:
        spec = _agent_spec(email, form, posted)
    except ValidationError as exc:
        errors = errors_of(exc)
    password = posted.get("password", "")
    try:
        check_password_rules(password)
    except WeakPassword as exc:
        errors["password"] = str(exc)
    if errors:
        return _agent_page(user, None, all_teams, form, errors, None)
    # Slow by design: off the event loop (as sign-in verifies) and outside the transaction.
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        made = await hub_of(request).db.transaction(
            lambda s: add_agent(s, spec, password_hash, who(user))
        )
    except Refused as exc:
        return _agent_page(user, None, all_teams, form, {exc.field: str(exc)}, None)
    return RedirectResponse(f"/console/admin/agents/{made}?saved=created", status_code=303)


@router.get("/agents/{agent_id}")
async def agent_page(agent_id: str, request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    found = await _agent(request, agent_id)
    if found is None:
        return render("admin/missing.html", 404, user=user, what="such agent")
    agent, teams, all_teams = found
    form = {
        "name": agent.name,
        "role": agent.role,
        "teams": teams,
        "languages": ", ".join(agent.languages or []),
        "skills": ", ".join(f"{k}={v}" for k, v in sorted((agent.skills or {}).items())),
        "capacity": {c: str((agent.capacity or {}).get(c, "")) for c in CHANNEL_CLASSES},
        "active": agent.active,
    }
    notice = {"created": "Agent created; they can sign in now."}.get(saved, "Agent saved.")
    return _agent_page(user, agent, all_teams, form, {}, notice if saved else None)


def _capacity(form: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for cls in CHANNEL_CLASSES:
        raw = form.get(f"capacity_{cls}", "").strip()
        if raw:
            found[cls] = int(raw) if raw.lstrip("-").isdigit() else raw
    return found


@router.post("/agents/{agent_id}")
async def agent_save(agent_id: str, request: Request, user: UserDep) -> Response:
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    found = await _agent(request, agent_id)
    if found is None:
        return render("admin/missing.html", 404, user=user, what="such agent")
    agent, _, all_teams = found
    form = _agent_form(posted, _posted_teams(await request.body()))
    try:
        spec = _agent_spec(agent.email, form, posted)
    except ValidationError as exc:
        return _agent_page(user, agent, all_teams, form, errors_of(exc), None)
    try:
        await hub_of(request).db.transaction(lambda s: update_agent(s, agent.id, spec, who(user)))
    except Refused as exc:
        return _agent_page(user, agent, all_teams, form, {exc.field: str(exc)}, None)
    except NotFound:
        return render("admin/missing.html", 404, user=user, what="such agent")
    hub_of(request).wake_worker()
    return RedirectResponse(f"/console/admin/agents/{agent.id}?saved=1", status_code=303)


async def _teams_page(
    request: Request, user: ConsoleUser, form: dict[str, str], errors: Errors, saved: str | None
) -> Response:
    async with hub_of(request).db.read() as session:
        teams = (await session.scalars(select(Team).order_by(Team.name))).all()
    members = await _teams_by_agent(request)
    counts: dict[str, int] = {}
    for names in members.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return render(
        "admin/teams.html",
        422 if errors else 200,
        user=user,
        editable=may_edit(user),
        teams=teams,
        counts=counts,
        form=form,
        errors=errors,
        saved=saved,
    )


@router.get("/teams")
async def teams_page(request: Request, user: UserDep, saved: str = "") -> Response:
    if (denied := can_read(user)) is not None:
        return denied
    notice = {"created": "Team created.", "updated": "Team saved."}.get(saved)
    return await _teams_page(request, user, {"name": "", "description": ""}, {}, notice)


@router.post("/teams")
async def team_save(request: Request, user: UserDep) -> Response:
    """Create a team (``mode=create``) or change a team's description (``mode=update``)."""
    posted = await edit_form(request, user)
    if not isinstance(posted, dict):
        return posted
    create = posted.get("mode") != "update"
    form = {"name": posted.get("name", "").strip(), "description": posted.get("description", "")}
    try:
        spec = TeamSpec(name=form["name"], description=form["description"].strip() or None)
    except ValidationError as exc:
        return await _teams_page(request, user, form, errors_of(exc), None)
    try:
        await hub_of(request).db.transaction(lambda s: save_team(s, spec, who(user), create=create))
    except Refused as exc:
        return await _teams_page(request, user, form, {exc.field: str(exc)}, None)
    except NotFound:
        return await _teams_page(request, user, form, {"name": "no such team"}, None)
    saved = "created" if create else "updated"
    return RedirectResponse(f"/console/admin/teams?saved={saved}", status_code=303)
