"""Events of the SLA domain."""

from __future__ import annotations

import uuid
from typing import ClassVar

from relaydesk.bus import DomainEvent


class SlaEscalated(DomainEvent):
    """A clock reached its warning share or its breach, and the policy's actions ran.

    ``notified`` are the agents to tell (the assignee, supervisors); consoles show it live.
    """

    name: ClassVar[str] = "sla.escalated"
    clock: str
    rule: str
    """warning | breach"""
    policy: str
    actions: list[str]
    notified: list[uuid.UUID] = []
    team: str | None = None
    due_at: str | None = None
