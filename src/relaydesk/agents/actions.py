"""Writes for agents and API tokens."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent, ApiToken
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


ROLES = ("agent", "supervisor", "admin")


class AgentExists(ValueError):
    pass


class AgentNotFound(LookupError):
    pass


async def create_agent(
    session: AsyncSession, email: str, *, name: str, role: str, password_hash: str
) -> Agent:
    """Create a console user; ``email`` must be normalised and the password already hashed
    (hashing is slow, so it happens outside the retried transaction)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a name is 1 to 200 characters")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if await session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise AgentExists(
            f"an agent with email {email} exists; use `relaydesk agent password` to set "
            "a new password"
        )
    now = clock.now()
    agent = Agent(
        id=new_id(),
        email=email,
        name=name,
        role=role,
        presence="offline",
        password_hash=password_hash,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(agent)
    await session.flush()
    return agent


async def set_password(session: AsyncSession, email: str, password_hash: str) -> Agent:
    """Replace an agent's password hash (open console sessions are ended by the caller)."""
    agent = await session.scalar(select(Agent).where(Agent.email == email).with_for_update())
    if agent is None:
        raise AgentNotFound(f"no agent with email {email}")
    agent.password_hash = password_hash
    agent.updated_at = clock.now()
    await session.flush()
    return agent
