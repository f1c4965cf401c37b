"""The running hub's shared services, handed to routes, listeners and the CLI."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from relaydesk.cache import TTLCache
from relaydesk.db import Database
from relaydesk.ingest import IngestQueue
from relaydesk.realtime import Broadcast, MemoryBroadcast, RedisBroadcast
from relaydesk.settings import Settings


@dataclass
class Hub:
    settings: Settings
    db: Database
    broadcast: Broadcast = field(default_factory=MemoryBroadcast)
    work_available: asyncio.Event = field(default_factory=asyncio.Event)
    """Set after a commit that queued outbox work, so the worker wakes without polling."""
    config_cache: TTLCache = field(default_factory=TTLCache)
    """Channels and workspace settings, re-read at most once a second."""
    http: httpx.AsyncClient = field(
        default_factory=lambda: httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False
        )
    )
    """For provider APIs (only the worker calls providers, never a request handler)."""

    ingest: IngestQueue = field(init=False, repr=False)
    """Inbound messages that arrive together are stored in one transaction."""

    def __post_init__(self) -> None:
        self.ingest = IngestQueue(self.db)

    def wake_worker(self) -> None:
        self.work_available.set()

    @classmethod
    def from_settings(cls, settings: Settings) -> Hub:
        """Redis fans live events out across instances when RELAYDESK_REDIS_URL is set."""
        broadcast: Broadcast = (
            RedisBroadcast(settings.redis_url) if settings.redis_url else MemoryBroadcast()
        )
        return cls(
            settings=settings,
            db=Database.connect(settings.database_url, pool_size=settings.db_pool_size),
            broadcast=broadcast,
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.broadcast.close()
        await self.db.dispose()
