"""Telegram: contract tests with the Bot API fixtures and Updates built by python-telegram-bot,
secret-token checks, idempotent retries, and sendMessage against a loopback Bot API."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from telegram import (
    CallbackQuery,
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberUpdated,
    Contact,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
    User,
)
from tests.conftest import SHARED, scalar
from tests.helpers.loopback import LoopbackProvider as Provider
from tests.helpers.loopback import Scripted
from tests.helpers.workspace import apply_text

from relaydesk import clock
from relaydesk.channels.base import OutboundMessage, WebhookRequest
from relaydesk.channels.registry import build_adapter
from relaydesk.channels.telegram import TelegramChannel
from relaydesk.hub import Hub
from relaydesk.journeys.actions import Reply, queue_reply
from relaydesk.journeys.models import Message as Row
from relaydesk.worker import Worker
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace

Client = httpx.AsyncClient
FIXTURES = SHARED / "fixtures" / "channels" / "telegram"
SECRET = "my_secret-Token_123"  # the secret in the fixture's webhook_request.http
TOKEN = "123456:TEST-bot-token"
WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
ADA = User(id=4242, first_name="Ada", last_name="Lovelace", is_bot=False, language_code="sv")
BOT = User(id=999, first_name="Shop", is_bot=True, username="shop_bot")
PRIVATE = Chat(id=4242, type="private")

WORKSPACE = """
channels:
  - name: tg
    kind: telegram
    settings:
      bot_token: env:TEST_TG_TOKEN
      secret_token: env:TEST_TG_SECRET
      base_url: {url}
      buttons: {buttons}
"""


def webhook_fixture() -> tuple[dict[str, str], bytes]:
    """Headers and body of Telegram's POST, as saved in webhook_request.http."""
    head, _, body = (FIXTURES / "webhook_request.http").read_text().partition("\n\n")
    headers = dict(
        line.split(": ", 1) for line in head.splitlines()[1:] if ": " in line and "Host" not in line
    )
    return headers, body.strip().encode()


async def setup(hub: Hub, provider: Provider, buttons: str = "inline") -> None:
    await apply_text(hub, WORKSPACE.format(url=provider.url, buttons=buttons))


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TG_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_TG_SECRET", SECRET)


async def post_update(
    anonymous: Client, update: Update | dict[str, Any], secret: str | None = SECRET
) -> httpx.Response:
    body = update.to_json() if isinstance(update, Update) else json.dumps(update)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return await anonymous.post("/hooks/tg", content=body, headers=headers)


def msg(message_id: int, text: str | None = None, **extra: Any) -> Message:
    """A message as python-telegram-bot builds it (from Ada in her private chat by default)."""
    fields: dict[str, Any] = {"chat": PRIVATE, "from_user": ADA, **extra}
    return Message(message_id=message_id, date=WHEN, text=text, **fields)


def text_update(update_id: int, message_id: int, text: str, **extra: Any) -> Update:
    return Update(update_id=update_id, message=msg(message_id, text, **extra))


