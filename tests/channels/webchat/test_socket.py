"""The widget's websocket against a real server: origin, hello/resume, messages, limits."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.channels.webchat.support import SHOP, deliver, open_widget, socket_url
from tests.conftest import scalar
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from relaydesk.hub import Hub


async def test_hello_gives_a_token_and_a_message_is_stored_once(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        assert widget.welcome["resumed"] is False
        assert widget.welcome["channel"]["title"] == "Northwind help"
        assert widget.welcome["limits"]["max_text_length"] == 200
        assert widget.history == []
        ack = await widget.say("Where is my order?", "m-1")
        assert ack["client_msg_id"] == "m-1" and ack["duplicate"] is False
        again = await widget.say("Where is my order?", "m-1")  # a resend after a lost ack
        assert again["duplicate"] is True and again["id"] == ack["id"]
    assert await scalar(hub, "select count(*) from messages") == 1
    external = await scalar(hub, "select external_id from messages")
    assert external == f"{widget.visitor}:m-1"
    assert await scalar(hub, "select assurance from identities where kind = 'handle'") == "provider"


async def test_resume_with_the_token_shows_the_history(server: str) -> None:
    async with open_widget(server) as first:
        await first.say("Hello", "a")
        await first.say("Anyone there?", "b")
    async with open_widget(server, token=first.token) as again:
        assert again.welcome["resumed"] is True
        assert again.visitor == first.visitor
        assert [(m["from"], m["text"], m["client_msg_id"]) for m in again.history] == [
            ("visitor", "Hello", "a"),
            ("visitor", "Anyone there?", "b"),
        ]


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
async def test_a_forged_token_starts_a_new_visitor(server: str, token: str) -> None:
    async with open_widget(server) as first:
        await first.say("private", "p")
    forged = first.token[:-3] + ("AAA" if not first.token.endswith("AAA") else "BBB")
    for bad in (token, forged):
        async with open_widget(server, token=bad) as other:
            assert other.welcome["resumed"] is False
            assert other.visitor != first.visitor
            assert other.history == []


async def test_a_token_of_another_channel_is_refused(server: str) -> None:
    async with open_widget(server) as first:
        await first.say("hi", "x")
    async with open_widget(server, channel="chat-noverify", token=first.token) as other:
        assert other.welcome["resumed"] is False and other.history == []


async def test_visitors_never_see_each_other(server: str, hub: Hub) -> None:
    async with open_widget(server) as alice, open_widget(server) as bob:
        await alice.say("my address is 1 Main St", "a1")
        await bob.say("hello", "b1")
        assert not [f for f in await bob.quiet() if f.get("text", "").startswith("my address")]
        await deliver(hub)  # pushes each visitor's own message to their other tabs only
        assert all(f.get("client_msg_id") != "a1" for f in await bob.quiet())
    async with open_widget(server, token=bob.token) as bob_again:
        assert [m["text"] for m in bob_again.history] == ["hello"]


async def test_client_msg_ids_are_scoped_per_visitor(server: str, hub: Hub) -> None:
    async with open_widget(server) as alice, open_widget(server) as bob:
        a = await alice.say("from alice", "same-id")
        b = await bob.say("from bob", "same-id")
        assert b["duplicate"] is False and b["id"] != a["id"]
    assert await scalar(hub, "select count(*) from messages") == 2


@pytest.mark.parametrize(
    "origin", ["http://evil.test", "http://shop.test:8081", "https://shop.test:8080", "null"]
)
async def test_other_origins_are_refused_before_the_handshake(
    server: str, origin: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(socket_url(server), origin=Origin(origin), proxy=None):
            pass
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"] == "origin_not_allowed"


async def test_a_missing_origin_is_refused(server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(socket_url(server), proxy=None):
            pass
    assert refused.value.response.status_code == 403


async def test_the_hubs_own_pages_may_connect(server: str) -> None:
    async with open_widget(server, origin=server) as widget:
        assert widget.welcome["visitor"].startswith("v_")


@pytest.mark.parametrize("channel", ["nope", "web"])
async def test_unknown_or_non_webchat_channels_are_refused(server: str, channel: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(socket_url(server, channel), origin=Origin(SHOP), proxy=None):
            pass
    assert refused.value.response.status_code == 404


async def test_text_limits_and_bad_frames_get_clear_errors(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        await widget.send(type="message", client_msg_id="long", text="x" * 201)
        error = await widget.expect("error")
        assert error["code"] == "text_too_long" and error["client_msg_id"] == "long"
        assert error["limit"] == 200
        await widget.send(type="message", client_msg_id="blank", text="   ")
        assert (await widget.expect("error"))["code"] == "empty_text"
        await widget.ws.send("not json")
        assert (await widget.expect("error"))["code"] == "bad_frame"
        await widget.send(type="launch_missiles")
        assert (await widget.expect("error"))["code"] == "unknown_type"
        await widget.send(type="message", client_msg_id="bad id!", text="hi")
        error = await widget.expect("error")
        assert error["code"] == "bad_frame" and error["field"].startswith("message.client_msg_id")
        await widget.send(type="message", client_msg_id="m", text="hi", meta={"admin": True})
        assert (await widget.expect("error"))["code"] == "bad_frame"
        await widget.send(type="ping")
        await widget.expect("pong")
    assert await scalar(hub, "select count(*) from messages") == 0


async def test_an_oversized_frame_closes_the_socket(server: str) -> None:
    async with open_widget(server) as widget:
        await widget.send(type="message", client_msg_id="big", text="x" * 20_000)
        with pytest.raises(ConnectionClosed) as closed:
            await widget.expect("ack")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_message_rate_is_limited_per_visitor(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        for n in range(5):
            await widget.say(f"message {n}", f"m{n}")
        await widget.send(type="message", client_msg_id="m5", text="one too many")
        error = await widget.expect("error")
        assert error["code"] == "rate_limited" and error["client_msg_id"] == "m5"
        assert 0 < error["retry_after"] <= 60
    async with open_widget(server, token=widget.token) as again:  # a reconnect does not reset it
        await again.send(type="message", client_msg_id="m6", text="still too many")
        assert (await again.expect("error"))["code"] == "rate_limited"
    assert await scalar(hub, "select count(*) from messages") == 5


async def test_talk_to_a_person_is_marked_on_the_message(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        await widget.say(
            "I would like to talk to a person, please.", "h1", meta={"human_request": True}
        )
    meta = await scalar(hub, "select meta from messages")
    assert (json.loads(meta) if isinstance(meta, str) else meta) == {
        "human_request": True,
        "requests_human": True,
        "control": "talk_to_person",
    }
    async with open_widget(server, token=widget.token) as again:
        assert again.history[0]["human_request"] is True


async def test_a_pressed_button_sends_its_id(server: str, hub: Hub) -> None:
    async with open_widget(server) as widget:
        await widget.say("A person, please", "b1", meta={"button": "HUMAN_AGENT"})
        await widget.send(type="message", client_msg_id="b2", text="x", meta={"button": ""})
        error = await widget.expect("error")
        assert (error["code"], error["field"]) == ("bad_frame", "message.meta.button")
    meta = await scalar(hub, "select meta from messages")
    assert (json.loads(meta) if isinstance(meta, str) else meta) == {
        "payload": "HUMAN_AGENT",
        "requests_human": True,
        "control": "button",
    }
    assert await scalar(hub, "select count(*) from messages") == 1


async def test_hello_must_come_first(server: str) -> None:
    async with connect(socket_url(server), origin=Origin(SHOP), proxy=None) as ws:
        await ws.send(json.dumps({"type": "message", "client_msg_id": "x", "text": "hi"}))
        assert json.loads(await ws.recv())["code"] == "hello_first"
        for _ in range(4):
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv())["code"] == "hello_first"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()  # five frames without a hello: the hub hangs up
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_widget_files_and_demo_page(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        loader = await http.get("/widget.js")
        assert loader.status_code == 200
        assert loader.headers["content-type"].startswith("text/javascript")
        assert "__VERSION__" not in loader.text and "widget/chat.js?v=" in loader.text
        chat = await http.get("/widget/chat.js")
        assert chat.headers["access-control-allow-origin"] == "*"
        assert "max-age=300" in chat.headers["cache-control"]
        version = loader.text.split('const version = "')[1].split('"')[0]
        pinned = await http.get(f"/widget/chat.js?v={version}")
        assert "immutable" in pinned.headers["cache-control"]
        css = await http.get("/widget/widget.css")
        assert css.headers["content-type"].startswith("text/css")
        for missing in ("/widget/secret.py", "/widget/..%2Fadapter.py", "/widget/"):
            assert (await http.get(missing)).status_code == 404
        page = await http.get("/demo/shop")
        assert '<script src="/widget.js" data-channel="chat" async></script>' in page.text
        other = await http.get("/demo/shop", params={"channel": "chat-noverify"})
        assert 'data-channel="chat-noverify"' in other.text
        unknown = await http.get("/demo/shop", params={"channel": "<b>x</b>"})
        assert "<script src" not in unknown.text and "&lt;b&gt;x&lt;/b&gt;" in unknown.text
