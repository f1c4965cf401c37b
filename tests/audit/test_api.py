"""GET /api/v1/audit: bearer token, newest first, paged; secrets never stored."""

from __future__ import annotations

import httpx

from relaydesk.audit.actions import REDACTED, record, redact
from relaydesk.hub import Hub


async def test_needs_a_token(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/api/v1/audit")).status_code == 401


async def test_newest_first_paged_and_filtered(hub: Hub, client: httpx.AsyncClient) -> None:
    for n in range(3):
        await hub.db.transaction(
            lambda s, n=n: record(
                s,
                actor="agent:x",
                actor_name="Ada",
                action="team.updated",
                target_kind="team" if n < 2 else "channel",
                target=f"t{n}",
                before={"description": "a", "same": 1},
                after={"description": f"b{n}", "same": 1},
            )
        )
    first = (await client.get("/api/v1/audit", params={"limit": 2})).json()
    assert [i["target"] for i in first["items"]] == ["t2", "t1"]
    assert first["items"][0]["before"] == {"description": "a"}  # only what changed
    rest = (await client.get("/api/v1/audit", params={"before": first["next_before"]})).json()
    assert [i["target"] for i in rest["items"]] == ["t0"] and rest["next_before"] is None
    teams = (await client.get("/api/v1/audit", params={"target_kind": "team"})).json()
    assert [i["target"] for i in teams["items"]] == ["t1", "t0"]
    bad = await client.get("/api/v1/audit", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.text


async def test_nothing_recorded_when_nothing_changed(hub: Hub) -> None:
    entry = await hub.db.transaction(
        lambda s: record(
            s,
            actor="a",
            actor_name=None,
            action="x",
            target_kind="team",
            target="t",
            before={"k": 1},
            after={"k": 1},
        )
    )
    assert entry is None


def test_redact() -> None:
    value = redact(
        {"settings": {"auth_token": "abc", "api_key": "env:KEY", "name": "x"}, "body": "y" * 400}
    )
    assert value["settings"] == {"auth_token": REDACTED, "api_key": "env:KEY", "name": "x"}
    assert value["body"] == "<400 characters>"
