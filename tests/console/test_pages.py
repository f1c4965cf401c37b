"""The inbox and the journey view, rendered with the demo customers, and their forms."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in

from relaydesk import clock
from relaydesk.agents.models import Team, agent_teams
from relaydesk.customers.actions import set_consent
from relaydesk.customers.models import Customer
from relaydesk.db import new_id
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Journey, Message
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.models import QueueEntryRow


async def _journeys(hub: Hub) -> dict[str, Journey]:
    """The open journey of each demo customer, by first name."""
    async with hub.db.read() as session:
        rows = (
            await session.execute(
                select(Journey, Customer.name)
                .join(Customer, Customer.id == Journey.customer_id)
                .where(Journey.status == "open")
            )
        ).all()
    return {name.split()[0]: journey for journey, name in rows}


@pytest.fixture
async def scene(hub: Hub, seeded: None, make_agent: MakeAgent) -> dict[str, Any]:
    """Alice (agent) owns Maja's journey, Budi waits in the queue, Anna is unassigned."""
    alice = await make_agent("alice@example.com", name="Alice Agent")
    sam = await make_agent("sam@example.com", name="Sam Supervisor", role="supervisor")
    bob = await make_agent("bob@example.com", name="Bob Other")
    journeys = await _journeys(hub)
    await hub.db.transaction(
        lambda s: change_owner(
            s, journeys["Maja"].id, JourneyOwner.AGENT, reason="test", actor="t", agent_id=alice
        )
    )
    await hub.db.transaction(
        lambda s: change_owner(s, journeys["Budi"].id, JourneyOwner.QUEUE, reason="t", actor="t")
    )
    maja = journeys["Maja"]
    before = maja.created_at - timedelta(days=90)
    past = Journey(
        id=new_id(),
        customer_id=maja.customer_id,
        status="resolved",
        owner_type="agent",
        context={},
        outcome="purchase",
        created_at=before,
        updated_at=before,
        last_activity_at=before,
        resolved_at=before + timedelta(hours=2),
    )

    async def add_past(session: AsyncSession) -> None:
        session.add(past)

    await hub.db.transaction(add_past)
    return {"alice": alice, "sam": sam, "bob": bob, "journeys": journeys, "past": past.id}


def rows_of(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('<tr data-journey-id="')[1:]]


async def test_inbox_views_for_an_agent(browser: httpx.AsyncClient, scene: dict[str, Any]) -> None:
    journeys = scene["journeys"]
    await sign_in(browser, "alice@example.com")
    mine = await browser.get("/console")
    assert mine.status_code == 200
    assert rows_of(mine.text) == [str(journeys["Maja"].id)]
    assert "Maja Lindqvist" in mine.text
    assert "My order 1042 has not arrived yet" in mine.text
    assert '<span class="chan"><svg class="chan-icon icon-api"' in mine.text
    assert '<path d="M8 6l-5 6 5 6 M16 6l5 6-5 6"/></svg>mobile-app</span>' in mine.text
    assert '<span class="waiting">2 d</span>' in mine.text
    assert "Alice Agent" in mine.text
    queue = await browser.get("/console", params={"view": "queue"})
    assert rows_of(queue.text) == [str(journeys["Budi"].id)]
    assert "Halo, bagaimana cara mengembalikan barang?" in queue.text
    everything = await browser.get("/console", params={"view": "all"})
    assert rows_of(everything.text) == [str(journeys["Maja"].id)]  # agents cannot see all
    assert 'value="all"' not in everything.text
    none = await browser.get("/console", params={"channel": "website"})
    assert rows_of(none.text) == [str(journeys["Maja"].id)]  # she wrote on website too
    resolved = await browser.get("/console", params={"status": "resolved"})
    assert "No journeys match these filters." in resolved.text


async def test_inbox_filters_for_a_supervisor(
    browser: httpx.AsyncClient, scene: dict[str, Any]
) -> None:
    journeys = scene["journeys"]
    await sign_in(browser, "sam@example.com")
    active = await browser.get("/console", params={"view": "all"})
    assert set(rows_of(active.text)) == {str(j.id) for j in journeys.values()}
    website = await browser.get("/console", params={"view": "all", "channel": "website"})
    assert set(rows_of(website.text)) == {str(journeys["Anna"].id), str(journeys["Maja"].id)}
    app_only = await browser.get("/console", params={"view": "all", "channel": "mobile-app"})
    assert set(rows_of(app_only.text)) == {str(journeys["Budi"].id), str(journeys["Maja"].id)}
    resolved = await browser.get("/console", params={"view": "all", "status": "resolved"})
    assert rows_of(resolved.text) == [str(scene["past"])]
    anything = await browser.get("/console", params={"view": "all", "status": "any"})
    assert len(rows_of(anything.text)) == 4
    odd = await browser.get("/console", params={"view": "x", "status": "y", "channel": "z" * 500})
    assert odd.status_code == 200  # unknown filters fall back to the defaults


