"""The bot reads the database knowledge base: cached, rebuilt on change, answers link home."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update
from tests.helpers.workspace import BASIC, apply_text

from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack, load_pack
from relaydesk.bot.turn import analyse_turn
from relaydesk.hub import Hub
from relaydesk.kb import queries
from relaydesk.kb.actions import create_article
from relaydesk.kb.models import KbArticle
from relaydesk.kb.queries import load_knowledge_base
from relaydesk.kb.schemas import ArticleIn

LOCKERS = {
    "slug": "parcel-lockers",
    "tags": ["delivery"],
    "variants": {
        "en": {
            "title": "Delivery to a parcel locker",
            "body": "Pick **a locker** at checkout; see [the map](https://shop.example/map).",
            "questions": ["can my parcel go to a locker"],
        }
    },
}


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack()


@pytest.fixture(scope="module")
def model(pack: Pack) -> NluModel:
    return NluModel.from_pack(pack)


async def test_a_new_article_is_found_right_after_creation(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    before = await load_knowledge_base(hub)
    assert before.search("parcel locker") == []
    assert await load_knowledge_base(hub) is before  # cached while nothing changes

    created = await client.post("/api/v1/kb/articles", json=LOCKERS)
    assert created.status_code == 201
    after = await load_knowledge_base(hub)
    match = after.search("can I send my parcel to a locker?", "en")[0]
    assert match.slug == "parcel-lockers"
    assert match.url == "/help/parcel-lockers?lang=en"
    # the bot gets plain text: chat channels do not render Markdown
    assert match.body == "Pick a locker at checkout; see the map (https://shop.example/map)."

    await client.patch("/api/v1/kb/articles/parcel-lockers", json={"status": "draft"})
    assert (await load_knowledge_base(hub)).search("parcel locker") == []
    await client.patch("/api/v1/kb/articles/parcel-lockers", json={"status": "published"})
    assert (await load_knowledge_base(hub)).search("parcel locker")
    await client.delete("/api/v1/kb/articles/parcel-lockers")
    assert (await load_knowledge_base(hub)).search("parcel locker") == []


async def test_changes_from_another_instance_show_after_the_recheck(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await load_knowledge_base(hub)
    # written straight to the database, as another instance would: no invalidate() here
    await hub.db.transaction(
        lambda s: create_article(s, ArticleIn.model_validate(LOCKERS), actor="test")
    )
    assert await load_knowledge_base(hub) is first  # within RECHECK_SECONDS: the cached one
    monkeypatch.setattr(queries, "RECHECK_SECONDS", 0.0)
    second = await load_knowledge_base(hub)
    assert second is not first and second.search("parcel locker")[0].slug == "parcel-lockers"
    assert await load_knowledge_base(hub) is second  # rechecked, unchanged: not rebuilt

    await hub.db.transaction(
        lambda s: s.execute(
            update(KbArticle).values(tags=["lockers"], revision=KbArticle.revision + 1)
        )
    )
    third = await load_knowledge_base(hub)
    assert third is not second and third.articles[0].tags == ("lockers",)


async def test_bot_turn_offers_the_database_article_with_its_link(
    hub: Hub, model: NluModel, pack: Pack
) -> None:
    hub.settings = hub.settings.model_copy(update={"public_url": "https://support.example"})
    await apply_text(hub, BASIC)  # seeds the starter articles the pack's intents point to
    kb = await load_knowledge_base(hub)
    turn = analyse_turn(model, pack, kb, "gdzie jest moje zamówienie?", language="pl")
    assert turn.article is not None
    assert turn.article.slug == "order-status" and turn.article.language == "pl"
    assert turn.article.url == "https://support.example/help/order-status?lang=pl"
    assert turn.suggestions and all(
        s.url and s.url.startswith("https://support.example/help/") for s in turn.suggestions
    )
