"""The only writes of the console's sign-in state: sessions and failed sign-ins."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.console.models import ConsoleSession, SignInFailure
from relaydesk.db import new_id

RETAIN = timedelta(days=1)


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