async def test_journey_view_shows_timeline_and_customer_panel(
    browser: httpx.AsyncClient, scene: dict[str, Any]
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "alice@example.com")
    page = await browser.get(f"/console/journeys/{maja.id}")
    assert page.status_code == 200
    text = page.text
    assert "My order 1042 has not arrived yet, it&#39;s been 10 days." in text
    assert '<span class="chan" title="api"><svg class="chan-icon icon-api"' in text
    assert "Europe/Stockholm" in text  # local time
    assert "gold" in text and "2480.00" in text
    assert "#1042" in text and "Trail running shoes" in text
    assert "maja.lindqvist@example.se" in text and "+46701234567" in text
    assert "No consent recorded" in text
    assert f'href="/console/journeys/{scene["past"]}"' in text  # the past journey
    assert ">resolved</span> · purchase" in text  # and its outcome
    assert 'for="reply-text"' in text and 'id="reply-text"' in text
    assert "Handed over by the bot" not in text


async def test_an_emails_quoted_history_is_collapsed_not_lost(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    """The email adapter trims the quoted history from the text and keeps the whole body in
    ``meta["full_text"]``; the timeline shows the trimmed text with the rest collapsed."""
    from relaydesk.channels.email.parsing import trim_quoted

    maja = scene["journeys"]["Maja"]
    full = "Any news on 1042?\n\nOn Mon, 1 Dec 2026, Northwind wrote:\n> It ships on Tuesday."
    trimmed = trim_quoted(full)
    assert trimmed == "Any news on 1042?"

    async def as_email(session: AsyncSession) -> None:
        message = await session.scalar(
            select(Message).where(Message.journey_id == maja.id, Message.direction == "inbound")
        )
        assert message is not None
        message.text = trimmed
        message.meta = {"full_text": full, "quoted_history_trimmed": True}

    await hub.db.transaction(as_email)
    await sign_in(browser, "alice@example.com")
    text = (await browser.get(f"/console/journeys/{maja.id}")).text
    assert '<p class="msg-text">Any news on 1042?</p>' in text
    assert '<details class="quoted"><summary>Show quoted text</summary>' in text
    assert "&gt; It ships on Tuesday." in text  # collapsed, still there (and escaped)
    assert text.count("<details") == 1  # messages with nothing trimmed get no toggle


async def test_handoff_and_routing_cards_when_the_journey_has_them(
    browser: httpx.AsyncClient, scene: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from relaydesk.console import composer, queries

    original = queries.journey_page

    async def with_cards(session: Any, journey_id: uuid.UUID) -> Any:
        page = await original(session, journey_id)
        assert page is not None
        page.details["handoff"] = {
            "version": 1,
            "reason": "asked_for_human",
            "summary": "Order 1042 late; customer asked for a person",
            "intent": "order_status",
            "confidence": 0.91,
            "facts": {"order_number": "1042"},
            "missing_facts": [],
            "sentiment": {"label": "negative", "score": -0.4},
            "signals": ["churn_risk"],
            "articles_offered": ["Where is my parcel?"],
            "bot_turns": 2,
        }
        page.details["routing"] = {
            "decision": "agent",
            "policy": "value",
            "reason": "high_value",
            "value": 412.5,
            "currency": "EUR",
            "explanation": "Gold customer with a late order: straight to a person.",
        }
        return page

    monkeypatch.setattr(composer, "journey_page", with_cards)
    await sign_in(browser, "alice@example.com")
    text = (await browser.get(f"/console/journeys/{scene['journeys']['Maja'].id}")).text
    assert "Handed over by the bot" in text
    assert "Order 1042 late; customer asked for a person" in text
    assert "asked for human" in text and "order_status (91%)" in text
    assert "order number</dt><dd>1042" in text and "Negative (score -0.40)" in text
    assert "churn_risk" in text and "Where is my parcel?" in text
    assert "Why it was routed here" in text and "412.5 EUR" in text
    assert "Gold customer with a late order: straight to a person." in text and "high value" in text


async def test_unknown_journeys_are_404(browser: httpx.AsyncClient, scene: dict[str, Any]) -> None:
    await sign_in(browser, "alice@example.com")
    assert (await browser.get(f"/console/journeys/{uuid.uuid4()}")).status_code == 404
    assert (await browser.get("/console/journeys/not-a-uuid")).status_code == 404


async def test_composer_queues_a_reply_through_the_reply_action(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "alice@example.com")
    page = await browser.get(f"/console/journeys/{maja.id}")
    sent = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page.text), "text": "It ships today, sorry!", "channel": ""},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/console/journeys/{maja.id}?sent=reply#composer"
    async with hub.db.read() as session:
        message = await session.scalar(
            select(Message).where(Message.journey_id == maja.id, Message.direction == "outbound")
        )
    assert message is not None
    assert (message.text, message.author_type, message.author_id) == (
        "It ships today, sorry!",
        "agent",
        str(scene["alice"]),
    )
    assert message.delivery_status == "queued"
    after = await browser.get(sent.headers["location"])
    assert "Reply queued for delivery." in after.text
    assert "It ships today, sorry!" in after.text
    assert '<span class="author">Alice Agent</span>' in after.text
    # fetch() sends the token as a header instead
    header = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"text": "And a tracking link follows."},
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )
    assert header.status_code == 303


