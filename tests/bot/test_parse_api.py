"""POST /api/v1/bot/parse: the workspace's model over HTTP, shaped like the issue says."""

from __future__ import annotations

import httpx


async def test_parse_returns_the_documented_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/bot/parse", json={"text": "jag vill prata med en människa, order #12345"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "language",
        "intent",
        "confidence",
        "entities",
        "human_request",
        "out_of_scope",
        "sentiment",
    }
    assert body["language"] == "sv"
    assert body["human_request"] is True
    assert any(e["type"] == "order_number" and "12345" in e["value"] for e in body["entities"])

    status = (
        await client.post(
            "/api/v1/bot/parse", json={"text": "Where is my parcel?", "language": "en"}
        )
    ).json()
    assert status["intent"] in {"order_status", "delivery"}
    assert status["human_request"] is False


async def test_parse_rejects_bad_input(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    assert (await client.post("/api/v1/bot/parse", json={"text": ""})).status_code == 422
    bad_lang = await client.post("/api/v1/bot/parse", json={"text": "hi", "language": "English"})
    assert bad_lang.status_code == 422
    assert bad_lang.json()["detail"][0]["field"] == "language"
    assert (await anonymous.post("/api/v1/bot/parse", json={"text": "hi"})).status_code == 401
