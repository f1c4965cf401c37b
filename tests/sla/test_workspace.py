"""The ``sla:`` section: stored in the database, applied idempotently, errors name the line."""

from __future__ import annotations

from datetime import date

import pytest
from tests.helpers.workspace import apply_text
from tests.sla.helpers import WORKSPACE

from relaydesk.hub import Hub
from relaydesk.sla.queries import load_config
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace


def _problems(text: str) -> list[str]:
    with pytest.raises(WorkspaceFileError) as caught:
        parse_workspace(text, "ws.yaml")
    return caught.value.lines()


async def test_section_is_stored_and_applied_idempotently(hub: Hub) -> None:
    first = await apply_text(hub, WORKSPACE)
    assert [(c.kind, c.action) for c in first.changes if c.kind == "sla"] == [("sla", "created")]
    again = await apply_text(hub, WORKSPACE)
    assert [(c.kind, c.action) for c in again.changes if c.kind == "sla"] == [("sla", "unchanged")]
    async with hub.db.read() as session:
        config = await load_config(session)
    assert config is not None
    assert [p.name for p in config.policies] == ["complaints", "email", "standard"]
    assert config.policies[0].escalation is not None
    assert config.policies[0].escalation.escalate_to == "complaints"
    assert config.business_calendars["office"].is_closed_on(date(2026, 1, 1))

    changed = await apply_text(hub, WORKSPACE.replace("first_response: 1h", "first_response: 2h"))
    sla = [c for c in changed.changes if c.kind == "sla"]
    assert [(c.action, c.fields) for c in sla] == [("updated", ["policies"])]
    async with hub.db.read() as session:
        config = await load_config(session)
    assert config is not None and config.policies[2].first_response is not None
    assert config.policies[2].first_response.total_seconds() == 7200

    without = await apply_text(hub, WORKSPACE.split("sla:")[0])
    assert not [c for c in without.changes if c.kind == "sla"]  # no section changes nothing


BAD_TARGET = """\
sla:
  policies:
    - name: standard
      first_response: soon
"""

BAD_CALENDAR = """\
sla:
  calendars:
    - name: office
      timezone: Europe/Berlin
      hours:
        mon: ["09:00-17:00"]
  policies:
    - name: standard
      resolution: 1d
    - name: night
      calendar: nights
      resolution: 1d
"""

BAD_HOURS = """\
sla:
  calendars:
    - name: office
      hours:
        mon: ["17:00-09:00"]
"""


def test_errors_name_file_and_line() -> None:
    assert _problems(BAD_TARGET) == [
        "ws.yaml:4: sla.policies[0].first_response: a duration like 30s, 15m, 36h, 7d or 2w"
    ]
    assert _problems(BAD_CALENDAR) == [
        "ws.yaml:11: sla.policies[1].calendar: no calendar named 'nights'"
    ]
    (hours,) = _problems(BAD_HOURS)
    assert hours.startswith("ws.yaml:3: sla.calendars[0]:") and "closes before it opens" in hours
    (unknown,) = _problems(
        "sla:\n  policies:\n    - name: x\n      resolution: 1d\n      speed: 3\n"
    )
    assert unknown.startswith("ws.yaml:5: sla.policies[0].speed:")


async def test_bad_section_changes_nothing(hub: Hub) -> None:
    await apply_text(hub, WORKSPACE)
    with pytest.raises(WorkspaceFileError):
        await apply_text(hub, WORKSPACE.replace("first_response: 1h", "first_response: -1h"))
    async with hub.db.read() as session:
        config = await load_config(session)
    assert config is not None and config.policies[2].first_response is not None
    assert config.policies[2].first_response.total_seconds() == 3600


async def test_a_team_the_section_names_must_exist(hub: Hub) -> None:
    """A misspelt ``escalate_to`` would send complaints to the general queue unnoticed."""
    await apply_text(hub, WORKSPACE)
    cases = [
        (
            WORKSPACE.replace("escalate_to: complaints", "escalate_to: complains"),
            "sla.policies[0].escalation.escalate_to: no team named 'complains'",
        ),
        (
            WORKSPACE.replace(
                "      holidays: {country: DE}",
                "      holidays: {country: DE}\n      teams: [suport]",
            ),
            "sla.calendars[0].teams[0]: no team named 'suport'",
        ),
        (
            WORKSPACE.replace("    warn_at: 0.75", "    warn_at: 0.75\n    escalate_to: nobody"),
            "sla.escalation.escalate_to: no team named 'nobody'",
        ),
    ]
    for text, expected in cases:
        assert text != WORKSPACE
        with pytest.raises(WorkspaceFileError) as caught:
            await apply_text(hub, text)
        assert any(expected in line for line in caught.value.lines()), caught.value.lines()
    async with hub.db.read() as session:
        config = await load_config(session)
    assert config is not None and config.policies[0].escalation is not None
    assert config.policies[0].escalation.escalate_to == "complaints"  # nothing changed