async def test_a_refused_reply_shows_the_reason_and_keeps_the_draft(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    maja = scene["journeys"]["Maja"]
    await hub.db.transaction(
        lambda s: set_consent(s, maja.customer_id, "mobile-app", "revoked", source="test")
    )
    await sign_in(browser, "alice@example.com")
    page = await browser.get(f"/console/journeys/{maja.id}")
    rules = page.text.split('id="channel-rules"')[1].split("</ul>")[0]
    assert "the customer opted out of mobile-app; reply on another channel" in rules
    assert 'value="mobile-app" selected disabled' in page.text
    refused = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page.text), "text": "Hello <b>there</b>"},
    )
    assert refused.status_code == 409
    assert "the customer opted out of mobile-app; reply on another channel" in refused.text
    assert "Hello &lt;b&gt;there&lt;/b&gt;</textarea>" in refused.text
    empty = await browser.post(
        f"/console/journeys/{maja.id}/reply", data={"csrf_token": csrf_of(page.text), "text": " "}
    )
    assert empty.status_code == 400
    assert "Write a reply first." in empty.text
    async with hub.db.read() as session:
        count = await session.scalar(
            select(Message.id).where(Message.journey_id == maja.id, Message.direction == "outbound")
        )
    assert count is None  # nothing half-written


async def test_forms_without_csrf_are_refused(
    browser: httpx.AsyncClient, scene: dict[str, Any]
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "alice@example.com")
    for action, data in (("reply", {"text": "hi"}), ("resolve", {"outcome": "resolved"})):
        missing = await browser.post(f"/console/journeys/{maja.id}/{action}", data=data)
        assert missing.status_code == 403
        wrong = await browser.post(
            f"/console/journeys/{maja.id}/{action}", data={**data, "csrf_token": "0" * 64}
        )
        assert wrong.status_code == 403


async def test_another_agents_journey_is_hidden_from_an_agent(
    browser: httpx.AsyncClient, scene: dict[str, Any]
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "bob@example.com")
    page = await browser.get(f"/console/journeys/{maja.id}")
    assert page.status_code == 403
    inbox = await browser.get("/console")
    refused = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(inbox.text), "text": "hi"},
    )
    assert refused.status_code == 403
    assert "Maja" not in refused.text


