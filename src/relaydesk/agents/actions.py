"""Writes for agents and API tokens."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import ApiToken
from relaydesk.agents.tokens import generate_token, hash_token
from relaydesk.db import new_id


class TokenNameTaken(ValueError):
    pass


async def create_token(session: AsyncSession, name: str) -> str:
    """Create a token called ``name`` and return its secret (the only time it is visible)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a token name is 1 to 100 characters")
    if await session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenNameTaken(f"a token named {name!r} exists; revoke it or choose another name")
    secret = generate_token()
    session.add(
        ApiToken(id=new_id(), name=name, token_hash=hash_token(secret), created_at=clock.now())
    )
    await session.flush()
    return secret


async def revoke_token(session: AsyncSession, name: str) -> bool:
    """Revoke and rename the token so its name can be reused; False if there is none."""
    token = await session.scalar(
        select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if token is None:
        return False
    now = clock.now()
    token.revoked_at = now
    token.name = f"{name} (revoked {now:%Y-%m-%dT%H:%M:%S.%f})"[:100]
    await session.flush()
    return True


async def mark_token_used(session: AsyncSession, token_id: object) -> None:
    await session.execute(
        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=clock.now())
    )
