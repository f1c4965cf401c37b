"""SLA clocks stored on the journey: one row per (journey, kind), rewritten on each event."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from relaydesk.db import Base


class SlaClock(Base):
    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index("ix_sla_clocks_breached", "breached_at"),
        # The console's inbox filters journeys by SLA risk (migration 0016).
        Index("ix_sla_clocks_status_due", "status", "due_at"),
    )

    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    """first_response | next_response | resolution"""
    policy: Mapped[str] = mapped_column(String(100))
    calendar: Mapped[str] = mapped_column(String(100))
    """The calendar's name, or ``24/7``."""
    target_seconds: Mapped[float]
    started_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    """None while paused."""
    status: Mapped[str] = mapped_column(String(16))
    """due | paused | met | breached (a ``due`` clock past its due time reads as breached)."""
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    remaining_seconds: Mapped[float | None]
    warn_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    """When the warning escalation ran (once per clock cycle)."""
    breach_escalated_at: Mapped[datetime | None]
    priority_raised_at: Mapped[datetime | None]
    """Set by a ``raise_priority`` escalation: the queue then treats the journey as due."""
    updated_at: Mapped[datetime]


class SlaNotice(Base):
    """An escalation addressed to one agent (the assignee, a supervisor), kept until they
    open the journey or dismiss it: the live socket only reaches consoles open at the time."""

    __tablename__ = "sla_notices"
    __table_args__ = (Index("ix_sla_notices_agent_open", "agent_id", "dismissed_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(16))
    """warning | breach"""
    policy: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    dismissed_at: Mapped[datetime | None]
