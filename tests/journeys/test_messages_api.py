"""POST /api/v1/messages and the journeys it builds."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tests.conftest import scalar
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.hub import Hub


def message(
    external_id: str, text: str = "Where is my order?", channel: str = "web", **sender: str
) -> dict[str, object]:
    return {
        "channel": channel,
        "external_id": external_id,
        "sender": sender
        if {"email", "phone", "handle"} & set(sender) or sender.get("name") == "Only a name"
        else {"email": "ada@example.com", **sender},
        "text": text,
    }


@pytest.fixture(autouse=True)
async def workspace(hub: Hub) -> None:
    await apply_text(hub)


async def test_first_message_opens_a_journey(client: httpx.AsyncClient, hub: Hub) -> None:
    response = await client.post("/api/v1/messages", json=message("m1", name="Ada"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["duplicate"] is False
    assert set(body) == {"message_id", "conversation_id", "journey_id", "customer_id", "duplicate"}

    journey = (await client.get(f"/api/v1/journeys/{body['journey_id']}")).json()
    assert journey["customer_id"] == body["customer_id"]
    assert journey["status"] == "open"
    assert journey["channels"] == ["web"]
    assert [c["id"] for c in journey["conversations"]] == [body["conversation_id"]]
    assert journey["owner"] == {"type": "unassigned", "agent_id": None}
    assert journey["resolved_at"] is None

    customer = (await client.get(f"/api/v1/customers/{body['customer_id']}")).json()
    assert customer["name"] == "Ada"
    assert customer["email"] == "ada@example.com"


async def test_same_external_id_is_a_no_op(client: httpx.AsyncClient, hub: Hub) -> None:
    first = await client.post("/api/v1/messages", json=message("dup"))
    again = await client.post("/api/v1/messages", json=message("dup", text="different text"))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert await scalar(hub, "select count(*) from messages") == 1
    events = await scalar(hub, "select count(*) from events where name = 'message.received'")
    assert events == 1


async def test_same_external_id_on_another_channel_is_another_message(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    await client.post("/api/v1/messages", json=message("same"))
    other = await client.post("/api/v1/messages", json=message("same", channel="app"))
    assert other.status_code == 201
    assert await scalar(hub, "select count(*) from messages") == 2


async def test_message_on_another_channel_joins_the_open_journey(client: httpx.AsyncClient) -> None:
    first = (
        await client.post(
            "/api/v1/messages",
            json={**message("w1", email="ada@example.com"), "context": {"order_number": "1042"}},
        )
    ).json()
    second = (
        await client.post(
            "/api/v1/messages", json=message("a1", channel="app", email="ADA@Example.com")
        )
    ).json()
    assert second["customer_id"] == first["customer_id"]
    assert second["journey_id"] == first["journey_id"]
    assert second["conversation_id"] != first["conversation_id"]
    journey = (await client.get(f"/api/v1/journeys/{first['journey_id']}")).json()
    assert journey["channels"] == ["web", "app"]
    assert len(journey["conversations"]) == 2
    assert journey["context"] == {"order_number": "1042"}

    events = (await client.get("/api/v1/events", params={"journey_id": first["journey_id"]})).json()
    names = [e["name"] for e in events["items"]]
    assert names.count("journey.opened") == 1
    assert "journey.channel_switched" in names
    switched = next(e for e in events["items"] if e["name"] == "journey.channel_switched")
    assert switched["payload"] == {"from_channel": "web", "to_channel": "app"}


async def test_email_and_phone_from_two_channels_link_one_customer(
    client: httpx.AsyncClient,
) -> None:
    by_email = (
        await client.post("/api/v1/messages", json=message("e1", email="kim@example.com"))
    ).json()
    by_phone = (
        await client.post(
            "/api/v1/messages", json=message("p1", channel="app", phone="+46 70 123 45 67")
        )
    ).json()
    assert by_email["customer_id"] != by_phone["customer_id"]
    both = (
        await client.post(
            "/api/v1/messages",
            json=message("b1", email="kim@example.com", phone="070-123 45 67"),
        )
    ).json()
    # A trusted sender carrying both says they are one person: the newer merges into the older.
    assert both["customer_id"] == by_email["customer_id"]
    survivor = (await client.get(f"/api/v1/customers/{by_email['customer_id']}")).json()
    assert {(i["kind"], i["value"]) for i in survivor["identities"]} == {
        ("email", "kim@example.com"),
        ("phone", "+46701234567"),
    }
    timeline = (await client.get(f"/api/v1/customers/{by_email['customer_id']}/timeline")).json()
    assert [item["message_id"] for item in timeline["items"]] == [
        by_email["message_id"],
        by_phone["message_id"],
        both["message_id"],
    ]
    old = await client.get(f"/api/v1/customers/{by_phone['customer_id']}", follow_redirects=False)
    assert old.status_code == 308
    assert old.json()["merged_into"] == by_email["customer_id"]
    assert old.headers["location"] == f"/api/v1/customers/{by_email['customer_id']}"


async def test_unverified_claim_never_merges(client: httpx.AsyncClient, hub: Hub) -> None:
    victim = (
        await client.post("/api/v1/messages", json=message("v1", email="victim@example.com"))
    ).json()
    await client.post(
        "/api/v1/messages", json=message("v2", text="my secret order", email="victim@example.com")
    )
    visitor = (
        await client.post(
            "/api/v1/messages",
            json=message("c1", channel="widget", handle="visitor-9", email="victim@example.com"),
        )
    ).json()
    assert visitor["customer_id"] != victim["customer_id"]
    assert visitor["journey_id"] != victim["journey_id"]
    timeline = (await client.get(f"/api/v1/customers/{visitor['customer_id']}/timeline")).json()
    assert [item["text"] for item in timeline["items"]] == ["Where is my order?"]
    profile = (await client.get(f"/api/v1/customers/{visitor['customer_id']}")).json()
    assert profile["email"] is None
    assert [(c["kind"], c["value"], c["assurance"]) for c in profile["claims"]] == [
        ("email", "victim@example.com", "claimed")
    ]
    [suggestion] = profile["merge_suggestions"]
    assert suggestion["other_customer_id"] == victim["customer_id"]
    listed = (await client.get("/api/v1/merge-suggestions")).json()["items"]
    assert [s["id"] for s in listed] == [suggestion["id"]]


async def test_claimed_channel_needs_a_handle(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/messages", json=message("c2", channel="widget", email="x@example.com")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sender"


async def test_merge_api_moves_everything_and_records_who(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    a = (await client.post("/api/v1/messages", json=message("a", email="a@example.com"))).json()
    b = (
        await client.post(
            "/api/v1/messages", json=message("b", channel="app", phone="+46701112233")
        )
    ).json()
    await client.post(
        f"/api/v1/customers/{b['customer_id']}/orders",
        json={"id": "9", "amount": 10, "currency": "EUR", "date": "2026-01-01T10:00:00Z"},
    )
    merged = await client.post(
        f"/api/v1/customers/{a['customer_id']}/merge",
        json={"other_customer_id": b["customer_id"], "reason": "same person, confirmed on call"},
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["actor"].startswith("token:test-")
    assert body["moved"]["identities"] == 1
    assert body["moved"]["journeys"] == 1
    assert body["moved"]["messages"] == 1
    assert body["moved"]["orders"] == 1
    assert {i["kind"] for i in body["customer"]["identities"]} == {"email", "phone"}
    assert [o["id"] for o in body["customer"]["recent_orders"]] == ["9"]
    again = await client.post(
        f"/api/v1/customers/{a['customer_id']}/merge", json={"other_customer_id": b["customer_id"]}
    )
    assert again.status_code == 409
    assert again.json()["error"] == "already_merged"
    self_merge = await client.post(
        f"/api/v1/customers/{a['customer_id']}/merge", json={"other_customer_id": a["customer_id"]}
    )
    assert self_merge.status_code == 422
    events = (await client.get("/api/v1/events", params={"name": "customer.merged"})).json()[
        "items"
    ]
    assert events[0]["actor"] == body["actor"]
    assert events[0]["payload"]["merged_id"] == b["customer_id"]
    # the next message from the merged customer's phone lands with the survivor
    later = (
        await client.post(
            "/api/v1/messages", json=message("b2", channel="app", phone="+46701112233")
        )
    ).json()
    assert later["customer_id"] == a["customer_id"]


async def test_resolved_journey_reopens_only_within_the_window(
    client: httpx.AsyncClient, manual_clock: clock.ManualClock
) -> None:
    first = (await client.post("/api/v1/messages", json=message("r1"))).json()
    resolved = await client.post(f"/api/v1/journeys/{first['journey_id']}/resolve", json={})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert all(c["status"] == "closed" for c in resolved.json()["conversations"])

    manual_clock.advance(timedelta(days=6))
    within = (
        await client.post("/api/v1/messages", json=message("r2", text="It broke again"))
    ).json()
    assert within["journey_id"] == first["journey_id"]
    reopened = (await client.get(f"/api/v1/journeys/{first['journey_id']}")).json()
    assert reopened["status"] == "open"
    assert reopened["reopen_count"] == 1
    assert reopened["conversations"][0]["status"] == "open"

    await client.post(
        f"/api/v1/journeys/{first['journey_id']}/resolve", json={"outcome": "resolved"}
    )
    manual_clock.advance(timedelta(days=7, seconds=1))
    after = (
        await client.post("/api/v1/messages", json=message("r3", text="A new question"))
    ).json()
    assert after["journey_id"] != first["journey_id"]
    assert after["customer_id"] == first["customer_id"]

    twice = await client.post(f"/api/v1/journeys/{first['journey_id']}/resolve", json={})
    assert twice.status_code == 409
    assert twice.json()["error"] == "invalid_transition"


async def test_bad_requests_name_the_problem_and_store_nothing(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, hub: Hub
) -> None:
    unknown = await client.post("/api/v1/messages", json=message("x", channel="nope"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_channel"

    missing = await client.post("/api/v1/messages", json={"channel": "web", "text": "hi"})
    assert missing.status_code == 422
    fields = {e["field"] for e in missing.json()["detail"]}
    assert {"external_id", "sender"} <= fields

    bad_email = await client.post("/api/v1/messages", json=message("x", email="not-an-email"))
    assert bad_email.status_code == 422
    assert bad_email.json()["detail"][0]["field"] == "sender.email"

    no_identity = await client.post("/api/v1/messages", json=message("x", name="Only a name"))
    assert no_identity.status_code == 422

    extra = await client.post("/api/v1/messages", json={**message("x"), "surprise": 1})
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["field"] == "surprise"

    too_long = await client.post("/api/v1/messages", json=message("x", text="a" * 32_769))
    assert too_long.status_code == 413
    assert too_long.json()["error"] == "text_too_long"
    assert too_long.json()["limit"] == 32_768

    huge = await client.post(
        "/api/v1/messages",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413

    not_json = await client.post(
        "/api/v1/messages", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422

    unauthenticated = await anonymous.post("/api/v1/messages", json=message("x"))
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    wrong = await anonymous.post(
        "/api/v1/messages", json=message("x"), headers={"Authorization": "Bearer rdk_wrong"}
    )
    assert wrong.status_code == 401

    for table in ("messages", "customers", "journeys", "conversations", "identities"):
        assert await scalar(hub, f"select count(*) from {table}") == 0, table
    # Applying the workspace is logged (and the bot retrains on it); nothing else is.
    assert await scalar(hub, "select count(*) from events where name != 'workspace.applied'") == 0
    assert (
        await scalar(
            hub,
            "select count(*) from outbox join events on events.id = outbox.event_id"
            " where events.name != 'workspace.applied'",
        )
        == 0
    )


async def test_non_api_channel_kind_is_refused(client: httpx.AsyncClient, hub: Hub) -> None:
    await hub.db.transaction(
        lambda s: s.execute(
            __import__("sqlalchemy").text("update channels set enabled = false where name = 'app'")
        )
    )
    hub.config_cache.clear()
    disabled = await client.post("/api/v1/messages", json=message("x", channel="app"))
    assert disabled.status_code == 409
    assert disabled.json()["error"] == "channel_disabled"


async def test_sent_at_orders_the_timeline(client: httpx.AsyncClient) -> None:
    now = clock.now()
    late = (
        await client.post(
            "/api/v1/messages",
            json={**message("late"), "sent_at": (now - timedelta(minutes=1)).isoformat()},
        )
    ).json()
    early = (
        await client.post(
            "/api/v1/messages",
            json={**message("early"), "sent_at": (now - timedelta(minutes=5)).isoformat()},
        )
    ).json()
    items = (await client.get(f"/api/v1/customers/{late['customer_id']}/timeline")).json()["items"]
    assert [i["message_id"] for i in items] == [early["message_id"], late["message_id"]]
    naive = await client.post(
        "/api/v1/messages", json={**message("naive"), "sent_at": "2026-01-01T10:00:00"}
    )
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["field"] == "sent_at"


async def test_nul_characters_are_stored_the_same_on_every_database(
    client: httpx.AsyncClient,
) -> None:
    """PostgreSQL cannot store NUL in text or JSON; it becomes U+FFFD on both databases
    instead of a 500 on one of them."""
    body = message("nul-1", name="A\u0000da", text="x\u0000y") | {"context": {"k": "a\u0000b"}}
    response = await client.post("/api/v1/messages", json=body)
    assert response.status_code == 201, response.text
    ids = response.json()
    timeline = (await client.get(f"/api/v1/customers/{ids['customer_id']}/timeline")).json()
    assert timeline["items"][0]["text"] == "x\ufffdy"
    customer = (await client.get(f"/api/v1/customers/{ids['customer_id']}")).json()
    assert customer["name"] == "A\ufffdda"
    journey = (await client.get(f"/api/v1/journeys/{ids['journey_id']}")).json()
    assert journey["context"]["k"] == "a\ufffdb"
    again = await client.post("/api/v1/messages", json=body)
    assert again.status_code == 200 and again.json()["duplicate"] is True


async def test_a_text_of_only_whitespace_is_refused_naming_the_field(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    response = await client.post("/api/v1/messages", json=message("blank", text=" \n\t "))
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["field"] == "text" and "only whitespace" in problem["msg"]
    assert await scalar(hub, "select count(*) from messages") == 0
