"""The workspace file's ``routing:`` section, stored as one workspace setting."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.routing.queries import CONFIG_KEY
from relaydesk.routing.schemas import Coefficients, RoutingConfig
from relaydesk.workspace.models import WorkspaceSetting

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change


def stored_form(config: RoutingConfig) -> dict[str, Any]:
    """What the file declared, JSON-ready (durations as seconds, as the file may write them)."""

    def plain(value: Any) -> Any:
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    result: dict[str, Any] = plain(config.model_dump(exclude_unset=True))
    return result


async def apply_routing(
    session: AsyncSession, config: RoutingConfig | None, *, actor: str
) -> list[Change]:
    """Idempotent: the same section twice reports ``unchanged``; no section changes nothing."""
    from relaydesk.workspace.actions import store_section  # the workspace imports this module

    if config is None:
        return []
    return await store_section(session, "routing", CONFIG_KEY, stored_form(config))


async def store_coefficients(session: AsyncSession, coefficients: Coefficients) -> bool:
    """Keep refitted coefficients beside the declared section (``fitted``), so applying the
    workspace file again keeps them; they are used unless the file declares
    ``routing.coefficients`` itself (then False: the file wins, put them in the file)."""
    row = await session.get(WorkspaceSetting, CONFIG_KEY, with_for_update=True)
    fitted = coefficients.model_dump()
    declared = dict(row.value.get("value", {})) if row else {}
    RoutingConfig.model_validate({**declared, "coefficients": fitted})  # readable back
    if row is None:
        session.add(
            WorkspaceSetting(
                key=CONFIG_KEY, value={"value": {}, "fitted": fitted}, updated_at=clock.now()
            )
        )
    else:
        row.value, row.updated_at = {**row.value, "fitted": fitted}, clock.now()
    return "coefficients" not in declared
