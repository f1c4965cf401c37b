"""Surveys after resolution: asked on the channel the journey ended on, answered by normal
messages that neither reopen the journey nor reach the bot or routing, then summarized."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers.loopback import LoopbackProvider
from tests.outreach.helpers import drain, event_names, sent_texts, write_in

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.channels.base import InboundMessage, Sender
from relaydesk.channels.models import Channel
from relaydesk.customers.identities import Assurance, identity_key
from relaydesk.hub import Hub
from relaydesk.journeys.actions import ingest_inbound
from relaydesk.journeys.models import Message
from relaydesk.routing.models import RoutingDecision

CES_EN = "How easy was it to get your issue resolved? Reply 1 (very difficult) to 7 (very easy)."


async def resolved_journey(
    client: httpx.AsyncClient,
    hub: Hub,
    provider: LoopbackProvider,
    *,
    email: str = "kim@example.com",
    channel: str = "app",
    outcome: str = "resolved",
    **patch: object,
) -> dict[str, str]:
    async with hub.db.read() as session:  # Ana takes it (routing: human_first, auto_accept)
        ana = await session.scalar(select(Agent.id).where(Agent.name == "Ana"))
    await client.put(f"/api/v1/agents/{ana}/presence", json={"presence": "online"})
    accepted = await write_in(
        client, "My parcel is late", email=email, channel=channel, handle=email.split("@")[0]
    )
    if patch:
        await client.patch(f"/api/v1/customers/{accepted['customer_id']}", json=patch)
    await drain(hub)
    resolved = await client.post(
        f"/api/v1/journeys/{accepted['journey_id']}/resolve", json={"outcome": outcome}
    )
    assert resolved.status_code == 200, resolved.text
    await drain(hub)
    provider.requests.clear()
    return accepted


async def surveys(client: httpx.AsyncClient, journey_id: str) -> list[dict[str, object]]:
    response = await client.get("/api/v1/surveys", params={"journey_id": journey_id})
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_a_survey_is_asked_after_the_delay_and_answered_in_words_and_digits(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(client, outreach_hub, provider)
    journey = accepted["journey_id"]
    start_clock.advance(timedelta(minutes=59))
    await drain(outreach_hub)
    assert sent_texts(provider) == []
    start_clock.advance(timedelta(minutes=1))
    await drain(outreach_hub)
    assert sent_texts(provider) == [CES_EN]
    choices = provider.requests[-1].json()["choices"]
    assert [c["id"] for c in choices] == [f"survey:ces:{n}" for n in range(1, 8)]
    answer = await write_in(client, "Very easy!")
    assert answer["journey_id"] == journey  # the surveyed journey, not a new one
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("How likely are you to recommend us")
    await write_in(client, "9")
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("Anything you'd like to add?")
    await write_in(client, "The tracking page could be clearer")
    await drain(outreach_hub)
    assert sent_texts(provider)[-1] == "Thank you for your feedback!"
    [survey] = await surveys(client, journey)
    assert survey["status"] == "answered" and survey["channel"] == "app"
    assert survey["answers"] == {"ces": 7, "nps": 9}
    assert survey["comment"] == "The tracking page could be clearer"
    assert survey["resolved_by"] == "person" and survey["agent_id"] is not None
    view = (await client.get(f"/api/v1/journeys/{journey}")).json()
    assert view["status"] == "resolved"  # never reopened
    names = await event_names(outreach_hub, journey)
    assert "journey.reopened" not in names
    assert names.count("outreach.survey_answered") == 3
    async with outreach_hub.db.read() as session:  # routing never saw the answers
        decisions = (
            await session.scalars(
                select(RoutingDecision.trigger).where(
                    RoutingDecision.journey_id == uuid.UUID(journey)
                )
            )
        ).all()
    assert list(decisions) == ["message"]


async def test_answers_in_the_customers_language_with_the_comment_on_the_score(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(
        client, outreach_hub, provider, locale="id-ID", timezone="Asia/Jakarta"
    )
    start_clock.advance(timedelta(hours=1))  # 18:00 in Jakarta: still daytime
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("Seberapa mudah masalah Anda diselesaikan?")
    await write_in(client, "sangat mudah, agennya ramah")
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("Seberapa besar kemungkinan")
    await write_in(client, "10")
    await drain(outreach_hub)
    assert sent_texts(provider)[-1] == "Terima kasih atas masukan Anda!"  # comment given
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["answers"] == {"ces": 7, "nps": 10}
    assert survey["comment"] == "agennya ramah" and survey["status"] == "answered"


async def test_a_new_request_is_not_taken_for_an_answer(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(client, outreach_hub, provider)
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    message = await write_in(client, "Actually my other order is missing too")
    await drain(outreach_hub)
    view = (await client.get(f"/api/v1/journeys/{message['journey_id']}")).json()
    assert view["status"] == "open"  # reopened (within the window) and routed as usual
    assert "journey.reopened" in await event_names(outreach_hub, accepted["journey_id"])
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["answers"] == {}
    assert (survey["status"], survey["reason"]) == ("cancelled", "request")  # moved on
    await write_in(client, "5")  # the journey is active again: the bot/agent's, not ours
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["answers"] == {}


async def routing_triggers(hub: Hub, journey_id: str) -> list[str]:
    async with hub.db.read() as session:
        rows = await session.scalars(
            select(RoutingDecision.trigger)
            .where(RoutingDecision.journey_id == uuid.UUID(journey_id))
            .order_by(RoutingDecision.created_at)
        )
        return list(rows)


async def test_a_request_with_a_number_in_it_reaches_routing_not_the_survey(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(client, outreach_hub, provider)
    journey = accepted["journey_id"]
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    assert sent_texts(provider) == [CES_EN]
    message = await write_in(client, "2 parcels are still missing, please help")
    await drain(outreach_hub)
    assert message["journey_id"] == journey  # reopened (within the window), as any message
    view = (await client.get(f"/api/v1/journeys/{journey}")).json()
    assert view["status"] != "resolved"
    assert "journey.reopened" in await event_names(outreach_hub, journey)
    assert await routing_triggers(outreach_hub, journey) == ["message", "reopened"]
    [survey] = await surveys(client, journey)
    assert survey["answers"] == {}  # the 2 was a quantity, not a score
    assert (survey["status"], survey["reason"]) == ("cancelled", "request")
    assert not any(t.startswith("How likely") for t in sent_texts(provider))  # no next question
    async with outreach_hub.db.read() as session:
        stored = await session.get(Message, uuid.UUID(message["message_id"]))
    assert stored is not None and "survey" not in stored.meta  # a plain inbound message


async def test_a_score_set_apart_from_a_request_is_kept_and_the_request_routed(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(
        client, outreach_hub, provider, locale="de-DE", timezone="Europe/Berlin"
    )
    journey = accepted["journey_id"]
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("Wie einfach war es")
    await write_in(client, "2 - und warum fehlt mein Paket immer noch?")
    await drain(outreach_hub)
    [survey] = await surveys(client, journey)
    assert survey["answers"] == {"ces": 2} and survey["comment"] is None
    assert (survey["status"], survey["reason"]) == ("cancelled", "request")
    assert await routing_triggers(outreach_hub, journey) == ["message", "reopened"]
    names = await event_names(outreach_hub, journey)
    assert names.count("outreach.survey_answered") == 1 and "journey.reopened" in names
    assert not any(t.startswith("Wie wahrscheinlich") for t in sent_texts(provider))


async def test_a_request_at_the_comment_question_is_routed_not_filed_as_a_comment(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(client, outreach_hub, provider)
    journey = accepted["journey_id"]
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    for text in ("6", "8"):
        await write_in(client, text)
        await drain(outreach_hub)
    assert sent_texts(provider)[-1].startswith("Anything you'd like to add?")
    assert await routing_triggers(outreach_hub, journey) == ["message"]
    await write_in(client, "where is my refund?")
    await drain(outreach_hub)
    [survey] = await surveys(client, journey)
    assert survey["answers"] == {"ces": 6, "nps": 8} and survey["comment"] is None
    assert survey["status"] == "answered"  # every score is in; the comment was optional
    assert "Thank you for your feedback!" not in sent_texts(provider)  # the agent answers
    assert await routing_triggers(outreach_hub, journey) == ["message", "reopened"]
    await write_in(client, "3")  # for the agent now, not a late survey answer
    [survey] = await surveys(client, journey)
    assert survey["answers"] == {"ces": 6, "nps": 8}


async def test_night_delays_the_question_and_unanswered_surveys_expire(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    start_clock.set(start_clock.now().replace(hour=18, minute=30))  # 19:30 in Stockholm
    accepted = await resolved_journey(client, outreach_hub, provider)
    start_clock.advance(timedelta(hours=1))  # 20:30: after the daytime
    await drain(outreach_hub)
    assert sent_texts(provider) == []
    [survey] = await surveys(client, accepted["journey_id"])
    assert str(survey["ask_at"]).startswith("2026-12-08T07:00:00")  # 08:00 Stockholm
    start_clock.set(start_clock.now().replace(day=8, hour=7, minute=0))
    await drain(outreach_hub)
    assert sent_texts(provider) == [CES_EN]
    start_clock.advance(timedelta(days=2))
    await drain(outreach_hub)
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["status"] == "expired"
    late = await write_in(client, "7")
    assert late["journey_id"] == accepted["journey_id"]  # an ordinary message now (reopens)
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["answers"] == {}


async def test_cooldown_sampling_and_skipped_outcomes_are_recorded(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    first = await resolved_journey(client, outreach_hub, provider)
    start_clock.advance(timedelta(days=8))  # past the journey window: a new journey
    second = await resolved_journey(client, outreach_hub, provider)
    assert second["journey_id"] != first["journey_id"]
    [skipped] = await surveys(client, second["journey_id"])
    assert (skipped["status"], skipped["reason"]) == ("skipped", "cooldown")
    start_clock.advance(timedelta(days=31))
    third = await resolved_journey(client, outreach_hub, provider)
    [planned] = await surveys(client, third["journey_id"])
    assert planned["status"] == "scheduled"
    spam = await resolved_journey(
        client, outreach_hub, provider, email="x@example.com", outcome="spam"
    )
    [outcome] = await surveys(client, spam["journey_id"])
    assert outcome["reason"] == "outcome"
    settings = (await client.get("/api/v1/outreach/settings")).json()
    settings["surveys"]["sample"] = 0.0
    put = await client.put("/api/v1/outreach/settings", json=settings)
    assert put.status_code == 200, put.text
    unsampled = await resolved_journey(client, outreach_hub, provider, email="y@example.com")
    [not_sampled] = await surveys(client, unsampled["journey_id"])
    assert not_sampled["reason"] == "not_sampled"
    bad = await client.put("/api/v1/outreach/settings", json={"surveys": {"sample": 2}})
    assert bad.status_code == 422 and "sample" in bad.text


async def test_summary_by_channel_intent_agent_and_resolver(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    people = [
        ("a@example.com", "app", "resolved", ["7", "10", "no"]),
        ("b@example.com", "portal", "resolved", ["3", "6", "no"]),
        ("c@example.com", "app", "resolved_by_bot", ["5", "8", "no"]),
    ]
    for email, channel, outcome, _ in people:
        await resolved_journey(
            client, outreach_hub, provider, email=email, channel=channel, outcome=outcome
        )
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    for email, channel, _, replies in people:
        for text in replies:
            await write_in(client, text, email=email, channel=channel, handle=email.split("@")[0])
            await drain(outreach_hub)
    summary = (await client.get("/api/v1/surveys/summary")).json()
    assert summary["overall"]["ces"] == {"score": 5.0, "count": 3}
    assert summary["overall"]["nps"] == {
        "score": 0.0,
        "count": 3,
        "promoters": 1,
        "passives": 1,
        "detractors": 1,
    }
    assert summary["by_channel"]["app"]["ces"] == {"score": 6.0, "count": 2}
    assert summary["by_channel"]["portal"]["nps"]["score"] == -100.0
    assert summary["by_resolver"]["bot"]["ces"] == {"score": 5.0, "count": 1}
    assert summary["by_resolver"]["person"]["ces"] == {"score": 5.0, "count": 2}
    async with outreach_hub.db.read() as session:
        ana = str(await session.scalar(select(Agent.id).where(Agent.name == "Ana")))
    assert summary["by_agent"][ana]["name"] == "Ana"
    assert summary["by_agent"][ana]["ces"]["count"] >= 2
    assert sum(v["ces"]["count"] for v in summary["by_intent"].values()) == 3
    later = (
        await client.get("/api/v1/surveys/summary", params={"since": "2030-01-01T00:00:00Z"})
    ).json()
    assert later["overall"] == {}


async def test_a_button_press_answers_the_question_it_belongs_to(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    accepted = await resolved_journey(client, outreach_hub, provider)
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    sender = Sender(
        identities=((identity_key("handle", "kim", scope="app"), Assurance.INTEGRATION.value),)
    )

    async def press(external_id: str, payload: str, title: str) -> str:
        async def write(session: AsyncSession) -> str:
            channel = await session.scalar(select(Channel).where(Channel.name == "app"))
            inbound = InboundMessage(
                channel="app",
                external_id=external_id,
                sender=sender,
                text=title,
                meta={"payload": payload},
            )
            result = await ingest_inbound(
                session, channel, inbound, journey_window=timedelta(days=7)
            )
            return str(result.journey_id)

        return await outreach_hub.db.transaction(write)

    assert await press("b1", "survey:ces:6", "6") == accepted["journey_id"]
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["answers"] == {"ces": 6} and survey["position"] == 1
    view = (await client.get(f"/api/v1/journeys/{accepted['journey_id']}")).json()
    assert view["status"] == "resolved"
    await press("b2", "survey:ces:3", "3")  # a stale button of the previous question
    [survey] = await surveys(client, accepted["journey_id"])
    assert survey["answers"] == {"ces": 6}  # not taken for the NPS answer


async def test_summary_refuses_a_time_without_its_zone(
    client: httpx.AsyncClient, outreach_hub: Hub
) -> None:
    for params, field in (
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "2026-01-01T00:00"}, "until"),
        ({"since": "yesterday"}, "since"),
    ):
        response = await client.get("/api/v1/surveys/summary", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_request"
        assert [e["field"] for e in response.json()["detail"]] == [field]
    aware = await client.get("/api/v1/surveys/summary", params={"since": "2026-01-01T00:00:00Z"})
    assert aware.status_code == 200 and aware.json()["overall"] == {}


async def test_a_survey_follows_its_customer_into_a_merge(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    other = await resolved_journey(client, outreach_hub, provider, email="kim@work.example")
    start_clock.advance(timedelta(hours=1))
    await drain(outreach_hub)
    assert sent_texts(provider) == [CES_EN]
    survivor = await write_in(client, "Hello", email="kim@home.example", handle="kim-home")
    merged = await client.post(
        f"/api/v1/customers/{survivor['customer_id']}/merge",
        json={"other_customer_id": other["customer_id"]},
    )
    assert merged.status_code == 200, merged.text
    [survey] = await surveys(client, other["journey_id"])
    assert survey["customer_id"] == survivor["customer_id"]
    # the survivor's next resolution is within the cooldown of the survey they were asked
    await client.post(f"/api/v1/journeys/{survivor['journey_id']}/resolve", json={})
    await drain(outreach_hub)
    [later] = await surveys(client, survivor["journey_id"])
    assert (later["status"], later["reason"]) == ("skipped", "cooldown")


async def test_an_override_of_a_survey_text_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, outreach_hub: Hub
) -> None:
    settings = (await client.get("/api/v1/outreach/settings")).json()
    settings["surveys"]["texts"] = {"en": {"cse": "How easy was it?"}}  # a typo of ces
    refused = await client.put("/api/v1/outreach/settings", json=settings)
    assert refused.status_code == 422, refused.text
    assert "en.cse: not a survey text" in refused.text
    settings["surveys"]["texts"] = {"en": {"ces": "How easy was it? 1-7", "thanks": "Thanks!"}}
    assert (await client.put("/api/v1/outreach/settings", json=settings)).status_code == 200
