"""Reads of the bot's workspace configuration: the stored ``bot:`` section and its version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.workspace.models import WorkspaceSetting

INTENTS_KEY = "_bot_intents"
"""Workspace setting holding the stored ``bot:`` section (``{"value": {...}}``)."""
VERSION_KEY = "_bot_intents_version"
"""Its version hash, in a row of its own so the hub can check it on every turn cheaply."""


async def intents_version(session: AsyncSession) -> str | None:
    """The version of the workspace's intents, or None for the default pack alone."""
    value = await session.scalar(
        select(WorkspaceSetting.value).where(WorkspaceSetting.key == VERSION_KEY)
    )
    version = (value or {}).get("value")
    return str(version) if version else None


async def intents_definition(session: AsyncSession) -> tuple[str, dict[str, Any]] | None:
    """(version, stored section), or None when the workspace declares no intents."""
    rows: dict[str, dict[str, Any]] = dict(
        (
            await session.execute(
                select(WorkspaceSetting.key, WorkspaceSetting.value).where(
                    WorkspaceSetting.key.in_((INTENTS_KEY, VERSION_KEY))
                )
            )
        ).all()
    )
    if INTENTS_KEY not in rows or VERSION_KEY not in rows:
        return None
    return str(rows[VERSION_KEY]["value"]), dict(rows[INTENTS_KEY]["value"])