async def test_nobody_writes_on_a_journey_the_bot_or_the_queue_holds(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    """Otherwise the bot would answer the customer too, or two people take one customer."""
    budi, anna = scene["journeys"]["Budi"], scene["journeys"]["Anna"]
    await hub.db.transaction(
        lambda s: change_owner(s, anna.id, JourneyOwner.BOT, reason="t", actor="t")
    )
    await sign_in(browser, "sam@example.com")  # a supervisor: may step in on an agent's journey
    for journey, reason in (
        (budi, "waits in the queue for a person"),
        (anna, "The bot is handling this journey"),
    ):
        page = await browser.get(f"/console/journeys/{journey.id}")
        assert reason in page.text and "You can read it but not reply" in page.text
        for action, data in (("reply", {"text": "hi"}), ("resolve", {"outcome": "resolved"})):
            refused = await browser.post(
                f"/console/journeys/{journey.id}/{action}",
                data={**data, "csrf_token": csrf_of(page.text)},
            )
            assert refused.status_code == 403 and reason in refused.text
    async with hub.db.read() as session:
        written = await session.scalar(
            select(Message.id).where(
                Message.journey_id.in_([budi.id, anna.id]), Message.direction == "outbound"
            )
        )
        statuses = set(
            (
                await session.scalars(
                    select(Journey.status).where(Journey.id.in_([budi.id, anna.id]))
                )
            ).all()
        )
    assert written is None and statuses == {"open"}
    maja = scene["journeys"]["Maja"]
    page = await browser.get(f"/console/journeys/{maja.id}")
    stepped_in = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page.text), "text": "A supervisor here."},
    )
    assert stepped_in.status_code == 303


async def test_resolve_with_an_outcome(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "alice@example.com")
    token = csrf_of((await browser.get(f"/console/journeys/{maja.id}")).text)
    bad = await browser.post(
        f"/console/journeys/{maja.id}/resolve", data={"csrf_token": token, "outcome": "magic"}
    )
    assert bad.status_code == 400
    assert "Choose an outcome" in bad.text
    done = await browser.post(
        f"/console/journeys/{maja.id}/resolve", data={"csrf_token": token, "outcome": "purchase"}
    )
    assert done.status_code == 303
    async with hub.db.read() as session:
        journey = await session.get(Journey, maja.id)
    assert journey is not None
    assert (journey.status, journey.outcome) == ("resolved", "purchase")
    again = await browser.post(
        f"/console/journeys/{maja.id}/resolve", data={"csrf_token": token, "outcome": "resolved"}
    )
    assert again.status_code == 409
    assert "A resolved journey cannot be resolved." in again.text


