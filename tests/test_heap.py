"""heap.settle freezes the long-lived heap only in processes that asked for it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from relaydesk import heap


@pytest.fixture
def fresh_heap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(heap, "_enabled", False)
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process collects its objects as before


def test_settle_does_nothing_unless_an_entry_point_enabled_it(fresh_heap: None) -> None:
    heap.settle("test")
    assert gc.get_freeze_count() == 0


def test_settle_collects_garbage_then_freezes_what_is_alive(fresh_heap: None) -> None:
    class Node:
        other: object = None

    garbage = Node()
    garbage.other = Node()
    garbage.other.other = garbage  # a cycle only the collector frees
    freed: list[int] = []
    gc.callbacks.append(
        lambda phase, info: freed.append(info["collected"]) if phase == "stop" else None
    )
    try:
        del garbage
        heap.enable()
        heap.settle("test")
    finally:
        gc.callbacks.pop()
    assert sum(freed) >= 2, "the cycle was collected before freezing"
    assert gc.get_freeze_count() > 0
