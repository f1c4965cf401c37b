"""The admin pages' writes: each change and its audit entry in one transaction.

Validation happens before (the workspace file's specs); these only compare, write and
record. Applying the workspace file later sets what the file declares again (it is
declarative), so a console edit to something the file also declares lasts until the next
``relaydesk apply``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.actions import AgentExists, create_agent
from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.audit.actions import record
from relaydesk.bot.actions import UnknownArticle, check_articles, store_intents
from relaydesk.bot.queries import intents_version
from relaydesk.bot.schemas import BotSpec
from relaydesk.channels.models import Channel
from relaydesk.db import new_id
from relaydesk.kb.actions import create_article, replace_article
from relaydesk.kb.models import KbArticle
from relaydesk.kb.schemas import ArticleIn
from relaydesk.routing.actions import agent_changed
from relaydesk.routing.actions.settings import apply_routing, stored_form
from relaydesk.routing.queries import CONFIG_KEY
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.workspace.models import WorkspaceSetting
from relaydesk.workspace.schemas import AgentSpec, ChannelSpec, TeamSpec


@dataclass(frozen=True)
class Who:
    actor: str
    name: str


class Refused(ValueError):
    """An edit the specs allow but the workspace's state does not; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(LookupError):
    pass


def _channel_values(row: Channel) -> dict[str, Any]:
    return {
        "display_name": row.display_name,
        "enabled": row.enabled,
        "settings": dict(row.settings),
    }


async def update_channel(session: AsyncSession, spec: ChannelSpec, who: Who) -> bool:
    row = await session.scalar(select(Channel).where(Channel.name == spec.name).with_for_update())
    if row is None:
        raise NotFound(spec.name)
    if row.kind != spec.kind:
        raise Refused("kind", "a channel's kind cannot change")
    before = _channel_values(row)
    after = {"display_name": spec.display_name, "enabled": spec.enabled, "settings": spec.settings}
    if before == after:
        return False
    row.display_name, row.enabled, row.settings = spec.display_name, spec.enabled, spec.settings
    row.updated_at = clock.now()
    await record(
        session,
        actor=who.actor,
        actor_name=who.name,
        action="channel.updated",
        target_kind="channel",
        target=spec.name,
        before=before,
        after=after,
    )
    return True


async def _team_names(session: AsyncSession, agent_id: uuid.UUID) -> list[str]:
    return sorted(
        (
            await session.scalars(
                select(Team.name)
                .join(agent_teams, agent_teams.c.team_id == Team.id)
                .where(agent_teams.c.agent_id == agent_id)
            )
        ).all()
    )


def _agent_values(row: Agent, teams: list[str]) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role,
        "teams": teams,
        "languages": list(row.languages or []),
        "skills": dict(row.skills or {}),
        "capacity": dict(row.capacity or {}),
        "active": row.active,
    }


async def _team_ids(session: AsyncSession, names: list[str]) -> dict[str, uuid.UUID]:
    """Every team by name; ``Refused`` on ``teams`` if one of ``names`` does not exist."""
    teams = {t.name: t.id for t in (await session.scalars(select(Team))).all()}
    for name in names:
        if name not in teams:
            raise Refused("teams", f"no team named {name!r}")
    return teams


async def update_agent(
    session: AsyncSession, agent_id: uuid.UUID, spec: AgentSpec, who: Who
) -> bool:
    row = await session.scalar(select(Agent).where(Agent.id == agent_id).with_for_update())
    if row is None:
        raise NotFound(str(agent_id))
    if spec.email != row.email:
        raise Refused("email", "an agent's email cannot change here")
    teams = await _team_ids(session, spec.teams)
    if row.role == "admin" and row.active and (spec.role != "admin" or not spec.active):
        others = await session.scalar(
            select(func.count(Agent.id)).where(
                Agent.role == "admin", Agent.active.is_(True), Agent.id != agent_id
            )
        )
        if not others:
            raise Refused("role", "this is the last active admin; make another admin first")
    before = _agent_values(row, await _team_names(session, agent_id))
    wanted = sorted(set(spec.teams))
    after = {
        "name": spec.name,
        "role": spec.role,
        "teams": wanted,
        "languages": spec.languages,
        "skills": spec.skills,
        "capacity": spec.capacity,
        "active": spec.active,
    }
    if before == after:
        return False
    row.name, row.role, row.languages = spec.name, spec.role, spec.languages
    row.skills, row.capacity, row.active = spec.skills, spec.capacity, spec.active
    row.updated_at = clock.now()
    if before["teams"] != wanted:
        await session.execute(delete(agent_teams).where(agent_teams.c.agent_id == agent_id))
        if wanted:
            await session.execute(
                insert(agent_teams),
                [{"agent_id": agent_id, "team_id": teams[n]} for n in wanted],
            )
    await record(
        session,
        actor=who.actor,
        actor_name=who.name,
        action="agent.updated",
        target_kind="agent",
        target=row.email,
        before=before,
        after=after,
    )
    await session.flush()
    changed = {name for name in after if before[name] != after[name]}
    await agent_changed(session, agent_id, changed, actor=who.actor)
    return True


