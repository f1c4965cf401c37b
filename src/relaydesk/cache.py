"""A tiny time-bounded cache for configuration read on every request (channels, settings)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class TTLCache:
    """Values expire after ``ttl`` seconds; other instances see a change within that time."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._values: dict[Any, tuple[float, Any]] = {}

    async def get(self, key: Any, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            value: T = hit[1]
            return value
        value = await load()
        self._values[key] = (now, value)
        return value

    def clear(self) -> None:
        self._values.clear()
