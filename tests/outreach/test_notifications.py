"""Scheduled notifications: sent at their time through the reply path, skipped with the
reason when consent or the channel refuses, cancellable until sent, bad input named."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from tests.helpers.loopback import LoopbackProvider
from tests.outreach.helpers import drain, events_named, sent_texts, write_in

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.timers import Timer


async def customer(client: httpx.AsyncClient, **patch: object) -> tuple[str, str]:
    """A customer who wrote once (journey resolved), with ``patch`` applied."""
    accepted = await write_in(client, "Hello, I booked a visit")
    resolved = await client.post(  # an outcome surveys skip: these tests are about notifications
        f"/api/v1/journeys/{accepted['journey_id']}/resolve", json={"outcome": "duplicate"}
    )
    assert resolved.status_code == 200, resolved.text
    if patch:
        response = await client.patch(f"/api/v1/customers/{accepted['customer_id']}", json=patch)
        assert response.status_code == 200, response.text
    return accepted["customer_id"], accepted["journey_id"]


async def schedule(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post("/api/v1/notifications", json=body)


VARIABLES = {"date": "9 December", "time": "14:00"}


async def test_sent_at_its_time_in_the_customers_language_on_their_latest_channel(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    customer_id, journey_id = await customer(client, locale="sv-SE")
    await drain(outreach_hub)
    provider.requests.clear()
    at = (clock.now() + timedelta(hours=2)).isoformat()
    created = await schedule(
        client, customer_id=customer_id, template="appointment", send_at=at, variables=VARIABLES
    )
    assert created.status_code == 201, created.text
    notification = created.json()
    assert notification["status"] == "scheduled" and notification["channel"] is None
    await drain(outreach_hub)
    assert sent_texts(provider) == []  # not before its time
    start_clock.advance(timedelta(hours=2))
    await drain(outreach_hub)
    assert sent_texts(provider) == ["Påminnelse: din tid är 9 December kl. 14:00."]
    read = (await client.get(f"/api/v1/notifications/{notification['id']}")).json()
    assert read["status"] == "sent" and read["sent_channel"] == "app"
    assert read["message_id"] and read["journey_id"] != journey_id  # none active: a new one
    carrier = (await client.get(f"/api/v1/journeys/{read['journey_id']}")).json()
    assert (carrier["status"], carrier["outcome"]) == ("resolved", "notified")  # in no inbox
    logged = (await client.get("/api/v1/events", params={"journey_id": read["journey_id"]})).json()
    names = [e["name"] for e in logged["items"]]
    assert names[0] == "journey.opened" and "journey.resolved" in names  # analytics see both
    await drain(outreach_hub)
    assert len(sent_texts(provider)) == 1  # fired exactly once


async def test_a_reply_lands_in_the_notifications_journey(
    client: httpx.AsyncClient, outreach_hub: Hub, provider: LoopbackProvider
) -> None:
    created = await schedule(
        client,
        customer_id=(await customer(client))[0],
        template="appointment",
        channel="portal",
        variables=VARIABLES,
    )
    await drain(outreach_hub)
    notification = (await client.get(f"/api/v1/notifications/{created.json()['id']}")).json()
    assert notification["status"] == "sent" and notification["sent_channel"] == "portal"
    assert sent_texts(provider, "/portal") == ["Appointment 9 December 14:00"]  # channel text
    reply = await write_in(client, "Can I move it to Friday?", channel="portal")
    assert reply["journey_id"] == notification["journey_id"]
    journey = (await client.get(f"/api/v1/journeys/{reply['journey_id']}")).json()
    assert journey["status"] == "open"


async def test_a_new_journey_carries_a_notification_to_a_customer_with_none_open(
    client: httpx.AsyncClient, outreach_hub: Hub, provider: LoopbackProvider
) -> None:
    accepted = await write_in(client, "Hi")  # an open journey
    created = await schedule(
        client, customer_id=accepted["customer_id"], template="renewal", variables={"date": "1 Jan"}
    )
    await drain(outreach_hub)
    notification = (await client.get(f"/api/v1/notifications/{created.json()['id']}")).json()
    assert notification["journey_id"] == accepted["journey_id"]  # the open journey carries it
    assert "Your plan renews on 1 Jan." in sent_texts(provider)


async def test_opt_outs_are_checked_at_send_time_and_recorded_as_skips(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    customer_id, _ = await customer(client)
    await drain(outreach_hub)
    provider.requests.clear()
    soon = (clock.now() + timedelta(minutes=5)).isoformat()
    service = await schedule(
        client, customer_id=customer_id, template="appointment", send_at=soon, variables=VARIABLES
    )
    marketing = await schedule(
        client, customer_id=customer_id, template="renewal", send_at=soon, variables={"date": "x"}
    )
    # consent changes after scheduling: a marketing-only opt-out
    patched = await client.patch(
        f"/api/v1/customers/{customer_id}", json={"consent": {"app:marketing": "revoked"}}
    )
    assert patched.status_code == 200, patched.text
    start_clock.advance(timedelta(minutes=5))
    await drain(outreach_hub)
    assert (await client.get(f"/api/v1/notifications/{service.json()['id']}")).json()[
        "status"
    ] == "sent"
    skipped = (await client.get(f"/api/v1/notifications/{marketing.json()['id']}")).json()
    assert skipped["status"] == "skipped" and skipped["reason"] == "opted_out"
    assert skipped["message_id"] is None and "opted out" in skipped["detail"]
    assert len(sent_texts(provider)) == 1
    [event] = await events_named(outreach_hub, "outreach.notification_skipped")
    assert event["reason"] == "opted_out"


async def test_cancel_before_send_and_409_after(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    customer_id, _ = await customer(client)
    await drain(outreach_hub)
    provider.requests.clear()
    later = (clock.now() + timedelta(days=1)).isoformat()
    first = await schedule(
        client, customer_id=customer_id, template="appointment", send_at=later, variables=VARIABLES
    )
    cancelled = await client.post(f"/api/v1/notifications/{first.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.delete(f"/api/v1/notifications/{first.json()['id']}")
    assert again.status_code == 409 and again.json()["error"] == "already_cancelled"
    now = await schedule(
        client, customer_id=customer_id, template="appointment", variables=VARIABLES
    )
    await drain(outreach_hub)
    late = await client.post(f"/api/v1/notifications/{now.json()['id']}/cancel")
    assert late.status_code == 409 and late.json()["error"] == "already_sent"
    start_clock.advance(timedelta(days=2))
    await drain(outreach_hub)
    assert sent_texts(provider) == ["Reminder: your appointment is on 9 December at 14:00."]


async def test_cancel_racing_the_send_ends_in_exactly_one_outcome(
    client: httpx.AsyncClient, outreach_hub: Hub, provider: LoopbackProvider
) -> None:
    import asyncio

    customer_id, _ = await customer(client)
    await drain(outreach_hub)
    provider.requests.clear()
    ids = []
    for _ in range(6):
        created = await schedule(
            client, customer_id=customer_id, template="appointment", variables=VARIABLES
        )
        ids.append(created.json()["id"])
    answers = await asyncio.gather(
        drain(outreach_hub), *(client.post(f"/api/v1/notifications/{i}/cancel") for i in ids)
    )
    await drain(outreach_hub)
    statuses = [(await client.get(f"/api/v1/notifications/{i}")).json()["status"] for i in ids]
    codes = [r.status_code for r in answers[1:]]
    for status, code in zip(statuses, codes, strict=True):
        assert (status, code) in {("cancelled", 200), ("sent", 409)}
    assert len(sent_texts(provider)) == statuses.count("sent")


async def test_bad_input_names_the_field(client: httpx.AsyncClient, outreach_hub: Hub) -> None:
    customer_id, _ = await customer(client)
    cases = [
        ({"customer_id": customer_id, "template": "nope"}, 422, "template"),
        ({"customer_id": customer_id, "template": "appointment"}, 422, "variables"),
        (
            {"customer_id": str(uuid.uuid4()), "template": "appointment", "variables": VARIABLES},
            404,
            "customer",
        ),
        (
            {
                "customer_id": customer_id,
                "template": "appointment",
                "variables": VARIABLES,
                "channel": "fax",
            },
            404,
            "channel",
        ),
        (
            {
                "customer_id": customer_id,
                "template": "appointment",
                "variables": VARIABLES,
                "send_at": "2026-12-08T10:00:00",
            },
            422,
            "send_at",
        ),
        ({"customer_id": "not-a-uuid", "template": "appointment"}, 422, "customer_id"),
        ({"customer_id": customer_id, "template": "appointment", "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        response = await client.post("/api/v1/notifications", json=body)
        assert response.status_code == status, (body, response.text)
        assert field in response.text, (field, response.text)
    missing = await client.get(f"/api/v1/notifications/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"] == "notification_not_found"
    assert (await client.post(f"/api/v1/notifications/{uuid.uuid4()}/cancel")).status_code == 404
    assert (await client.get("/api/v1/notifications/not-a-uuid")).status_code == 422


async def test_routes_need_the_token(anonymous: httpx.AsyncClient, outreach_hub: Hub) -> None:
    for method, path in (
        ("POST", "/api/v1/notifications"),
        ("GET", f"/api/v1/notifications/{uuid.uuid4()}"),
        ("GET", "/api/v1/surveys/summary"),
        ("PUT", f"/api/v1/journeys/{uuid.uuid4()}/next-update"),
        ("GET", "/api/v1/outreach/settings"),
    ):
        assert (await anonymous.request(method, path, json={})).status_code == 401


async def test_a_text_that_cannot_be_filled_is_refused_or_skipped_never_stuck(
    client: httpx.AsyncClient, outreach_hub: Hub, provider: LoopbackProvider
) -> None:
    settings = (await client.get("/api/v1/outreach/settings")).json()
    templates = settings["notifications"]["templates"]
    templates["receipt"] = {"kind": "confirmation", "texts": {"en": "Total {amount:.2f}"}}
    refused = await client.put("/api/v1/outreach/settings", json=settings)
    assert refused.status_code == 422, refused.text  # variables are texts: never fillable
    assert "receipt" in refused.text and "{amount:.2f}" in refused.text
    templates["receipt"]["texts"]["en"] = "Total {amount}"
    templates["receipt"]["channels"] = {"app": {"template": {"name": "t", "params": ["{n:d}"]}}}
    refused = await client.put("/api/v1/outreach/settings", json=settings)
    assert refused.status_code == 422 and "params" in refused.text, refused.text
    del templates["receipt"]

    customer_id, _ = await customer(client)
    created = await schedule(
        client, customer_id=customer_id, template="renewal", variables={"date": "1 Jan"}
    )
    assert created.status_code == 201, created.text
    # The template changes before the send and now needs a variable the notification lacks.
    templates["renewal"]["texts"]["en"] = "Your plan {plan} renews on {date}."
    assert (await client.put("/api/v1/outreach/settings", json=settings)).status_code == 200
    await drain(outreach_hub)
    read = (await client.get(f"/api/v1/notifications/{created.json()['id']}")).json()
    assert (read["status"], read["reason"]) == ("skipped", "missing_variable")
    assert "{plan}" in read["detail"]
    assert not any("renews" in text for text in sent_texts(provider))
    async with outreach_hub.db.read() as session:
        timer = await session.scalar(
            select(Timer.status).where(Timer.key == f"outreach:notification:{read['id']}")
        )
    assert timer == "fired"  # recorded once, not retried until dead


async def test_a_notification_follows_its_customer_into_a_merge(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    survivor, _ = await customer(client)
    other = await write_in(
        client, "Hi, it's Kim from work", email="kim@work.example", handle="kim-work"
    )
    await client.post(f"/api/v1/journeys/{other['journey_id']}/resolve", json={"outcome": "spam"})
    await drain(outreach_hub)
    provider.requests.clear()
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    created = await schedule(
        client,
        customer_id=other["customer_id"],
        template="appointment",
        send_at=soon,
        variables=VARIABLES,
    )
    assert created.status_code == 201, created.text
    merged = await client.post(
        f"/api/v1/customers/{survivor}/merge", json={"other_customer_id": other["customer_id"]}
    )
    assert merged.status_code == 200, merged.text
    await drain(outreach_hub)
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    read = (await client.get(f"/api/v1/notifications/{created.json()['id']}")).json()
    assert (read["status"], read["reason"]) == ("sent", None), read
    assert read["customer_id"] == survivor
    assert sent_texts(provider) == ["Reminder: your appointment is on 9 December at 14:00."]
    later = await schedule(  # scheduled with the merged id after the merge
        client, customer_id=other["customer_id"], template="appointment", variables=VARIABLES
    )
    assert later.status_code == 201 and later.json()["customer_id"] == survivor, later.text
    await drain(outreach_hub)
    read = (await client.get(f"/api/v1/notifications/{later.json()['id']}")).json()
    assert read["status"] == "sent", read


async def test_a_channel_key_that_is_no_channel_nor_kind_is_refused(
    client: httpx.AsyncClient, outreach_hub: Hub
) -> None:
    """``sms`` is not a kind (``twilio_sms`` is): its text would never be used."""
    settings = (await client.get("/api/v1/outreach/settings")).json()
    channels = settings["notifications"]["templates"]["appointment"]["channels"]
    channels["sms"] = {"texts": {"en": "Appt {date} {time}"}}
    refused = await client.put("/api/v1/outreach/settings", json=settings)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["field"] == "notifications.templates.appointment.channels.sms"
    assert "no channel named 'sms'" in problem["msg"] and "twilio_sms" in problem["msg"]
    del channels["sms"]
    channels["twilio_sms"] = {"texts": {"en": "Appt {date} {time}"}}  # a kind
    settings["updates"]["templates"] = {"app": {"name": "still_on_it"}}  # a channel's name
    accepted = await client.put("/api/v1/outreach/settings", json=settings)
    assert accepted.status_code == 200, accepted.text
    settings["updates"]["templates"] = {"whatsapp": {"name": "still_on_it"}}
    refused = await client.put("/api/v1/outreach/settings", json=settings)
    assert refused.status_code == 422 and "updates.templates.whatsapp" in refused.text
