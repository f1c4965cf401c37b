"""The workspace file's ``outreach:`` section, stored as one workspace setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.outreach.config import OutreachConfig, stored_form
from relaydesk.outreach.queries import CONFIG_KEY

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change


async def apply_outreach(
    session: AsyncSession, config: OutreachConfig | None, *, actor: str
) -> list[Change]:
    """Idempotent: the same section twice reports ``unchanged``; no section changes nothing."""
    from relaydesk.workspace.actions import store_section  # the workspace imports this module

    if config is None:
        return []
    return await store_section(session, "outreach", CONFIG_KEY, stored_form(config))