async def test_the_queue_shows_an_agent_only_their_teams_work(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    journeys = scene["journeys"]
    budi, anna = journeys["Budi"], journeys["Anna"]
    await hub.db.transaction(
        lambda s: change_owner(s, anna.id, JourneyOwner.QUEUE, reason="t", actor="t")
    )

    async def route(session: AsyncSession) -> None:
        support = await session.scalar(select(Team.id).where(Team.name == "support"))
        await session.execute(insert(agent_teams).values(agent_id=scene["alice"], team_id=support))
        now = clock.now()
        for journey, team in ((budi, "billing"), (anna, "support")):
            session.add(
                QueueEntryRow(
                    journey_id=journey.id,
                    enqueued_at=now,
                    value=1.0,
                    team=team,
                    reason="test",
                    updated_at=now,
                )
            )

    await hub.db.transaction(route)
    await sign_in(browser, "alice@example.com")
    queue = await browser.get("/console", params={"view": "queue"})
    assert rows_of(queue.text) == [str(anna.id)]  # billing's journey is not Alice's
    # the queue's own position (the same as GET /api/v1/queue): billing's journey is first
    assert '<span class="queue-place">#2 in queue</span>' in queue.text  # nobody online: no ETA
    browser.cookies.clear()
    await sign_in(browser, "sam@example.com")
    everyone = await browser.get("/console", params={"view": "queue"})
    assert set(rows_of(everyone.text)) == {str(anna.id), str(budi.id)}


NEGATIVE = (
    "This is terrible, I am really angry and disappointed.",
    "Still broken. Awful service, useless.",
    "Worst experience ever, I hate this.",
)
POSITIVE = (
    "Thank you, that is great!",
    "Perfect, thanks a lot, very helpful.",
    "Wonderful, I am happy now, thanks.",
)


async def _say(hub: Hub, journey_id: uuid.UUID, texts: tuple[str, ...]) -> None:
    """Customer messages on the journey's first conversation, a minute apart, after the rest."""

    async def add(session: AsyncSession) -> None:
        first = await session.scalar(
            select(Message).where(Message.journey_id == journey_id).order_by(Message.created_at)
        )
        assert first is not None
        latest = await session.scalar(
            select(Message.created_at)
            .where(Message.customer_id == first.customer_id)
            .order_by(Message.created_at.desc())
            .limit(1)
        )
        assert latest is not None
        for n, text in enumerate(texts, start=1):
            at = latest + timedelta(minutes=n)
            session.add(
                Message(
                    id=new_id(),
                    conversation_id=first.conversation_id,
                    journey_id=journey_id,
                    customer_id=first.customer_id,
                    channel_id=first.channel_id,
                    external_id=f"trend-{uuid.uuid4()}",
                    direction="inbound",
                    author_type="customer",
                    text=text,
                    meta={},
                    created_at=at,
                    received_at=at,
                )
            )

    await hub.db.transaction(add)


async def _decide(hub: Hub, journey_id: uuid.UUID, *, old_style: bool = False) -> float:
    """A stored routing decision valuing the journey as the router does (churn returned)."""
    from relaydesk.routing.models import RoutingDecision
    from relaydesk.routing.schemas import RoutingConfig
    from relaydesk.routing.value import CustomerValue, Signals, estimate

    signals = Signals(
        intent="complaint", intent_signals=frozenset({"complaint", "churn_risk"}), contacts_7d=3
    )
    value = estimate(signals, CustomerValue(lifetime_value=3600), RoutingConfig(), "EUR")
    stored = value.as_dict()
    if old_style:  # decisions stored before inputs.value carried the reasons
        del stored["churn_reasons"], stored["purchase_reasons"]

    async def add(session: AsyncSession) -> None:
        session.add(
            RoutingDecision(
                id=new_id(),
                journey_id=journey_id,
                trigger="message",
                target="queue",
                policy="value",
                reason="high_value",
                value=round(value.value, 2),
                currency="EUR",
                explanation=f"value policy; {value.explanation()}",
                inputs={"intent": "complaint", "value": stored},
                created_at=clock.now(),
            )
        )

    await hub.db.transaction(add)
    return value.churn


async def test_customer_panel_sentiment_trend_and_churn_risk(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    maja = scene["journeys"]["Maja"]
    await sign_in(browser, "alice@example.com")
    text = (await browser.get(f"/console/journeys/{maja.id}")).text
    churn = text.split("<dt>Churn risk</dt>")[1].split("</dd>")[0]
    assert "Not assessed yet" in churn

    await _say(hub, maja.id, NEGATIVE + POSITIVE)
    risk = await _decide(hub, maja.id)
    text = (await browser.get(f"/console/journeys/{maja.id}")).text
    trend = text.split("<dt>Sentiment trend</dt>")[1].split("</dd>")[0]
    assert "<strong>Improving</strong>, latest positive, 1 of 8 frustrated" in trend
    assert "last 8 messages, all channels" in trend  # Maja's two seeded ones and the six
    assert (
        'role="img" aria-label="Sentiment of the last 8 customer messages, oldest first: '
        "neutral, neutral, negative, negative, negative (frustrated), positive, positive, "
        'positive">▅▅▁▁▁▇██</span>'
    ) in trend
    churn = text.split("<dt>Churn risk</dt>")[1].split("</dd>")[0]
    assert f"<strong>{round(risk * 100)}%</strong>: complaint, 3rd contact in 7 days" in churn
    assert "Not assessed yet" not in churn and "another journey" not in churn


async def test_a_worsening_trend_and_churn_risk_from_an_earlier_journey(
    browser: httpx.AsyncClient, scene: dict[str, Any], hub: Hub
) -> None:
    """The churn risk comes from the latest decision on any of the customer's journeys (here
    the past one, stored before decisions kept the reasons: read from its explanation)."""
    maja = scene["journeys"]["Maja"]
    await _say(hub, maja.id, POSITIVE + NEGATIVE)
    risk = await _decide(hub, scene["past"], old_style=True)
    await sign_in(browser, "alice@example.com")
    text = (await browser.get(f"/console/journeys/{maja.id}")).text
    trend = text.split("<dt>Sentiment trend</dt>")[1].split("</dd>")[0]
    assert "<strong>Worsening</strong>, latest negative, 1 of 8 frustrated" in trend
    churn = text.split("<dt>Churn risk</dt>")[1].split("</dd>")[0]
    assert f"<strong>{round(risk * 100)}%</strong>: complaint, 3rd contact in 7 days" in churn
    assert f'<a href="/console/journeys/{scene["past"]}">another journey</a>' in churn
