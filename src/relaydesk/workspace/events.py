"""Events of the workspace domain (the audit trail of configuration)."""

from __future__ import annotations

from typing import ClassVar

from relaydesk.bus import DomainEvent


class WorkspaceApplied(DomainEvent):
    name: ClassVar[str] = "workspace.applied"
    source: str
    changes: list[dict[str, str]]
