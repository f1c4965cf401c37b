"""A tiny time-bounded cache for configuration read on every request (channels, settings)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class TTLCache:
    """Values expire after ``ttl`` seconds; other instances see a change within that time.

    Single-flight: when a value expires under load, the requests that miss it together wait
    for one load instead of each reading the database again.
    """

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._values: dict[Any, tuple[float, Any]] = {}
        self._loading: dict[Any, asyncio.Task[Any]] = {}
        self._generation = 0
        """Bumped by ``clear``: a load that started before it must not store its value."""

    async def get(self, key: Any, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            value: T = hit[1]
            return value
        loop = asyncio.get_running_loop()
        task = self._loading.get(key)
        if task is None or task.get_loop() is not loop:
            task = self._loading[key] = loop.create_task(self._load(key, load, now))
        # shield: a waiter that is cancelled leaves the load running for the others.
        result: T = await asyncio.shield(task)
        return result

    async def _load(self, key: Any, load: Callable[[], Awaitable[T]], started: float) -> T:
        generation = self._generation
        try:
            value = await load()
            if generation == self._generation:
                self._values[key] = (started, value)
            return value
        finally:
            if generation == self._generation:
                self._loading.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
        self._loading.clear()
        self._generation += 1
