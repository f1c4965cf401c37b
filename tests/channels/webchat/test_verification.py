"""A typed email is a claim until a one-time code proves it; then the conversations join.

The security property: without the code sent to the address, nobody can link their widget
to the address's customer, so nobody can read another customer's history.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.channels.webchat.support import FakeMail, Widget, deliver, open_widget
from tests.conftest import scalar

from relaydesk import clock
from relaydesk.bus import Event
from relaydesk.channels.base import PermanentSendError
from relaydesk.hub import Hub

VICTIM = "kim@example.com"


def last_code() -> str:
    match = re.search(r"Your code is (\d{6})", FakeMail.sent[-1].text)
    assert match, FakeMail.sent[-1].text
    return match.group(1)


async def existing_customer(client: httpx.AsyncClient) -> dict[str, str]:
    """Kim wrote through the trusted API channel: her email is a trusted identity."""
    response = await client.post(
        "/api/v1/messages",
        json={
            "channel": "web",
            "external_id": "kim-1",
            "text": "My card ends 4242 and my order is 1042",
            "sender": {"email": VICTIM, "handle": "kim"},
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def ask_code(widget: Widget, hub: Hub, address: str = VICTIM) -> str:
    await widget.send(type="email", address=address)
    status = await widget.expect("email_status")
    assert status == {"type": "email_status", "status": "pending", "address": address}
    await deliver(hub)
    assert (await widget.expect("email_status"))["status"] == "sent"
    return last_code()


async def verify(widget: Widget, code: str) -> dict[str, object]:
    await widget.send(type="verify", code=code)
    while True:
        frame = json.loads(await widget.ws.recv())
        widget.frames.append(frame)
        if frame["type"] in ("error", "email_status"):
            return dict(frame)


async def test_without_a_verification_channel_the_email_stays_a_claim(
    server: str, hub: Hub, client: httpx.AsyncClient
) -> None:
    kim = await existing_customer(client)
    async with open_widget(server, channel="chat-noverify") as widget:
        await widget.say("hello", "h")
        await widget.send(type="email", address="  Kim@Example.COM ")
        status = await widget.expect("email_status")
        assert status["status"] == "claimed" and status["address"] == VICTIM
    assert await scalar(hub, "select count(*) from identity_claims where value = :v", v=VICTIM) == 1
    assert await scalar(hub, "select count(*) from identities where value = :v", v=VICTIM) == 1
    assert await scalar(hub, "select count(*) from customer_merges") == 0
    suggestion = await client.get("/api/v1/merge-suggestions")
    [item] = suggestion.json()["items"]
    assert str(item["other_customer_id"]) == kim["customer_id"]
    async with open_widget(server, channel="chat-noverify", token=widget.token) as again:
        assert again.welcome["email"] == {"address": VICTIM, "status": "claimed"}
        assert [m["text"] for m in again.history] == ["hello"]  # nothing of Kim's
    assert FakeMail.sent == []


async def test_the_right_code_verifies_and_joins_the_customers_conversations(
    server: str, hub: Hub, client: httpx.AsyncClient
) -> None:
    kim = await existing_customer(client)
    async with open_widget(server) as widget:
        await widget.say("It's Kim, about my order", "k1")
        code = await ask_code(widget, hub)
        [mail] = FakeMail.sent
        assert mail.reply_to["to"] == VICTIM and code in mail.reply_to["subject"]
        assert mail.reply_to["in_reply_to"] is None and mail.reply_to["references"] == []
        stored = await scalar(hub, "select code_hash from webchat_verifications")
        assert stored is not None and code not in str(stored) and len(str(stored)) == 64
        async with hub.db.read() as session:
            payloads = (await session.scalars(select(Event.payload))).all()
        assert code not in json.dumps(payloads) and VICTIM not in json.dumps(payloads)
        wrong = "000000" if code != "000000" else "111111"
        error = await verify(widget, wrong)
        assert error["code"] == "bad_code" and error["attempts_left"] == 4
        done = await verify(widget, f"{code[:3]} {code[3:]}")
        assert done == {"type": "email_status", "status": "verified", "address": VICTIM}
        history = await widget.expect("history")
        assert [m["text"] for m in history["messages"]] == ["It's Kim, about my order"]
        ack = await widget.say("Any news?", "k2")
    identity = await client.get("/api/v1/customers", params={"email": VICTIM})
    [customer] = identity.json()["items"]
    assert customer["id"] == kim["customer_id"]  # the older customer survives
    assert await scalar(hub, "select assurance from identities where value = :v", v=VICTIM) in (
        "integration",  # Kim's identity was already trusted; the visitor's handle joined it
    )
    handle = await scalar(
        hub, "select customer_id from identities where kind = 'handle' and scope = 'chat'"
    )
    assert str(handle).replace("-", "") == kim["customer_id"].replace("-", "")
    message = (await client.get(f"/api/v1/messages/{ack['id']}")).json()
    journey = (await client.get(f"/api/v1/journeys/{message['journey_id']}")).json()
    assert set(journey["channels"]) == {"web", "chat"}
    async with open_widget(server, token=widget.token) as again:
        assert again.welcome["email"] == {"address": VICTIM, "status": "verified"}
        texts = [m["text"] for m in again.history]
        assert "My card ends 4242 and my order is 1042" not in texts  # only web chat messages
        assert texts == ["It's Kim, about my order", "Any news?"]


async def test_a_new_address_becomes_a_verified_identity(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        code = await ask_code(widget, hub, "new@example.com")
        assert (await verify(widget, code))["status"] == "verified"
    assert (
        await scalar(hub, "select assurance from identities where value = 'new@example.com'")
        == "verified"
    )
    assert await scalar(hub, "select count(*) from customers") == 1


async def test_guessing_locks_the_code_and_never_links(
    server: str, hub: Hub, client: httpx.AsyncClient
) -> None:
    await existing_customer(client)
    async with open_widget(server) as attacker:
        await attacker.say("hi", "a1")
        code = await ask_code(attacker, hub)  # the code goes to Kim's mailbox, not here
        wrong = "123456" if code != "123456" else "654321"
        for left in (4, 3, 2, 1):
            assert (await verify(attacker, wrong))["attempts_left"] == left
        assert (await verify(attacker, wrong))["code"] == "code_locked"
        assert (await verify(attacker, code))["code"] == "code_locked"  # even the right one
        assert all("4242" not in json.dumps(f) for f in attacker.frames)
    assert await scalar(hub, "select count(*) from customer_merges") == 0
    assert await scalar(hub, "select count(*) from customers") == 2
    async with open_widget(server, token=attacker.token) as again:
        assert [m["text"] for m in again.history] == ["hi"]
        assert again.welcome["email"]["status"] == "locked"


async def test_a_code_only_works_for_the_visitor_who_asked(server: str, hub: Hub) -> None:
    async with open_widget(server) as alice, open_widget(server) as bob:
        alice_code = await ask_code(alice, hub, "shared@example.com")
        await bob.send(type="verify", code=alice_code)
        assert (await bob.expect("error"))["code"] == "no_code"
        bob_code = await ask_code(bob, hub, "shared@example.com")
        if bob_code != alice_code:
            assert (await verify(bob, alice_code))["code"] == "bad_code"
        assert (await verify(alice, alice_code))["status"] == "verified"


async def test_an_expired_code_is_refused(
    server: str, hub: Hub, manual_clock: clock.ManualClock
) -> None:
    async with open_widget(server) as widget:
        code = await ask_code(widget, hub, "late@example.com")
        manual_clock.advance(timedelta(minutes=11))
        assert (await verify(widget, code))["code"] == "code_expired"


async def test_code_requests_are_limited(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        for _ in range(3):
            await widget.send(type="email", address="spam@example.com")
            assert (await widget.expect("email_status"))["status"] == "pending"
        await widget.send(type="email", address="spam@example.com")
        error = await widget.expect("error")
        assert error["code"] == "too_many_codes" and error["retry_after"] > 0
    await deliver(hub)
    assert len(FakeMail.sent) == 1  # the earlier requests were superseded, not sent


async def test_codes_to_one_address_are_limited_across_visitors(server: str, hub: Hub) -> None:
    for n in range(6):
        async with open_widget(server) as widget:
            await widget.send(type="email", address="victim@example.com")
            frame = await widget.expect("email_status" if n < 5 else "error")
    assert frame["code"] == "too_many_codes"


async def test_a_refused_code_email_is_reported(server: str, hub: Hub) -> None:
    FakeMail.fail_with.append(PermanentSendError("mailbox does not exist", "550"))
    async with open_widget(server) as widget:
        await widget.send(type="email", address="nobody@example.com")
        await widget.expect("email_status")
        await deliver(hub)
        assert (await widget.expect("email_status"))["status"] == "failed"
        assert (await verify(widget, "123456"))["code"] == "no_code"


async def test_invalid_addresses_and_disabled_email(server: str) -> None:
    async with open_widget(server) as widget:
        await widget.send(type="email", address="not-an-address")
        assert (await widget.expect("error"))["code"] == "bad_email"
    async with open_widget(server, channel="chat-plain") as plain:
        assert plain.welcome["channel"]["ask_email"] is False
        await plain.send(type="email", address="a@example.com")
        assert (await plain.expect("error"))["code"] == "email_disabled"


async def test_no_address_or_code_reaches_the_logs(
    server: str, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="relaydesk")
    FakeMail.fail_with.append(PermanentSendError("refused", "550"))
    async with open_widget(server) as widget:
        await widget.say("secret words", "s")
        await widget.send(type="email", address="private@example.com")
        await widget.expect("email_status")
        await deliver(hub)
        await widget.expect("email_status")
        code = await ask_code(widget, hub, "private@example.com")
        await verify(widget, code)
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("relaydesk", "uvicorn"))
    )
    assert "webchat" in ours  # the refused code email was logged, without the address
    for secret in ("private@example.com", code, "secret words", widget.visitor):
        assert secret not in ours