async def reply(client: Client, hub: Hub, **body: Any) -> dict[str, Any]:
    """An agent's reply to the (only) journey."""
    journey = await scalar(hub, "select journey_id from messages")
    response = await client.post(f"/api/v1/journeys/{journey}/messages", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def stored(client: Client, message_id: Any) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/messages/{message_id}")).json())


def sent_message(chat_id: int, message_id: int, text: str) -> dict[str, Any]:
    """A genuine Bot API sendMessage answer, built by python-telegram-bot."""
    result = Message(
        message_id=message_id, date=WHEN, chat=Chat(id=chat_id, type="private"), text=text
    )
    return {"ok": True, "result": result.to_dict()}


async def test_fixture_webhook_is_stored_once(
    anonymous: Client, client: Client, hub: Hub, provider: Provider
) -> None:
    await setup(hub, provider)
    headers, body = webhook_fixture()
    assert Update.de_json(json.loads(body), None) is not None  # PTB accepts the fixture
    response = await anonymous.post("/hooks/tg", content=body, headers=headers)
    assert response.status_code == 200, response.text
    again = await anonymous.post("/hooks/tg", content=body, headers=headers)
    assert again.status_code == 200
    assert await scalar(hub, "select count(*) from messages") == 1  # a retry is a no-op
    assert await scalar(hub, "select external_id from messages") == "1111111:1365"
    customer_id = await scalar(hub, "select customer_id from messages")
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    assert customer["name"] == "Test Firstname Test Lastname"
    [identity] = customer["identities"]
    assert (identity["kind"], identity["scope"], identity["value"]) == ("handle", "tg", "1111111")
    assert identity["assurance"] == "provider"
    timeline = (await client.get(f"/api/v1/customers/{customer_id}/timeline")).json()["items"]
    assert [i["text"] for i in timeline] == ["/start"]


async def test_doc_example_without_is_bot_is_accepted(
    anonymous: Client, hub: Hub, provider: Provider
) -> None:
    """Telegram's own documentation example lacks from.is_bot; we do not depend on it."""
    await setup(hub, provider)
    update = json.loads((FIXTURES / "update_message_doc_example.json").read_text())
    assert (await post_update(anonymous, update)).status_code == 200
    assert await scalar(hub, "select text from messages") == "/start"


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET.upper()])
async def test_missing_or_wrong_secret_is_401(
    anonymous: Client,
    hub: Hub,
    provider: Provider,
    caplog: pytest.LogCaptureFixture,
    secret: str | None,
) -> None:
    await setup(hub, provider)
    caplog.set_level(logging.DEBUG)
    response = await post_update(anonymous, text_update(1, 1, "my card is 4111"), secret=secret)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert await scalar(hub, "select count(*) from messages") == 0
    assert "4111" not in caplog.text and "Lovelace" not in caplog.text


