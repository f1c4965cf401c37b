"""Queue order: value, SLA urgency, aging — and nothing starves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaydesk.routing.queue import (
    QueueEntry,
    aging_points,
    estimated_wait,
    ordered,
    priority,
    sla_points,
    starvation_bound,
    value_points,
)
from relaydesk.routing.schemas import RoutingConfig

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONFIG = RoutingConfig()

entry_st = st.builds(
    QueueEntry,
    journey_id=st.uuids(),
    value=st.floats(0, 1e6),
    enqueued_at=st.integers(0, 7200).map(lambda s: NOW - timedelta(seconds=s)),
    sla_due_at=st.one_of(
        st.none(), st.integers(-3600, 7200).map(lambda s: NOW + timedelta(seconds=s))
    ),
)


def test_points() -> None:
    assert value_points(1000, CONFIG) == pytest.approx(50)
    assert value_points(10**9, CONFIG) == 100
    assert value_points(-5, CONFIG) == 0
    assert sla_points(None, NOW, CONFIG) == 0
    assert sla_points(NOW + timedelta(hours=1), NOW, CONFIG) == 0
    assert sla_points(NOW + timedelta(minutes=15), NOW, CONFIG) == pytest.approx(50)
    assert sla_points(NOW - timedelta(minutes=1), NOW, CONFIG) == 100
    assert aging_points(NOW - timedelta(minutes=3), NOW, CONFIG) == pytest.approx(30)
    assert aging_points(NOW + timedelta(minutes=3), NOW, CONFIG) == 0
    assert starvation_bound(CONFIG) == timedelta(minutes=20)


def test_order_prefers_value_then_urgency_then_waiting() -> None:
    a, b, c, d = (uuid.UUID(int=i) for i in range(1, 5))
    entries = [
        QueueEntry(a, 50, NOW),
        QueueEntry(b, 1500, NOW),
        QueueEntry(c, 50, NOW, sla_due_at=NOW + timedelta(minutes=1)),
        QueueEntry(d, 50, NOW - timedelta(minutes=30)),
    ]
    assert [e.journey_id for e in ordered(entries, NOW, CONFIG)] == [d, c, b, a]


def test_estimated_wait() -> None:
    assert estimated_wait(1, 0, CONFIG) is None
    assert estimated_wait(4, 2, CONFIG) == pytest.approx(2 * 360)
    assert estimated_wait(1, 6, CONFIG) == pytest.approx(60)


@given(entry_st, entry_st)
def test_aging_is_bounded_nothing_starves(x: QueueEntry, y: QueueEntry) -> None:
    """Whoever waited longer than the bound more than the other is ahead, whatever the rest."""
    bound = starvation_bound(CONFIG)
    if y.enqueued_at - x.enqueued_at > bound:
        assert priority(x, NOW, CONFIG) > priority(y, NOW, CONFIG)
        assert ordered([y, x], NOW, CONFIG)[0] is x


@given(entry_st, st.floats(0, 1e6), st.integers(0, 3600))
def test_priority_is_monotone(entry: QueueEntry, extra: float, seconds: int) -> None:
    richer = QueueEntry(entry.journey_id, entry.value + extra, entry.enqueued_at, entry.sla_due_at)
    assert priority(richer, NOW, CONFIG) >= priority(entry, NOW, CONFIG)
    later = NOW + timedelta(seconds=seconds)
    assert priority(entry, later, CONFIG) >= priority(entry, NOW, CONFIG)
    assert priority(entry, NOW, CONFIG) <= 200 + aging_points(entry.enqueued_at, NOW, CONFIG)


@given(st.lists(entry_st, max_size=30))
def test_order_is_a_total_deterministic_order(entries: list[QueueEntry]) -> None:
    once = ordered(entries, NOW, CONFIG)
    assert ordered(list(reversed(entries)), NOW, CONFIG) == once
    points = [priority(e, NOW, CONFIG) for e in once]
    assert points == sorted(points, reverse=True)
