"""/api/v1/kb: create, read, list, replace, patch, delete and search, good and bad paths."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from tests.conftest import scalar

from relaydesk.hub import Hub


def article(slug: str = "parcel-lockers", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": slug,
        "tags": ["Delivery", "lockers", "delivery"],
        "variants": {
            "en": {
                "title": "Delivery to a parcel locker",
                "body": "Choose **a locker** at checkout. Your code arrives by SMS.",
                "questions": ["can I get my parcel delivered to a locker"],
            },
            "sv": {
                "title": "Leverans till paketskåp",
                "body": "Välj ett paketskåp i kassan.",
                "questions": ["kan jag hämta paketet i ett paketskåp"],
            },
        },
    }
    body.update(overrides)
    return body


async def test_create_read_list_and_delete(client: httpx.AsyncClient, hub: Hub) -> None:
    created = await client.post("/api/v1/kb/articles", json=article())
    assert created.status_code == 201, created.text
    out = created.json()
    assert created.headers["location"] == "/api/v1/kb/articles/parcel-lockers"
    assert out["slug"] == "parcel-lockers"
    assert out["tags"] == ["delivery", "lockers"]  # lower-cased, once each
    assert out["status"] == "published"
    assert out["revision"] == 1
    assert out["url"] == "/help/parcel-lockers?lang=en"
    assert set(out["variants"]) == {"en", "sv"}
    assert out["variants"]["en"]["questions"] == ["can I get my parcel delivered to a locker"]

    by_slug = await client.get("/api/v1/kb/articles/parcel-lockers")
    by_id = await client.get(f"/api/v1/kb/articles/{out['id']}")
    assert by_slug.status_code == by_id.status_code == 200
    assert by_slug.json() == by_id.json() == out

    await client.post("/api/v1/kb/articles", json=article("draft-one", status="draft", tags=[]))
    listed = (await client.get("/api/v1/kb/articles")).json()
    assert [a["slug"] for a in listed["items"]] == ["draft-one", "parcel-lockers"]
    assert listed["total"] == 2 and listed["next_offset"] is None

    names = {"event": "kb.article_created"}
    assert await scalar(hub, "select count(*) from events where name = :event", **names) == 2
    published = await scalar(hub, "select count(*) from events where name = 'kb.article_published'")
    assert published == 1  # the draft is not published

    deleted = await client.delete("/api/v1/kb/articles/parcel-lockers")
    assert deleted.status_code == 204
    assert (await client.get("/api/v1/kb/articles/parcel-lockers")).status_code == 404
    assert await scalar(hub, "select count(*) from kb_article_variants") == 2  # the draft's
    assert await scalar(hub, "select count(*) from events where name = 'kb.article_deleted'") == 1


async def test_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/kb/articles", json=article())
    await client.post(
        "/api/v1/kb/articles",
        json={
            "slug": "gift-cards",
            "tags": ["payments"],
            "status": "draft",
            "variants": {"pl": {"title": "Karty podarunkowe", "body": "Kartę kupisz online."}},
        },
    )

    async def slugs(**params: Any) -> list[str]:
        response = await client.get("/api/v1/kb/articles", params=params)
        assert response.status_code == 200, response.text
        return [a["slug"] for a in response.json()["items"]]

    assert await slugs(language="sv") == ["parcel-lockers"]
    assert await slugs(language="pl") == ["gift-cards"]
    assert await slugs(tag="PAYMENTS") == ["gift-cards"]
    assert await slugs(q="paketskåp") == ["parcel-lockers"]
    assert await slugs(q="paketskåp", language="en") == []  # only the English text is searched
    assert await slugs(q="LOCKER") == ["parcel-lockers"]
    assert await slugs(status="draft") == ["gift-cards"]
    first = (await client.get("/api/v1/kb/articles", params={"limit": 1})).json()
    assert first["total"] == 2 and first["next_offset"] == 1
    second = (await client.get("/api/v1/kb/articles", params={"limit": 1, "offset": 1})).json()
    assert [a["slug"] for a in second["items"]] == ["parcel-lockers"]
    assert second["next_offset"] is None

    bad = await client.get("/api/v1/kb/articles", params={"language": "English"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "language"


async def test_put_replaces_and_patch_changes_parts(client: httpx.AsyncClient, hub: Hub) -> None:
    await client.post("/api/v1/kb/articles", json=article())
    replaced = await client.put(
        "/api/v1/kb/articles/parcel-lockers",
        json=article(
            variants={"en": {"title": "Parcel lockers", "body": "Pick a locker at checkout."}}
        ),
    )
    assert replaced.status_code == 200, replaced.text
    out = replaced.json()
    assert set(out["variants"]) == {"en"}  # PUT removes what it does not repeat
    assert out["variants"]["en"]["questions"] == []
    assert out["revision"] == 2

    same = await client.put(
        "/api/v1/kb/articles/parcel-lockers",
        json=article(
            variants={"en": {"title": "Parcel lockers", "body": "Pick a locker at checkout."}}
        ),
    )
    assert same.json()["revision"] == 2  # nothing changed, nothing bumped

    patched = await client.patch(
        "/api/v1/kb/articles/parcel-lockers",
        json={
            "slug": "lockers",
            "status": "draft",
            "variants": {
                "en": {"questions": ["locker delivery"]},
                "id": {"title": "Loker paket", "body": "Pilih loker saat checkout."},
            },
        },
    )
    assert patched.status_code == 200, patched.text
    out = patched.json()
    assert out["slug"] == "lockers" and out["status"] == "draft"
    assert out["variants"]["en"]["title"] == "Parcel lockers"  # untouched fields stay
    assert out["variants"]["en"]["questions"] == ["locker delivery"]
    assert out["variants"]["id"]["title"] == "Loker paket"
    assert (await client.get("/api/v1/kb/articles/parcel-lockers")).status_code == 404

    removed = await client.patch("/api/v1/kb/articles/lockers", json={"variants": {"id": None}})
    assert set(removed.json()["variants"]) == {"en"}

    republished = await client.patch("/api/v1/kb/articles/lockers", json={"status": "published"})
    assert republished.status_code == 200
    fields = await scalar(
        hub,
        "select count(*) from events where name = 'kb.article_published'",
    )
    assert fields == 2  # on creation and on publishing again


async def test_conflicts_and_missing_articles(client: httpx.AsyncClient, hub: Hub) -> None:
    await client.post("/api/v1/kb/articles", json=article())
    await client.post("/api/v1/kb/articles", json=article("returns"))

    again = await client.post("/api/v1/kb/articles", json=article())
    assert again.status_code == 409
    assert again.json()["error"] == "slug_taken" and again.json()["slug"] == "parcel-lockers"

    renamed = await client.patch("/api/v1/kb/articles/returns", json={"slug": "parcel-lockers"})
    assert renamed.status_code == 409
    put_taken = await client.put("/api/v1/kb/articles/returns", json=article("parcel-lockers"))
    assert put_taken.status_code == 409
    assert (await client.get("/api/v1/kb/articles/returns")).status_code == 200

    for method in ("get", "delete"):
        missing = await client.request(method, "/api/v1/kb/articles/nope")
        assert missing.status_code == 404
        assert missing.json()["error"] == "article_not_found"
    missing_put = await client.put("/api/v1/kb/articles/nope", json=article("nope"))
    assert missing_put.status_code == 404
    missing_patch = await client.patch("/api/v1/kb/articles/nope", json={"tags": []})
    assert missing_patch.status_code == 404
    assert await scalar(hub, "select count(*) from kb_articles") == 2


async def test_invalid_articles_are_refused_naming_the_field(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    cases = [
        (article("Bad Slug"), "slug"),
        (article("-starts-with-dash"), "slug"),
        (article(variants={}), "variants"),
        (article(variants={"english": {"title": "x", "body": "y"}}), "variants.english.[key]"),
        (article(variants={"en": {"title": "  ", "body": "y"}}), "variants.en.title"),
        (article(variants={"en": {"title": "x"}}), "variants.en.body"),
        (article(status="archived"), "status"),
        (article(tags=["x" * 51]), "tags"),
        (article(surprise=True), "surprise"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/kb/articles", json=body)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"] == "invalid_request"
        assert field in [e["field"] for e in response.json()["detail"]], response.json()
    assert await scalar(hub, "select count(*) from kb_articles") == 0

    await client.post("/api/v1/kb/articles", json=article())
    last = await client.patch(
        "/api/v1/kb/articles/parcel-lockers", json={"variants": {"en": None, "sv": None}}
    )
    assert last.status_code == 422
    assert last.json()["detail"][0]["field"] == "variants"
    new_without_body = await client.patch(
        "/api/v1/kb/articles/parcel-lockers", json={"variants": {"de": {"title": "Packstation"}}}
    )
    assert new_without_body.status_code == 422
    assert new_without_body.json()["detail"][0]["field"] == "variants.de.body"
    null_title = await client.patch(
        "/api/v1/kb/articles/parcel-lockers", json={"variants": {"en": {"title": None}}}
    )
    assert null_title.status_code == 422
    assert null_title.json()["detail"][0]["field"] == "variants.en.title"
    unchanged = (await client.get("/api/v1/kb/articles/parcel-lockers")).json()
    assert unchanged["revision"] == 1 and set(unchanged["variants"]) == {"en", "sv"}


async def test_search_uses_the_bots_retrieval(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/kb/articles", json=article())
    await client.post("/api/v1/kb/articles", json=article("hidden", status="draft"))
    found = await client.get("/api/v1/kb/search", params={"q": "parcel locker?", "language": "en"})
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert [i["slug"] for i in items] == ["parcel-lockers"]  # the draft is not offered
    assert items[0]["language"] == "en"
    assert items[0]["url"] == "/help/parcel-lockers?lang=en"
    assert items[0]["snippet"].startswith("Choose a locker at checkout.")  # Markdown removed
    assert 0 < items[0]["score"] <= 1

    swedish = (await client.get("/api/v1/kb/search", params={"q": "paketskåp"})).json()
    assert swedish["items"][0]["language"] == "sv"
    nothing = (await client.get("/api/v1/kb/search", params={"q": "quantum chromodynamics"})).json()
    assert nothing["items"] == []
    blank = await client.get("/api/v1/kb/search", params={"q": "   "})
    assert blank.status_code == 422 and blank.json()["detail"][0]["field"] == "q"
    assert (await client.get("/api/v1/kb/search")).status_code == 422


async def test_every_kb_route_needs_the_token(anonymous: httpx.AsyncClient) -> None:
    for method, path in [
        ("get", "/api/v1/kb/articles"),
        ("post", "/api/v1/kb/articles"),
        ("get", "/api/v1/kb/articles/x"),
        ("put", "/api/v1/kb/articles/x"),
        ("patch", "/api/v1/kb/articles/x"),
        ("delete", "/api/v1/kb/articles/x"),
        ("get", "/api/v1/kb/search?q=x"),
    ]:
        response = await anonymous.request(method, path, json=article())
        assert response.status_code == 401, (method, path)


async def test_racing_creates_of_one_slug_make_one_article(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    responses = await asyncio.gather(
        *(client.post("/api/v1/kb/articles", json=article()) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert await scalar(hub, "select count(*) from kb_articles") == 1
    assert await scalar(hub, "select count(*) from kb_article_variants") == 2
