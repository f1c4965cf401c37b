"""The only writes of the console's own state: sessions, failed sign-ins, read markers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.console.models import ConsoleSession, ReadMarker, SignInFailure
from relaydesk.console.schemas import ContextProviderSpec
from relaydesk.db import new_id
from relaydesk.workspace.models import WorkspaceSetting

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change

RETAIN = timedelta(days=1)
CONTEXT_PROVIDERS_KEY = "_context_providers"
"""The workspace setting that stores the ``context_providers:`` section as declared."""


async def open_session(
    session: AsyncSession, agent_id: uuid.UUID, token_hash: str, *, lifetime: timedelta
) -> ConsoleSession:
    now = clock.now()
    # Forget sessions that ended a day ago or more, so the table stays the size of the team.
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now - RETAIN))
    row = ConsoleSession(
        id=new_id(),
        token_hash=token_hash,
        agent_id=agent_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return row


async def touch_session(session: AsyncSession, session_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.last_seen_at < at)
        .values(last_seen_at=at)
    )


async def revoke_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


async def revoke_agent_sessions(session: AsyncSession, agent_id: uuid.UUID) -> None:
    """End every session of an agent (after a password change)."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.agent_id == agent_id, ConsoleSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


async def record_failure(session: AsyncSession, keys: list[str], *, keep: timedelta) -> None:
    """Count a failed sign-in against each key; forget every failure older than ``keep``
    (so the table holds at most one lock-out window of failures, whatever an attacker tries)."""
    now = clock.now()
    await session.execute(delete(SignInFailure).where(SignInFailure.created_at < now - keep))
    for key in keys:
        session.add(SignInFailure(id=new_id(), key=key, created_at=now))
    await session.flush()


async def clear_failures(session: AsyncSession, key: str) -> None:
    await session.execute(delete(SignInFailure).where(SignInFailure.key == key))


async def mark_read(
    session: AsyncSession, agent_id: uuid.UUID, journey_id: uuid.UUID, seen_at: datetime
) -> None:
    """The agent has seen the journey as it was at ``seen_at`` (when the page was read, so a
    message arriving while it rendered stays unread). Never moves a marker backwards."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(ReadMarker).values(agent_id=agent_id, journey_id=journey_id, read_at=seen_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ReadMarker.agent_id, ReadMarker.journey_id],
            set_={"read_at": statement.excluded.read_at},
            where=ReadMarker.read_at < statement.excluded.read_at,
        )
    )


async def apply_context_providers(
    session: AsyncSession, providers: list[ContextProviderSpec] | None
) -> list[Change]:
    """Store the section as declared (idempotent); no section leaves the stored one alone,
    an empty list removes every provider."""
    from relaydesk.workspace.actions import Change  # the workspace imports this module

    if providers is None:
        return []
    value = {"value": [p.model_dump(mode="json") for p in providers]}
    row = await session.get(WorkspaceSetting, CONTEXT_PROVIDERS_KEY)
    if row is None:
        session.add(
            WorkspaceSetting(key=CONTEXT_PROVIDERS_KEY, value=value, updated_at=clock.now())
        )
        return [Change("context_providers", "settings", "created")]
    if row.value == value:
        return [Change("context_providers", "settings", "unchanged")]
    before = {p["name"]: p for p in row.value.get("value", [])}
    after = {p["name"]: p for p in value["value"]}
    changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    row.value, row.updated_at = value, clock.now()
    return [Change("context_providers", "settings", "updated", changed)]