async def test_unset_secret_env_is_503(
    anonymous: Client, hub: Hub, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup(hub, provider)
    monkeypatch.delenv("TEST_TG_SECRET")
    response = await post_update(anonymous, text_update(1, 1, "hi"))
    assert response.status_code == 503
    assert await scalar(hub, "select count(*) from messages") == 0


async def test_unreadable_and_unknown_updates(
    anonymous: Client, hub: Hub, provider: Provider
) -> None:
    await setup(hub, provider)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert (await anonymous.post("/hooks/tg", content=b"[1]", headers=headers)).status_code == 400
    assert (await anonymous.post("/hooks/tg", content=b"nope", headers=headers)).status_code == 400
    poll_answer = {"update_id": 5, "poll_answer": {"poll_id": "1", "option_ids": [0]}}
    assert (await post_update(anonymous, poll_answer)).status_code == 200
    from_bot = Update(update_id=6, message=msg(3, "x", from_user=BOT))
    assert (await post_update(anonymous, from_bot)).status_code == 200
    assert await scalar(hub, "select count(*) from messages") == 0


async def test_ptb_updates_are_translated(
    anonymous: Client, client: Client, hub: Hub, provider: Provider
) -> None:
    await setup(hub, provider)
    contact = Contact(phone_number="+46701234567", first_name="Ada", user_id=ADA.id)
    photo = [PhotoSize(file_id="f", file_unique_id="u", width=10, height=10)]
    updates = [
        text_update(10, 100, "Where is my order 1042?"),
        text_update(11, 101, "", photo=photo, caption="the damaged box"),
        Update(update_id=12, message=msg(102, contact=contact)),
        Update(update_id=13, edited_message=msg(100, "order 1043", edit_date=WHEN)),
    ]
    for update in updates:
        assert (await post_update(anonymous, update)).status_code == 200
    rows = await _messages(hub)
    assert [(r.external_id, r.text) for r in rows] == [
        ("4242:100", "Where is my order 1042?"),
        ("4242:101", "[photo] the damaged box"),
        ("4242:102", "[contact shared]"),
        (f"4242:100:edited:{int(WHEN.timestamp())}", "(edited) order 1043"),
    ]
    assert rows[0].meta["language_code"] == "sv"
    customer_id = rows[0].customer_id
    assert {r.customer_id for r in rows} == {customer_id}
    customer = (await client.get(f"/api/v1/customers/{customer_id}")).json()
    kinds = {(i["kind"], i["value"]) for i in customer["identities"]}
    assert ("phone", "+46701234567") in kinds  # the user's own contact: Telegram vouches for it
    assert customer["name"] == "Ada Lovelace"


async def test_reply_goes_out_by_send_message_and_threads_back(
    anonymous: Client, client: Client, hub: Hub, provider: Provider
) -> None:
    await setup(hub, provider)
    headers, body = webhook_fixture()
    await anonymous.post("/hooks/tg", content=body, headers=headers)
    expected = json.loads((FIXTURES / "sendMessage_request.json").read_text())
    provider.then(Scripted(200, sent_message(1111111, 1366, expected["text"])))
    queued = await reply(client, hub, text=expected["text"])
    await Worker(hub).drain()
    [request] = provider.requests
    assert request.path == f"/bot{TOKEN}/sendMessage"
    sent = request.json()
    assert {k: sent[k] for k in expected} | {"reply_parameters": expected["reply_parameters"]} == (
        expected
    )
    assert sent["reply_parameters"]["message_id"] == 1365
    message = await stored(client, queued["id"])
    assert (message["delivery_status"], message["external_id"]) == ("sent", "1111111:1366")
    # the customer answers our message with Telegram's "reply": it joins that conversation
    chat = Chat(id=1111111, type="private")
    test_user = User(id=1111111, first_name="Test Firstname", is_bot=False)
    ours = msg(1366, "Hi", chat=chat, from_user=BOT)
    answer = msg(1367, "Thanks!", chat=chat, from_user=test_user, reply_to_message=ours)
    assert (
        await post_update(anonymous, Update(update_id=10001, message=answer))
    ).status_code == 200
    assert len({r.conversation_id for r in await _messages(hub)}) == 1


@pytest.mark.parametrize("style", ["inline", "reply"])
async def test_buttons_become_a_keyboard_and_presses_come_back(
    anonymous: Client, client: Client, hub: Hub, provider: Provider, style: str
) -> None:
    await setup(hub, provider, buttons=style)
    await post_update(anonymous, text_update(20, 200, "Can I return it?"))
    provider.then(Scripted(200, sent_message(ADA.id, 201, "Pick one")))
    await reply(client, hub, text="Pick one", buttons=["Refund", "Exchange"])
    await Worker(hub).drain()
    markup = provider.requests[0].json()["reply_markup"]
    if style == "reply":
        assert markup["keyboard"] == [[{"text": "Refund"}], [{"text": "Exchange"}]]
        assert markup["one_time_keyboard"] is True
        return
    keyboard = InlineKeyboardMarkup.de_json(markup, None)  # a valid markup for PTB
    assert keyboard is not None
    assert [[b.text for b in row] for row in keyboard.inline_keyboard] == [["Refund"], ["Exchange"]]
    ours = msg(201, "Pick one", from_user=BOT, reply_markup=keyboard)
    press = Update(
        update_id=21,
        callback_query=CallbackQuery(
            id="cbq-1",
            from_user=ADA,
            chat_instance="x",
            message=ours,
            data=str(keyboard.inline_keyboard[1][0].callback_data),
        ),
    )
    response = await post_update(anonymous, press)
    assert response.status_code == 200
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "cbq-1"}
    assert (await post_update(anonymous, press)).status_code == 200  # retried: still one row
    rows = await _messages(hub)
    pressed = [r for r in rows if r.direction == "inbound"][-1]
    assert (pressed.external_id, pressed.text) == ("callback:cbq-1", "Exchange")
    assert len({r.conversation_id for r in rows}) == 1