async def add_agent(
    session: AsyncSession, spec: AgentSpec, password_hash: str, who: Who
) -> uuid.UUID:
    """A new console user from the admin's form, through ``agents.actions.create_agent`` (as
    ``relaydesk agent create``); the password is hashed before the transaction and neither it
    nor its hash goes into the audit entry."""
    teams = await _team_ids(session, spec.teams)
    try:
        row = await create_agent(
            session, spec.email, name=spec.name, role=spec.role, password_hash=password_hash
        )
    except AgentExists:
        raise Refused("email", f"an agent with email {spec.email} exists") from None
    row.languages, row.skills, row.capacity = spec.languages, spec.skills, spec.capacity
    row.active = spec.active
    wanted = sorted(set(spec.teams))
    if wanted:
        await session.execute(
            insert(agent_teams), [{"agent_id": row.id, "team_id": teams[n]} for n in wanted]
        )
    await session.flush()
    await record(
        session,
        actor=who.actor,
        actor_name=who.name,
        action="agent.created",
        target_kind="agent",
        target=row.email,
        before={},
        after={"email": row.email, **_agent_values(row, wanted)},
    )
    return row.id


async def update_skills(
    session: AsyncSession, specs: list[tuple[uuid.UUID, AgentSpec]], who: Who
) -> int:
    """The skills page's save: each agent through ``update_agent`` (its own audit entry and
    routing notice), all in one transaction; returns how many agents changed."""
    changed = 0
    for agent_id, spec in specs:
        changed += await update_agent(session, agent_id, spec, who)
    return changed


async def save_team(session: AsyncSession, spec: TeamSpec, who: Who, *, create: bool) -> bool:
    row = await session.scalar(select(Team).where(Team.name == spec.name).with_for_update())
    now = clock.now()
    if create:
        if row is not None:
            raise Refused("name", f"a team named {spec.name!r} exists")
        session.add(
            Team(
                id=new_id(),
                name=spec.name,
                description=spec.description,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        await record(
            session,
            actor=who.actor,
            actor_name=who.name,
            action="team.created",
            target_kind="team",
            target=spec.name,
            before={},
            after={"description": spec.description},
        )
        return True
    if row is None:
        raise NotFound(spec.name)
    if row.description == spec.description:
        return False
    before = {"description": row.description}
    row.description, row.updated_at = spec.description, now
    await record(
        session,
        actor=who.actor,
        actor_name=who.name,
        action="team.updated",
        target_kind="team",
        target=spec.name,
        before=before,
        after={"description": spec.description},
    )
    return True


async def update_routing(session: AsyncSession, config: RoutingConfig, who: Who) -> bool:
    stored = await session.get(WorkspaceSetting, CONFIG_KEY)
    before = dict(stored.value.get("value", {})) if stored is not None else {}
    changes = await apply_routing(session, config, actor=who.actor)
    if all(change.action == "unchanged" for change in changes):
        return False
    await record(
        session,
        actor=who.actor,
        actor_name=who.name,
        action="routing.updated",
        target_kind="routing",
        target="settings",
        before=before,
        after=stored_form(config),
    )
    return True


def _article_values(data: ArticleIn) -> dict[str, Any]:
    return {
        "slug": data.slug,
        "status": data.status,
        "tags": list(data.tags),
        "variants": {
            lang: {"title": v.title, "body": v.body, "questions": list(v.questions)}
            for lang, v in sorted(data.variants.items())
        },
    }


def _stored_article(row: KbArticle) -> dict[str, Any]:
    return {
        "slug": row.slug,
        "status": row.status,
        "tags": list(row.tags),
        "variants": {
            v.language: {"title": v.title, "body": v.body, "questions": list(v.questions)}
            for v in sorted(row.variants, key=lambda v: v.language)
        },
    }


async def save_article(
    session: AsyncSession, article_id: uuid.UUID | None, data: ArticleIn, who: Who
) -> uuid.UUID:
    """Create (``article_id`` None) or replace an article through the kb actions."""
    if article_id is None:
        created = await create_article(session, data, actor=who.actor)
        await record(
            session,
            actor=who.actor,
            actor_name=who.name,
            action="kb_article.created",
            target_kind="kb_article",
            target=data.slug,
            before={},
            after=_article_values(data),
        )
        return created
    row = await session.get(KbArticle, article_id)
    if row is None:
        raise NotFound(str(article_id))
    before = _stored_article(row)
    changed = await replace_article(session, article_id, data, actor=who.actor)
    if changed:
        await record(
            session,
            actor=who.actor,
            actor_name=who.name,
            action="kb_article.updated",
            target_kind="kb_article",
            target=data.slug,
            before=before,
            after=_article_values(data),
        )
    return article_id


async def save_intent(
    session: AsyncSession,
    spec: BotSpec,
    who: Who,
    *,
    intent: str,
    created: bool,
    expected_version: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> str | None:
    """Store the whole ``bot:`` section with one intent changed or added, as ``relaydesk
    apply`` stores it (``store_intents``), and audit that intent (``before``/``after`` are its
    effective values, worked out by the page). Returns the new version (None: unchanged).

    ``expected_version`` is the section the page edited: another edit in between is refused
    rather than silently undone."""
    if await intents_version(session) != expected_version:
        raise Refused("", "the intents changed since this page was loaded; reload it")
    try:
        await check_articles(session, spec)
    except UnknownArticle as exc:
        raise Refused("article", str(exc).partition(": ")[2]) from None
    action, version = await store_intents(session, spec)
    if action == "unchanged":
        return None
    await record(
        session,
        actor=who.actor,
        actor_name=who.name,
        action="intent.created" if created else "intent.updated",
        target_kind="intent",
        target=intent,
        before=before,
        after=after,
    )
    return version
