"""Dependencies shared by every /api/v1 route: the hub and bearer-token authentication."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from relaydesk.agents.models import ApiToken
from relaydesk.agents.tokens import hash_token
from relaydesk.api.errors import ApiError
from relaydesk.hub import Hub

TOKEN_CACHE_SECONDS = 5.0
"""How long a checked token is trusted without asking the database (revocation delay)."""

_bearer = HTTPBearer(auto_error=False, description="An API token from `relaydesk token create`")


async def get_hub(request: Request) -> Hub:
    """Async on purpose: FastAPI runs a plain ``def`` dependency on a worker thread."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API token (later also a signed-in agent)."""

    kind: str
    id: uuid.UUID
    name: str

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


class TokenCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or time.monotonic() - entry[0] > TOKEN_CACHE_SECONDS:
            return None
        return entry[1]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (time.monotonic(), principal)


async def require_token(
    request: Request,
    hub: HubDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized()
    digest = hash_token(credentials.credentials)
    cache: TokenCache = request.app.state.token_cache
    principal = cache.get(digest)
    if principal is not None:
        return principal
    async with hub.db.read() as session:
        row = (
            await session.execute(
                select(ApiToken.id, ApiToken.name).where(
                    ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None:
        raise _unauthorized()
    principal = Principal("token", row[0], row[1])
    cache.put(digest, principal)
    return principal


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "send an API token as 'Authorization: Bearer <token>' (create one with "
        "`relaydesk token create NAME`)",
        headers={"WWW-Authenticate": "Bearer"},
    )


PrincipalDep = Annotated[Principal, Depends(require_token)]