async def test_rate_limit_retry_after_is_honoured(
    anonymous: Client, client: Client, hub: Hub, provider: Provider, manual_clock: clock.ManualClock
) -> None:
    await setup(hub, provider)
    await post_update(anonymous, text_update(30, 300, "hello"))
    too_many = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 35",
        "parameters": {"retry_after": 35},
    }
    provider.then(Scripted(429, too_many), Scripted(200, sent_message(ADA.id, 301, "x")))
    queued = await reply(client, hub, text="x")
    worker = Worker(hub)
    await worker.drain()
    manual_clock.advance(timedelta(seconds=34))  # our own backoff would have retried by now
    await worker.drain()
    assert len(provider.requests) == 1
    manual_clock.advance(timedelta(seconds=2))
    await worker.drain()
    assert len(provider.requests) == 2
    assert (await stored(client, queued["id"]))["delivery_status"] == "sent"


async def test_blocked_bot_is_an_opt_out(
    anonymous: Client, client: Client, hub: Hub, provider: Provider
) -> None:
    await setup(hub, provider)
    await post_update(anonymous, text_update(40, 400, "hello"))
    customer = await scalar(hub, "select customer_id from messages")
    blocked = "Forbidden: bot was blocked by the user"
    provider.then(Scripted(403, {"ok": False, "error_code": 403, "description": blocked}))
    queued = await reply(client, hub, text="x")
    await Worker(hub).drain()
    message = await stored(client, queued["id"])
    assert message["delivery_status"] == "failed" and message["delivery_error_code"] == "403"
    consent = (await client.get(f"/api/v1/customers/{customer}")).json()["consent"]
    assert consent["tg"]["status"] == "revoked"
    # unblocking (my_chat_member → member) opts back in; blocking again opts out
    for update_id, new in ((41, ChatMemberMember(user=BOT)), (42, ChatMemberBanned(BOT, WHEN))):
        old = ChatMemberBanned(BOT, WHEN) if update_id == 41 else ChatMemberMember(user=BOT)
        change = ChatMemberUpdated(PRIVATE, ADA, WHEN, old, new)
        await post_update(anonymous, Update(update_id=update_id, my_chat_member=change))
        consent = (await client.get(f"/api/v1/customers/{customer}")).json()["consent"]
        assert consent["tg"]["status"] == ("granted" if update_id == 41 else "revoked")


async def test_bad_token_is_a_configuration_problem_and_never_logged(
    anonymous: Client,
    client: Client,
    hub: Hub,
    provider: Provider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup(hub, provider)
    caplog.set_level(logging.DEBUG)
    await post_update(anonymous, text_update(50, 500, "hello"))
    provider.then(Scripted(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}))
    queued = await reply(client, hub, text="x")
    await Worker(hub).drain()
    assert (await stored(client, queued["id"]))["delivery_status"] == "queued"  # retried later
    channel = next(
        c for c in (await client.get("/api/v1/channels")).json()["items"] if c["name"] == "tg"
    )
    assert "refused the bot token" in channel["health"]["last_error"]
    assert "/sendMessage" in caplog.text  # httpx logged the request ...
    assert TOKEN not in caplog.text  # ... without the token


