"""Applying workspace files in tests through the product's own path."""

from __future__ import annotations

from relaydesk.hub import Hub
from relaydesk.workspace.actions import ApplyReport, apply_workspace
from relaydesk.workspace.file import parse_workspace

BASIC = """
version: 1
settings:
  name: Test shop
  currency: EUR
  timezone: Europe/Stockholm
  default_country: SE
channels:
  - name: web
    kind: api
  - name: app
    kind: api
  - name: widget
    kind: api
    settings:
      identity_assurance: claimed
teams:
  - name: support
agents:
  - email: agent@example.com
    name: Agent Smith
    teams: [support]
"""


async def apply_text(hub: Hub, text: str = BASIC, source: str = "test.yaml") -> ApplyReport:
    loaded = parse_workspace(text, source)
    report = await hub.db.transaction(lambda s: apply_workspace(s, loaded, actor="test"))
    hub.config_cache.clear()
    return report
