"""The configuration cache: expiry, single-flight loads, and clear() during a load."""

from __future__ import annotations

import asyncio

import pytest

from relaydesk.cache import TTLCache


async def test_concurrent_misses_share_one_load() -> None:
    cache = TTLCache(ttl=60)
    calls = 0
    gate = asyncio.Event()

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return calls

    waiters = [asyncio.create_task(cache.get("k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [1] * 20
    assert calls == 1
    assert await cache.get("k", load) == 1  # cached now


async def test_value_expires_after_ttl() -> None:
    cache = TTLCache(ttl=0.01)
    values = iter([1, 2])

    async def load() -> int:
        return next(values)

    assert await cache.get("k", load) == 1
    await asyncio.sleep(0.02)
    assert await cache.get("k", load) == 2


async def test_a_failed_load_is_not_cached_and_reaches_every_waiter() -> None:
    cache = TTLCache(ttl=60)
    attempts = 0

    async def load() -> int:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        if attempts == 1:
            raise RuntimeError("database away")
        return 7

    results = await asyncio.gather(
        cache.get("k", load), cache.get("k", load), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.get("k", load) == 7
    assert attempts == 2


async def test_a_cancelled_waiter_leaves_the_load_to_the_others() -> None:
    cache = TTLCache(ttl=60)
    gate = asyncio.Event()

    async def load() -> str:
        await gate.wait()
        return "v"

    first = asyncio.create_task(cache.get("k", load))
    second = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "v"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_clear_during_a_load_keeps_the_old_value_out() -> None:
    cache = TTLCache(ttl=60)
    gate, started = asyncio.Event(), asyncio.Event()
    version = "old"

    async def load() -> str:
        seen = version
        started.set()
        await gate.wait()
        return seen

    stale = asyncio.create_task(cache.get("k", load))
    await started.wait()
    version = "new"
    cache.clear()  # e.g. the workspace was applied while the old config was being read
    gate.set()
    assert await stale == "old"  # that caller asked before the change
    assert await cache.get("k", load) == "new"
