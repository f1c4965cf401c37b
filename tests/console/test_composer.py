"""The composer on the journey view: channel rules and switching, WhatsApp templates, the
call-back offer, canned replies with variables, knowledge-base suggestions, internal notes
and transfers; each with its bad paths (nothing written)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.console.conftest import MakeAgent
from tests.console.support import csrf_of, sign_in
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.audit.models import AuditEntry
from relaydesk.channels.models import Channel
from relaydesk.customers.actions import set_consent
from relaydesk.customers.models import Customer
from relaydesk.db import new_id
from relaydesk.hub import Hub
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Conversation, Journey, JourneyNote, Message
from relaydesk.journeys.states import JourneyOwner

SID = "AC" + "0" * 32
TEMPLATE_SID = "HX" + "1" * 32
CHANNELS = f"""
version: 1
channels:
  - name: wa
    kind: twilio_whatsapp
    settings:
      account_sid: {SID}
      auth_token: env:TEST_COMPOSER_TWILIO
      phone_number: "+15550001111"
      templates:
        order_update: {TEMPLATE_SID}
  - name: phone
    kind: twilio_voice
    settings:
      account_sid: {SID}
      auth_token: env:TEST_COMPOSER_TWILIO
      phone_number: "+15550002222"
  - name: mail
    kind: email
    settings:
      address: support@example.com
      smtp_host: 127.0.0.1
canned_replies:
  - name: shipped
    title: Order shipped
    texts:
      en: "Hi {{customer.first_name}}, order {{journey.order_number}} is on its way. {{agent.name}}"
      sv: >-
        Hej {{customer.first_name}}! Order {{journey.order_number}} är på väg.
        /{{agent.first_name}}
  - name: amount
    title: Amount check
    texts:
      en: "You mentioned {{journey.amount}}, {{customer.first_name}}."
