"""Routing's tables: decisions with their reasons, the waiting queue, offers/assignments, loads.

An assignment row is the offer too: ``offered`` (reserves the agent's capacity until the
agent answers or the offer times out) → ``active`` (accepted) → ``ended``; or ``declined``,
``expired``, ``withdrawn``. An agent's load is the sum of the weights of their ``offered``
and ``active`` rows; ``agent_loads`` holds it under a CHECK, and is the row every assignment
locks, so two workers can never push one agent over capacity.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base, new_id

HOLDING = ("offered", "active")
"""Assignment statuses that count toward an agent's load."""
MAX_LOAD = 1.000001
"""1.0 plus room for float rounding (three chats of 1/3)."""


class RoutingDecision(Base):
    __tablename__ = "routing_decisions"
    __table_args__ = (Index("ix_routing_decisions_journey_time", "journey_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"))
    trigger: Mapped[str] = mapped_column(String(32))
    """message | reopened | queue | declined | expired | withdrawn | transfer"""
    target: Mapped[str] = mapped_column(String(16))
    """bot | queue | agent"""
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    policy: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    value: Mapped[float]
    currency: Mapped[str] = mapped_column(String(3))
    explanation: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class QueueEntryRow(Base):
    """A journey waiting for a person (owner ``queue``); removed when an agent accepts it."""

    __tablename__ = "routing_queue"

    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"), primary_key=True)
    enqueued_at: Mapped[datetime]
    value: Mapped[float]
    team: Mapped[str | None] = mapped_column(String(100))
    sla_due_at: Mapped[datetime | None]
    excluded: Mapped[list[str]] = mapped_column(default=list)
    """Agents who declined or missed an offer for this journey (ids as strings)."""
    reason: Mapped[str] = mapped_column(String(200))
    understood: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the customer's message said (routing/understanding.py), to re-decide later."""
    updated_at: Mapped[datetime]


class Assignment(Base):
    __tablename__ = "routing_assignments"
    __table_args__ = (
        Index("ix_routing_assignments_agent_status", "agent_id", "status"),
        Index("ix_routing_assignments_journey_time", "journey_id", "created_at"),
        Index(
            "uq_routing_assignments_one_holder",
            "journey_id",
            unique=True,
            sqlite_where=text("status IN ('offered', 'active')"),
            postgresql_where=text("status IN ('offered', 'active')"),
        ),
        CheckConstraint("weight > 0 AND weight <= 1", name="weight_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    status: Mapped[str] = mapped_column(String(16))
    channel_class: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    """When an offer lapses (None for a direct assignment)."""
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))


class AgentLoad(Base):
    """The row an assignment locks; ``load`` is re-summed from assignments under the lock."""

    __tablename__ = "agent_loads"
    __table_args__ = (
        CheckConstraint(f"load >= 0 AND load <= {MAX_LOAD}", name="load_range"),
        Index("ix_agent_loads_updated_at", "updated_at"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    load: Mapped[float] = mapped_column(default=0.0)
    active: Mapped[int] = mapped_column(default=0)
    """Offered and active conversations."""
    misses: Mapped[int] = mapped_column(default=0)
    """Offers let lapse in a row (reset by an accept)."""
    last_assigned_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class WaitNotice(Base):
    """What the customer of a waiting journey was last told (position, wait), so a notice is
    sent once per material change and at most every ``min_interval`` (retries send nothing)."""

    __tablename__ = "routing_wait_notices"

    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"), primary_key=True)
    position: Mapped[int]
    wait_seconds: Mapped[float | None]
    sent: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime]
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id"))
