"""Rate limits for widget sockets: messages per visitor, frames per connection.

Both are per process: a visitor's socket lives on one instance, so the message limit holds
per instance (a reconnect to another instance starts a fresh window).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from relaydesk import clock

WINDOW = timedelta(minutes=1)


class MessageRateLimiter:
    """At most ``limit`` messages per sliding minute per visitor."""

    def __init__(self, max_visitors: int = 50_000) -> None:
        self._seen: dict[str, deque[datetime]] = {}
        self._max_visitors = max_visitors

    def check(self, visitor: str, limit: int) -> float | None:
        """Count one message; None if allowed, else seconds until the next is allowed."""
        now = clock.now()
        times = self._seen.setdefault(visitor, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) >= limit:
            return max(0.1, (times[0] + WINDOW - now).total_seconds())
        times.append(now)
        if len(self._seen) > self._max_visitors:
            self._prune(now)
        return None

    def _prune(self, now: datetime) -> None:
        for visitor in [v for v, t in self._seen.items() if not t or t[-1] <= now - WINDOW]:
            del self._seen[visitor]


class FrameBucket:
    """Token bucket for any frame on one connection (typing, receipts, pings included)."""

    def __init__(self, capacity: float = 30, per_second: float = 5) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._tokens = capacity
        self._at = clock.now()
        self.refused = 0

    def take(self) -> bool:
        now = clock.now()
        elapsed = max(0.0, (now - self._at).total_seconds())
        self._tokens = min(self.capacity, self._tokens + elapsed * self.per_second)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self.refused = 0
            return True
        self.refused += 1
        return False


messages = MessageRateLimiter()