"""


@pytest.fixture
async def desk(hub: Hub, seeded: None, make_agent: MakeAgent) -> dict[str, Any]:
    """Alice holds Maja's journey (api channel mobile-app, plus a phone call); Maja can be
    reached on WhatsApp (phone) and email; Bob is another agent, Sam a supervisor."""
    await apply_text(hub, CHANNELS)
    alice = await make_agent("alice@example.com", name="Alice Agent")
    bob = await make_agent("bob@example.com", name="Bob Other")
    sam = await make_agent("sam@example.com", name="Sam Supervisor", role="supervisor")
    async with hub.db.read() as session:
        maja = await session.scalar(
            select(Journey)
            .join(Customer, Customer.id == Journey.customer_id)
            .where(Customer.name == "Maja Lindqvist", Journey.status == "open")
        )
        phone = await session.scalar(select(Channel.id).where(Channel.name == "phone"))
    assert maja is not None and phone is not None

    async def setup(session: AsyncSession) -> None:
        now = clock.now()
        row = await session.get(Journey, maja.id)
        assert row is not None
        row.context = {**(row.context or {}), "order_number": "1042"}
        session.add(
            Conversation(
                id=new_id(),
                journey_id=maja.id,
                customer_id=maja.customer_id,
                channel_id=phone,
                thread_key="",
                status="open",
                reply_to={"to": "+46701234567"},
                created_at=now,
                last_message_at=now,
                last_inbound_at=now,
            )
        )
        await change_owner(
            session, maja.id, JourneyOwner.AGENT, reason="test", actor="t", agent_id=alice
        )

    await hub.db.transaction(setup)
    return {"alice": alice, "bob": bob, "sam": sam, "maja": maja}


async def outbound(hub: Hub, journey_id: Any) -> list[tuple[Message, str]]:
    async with hub.db.read() as session:
        rows = await session.execute(
            select(Message, Channel.name)
            .join(Channel, Channel.id == Message.channel_id)
            .where(Message.journey_id == journey_id, Message.direction == "outbound")
            .order_by(Message.created_at)
        )
        return [(m, name) for m, name in rows]


def option(page: str, value: str) -> str:
    found = re.search(rf'<option value="{re.escape(value)}"[^>]*>[^<]*</option>', page)
    assert found is not None, f"no option {value}"
    return found.group(0)


def rules(page: str) -> str:
    return html.unescape(page.split('id="channel-rules"')[1].split("</ul>")[0])


async def test_the_composer_shows_each_channels_rules(
    browser: httpx.AsyncClient, desk: dict[str, Any]
) -> None:
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{desk['maja'].id}")).text
    current = option(page, "mobile-app")
    assert "selected" in current and "current" in current and "disabled" not in current
    assert "disabled" not in option(page, "mail")  # switch to email: allowed
    whatsapp = option(page, "wa")
    assert "template only" in whatsapp and "disabled" not in whatsapp
    assert 'data-template-only="yes"' in whatsapp
    assert "disabled" in option(page, "phone")
    listed = rules(page)
    assert "wa: the customer's last message is older than 24 h" in listed
    assert "phone is a twilio_voice channel: a call cannot carry a written reply" in listed
    assert option(page, "order_update").count('data-channel="wa"') == 1
    assert 'data-channel="mobile-app"' not in listed and 'data-channel="mail"' not in listed


async def test_an_opted_out_channel_is_disabled_with_the_reason(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await hub.db.transaction(
        lambda s: set_consent(s, maja.customer_id, "mail", "revoked", source="test")
    )
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    assert "disabled" in option(page, "mail")
    assert "mail the customer opted out of mail; reply on another channel" in " ".join(
        re.sub(r"<[^>]+>", "", rules(page)).split()
    )
    refused = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page), "text": "By email", "channel": "mail"},
    )
    assert refused.status_code == 409
    assert "the customer opted out of mail" in html.unescape(refused.text)
    assert await outbound(hub, maja.id) == []


async def test_switching_to_email_opens_a_conversation_there(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    sent = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page), "text": "Details by email.", "channel": "mail"},
    )
    assert sent.status_code == 303
    [(message, channel)] = await outbound(hub, maja.id)
    assert channel == "mail" and message.text == "Details by email."


async def test_whatsapp_outside_the_window_refuses_free_text_and_sends_a_template(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    token = csrf_of(page)
    url = f"/console/journeys/{maja.id}/reply"
    free = await browser.post(url, data={"csrf_token": token, "text": "Hi", "channel": "wa"})
    assert free.status_code == 409
    assert "allows no free-form reply; send an approved template" in html.unescape(free.text)
    assert ">Hi</textarea>" in free.text  # the draft is kept
    unknown = await browser.post(
        url, data={"csrf_token": token, "text": "", "channel": "wa", "template": "nope"}
    )
    assert unknown.status_code == 400
    assert "wa has no approved template 'nope' (configured: order_update)" in html.unescape(
        unknown.text
    )
    elsewhere = await browser.post(
        url,
        data={"csrf_token": token, "text": "", "channel": "mail", "template": "order_update"},
    )
    assert elsewhere.status_code == 400  # the template is WhatsApp's, not the email channel's
    assert await outbound(hub, maja.id) == []
    sent = await browser.post(
        url,
        data={
            "csrf_token": token,
            "text": "",
            "channel": "wa",
            "template": "order_update",
            "template_values": "1042\nFriday\n",
        },
    )
    assert sent.status_code == 303
    [(message, channel)] = await outbound(hub, maja.id)
    assert channel == "wa"
    assert message.meta["template"] == {
        "name": "order_update",
        "params": ["1042", "Friday"],
        "variables": {"1": "1042", "2": "Friday"},
    }
    assert message.text == "[template order_update] 1042, Friday"


async def test_voice_has_no_written_replies(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    refused = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page), "text": "Hello", "channel": "phone"},
    )
    assert refused.status_code == 409
    assert "a call cannot carry a written reply" in refused.text
    assert await outbound(hub, maja.id) == []


async def test_the_call_back_offer_goes_on_the_chosen_channel(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    assert "Offer a call back" in page
    sent = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page), "text": "", "channel": "mail", "callback": "1"},
    )
    assert sent.status_code == 303 and "sent=callback" in sent.headers["location"]
    [(message, channel)] = await outbound(hub, maja.id)
    assert channel == "mail" and message.meta["kind"] == "callback_offer"
    assert "+46701234567" in message.text
    shown = await browser.get(sent.headers["location"])
    assert "Call-back offer queued for delivery." in shown.text


async def test_a_canned_reply_is_filled_for_the_journey(
    browser: httpx.AsyncClient, desk: dict[str, Any]
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = await browser.get(f"/console/journeys/{maja.id}", params={"canned": "shipped"})
    assert page.status_code == 200
    # Maja's locale is sv-SE: the Swedish text, with her first name, the order, the agent
    draft = html.unescape(page.text.split('id="reply-text"')[1].split("</textarea>")[0])
    assert draft.endswith("Hej Maja! Order 1042 är på väg. /Alice")
    assert 'data-text="Hej Maja! Order 1042 är på väg. /Alice"' in html.unescape(page.text)
    missing = await browser.get(f"/console/journeys/{maja.id}", params={"canned": "amount"})
    assert "Fill in before sending: {journey.amount}" in html.unescape(missing.text)
    assert "You mentioned {journey.amount}, Maja." in html.unescape(missing.text)
    unknown = await browser.get(f"/console/journeys/{maja.id}", params={"canned": "nope"})
    assert "No canned reply named &#39;nope&#39;." in unknown.text


async def test_canned_values_are_escaped(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]

    async def rename(session: AsyncSession) -> None:
        customer = await session.get(Customer, maja.customer_id)
        assert customer is not None
        customer.name = '<script>alert("x")</script> Lindqvist'

    await hub.db.transaction(rename)
    await sign_in(browser, "alice@example.com")
    page = await browser.get(f"/console/journeys/{maja.id}", params={"canned": "shipped"})
    assert '<script>alert("x")</script>' not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


async def test_knowledge_base_suggestions_for_the_last_customer_message(
    browser: httpx.AsyncClient, desk: dict[str, Any]
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    region = page.split('id="kb-suggestions"')[1].split("</ul>")[0]
    links = re.findall(r"\?article=([a-z0-9-]+)&amp;lang=([a-z]+)#composer", region)
    assert links, "no suggestion for 'My order 1042 has not arrived yet'"
    slugs = [slug for slug, _ in links]
    inserted = await browser.get(
        f"/console/journeys/{maja.id}", params={"article": slugs[0], "lang": links[0][1]}
    )
    draft = html.unescape(inserted.text.split('id="reply-text"')[1].split("</textarea>")[0])
    assert f"/help/{slugs[0]}?lang=" in draft
    first = html.unescape(region.split('data-insert="')[1].split('"')[0])
    assert draft.split(">", 1)[1] == first  # the link and the button insert the same text
    unknown = await browser.get(f"/console/journeys/{maja.id}", params={"article": "no-such"})
    assert "No article &#39;no-such&#39;." in unknown.text


async def test_an_internal_note_is_shown_to_agents_and_never_to_the_customer(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    added = await browser.post(
        f"/console/journeys/{maja.id}/notes",
        data={"csrf_token": csrf_of(page), "note": "VIP: refund without asking twice."},
    )
    assert added.status_code == 303
    shown = (await browser.get(added.headers["location"])).text
    timeline = shown.split('id="timeline"')[1].split("</ol>")[0]
    assert "internal note" in timeline and "VIP: refund without asking twice." in timeline
    assert 'class="msg internal note"' in timeline
    assert await outbound(hub, maja.id) == []  # nothing queued for the customer
    async with hub.db.read() as session:
        [note] = (await session.scalars(select(JourneyNote))).all()
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "journey.note_added")
        )
    assert note.author_agent_id == desk["alice"] and note.journey_id == maja.id
    assert audit is not None and audit.target == str(maja.id)
    assert "VIP" not in str(audit.after)  # the audit says a note was added, not what
    for path in (
        f"/api/v1/customers/{maja.customer_id}/timeline",
        f"/api/v1/journeys/{maja.id}",
        f"/api/v1/events?journey_id={maja.id}",
    ):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert "VIP" not in answer.text, path
    # a supervisor sees it too
    await browser.post("/console/logout", data={"csrf_token": csrf_of(shown)})
    await sign_in(browser, "sam@example.com")
    assert "VIP: refund" in (await browser.get(f"/console/journeys/{maja.id}")).text


async def test_bad_notes_write_nothing(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    url = f"/console/journeys/{maja.id}/notes"
    empty = await browser.post(url, data={"csrf_token": csrf_of(page), "note": "   "})
    assert empty.status_code == 400 and "Write a note first." in empty.text
    long = await browser.post(url, data={"csrf_token": csrf_of(page), "note": "x" * 8001})
    assert long.status_code == 400 and "at most 8000 characters" in long.text
    no_csrf = await browser.post(url, data={"note": "hello"})
    assert no_csrf.status_code == 403
    await browser.post("/console/logout", data={"csrf_token": csrf_of(page)})
    await sign_in(browser, "bob@example.com")  # not his journey: he may not see it
    bobs = await browser.get("/console")
    hidden = await browser.post(url, data={"csrf_token": csrf_of(bobs.text), "note": "peek"})
    assert hidden.status_code == 403
    async with hub.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JourneyNote)) == 0


async def test_transfer_to_a_team_to_the_bot_and_to_an_agent(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    assert 'value="team:support"' in page and 'value="bot:"' in page
    assert f'value="agent:{desk["bob"]}"' not in page  # Bob is offline
    url = f"/console/journeys/{maja.id}/transfer"
    token = csrf_of(page)
    for bad, status, message in (
        ("", 400, "Choose an agent, a team or the bot."),
        ("team:", 400, "Choose an agent, a team or the bot."),
        ("agent:not-a-uuid", 400, "No such agent."),
        (f"agent:{desk['alice']}", 400, "The journey is already yours."),
        ("team:nope", 409, "no team named"),
        (f"agent:{desk['bob']}", 409, "the agent is offline"),
    ):
        answer = await browser.post(url, data={"csrf_token": token, "target": bad})
        assert answer.status_code == status, bad
        assert message in html.unescape(answer.text), bad
    async with hub.db.read() as session:
        row = await session.get(Journey, maja.id)
        assert row is not None and row.owner_agent_id == desk["alice"]  # nothing changed

    async def bob_online(session: AsyncSession) -> None:
        bob = await session.get(Agent, desk["bob"])
        assert bob is not None
        bob.presence = "online"
        bob.capacity = {"voice": 1, "chat": 3, "messaging": 4, "email": 5}

    await hub.db.transaction(bob_online)
    moved = await browser.post(
        url, data={"csrf_token": token, "target": f"agent:{desk['bob']}", "reason": "billing"}
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/console"
    async with hub.db.read() as session:
        row = await session.get(Journey, maja.id)
        assert row is not None and row.owner_type == "agent" and row.owner_agent_id == desk["bob"]
    again = await browser.post(url, data={"csrf_token": token, "target": "bot:"})
    assert again.status_code == 403  # Alice no longer may see it


async def test_a_supervisor_transfers_to_a_team_and_back_to_the_bot(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "sam@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    url = f"/console/journeys/{maja.id}/transfer"
    queued = await browser.post(url, data={"csrf_token": csrf_of(page), "target": "team:support"})
    assert queued.status_code == 303 and "sent=transferred" in queued.headers["location"]
    async with hub.db.read() as session:
        row = await session.get(Journey, maja.id)
        assert row is not None and row.owner_type == "queue"
    # the queue holds it now: the composer says so and a transfer is refused
    refused = await browser.post(url, data={"csrf_token": csrf_of(page), "target": "bot:"})
    assert refused.status_code == 403
    assert "waits in the queue" in refused.text


async def test_bob_cannot_reply_or_transfer_alices_journey(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    maja = desk["maja"]
    await sign_in(browser, "bob@example.com")
    token = csrf_of((await browser.get("/console")).text)
    assert (await browser.get(f"/console/journeys/{maja.id}")).status_code == 403
    for action, data in (
        ("reply", {"text": "hi", "channel": "mail"}),
        ("transfer", {"target": "bot:"}),
        ("notes", {"note": "x"}),
    ):
        answer = await browser.post(
            f"/console/journeys/{maja.id}/{action}", data={"csrf_token": token, **data}
        )
        assert answer.status_code == 403, action
    assert await outbound(hub, maja.id) == []


async def test_the_window_opens_when_the_customer_writes_on_whatsapp(
    browser: httpx.AsyncClient, desk: dict[str, Any], hub: Hub
) -> None:
    """A WhatsApp conversation with a recent customer message takes free text."""
    maja = desk["maja"]
    async with hub.db.read() as session:
        wa = await session.scalar(select(Channel.id).where(Channel.name == "wa"))

    async def wrote(session: AsyncSession) -> None:
        now = clock.now()
        session.add(
            Conversation(
                id=new_id(),
                journey_id=maja.id,
                customer_id=maja.customer_id,
                channel_id=wa,
                thread_key="",
                status="open",
                reply_to={"to": "whatsapp:+46701234567"},
                created_at=now - timedelta(hours=2),
                last_message_at=now,
                last_inbound_at=now - timedelta(hours=1),
            )
        )

    await hub.db.transaction(wrote)
    await sign_in(browser, "alice@example.com")
    page = (await browser.get(f"/console/journeys/{maja.id}")).text
    whatsapp = option(page, "wa")
    assert "template only" not in whatsapp and "disabled" not in whatsapp
    assert "current" in whatsapp  # the customer's latest written channel
    sent = await browser.post(
        f"/console/journeys/{maja.id}/reply",
        data={"csrf_token": csrf_of(page), "text": "Free text is fine now.", "channel": "wa"},
    )
    assert sent.status_code == 303
