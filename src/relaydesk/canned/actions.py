"""The only writes to canned replies: the workspace file's section and the admin page's
edits (each with its audit entry, in the same transaction)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.audit.actions import record
from relaydesk.canned.models import CannedReply
from relaydesk.canned.schemas import CannedReplySpec
from relaydesk.db import new_id

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change


class CannedNameTaken(ValueError):
    pass


class CannedNotFound(LookupError):
    pass


def _values(row: CannedReply) -> dict[str, Any]:
    return {"name": row.name, "title": row.title, "texts": dict(row.texts)}


async def apply_canned_replies(
    session: AsyncSession, specs: list[CannedReplySpec], *, actor: str
) -> list[Change]:
    """Create or update the declared canned replies; others are left alone (declarative,
    like the rest of the file: remove one on the admin page)."""
    from relaydesk.workspace.actions import Change

    now = clock.now()
    existing = {r.name: r for r in (await session.scalars(select(CannedReply))).all()}
    changes: list[Change] = []
    for spec in specs:
        row = existing.get(spec.name)
        if row is None:
            session.add(
                CannedReply(
                    id=new_id(),
                    name=spec.name,
                    title=spec.title,
                    texts=dict(spec.texts),
                    created_at=now,
                    updated_at=now,
                )
            )
            changes.append(Change("canned_reply", spec.name, "created"))
            continue
        changed = [
            key
            for key, value in (("title", spec.title), ("texts", dict(spec.texts)))
            if getattr(row, key) != value
        ]
        if changed:
            row.title, row.texts, row.updated_at = spec.title, dict(spec.texts), now
        changes.append(
            Change("canned_reply", spec.name, "updated" if changed else "unchanged", changed)
        )
    await session.flush()
    return changes


async def save_canned_reply(
    session: AsyncSession,
    reply_id: uuid.UUID | None,
    spec: CannedReplySpec,
    *,
    actor: str,
    actor_name: str,
) -> uuid.UUID:
    """Create (``reply_id`` None) or replace one canned reply, audited."""
    clash = await session.scalar(select(CannedReply).where(CannedReply.name == spec.name))
    if clash is not None and clash.id != reply_id:
        raise CannedNameTaken(spec.name)
    now = clock.now()
    after = {"name": spec.name, "title": spec.title, "texts": dict(spec.texts)}
    if reply_id is None:
        row = CannedReply(id=new_id(), created_at=now, updated_at=now, **after)
        session.add(row)
        await session.flush()
        await record(
            session,
            actor=actor,
            actor_name=actor_name,
            action="canned_reply.created",
            target_kind="canned_reply",
            target=spec.name,
            after=after,
        )
        return row.id
    found = await session.get(CannedReply, reply_id, with_for_update=True)
    if found is None:
        raise CannedNotFound(str(reply_id))
    before = _values(found)
    if before != after:
        found.name, found.title, found.texts = spec.name, spec.title, dict(spec.texts)
        found.updated_at = now
        await session.flush()
        await record(
            session,
            actor=actor,
            actor_name=actor_name,
            action="canned_reply.updated",
            target_kind="canned_reply",
            target=spec.name,
            before=before,
            after=after,
        )
    return found.id


async def delete_canned_reply(
    session: AsyncSession, reply_id: uuid.UUID, *, actor: str, actor_name: str
) -> None:
    row = await session.get(CannedReply, reply_id, with_for_update=True)
    if row is None:
        raise CannedNotFound(str(reply_id))
    before = _values(row)
    await session.delete(row)
    await session.flush()
    await record(
        session,
        actor=actor,
        actor_name=actor_name,
        action="canned_reply.deleted",
        target_kind="canned_reply",
        target=before["name"],
        before=before,
        after={},
    )
