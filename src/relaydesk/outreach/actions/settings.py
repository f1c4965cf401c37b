"""The workspace file's ``outreach:`` section, stored as one workspace setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.outreach.config import OutreachConfig, stored_form
from relaydesk.outreach.queries import CONFIG_KEY
from relaydesk.workspace.models import WorkspaceSetting

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change


async def apply_outreach(
    session: AsyncSession, config: OutreachConfig | None, *, actor: str
) -> list[Change]:
    """Idempotent: the same section twice reports ``unchanged``; no section changes nothing."""
    from relaydesk.workspace.actions import Change  # the workspace imports this module

    if config is None:
        return []
    value = {"value": stored_form(config)}
    row = await session.get(WorkspaceSetting, CONFIG_KEY)
    if row is None:
        session.add(WorkspaceSetting(key=CONFIG_KEY, value=value, updated_at=clock.now()))
        return [Change("outreach", "settings", "created")]
    if row.value == value:
        return [Change("outreach", "settings", "unchanged")]
    old = row.value.get("value", {})
    changed = sorted(
        k for k in set(old) | set(value["value"]) if old.get(k) != value["value"].get(k)
    )
    row.value, row.updated_at = value, clock.now()
    return [Change("outreach", "settings", "updated", changed)]
