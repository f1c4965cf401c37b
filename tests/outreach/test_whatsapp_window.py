"""The WhatsApp 24-hour window: outside it an outreach message goes as the configured
template, or is skipped with the reason when there is none."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.channels.test_whatsapp_cloud import SETTINGS, deliver, fixture, graph_sent
from tests.helpers.loopback import LoopbackProvider, Scripted
from tests.helpers.workspace import apply_text
from tests.outreach.helpers import drain, events_named

from relaydesk import clock
from relaydesk.hub import Hub


def workspace(url: str) -> str:
    channel = {"name": "wa", "kind": "whatsapp_cloud", "settings": {**SETTINGS, "base_url": url}}
    outreach: dict[str, Any] = {
        "updates": {"every": "1d"},
        "notifications": {
            "templates": {
                "delivery": {
                    "kind": "delivery",
                    "texts": {"en": "Your order {order} arrives {day}."},
                    "channels": {
                        "whatsapp_cloud": {
                            "template": {"name": "order_update", "params": ["{order}", "{day}"]}
                        }
                    },
                },
                "plain": {"kind": "reminder", "texts": {"en": "Hello {day}"}},
            }
        },
    }
    return json.dumps({"version": 1, "channels": [channel], "outreach": outreach})


@pytest.fixture
async def wa_hub(
    hub: Hub,
    provider: LoopbackProvider,
    monkeypatch: pytest.MonkeyPatch,
    start_clock: clock.ManualClock,
) -> Hub:
    monkeypatch.setenv("TEST_WA_APP_SECRET", "wa-app-s3cret")
    monkeypatch.setenv("TEST_WA_TOKEN", "EAAtest-token")
    monkeypatch.setenv("TEST_WA_VERIFY", "meatyhamhock")
    provider.default = Scripted(200, graph_sent("wamid.OUT1"))
    await apply_text(hub, workspace(provider.url))
    return hub


async def test_outside_the_window_the_template_goes_or_the_send_is_skipped(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    wa_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    start_clock.set(start_clock.now().replace(year=2023, month=10, day=11, hour=18))
    assert (await deliver(anonymous, fixture("inbound_text_message.json"))).status_code == 200
    customer = (await client.get("/api/v1/customers", params={"phone": "+972987654321"})).json()
    customer_id = customer["items"][0]["id"]
    start_clock.advance(timedelta(hours=25))
    body = {"customer_id": customer_id, "variables": {"order": "4411", "day": "Friday"}}
    with_template = await client.post(
        "/api/v1/notifications", json={**body, "template": "delivery"}
    )
    without = await client.post("/api/v1/notifications", json={**body, "template": "plain"})
    assert with_template.status_code == 201 and without.status_code == 201
    await drain(wa_hub)
    sent = [r.json() for r in provider.requests if r.method == "POST" and b"template" in r.body]
    [request] = sent
    assert request["type"] == "template"
    assert request["template"]["name"] == "order_update"
    assert request["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "4411"},
        {"type": "text", "text": "Friday"},
    ]
    skipped = (await client.get(f"/api/v1/notifications/{without.json()['id']}")).json()
    assert skipped["status"] == "skipped" and skipped["reason"] == "window_closed"
    assert "24 h" in skipped["detail"]
    done = (await client.get(f"/api/v1/notifications/{with_template.json()['id']}")).json()
    assert done["status"] == "sent" and done["sent_channel"] == "wa"


async def test_inside_the_window_free_text_and_updates_skip_without_a_template(
    anonymous: httpx.AsyncClient,
    client: httpx.AsyncClient,
    wa_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    start_clock.set(start_clock.now().replace(year=2023, month=10, day=11, hour=17))
    assert (await deliver(anonymous, fixture("inbound_text_message.json"))).status_code == 200
    customer = (await client.get("/api/v1/customers", params={"phone": "+972987654321"})).json()
    item = customer["items"][0]
    created = await client.post(
        "/api/v1/notifications",
        json={"customer_id": item["id"], "template": "plain", "variables": {"day": "Mon"}},
    )
    await drain(wa_hub)
    read = (await client.get(f"/api/v1/notifications/{created.json()['id']}")).json()
    assert read["status"] == "sent"
    texts = [r.json().get("text", {}).get("body") for r in provider.requests if r.method == "POST"]
    assert "Hello Mon" in texts
    journey_id = read["journey_id"]
    put = await client.put(f"/api/v1/journeys/{journey_id}/next-update", json={})
    assert put.status_code == 200, put.text
    start_clock.advance(timedelta(days=1))  # the window closed; updates have no template here
    await drain(wa_hub)
    [skip] = await events_named(wa_hub, "outreach.update_skipped")
    assert skip["reason"] == "window_closed"