async def test_address_for_customers_met_elsewhere_and_group_topics() -> None:
    adapter = build_adapter(
        "tg", "telegram", {"bot_token": "env:T", "secret_token": "env:S", "base_url": "http://x"}
    )
    assert adapter.address_from_identities([("handle", "tg", "4242")], "tg") == {"chat_id": 4242}
    assert adapter.address_from_identities([("handle", "other", "4242")], "tg") is None
    forum = Chat(id=-100123, type="supergroup", is_forum=True)
    in_topic = msg(9, "in a topic", chat=forum, message_thread_id=77, is_topic_message=True)
    topic = Update(update_id=1, message=in_topic)
    request = WebhookRequest("POST", "http://x/hooks/tg", {}, [], topic.to_json().encode())
    [inbound] = adapter.parse(request).messages
    assert inbound.thread_key == "77"
    assert inbound.reply_to == {"chat_id": -100123, "message_id": 9, "message_thread_id": 77}
    assert isinstance(adapter, TelegramChannel)
    body = adapter.request_body(OutboundMessage("m", "hello", inbound.reply_to))
    assert body["message_thread_id"] == 77 and body["chat_id"] == -100123


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ("{bot_token: '123:abc', secret_token: env:S}", "bot_token"),
        ("{bot_token: env:T}", "secret"),
    ],
)
def test_tokens_must_be_env_references(settings: str, problem: str) -> None:
    text = f"channels:\n  - name: tg\n    kind: telegram\n    settings: {settings}\n"
    with pytest.raises(WorkspaceFileError, match=problem):
        parse_workspace(text, "w.yaml")


async def _messages(hub: Hub) -> list[Row]:
    async with hub.db.read() as session:
        query = select(Row).order_by(Row.created_at, Row.received_at)
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/human", "/human"),
        ("/agent@shop_bot please", "/agent"),
        ("/HUMAN", "/human"),
        ("/start", None),
        ("human please", None),  # words are for the bot's detector, not a command
    ],
)
async def test_human_commands_are_requests_for_a_person(
    anonymous: Client, hub: Hub, provider: Provider, text: str, command: str | None
) -> None:
    await setup(hub, provider)
    word = text.split()[0]
    entities = (
        [MessageEntity(type=MessageEntity.BOT_COMMAND, offset=0, length=len(word))]
        if word.startswith("/")
        else []
    )
    assert (
        await post_update(anonymous, text_update(40, 400, text, entities=entities))
    ).status_code == 200
    [row] = await _messages(hub)
    assert row.text == text
    if command is None:
        assert "requests_human" not in row.meta and "control" not in row.meta
    else:
        assert (row.meta["requests_human"], row.meta["control"]) == (True, "command")
        assert row.meta["command"] == command


async def test_an_inline_button_for_a_person_is_a_request_for_a_person(
    anonymous: Client, client: Client, hub: Hub, provider: Provider
) -> None:
    await setup(hub, provider)
    await post_update(anonymous, text_update(50, 500, "Can I return it?"))
    provider.then(Scripted(200, sent_message(ADA.id, 501, "Pick one")))
    journey = await scalar(hub, "select journey_id from messages")
    buttons = [{"id": "refund", "title": "Refund"}, {"id": "HUMAN_AGENT", "title": "A person"}]
    offer = Reply(text="Pick one", author_type="bot", meta={"buttons": buttons})
    await hub.db.transaction(lambda s: queue_reply(s, uuid.UUID(str(journey)), offer))
    await Worker(hub).drain()
    markup = provider.requests[0].json()["reply_markup"]
    assert markup == {
        "inline_keyboard": [
            [{"text": "Refund", "callback_data": "refund"}],
            [{"text": "A person", "callback_data": "HUMAN_AGENT"}],
        ]
    }
    keyboard = InlineKeyboardMarkup.de_json(markup, None)
    assert keyboard is not None
    ours = msg(501, "Pick one", from_user=BOT, reply_markup=keyboard)
    for number, data in enumerate(("refund", "HUMAN_AGENT")):
        press = Update(
            update_id=51 + number,
            callback_query=CallbackQuery(
                id=f"cbq-{number}", from_user=ADA, chat_instance="x", message=ours, data=data
            ),
        )
        assert (await post_update(anonymous, press)).status_code == 200
    refund, person = [
        r for r in await _messages(hub) if (r.external_id or "").startswith("callback:")
    ]
    assert (refund.text, refund.meta.get("payload"), refund.meta.get("requests_human")) == (
        "Refund",
        "refund",
        None,
    )
    assert (person.text, person.meta["payload"]) == ("A person", "HUMAN_AGENT")
    assert (person.meta["requests_human"], person.meta["control"]) == (True, "inline_button")
