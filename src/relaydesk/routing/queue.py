"""Order of the waiting journeys: value, SLA urgency and waiting time, in points.

Value gives at most 100 points (at ``value_cap``), SLA urgency at most 100 (at the due time),
and every minute waited adds ``aging_per_minute``; so a journey that has waited
``starvation_bound`` longer than another is always ahead of it — nothing starves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from relaydesk.routing.schemas import RoutingConfig

VALUE_POINTS = 100.0
SLA_POINTS = 100.0


@dataclass(frozen=True, slots=True)
class QueueEntry:
    journey_id: uuid.UUID
    value: float
    enqueued_at: datetime
    sla_due_at: datetime | None = None


def value_points(value: float, config: RoutingConfig) -> float:
    return VALUE_POINTS * min(max(value, 0.0), config.value_cap) / config.value_cap


def sla_points(due_at: datetime | None, now: datetime, config: RoutingConfig) -> float:
    """0 without a due time or far from it, rising to 100 at and after the due time."""
    if due_at is None:
        return 0.0
    remaining = (due_at - now).total_seconds()
    horizon = config.sla_horizon.total_seconds()
    if remaining <= 0:
        return SLA_POINTS
    if horizon <= 0 or remaining >= horizon:
        return 0.0
    return SLA_POINTS * (1.0 - remaining / horizon)


def aging_points(enqueued_at: datetime, now: datetime, config: RoutingConfig) -> float:
    waited = max(0.0, (now - enqueued_at).total_seconds())
    return config.aging_per_minute * waited / 60.0


def priority(entry: QueueEntry, now: datetime, config: RoutingConfig) -> float:
    return (
        value_points(entry.value, config)
        + sla_points(entry.sla_due_at, now, config)
        + aging_points(entry.enqueued_at, now, config)
    )


def starvation_bound(config: RoutingConfig) -> timedelta:
    """Waiting this much longer than another journey always puts one ahead of it."""
    return timedelta(minutes=(VALUE_POINTS + SLA_POINTS) / config.aging_per_minute)


def ordered(
    entries: Iterable[QueueEntry], now: datetime, config: RoutingConfig
) -> list[QueueEntry]:
    """Highest priority first; ties go to the longest waiting, then by id (deterministic)."""
    return sorted(
        entries,
        key=lambda e: (-priority(e, now, config), e.enqueued_at, e.journey_id),
    )


def estimated_wait(position: int, online_agents: int, config: RoutingConfig) -> float | None:
    """Seconds until a person picks up the journey at ``position`` (1 = next), roughly: a
    journey waits because everyone is busy, and the online agents free a place every
    average handle time between them. None with nobody online."""
    if online_agents <= 0:
        return None
    return position * config.average_handle_time.total_seconds() / online_agents
