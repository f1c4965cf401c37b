"""Customer profile, identities, consent, orders, look-up and timeline over the API."""

from __future__ import annotations

import httpx
import pytest
from tests.helpers.workspace import apply_text

from relaydesk.hub import Hub


@pytest.fixture(autouse=True)
async def workspace(hub: Hub) -> None:
    await apply_text(hub)


async def new_customer(client: httpx.AsyncClient, ext: str = "m1", **sender: str) -> str:
    body = {
        "channel": "web",
        "external_id": ext,
        "sender": sender or {"email": "lin@example.com"},
        "text": "hello",
    }
    response = await client.post("/api/v1/messages", json=body)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["customer_id"])


async def test_patch_profile_identities_and_consent(client: httpx.AsyncClient) -> None:
    customer = await new_customer(client)
    response = await client.patch(
        f"/api/v1/customers/{customer}",
        json={
            "name": "Lin Chen",
            "locale": "sv-SE",
            "timezone": "Europe/Stockholm",
            "country": "se",
            "lifetime_value": "1200.50",
            "tier": "gold",
            "attributes": {"plan": "pro", "beta": True},
            "phone": "070 123 45 67",
            "consent": {"web": "granted", "sms": "revoked"},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Lin Chen"
    assert body["country"] == "SE"
    assert body["lifetime_value"] == 1200.5
    assert body["phone"] == "+46701234567"  # national number read with the workspace country
    assert body["attributes"] == {"plan": "pro", "beta": True}
    assert body["consent"]["web"]["status"] == "granted"
    assert body["consent"]["sms"]["status"] == "revoked"
    assert body["consent"]["sms"]["source"].startswith("token:")
    phone = next(i for i in body["identities"] if i["kind"] == "phone")
    assert phone["assurance"] == "agent"

    patched = await client.patch(
        f"/api/v1/customers/{customer}", json={"attributes": {"beta": None, "seats": 3}}
    )
    assert patched.json()["attributes"] == {"plan": "pro", "seats": 3}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"country": "XX"}, "country"),
        ({"lifetime_value": -5}, "lifetime_value"),
        ({"lifetime_value": None}, "lifetime_value"),
        ({"locale": "not a locale"}, "locale"),
        ({"email": "nope"}, "email"),
        ({"consent": {"sms": "maybe"}}, "consent.sms"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_patches_name_the_field(
    client: httpx.AsyncClient, patch: dict[str, object], field: str
) -> None:
    customer = await new_customer(client)
    response = await client.patch(f"/api/v1/customers/{customer}", json=patch)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field
    unchanged = (await client.get(f"/api/v1/customers/{customer}")).json()
    assert unchanged["timezone"] is None and unchanged["attributes"] == {}


async def test_adding_another_customers_identity_is_a_conflict(client: httpx.AsyncClient) -> None:
    lin = await new_customer(client, "a", email="lin@example.com")
    other = await new_customer(client, "b", email="other@example.com")
    response = await client.patch(
        f"/api/v1/customers/{lin}", json={"email": "other@example.com", "name": "X"}
    )
    assert response.status_code == 409
    assert response.json()["other_customer_id"] == other
    assert (await client.get(f"/api/v1/customers/{lin}")).json()["name"] is None


async def test_orders_are_recorded_and_updated_by_id(client: httpx.AsyncClient) -> None:
    customer = await new_customer(client)
    order = {
        "id": "A-1001",
        "items": [{"name": "Boots", "sku": "B-1", "quantity": 2, "price": 60}],
        "amount": 120,
        "currency": "EUR",
        "date": "2026-03-01T10:00:00+01:00",
    }
    created = await client.post(f"/api/v1/customers/{customer}/orders", json=order)
    assert created.status_code == 201, created.text
    assert created.json()["date"] == "2026-03-01T09:00:00Z"
    updated = await client.post(
        f"/api/v1/customers/{customer}/orders", json={**order, "amount": 100}
    )
    assert updated.status_code == 200
    profile = (await client.get(f"/api/v1/customers/{customer}")).json()
    assert [(o["id"], o["amount"]) for o in profile["recent_orders"]] == [("A-1001", 100.0)]
    assert profile["recent_orders"][0]["items"][0]["sku"] == "B-1"
    dated = await client.post(
        f"/api/v1/customers/{customer}/orders", json={**order, "id": "A-1002", "date": "2026-03-02"}
    )
    assert dated.status_code == 201 and dated.json()["date"] == "2026-03-02T00:00:00Z"

    other = await new_customer(client, "z", email="someone@example.com")
    stolen = await client.post(f"/api/v1/customers/{other}/orders", json=order)
    assert stolen.status_code == 409
    for bad, field in (
        ({**order, "currency": "eur"}, "currency"),
        ({**order, "amount": -1}, "amount"),
        ({**order, "date": "2026-03-01T10:00:00"}, "date"),  # a time needs its zone
        ({**order, "date": "2026-13-01"}, "date"),
        ({**order, "items": [{"quantity": 1}]}, "items.0.name"),
    ):
        response = await client.post(f"/api/v1/customers/{customer}/orders", json=bad)
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == field


async def test_look_up_by_identity(client: httpx.AsyncClient) -> None:
    customer = await new_customer(client, "a", email="lin@example.com", phone="+46701234567")
    await new_customer(client, "b", email="other@example.com")
    for params in (
        {"email": "LIN@example.com"},
        {"phone": "070-123 45 67"},
        {"email": "lin@example.com", "phone": "+46 70 123 45 67"},
    ):
        items = (await client.get("/api/v1/customers", params=params)).json()["items"]
        assert [c["id"] for c in items] == [customer], params
    assert (
        await client.get("/api/v1/customers", params={"email": "nobody@example.com"})
    ).json() == {"items": []}
    assert (await client.get("/api/v1/customers")).status_code == 422
    assert (await client.get("/api/v1/customers", params={"phone": "12"})).status_code == 422
    handle = await new_customer(client, "h", handle="crm-77")
    by_handle = await client.get("/api/v1/customers", params={"handle": "crm-77", "channel": "web"})
    assert [c["id"] for c in by_handle.json()["items"]] == [handle]


async def test_timeline_pages_oldest_first(client: httpx.AsyncClient) -> None:
    customer = await new_customer(client, "t0")
    for n in range(1, 5):
        await new_customer(client, f"t{n}")
    first = (await client.get(f"/api/v1/customers/{customer}/timeline", params={"limit": 3})).json()
    assert len(first["items"]) == 3
    rest = (
        await client.get(
            f"/api/v1/customers/{customer}/timeline",
            params={"limit": 3, "after": first["next_cursor"]},
        )
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    item = first["items"][0]
    assert set(item) >= {
        "message_id",
        "channel",
        "conversation_id",
        "journey_id",
        "direction",
        "author",
        "text",
        "created_at",
    }
    assert (item["channel"], item["direction"], item["author"]) == ("web", "inbound", "customer")
    bad = await client.get(f"/api/v1/customers/{customer}/timeline", params={"after": "garbage"})
    assert bad.status_code == 422


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    missing = "01a20000-0000-7000-8000-000000000000"
    for path in (
        f"/api/v1/customers/{missing}",
        f"/api/v1/journeys/{missing}",
        f"/api/v1/customers/{missing}/timeline",
    ):
        response = await client.get(path)
        assert response.status_code == 404
        assert "error" in response.json()
    assert (await client.get("/api/v1/customers/not-a-uuid")).status_code == 422


async def test_every_api_route_needs_a_token(anonymous: httpx.AsyncClient) -> None:
    from relaydesk.app import create_app

    spec = create_app().openapi()
    routes = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if path.startswith("/api/")
        for method in operations
    ]
    assert len(routes) >= 12
    for method, path in routes:
        url = path.replace("{customer_id}", "01a20000-0000-7000-8000-000000000000").replace(
            "{journey_id}", "01a20000-0000-7000-8000-000000000000"
        )
        response = await anonymous.request(method, url)
        assert response.status_code == 401, (method, path)


async def test_openapi_documents_every_route(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    paths = spec["paths"]
    assert "/api/v1/messages" in paths
    post = paths["/api/v1/messages"]["post"]
    assert {"201", "200", "404", "413", "422"} <= set(post["responses"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in paths.items():
        if path.startswith("/api/"):
            for method, operation in operations.items():
                assert "401" in operation["responses"], (method, path)
    assert "404" in paths["/api/v1/customers/{customer_id}/timeline"]["get"]["responses"]
    assert "404" in paths["/api/v1/journeys/{journey_id}"]["get"]["responses"]
    assert "409" in paths["/api/v1/journeys/{journey_id}/resolve"]["post"]["responses"]
    assert "409" in paths["/api/v1/customers/{customer_id}"]["patch"]["responses"]
    customer = spec["components"]["schemas"]["CustomerOut"]["properties"]
    assert {"lifetime_value", "tier", "attributes", "identities", "consent"} <= set(customer)
    journey = spec["components"]["schemas"]["JourneyOut"]["properties"]
    assert {
        "id",
        "customer_id",
        "status",
        "channels",
        "conversations",
        "context",
        "owner",
        "created_at",
        "resolved_at",
    } <= set(journey)


async def test_no_token_is_401_before_the_body_is_read(anonymous: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer  "}):
        response = await anonymous.post(
            "/api/v1/messages",
            content=b"{not json",
            headers={"Content-Type": "application/json", **headers},
        )
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorized"


async def test_an_empty_or_huge_handle_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    for handle in ("", "   ", "h" * 301):
        response = await client.get("/api/v1/customers", params={"handle": handle, "channel": "x"})
        assert response.status_code == 422, handle
        assert response.json()["detail"][0]["field"] == "handle"
