"""Apply a workspace file: create or update what it declares, in one transaction.

Like ``kubectl apply``: idempotent, declarative, and it never deletes what the file does not
mention (remove a channel or agent through the API or console).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.bot.actions import apply_bot
from relaydesk.bus import publish
from relaydesk.canned.actions import apply_canned_replies
from relaydesk.channels.models import Channel
from relaydesk.console.actions import apply_context_providers
from relaydesk.db import new_id
from relaydesk.kb.actions import apply_knowledge_base
from relaydesk.outreach.actions.settings import apply_outreach
from relaydesk.outreach.queries import channel_key_problem, unknown_channel_keys
from relaydesk.routing.actions import agent_changed
from relaydesk.routing.actions.settings import apply_routing
from relaydesk.sla.actions import apply_sla
from relaydesk.sla.schemas import SlaConfig
from relaydesk.workspace.config import dump_setting
from relaydesk.workspace.events import WorkspaceApplied
from relaydesk.workspace.file import LoadedWorkspace
from relaydesk.workspace.models import WorkspaceSetting


@dataclass
class Change:
    kind: str
    name: str
    action: str
    """created | updated | unchanged | deleted (only ``knowledge_base.prune``)"""
    fields: list[str] = field(default_factory=list)


@dataclass
class ApplyReport:
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        return ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) or "nothing declared"


def _check_sla_teams(loaded: LoadedWorkspace, sla: SlaConfig | None, teams: set[str]) -> None:
    """Teams named by the ``sla:`` section exist (declared now or before): a misspelt
    ``escalate_to`` would quietly send breached complaints to the general queue."""
    if sla is None:
        return
    named: list[tuple[tuple[str | int, ...], str]] = []
    if sla.escalation.escalate_to is not None:
        named.append((("sla", "escalation", "escalate_to"), sla.escalation.escalate_to))
    for index, policy in enumerate(sla.policies):
        if policy.escalation is not None and policy.escalation.escalate_to is not None:
            path = ("sla", "policies", index, "escalation", "escalate_to")
            named.append((path, policy.escalation.escalate_to))
    for index, calendar in enumerate(sla.calendars):
        for team_index, team in enumerate(calendar.teams):
            named.append((("sla", "calendars", index, "teams", team_index), team))
    for where, team in named:
        if team not in teams:
            raise loaded.error(where, f"no team named {team!r} (declare it under teams:)")


async def store_section(
    session: AsyncSession, kind: str, key: str, stored: dict[str, Any]
) -> list[Change]:
    """Store a workspace file section (``routing:``, ``sla:``, ``outreach:``) as the one
    setting ``key``, in its JSON-ready ``stored`` form; idempotent: the same form twice
    reports ``unchanged``, a new one ``updated`` with the top-level keys that differ."""
    row = await session.get(WorkspaceSetting, key)
    if row is None:
        session.add(WorkspaceSetting(key=key, value={"value": stored}, updated_at=clock.now()))
        return [Change(kind, "settings", "created")]
    # Beside the declared section the row may hold what the product derived (e.g. the value
    # model's fitted coefficients, ``fitted``): applying the file keeps that.
    value = {**{k: v for k, v in row.value.items() if k != "value"}, "value": stored}
    if row.value == value:
        return [Change(kind, "settings", "unchanged")]
    old = row.value.get("value", {})
    changed = sorted(k for k in set(old) | set(stored) if old.get(k) != stored.get(k))
    row.value, row.updated_at = value, clock.now()
    return [Change(kind, "settings", "updated", changed)]


def _sync(row: Any, values: dict[str, Any]) -> list[str]:
    """Set ``values`` on ``row``; return the names of fields that really changed."""
    changed = []
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed.append(key)
    return changed


async def apply_workspace(
    session: AsyncSession, loaded: LoadedWorkspace, *, actor: str
) -> ApplyReport:
    spec = loaded.spec
    now = clock.now()
    report = ApplyReport()

    if spec.settings is not None:
        current = {
            key: value["value"]
            for key, value in (
                await session.execute(select(WorkspaceSetting.key, WorkspaceSetting.value))
            ).all()
        }
        declared = spec.settings.model_dump(exclude_unset=True)
        for key, raw in declared.items():
            value = dump_setting(raw)
            if key not in current:
                session.add(WorkspaceSetting(key=key, value={"value": value}, updated_at=now))
                report.changes.append(Change("setting", key, "created"))
            elif current[key] != value:
                row = await session.get(WorkspaceSetting, key)
                assert row is not None
                row.value, row.updated_at = {"value": value}, now
                report.changes.append(Change("setting", key, "updated"))
            else:
                report.changes.append(Change("setting", key, "unchanged"))

    for channel in spec.channels:
        row = await session.scalar(select(Channel).where(Channel.name == channel.name))
        values: dict[str, Any] = {
            "kind": channel.kind,
            "display_name": channel.display_name,
            "enabled": channel.enabled,
            "settings": channel.settings,
        }
        if row is None:
            session.add(
                Channel(id=new_id(), name=channel.name, created_at=now, updated_at=now, **values)
            )
            report.changes.append(Change("channel", channel.name, "created"))
            continue
        if row.kind != channel.kind:
            index = spec.channels.index(channel)
            raise loaded.error(
                ("channels", index, "kind"),
                f"channel {channel.name!r} exists with kind {row.kind!r}; a channel's kind "
                "cannot change (create a channel with a new name)",
            )
        changed = _sync(row, values)
        if changed:
            row.updated_at = now
        report.changes.append(
            Change("channel", channel.name, "updated" if changed else "unchanged", changed)
        )

    teams: dict[str, Team] = {t.name: t for t in (await session.scalars(select(Team))).all()}
    for team in spec.teams:
        existing = teams.get(team.name)
        if existing is None:
            existing = Team(
                id=new_id(),
                name=team.name,
                description=team.description,
                created_at=now,
                updated_at=now,
            )
            session.add(existing)
            teams[team.name] = existing
            report.changes.append(Change("team", team.name, "created"))
        else:
            changed = _sync(existing, {"description": team.description})
            if changed:
                existing.updated_at = now
            report.changes.append(
                Change("team", team.name, "updated" if changed else "unchanged", changed)
            )
    await session.flush()

    for index, agent in enumerate(spec.agents):
        for team_index, team_name in enumerate(agent.teams):
            if team_name not in teams:
                raise loaded.error(
                    ("agents", index, "teams", team_index),
                    f"no team named {team_name!r} (declare it under teams:)",
                )
        agent_row = await session.scalar(select(Agent).where(Agent.email == agent.email))
        agent_values: dict[str, Any] = {
            "name": agent.name,
            "role": agent.role,
            "languages": agent.languages,
            "skills": agent.skills,
            "capacity": agent.capacity,
            "active": agent.active,
        }
        if agent_row is None:
            agent_row = Agent(
                id=new_id(),
                email=agent.email,
                presence="offline",
                created_at=now,
                updated_at=now,
                **agent_values,
            )
            session.add(agent_row)
            await session.flush()
            action, changed = "created", []
        else:
            changed = _sync(agent_row, agent_values)
            action = "updated" if changed else "unchanged"
        wanted = {teams[name].id for name in agent.teams}
        current_teams = set(
            (
                await session.scalars(
                    select(agent_teams.c.team_id).where(agent_teams.c.agent_id == agent_row.id)
                )
            ).all()
        )
        if wanted != current_teams:
            await session.execute(delete(agent_teams).where(agent_teams.c.agent_id == agent_row.id))
            if wanted:
                await session.execute(
                    insert(agent_teams),
                    [{"agent_id": agent_row.id, "team_id": t} for t in sorted(wanted)],
                )
            changed.append("teams")
            action = "created" if action == "created" else "updated"
        if changed:
            agent_row.updated_at = now
            await session.flush()
            await agent_changed(session, agent_row.id, set(changed), actor=actor)
        report.changes.append(Change("agent", agent.email, action, changed))

    _check_sla_teams(loaded, spec.sla, set(teams))
    if spec.outreach is not None:
        names = list((await session.scalars(select(Channel.name))).all())
        for path, key in unknown_channel_keys(spec.outreach, names)[:1]:
            raise loaded.error(path, channel_key_problem(key, names))
    report.changes.extend(await apply_knowledge_base(session, loaded, actor=actor))
    report.changes.extend(await apply_routing(session, spec.routing, actor=actor))
    report.changes.extend(await apply_sla(session, spec.sla, actor=actor))
    report.changes.extend(await apply_outreach(session, spec.outreach, actor=actor))
    report.changes.extend(await apply_bot(session, loaded, actor=actor))
    report.changes.extend(await apply_context_providers(session, spec.context_providers))
    report.changes.extend(await apply_canned_replies(session, spec.canned_replies, actor=actor))

    if report.changed:
        await publish(
            session,
            WorkspaceApplied(
                source=loaded.path,
                changes=[
                    {"kind": c.kind, "name": c.name, "action": c.action} for c in report.changed
                ],
            ),
            actor=actor,
        )
    return report
