"""``GET /api/v1/surveys``: newest first, filtered, paged with a ``Link`` header; bad
parameters are 422s that name them."""

from __future__ import annotations

import re
import uuid

import httpx
from tests.helpers.loopback import LoopbackProvider
from tests.outreach.test_surveys import resolved_journey

from relaydesk import clock
from relaydesk.hub import Hub

NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


async def test_surveys_page_through_every_one_once(
    client: httpx.AsyncClient,
    outreach_hub: Hub,
    provider: LoopbackProvider,
    start_clock: clock.ManualClock,
) -> None:
    journeys = []
    for n in range(3):
        accepted = await resolved_journey(
            client, outreach_hub, provider, email=f"page{n}@example.com"
        )
        journeys.append(accepted["journey_id"])
    first = await client.get("/api/v1/surveys", params={"limit": 2})
    assert first.status_code == 200
    assert [s["journey_id"] for s in first.json()] == journeys[::-1][:2]  # newest first
    link = NEXT.match(first.headers["link"])
    assert link is not None
    second = await client.get(link.group(1))
    assert [s["journey_id"] for s in second.json()] == [journeys[0]]
    assert "link" not in second.headers
    scheduled = await client.get("/api/v1/surveys", params={"status": "scheduled"})
    assert len(scheduled.json()) == 3
    assert (await client.get("/api/v1/surveys", params={"status": "answered"})).json() == []
    customer = (await client.get(f"/api/v1/journeys/{journeys[1]}")).json()["customer_id"]
    mine = await client.get("/api/v1/surveys", params={"customer_id": customer})
    assert [s["journey_id"] for s in mine.json()] == [journeys[1]]


async def test_bad_survey_list_parameters_are_named(
    client: httpx.AsyncClient, outreach_hub: Hub
) -> None:
    cases = {
        "before": {"before": str(uuid.uuid4())},
        "status": {"status": "lost"},
        "limit": {"limit": "0"},
    }
    for field, params in cases.items():
        response = await client.get("/api/v1/surveys", params=params)
        assert response.status_code == 422, (field, response.text)
        assert field in response.text
    big = await client.get("/api/v1/surveys", params={"limit": "501"})
    assert big.status_code == 422
