"""Live fan-out of events to websockets: in memory for one process, Redis for many."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis.asyncio as aioredis


class Broadcast(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    def subscribe(
        self, topic: str
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]: ...

    async def close(self) -> None: ...


class MemoryBroadcast:
    """Fan-out within one process. A slow subscriber loses its oldest messages, never blocks."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._queue_size = queue_size

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[topic]

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    async def close(self) -> None:
        self._subscribers.clear()


log = logging.getLogger("relaydesk.realtime")

RESYNC: dict[str, Any] = {"type": "_resync"}
"""Told to every local subscriber after Redis reconnected: messages may have been missed."""
SUBSCRIBE_TIMEOUT = 5.0


class RedisBroadcast:
    """Fan-out through Redis pub/sub; a slow local subscriber loses its oldest messages."""

    def __init__(
        self, url: str, *, prefix: str = "relaydesk:live:", queue_size: int = 1000
    ) -> None:
        import redis.asyncio as aioredis  # only installs that fan out through Redis pay for it
        from redis.exceptions import RedisError

        self._errors: tuple[type[Exception], ...] = (RedisError, OSError)
        self._redis: aioredis.Redis = aioredis.Redis.from_url(url, health_check_interval=30)
        self._prefix = prefix
        self._queue_size = queue_size
        self._local: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._pubsub: Any = None
        self._lock = asyncio.Lock()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":"), default=str)
        await self._redis.publish(self._prefix + topic, payload)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        await self._start()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._local.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._local.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._local[topic]

    def subscriber_count(self, topic: str) -> int:
        return len(self._local.get(topic, ()))

    async def _start(self) -> None:
        if self._reader is not None and not self._reader.done():
            return
        async with self._lock:
            if self._reader is not None and not self._reader.done():
                return
            pubsub = self._redis.pubsub()
            await pubsub.psubscribe(self._prefix + "*")
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                while True:  # wait until Redis confirms: from now on nothing is missed
                    reply = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT)
                    if reply is not None and reply["type"] == "psubscribe":
                        break
            self._pubsub = pubsub
            self._reader = asyncio.create_task(self._read(pubsub), name="redis-broadcast")

    async def _read(self, pubsub: Any) -> None:
        delay = 0.1
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except self._errors as exc:
                log.warning("live fan-out lost Redis (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if message is None:
                continue
            delay = 0.1
            if message["type"] == "psubscribe":
                # redis-py re-subscribes after reconnecting: anything in between is lost.
                log.info("live fan-out reconnected to Redis; asking subscribers to resync")
                for topic in list(self._local):
                    self._deliver(topic, RESYNC)
                continue
            if message["type"] != "pmessage":
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[
                len(self._prefix) :
            ]
            try:
                data = json.loads(message["data"])
            except ValueError:
                continue
            if isinstance(data, dict):
                self._deliver(topic, data)

    def _deliver(self, topic: str, message: dict[str, Any]) -> None:
        for queue in list(self._local.get(topic, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(*self._errors):
                await self._pubsub.aclose()
            self._pubsub = None
        with contextlib.suppress(*self._errors):
            await self._redis.aclose()
        self._local.clear()
