"""The hub's signing key, for tokens it hands to browsers (widget visitors, sign-in cookies).

``RELAYDESK_SECRET_KEY`` sets it for every instance; without it the first instance generates
one and stores it in the database, so all instances sharing the database agree.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.workspace.models import WorkspaceSetting

KEY_SETTING = "_signing_key"


async def _stored_key(session: AsyncSession) -> str:
    row = await session.scalar(select(WorkspaceSetting).where(WorkspaceSetting.key == KEY_SETTING))
    if row is not None:
        return str(row.value["value"])
    key = secrets.token_urlsafe(48)
    session.add(WorkspaceSetting(key=KEY_SETTING, value={"value": key}, updated_at=clock.now()))
    await session.flush()
    return key


async def signing_key(hub: Hub) -> str:
    if hub.settings.secret_key is not None:
        return hub.settings.secret_key.get_secret_value()
    return await hub.config_cache.get(KEY_SETTING, lambda: hub.db.transaction(_stored_key))
