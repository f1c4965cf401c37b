"""The workspace file: validation with file and line, idempotent apply, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.conftest import scalar
from tests.helpers.workspace import BASIC, apply_text

from relaydesk.agents.models import Agent, Team, agent_teams
from relaydesk.channels.models import Channel
from relaydesk.hub import Hub
from relaydesk.workspace.config import load_workspace_config
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace


def problems(text: str) -> list[str]:
    with pytest.raises(WorkspaceFileError) as caught:
        parse_workspace(text, "ws.yaml")
    return caught.value.lines()


def test_errors_name_file_line_and_field() -> None:
    text = """version: 1
channels:
  - name: api
    kind: api
    settings:
      identity_assurance: bogus
  - name: Bad Name
    kind: api
  - name: other
    kind: fax
agents:
  - email: not-an-email
    name: X
    capacity: {chat: 3, fax: 2}
"""
    lines = problems(text)
    assert lines[0].startswith("ws.yaml:6: channels[0].settings.identity_assurance:")
    assert lines[1].startswith("ws.yaml:7: channels[1].name:")
    assert lines[2].startswith("ws.yaml:10: channels[2].kind: unknown channel kind 'fax'")
    assert lines[3].startswith("ws.yaml:12: agents[0].email:")
    assert lines[4].startswith("ws.yaml:14: agents[0].capacity: unknown channel class 'fax'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nchannels: [\n", "ws.yaml:3: not valid YAML"),
        ("- just\n- a list\n", "ws.yaml:1: a workspace file is a mapping"),
        ("version: 1\nversion: 2\n", "ws.yaml:2: version: duplicate key"),
        ("version: 2\n", "ws.yaml:1: version:"),
        ("version: 1\nsurprise: true\n", "ws.yaml:2: surprise: Extra inputs are not permitted"),
        (
            "settings:\n  journey_window: forever\n",
            "ws.yaml:2: settings.journey_window: a duration like",
        ),
        ("settings:\n  timezone: Mars/Olympus\n", "ws.yaml:2: settings.timezone: an IANA"),
        ("settings:\n  currency: euro\n", "ws.yaml:2: settings.currency:"),
        (
            "channels:\n  - name: a\n    kind: api\n  - name: a\n    kind: api\n",
            "ws.yaml:4: channels[1].name: 'a' appears twice",
        ),
        (
            "channels:\n  - name: a\n    kind: api\n    settings:\n      auth_token: hunter2\n",
            "ws.yaml:5: channels[0].settings.auth_token: a secret; write a reference like env:",
        ),
    ],
)
def test_bad_files(text: str, expected: str) -> None:
    assert any(expected in line for line in problems(text)), problems(text)


def test_secret_references_are_accepted_for_secret_fields() -> None:
    # api channels take no secrets; the rule itself is checked on the raw settings first
    lines = problems(
        "channels:\n  - name: a\n    kind: api\n    settings:\n      auth_token: env:TOKEN\n"
    )
    assert "Extra inputs are not permitted" in lines[0]


async def test_apply_is_idempotent_and_reports_changes(hub: Hub) -> None:
    first = await apply_text(hub)
    assert {c.action for c in first.changes} == {"created"}
    assert {(c.kind, c.name) for c in first.changes} >= {
        ("channel", "web"),
        ("team", "support"),
        ("agent", "agent@example.com"),
        ("setting", "timezone"),
    }
    again = await apply_text(hub)
    assert {c.action for c in again.changes} == {"unchanged"}
    assert again.summary().endswith("unchanged")

    changed = await apply_text(
        hub,
        BASIC.replace("name: Agent Smith", "name: Agent Jones\n    languages: [en, sv]").replace(
            "timezone: Europe/Stockholm", "timezone: Europe/Warsaw"
        ),
    )
    assert {(c.kind, c.name, c.action) for c in changed.changed} == {
        ("agent", "agent@example.com", "updated"),
        ("setting", "timezone", "updated"),
    }
    agent_change = next(c for c in changed.changed if c.kind == "agent")
    assert set(agent_change.fields) == {"name", "languages"}
    async with hub.db.read() as session:
        agent = await session.scalar(select(Agent))
        assert agent is not None
        assert agent.name == "Agent Jones"
        assert agent.capacity == {"voice": 1, "chat": 3, "messaging": 4, "email": 5}
        config = await load_workspace_config(session)
        assert config.timezone == "Europe/Warsaw"
        assert config.default_country == "SE"
    events = await scalar(hub, "select count(*) from events where name = 'workspace.applied'")
    assert events == 2  # the unchanged apply logged nothing


async def test_team_membership_follows_the_file(hub: Hub) -> None:
    await apply_text(
        hub, BASIC + "  - email: two@example.com\n    name: Two\n    teams: [support]\n"
    )
    text = BASIC.replace(
        "teams:\n  - name: support\n", "teams:\n  - name: support\n  - name: vip\n"
    )
    text = text.replace("    teams: [support]", "    teams: [vip]")
    await apply_text(hub, text)
    async with hub.db.read() as session:
        rows = (
            await session.execute(
                select(Agent.email, Team.name)
                .join(agent_teams, agent_teams.c.agent_id == Agent.id)
                .join(Team, Team.id == agent_teams.c.team_id)
                .order_by(Agent.email)
            )
        ).all()
    # agents not in the file keep what they had; the file's agent moves to vip
    assert [tuple(r) for r in rows] == [
        ("agent@example.com", "vip"),
        ("two@example.com", "support"),
    ]


async def test_apply_time_error_changes_nothing(hub: Hub) -> None:
    await apply_text(hub)
    bad = (
        BASIC.replace("name: Test shop", "name: Renamed shop")
        + "  - email: new@example.com\n    name: New\n    teams: [nosuchteam]\n"
    )
    with pytest.raises(WorkspaceFileError) as caught:
        await apply_text(hub, bad)
    assert caught.value.lines() == [
        "test.yaml:25: agents[1].teams[0]: no team named 'nosuchteam' (declare it under teams:)"
    ]
    async with hub.db.read() as session:
        assert (await load_workspace_config(session)).name == "Test shop"
        assert await session.scalar(select(Agent).where(Agent.email == "new@example.com")) is None


async def test_channel_kind_cannot_change(hub: Hub) -> None:
    await apply_text(hub)
    async with hub.db.read() as session:
        channel = await session.scalar(select(Channel).where(Channel.name == "web"))
        assert channel is not None and channel.kind == "api"
    await hub.db.transaction(
        lambda s: s.execute(
            Channel.__table__.update().values(kind="legacy").where(Channel.name == "web")
        )
    )
    with pytest.raises(WorkspaceFileError) as caught:
        await apply_text(hub)
    assert "cannot change" in caught.value.lines()[0]
    assert caught.value.lines()[0].startswith("test.yaml:10: channels[0].kind:")


def test_demo_workspace_is_valid() -> None:
    from pathlib import Path

    from relaydesk.workspace.file import load_workspace_file

    loaded = load_workspace_file(Path(__file__).parents[2] / "examples" / "demo-workspace.yaml")
    assert {c.kind for c in loaded.spec.channels} == {"api", "webchat"}
    assert loaded.spec.agents


async def test_an_outreach_channel_key_must_be_a_channel_or_a_kind(hub: Hub) -> None:
    text = BASIC + ("outreach:\n  updates:\n    templates:\n      whatsapp: {name: still_on_it}\n")
    with pytest.raises(WorkspaceFileError) as caught:
        await apply_text(hub, text)
    (line,) = caught.value.lines()
    assert "outreach.updates.templates.whatsapp: no channel named 'whatsapp'" in line, line
    await apply_text(hub, text.replace("whatsapp:", "whatsapp_cloud:"))
