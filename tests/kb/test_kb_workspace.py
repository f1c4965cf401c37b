"""The workspace file's knowledge_base section: idempotent apply, starter articles, prune."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from tests.conftest import scalar
from tests.helpers.workspace import BASIC, apply_text

from relaydesk.bot.pack import load_pack
from relaydesk.hub import Hub
from relaydesk.kb.models import KbArticle
from relaydesk.kb.queries import load_knowledge_base
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace

ARTICLES = """
knowledge_base:
  articles:
    - slug: opening-hours
      tags: [contact]
      variants:
        en:
          title: Opening hours
          body: We answer every day from 8 to 20.
          questions: [when are you open]
        sv:
          title: Öppettider
          body: Vi svarar varje dag 8-20.
    - slug: gift-cards
      status: draft
      variants:
        en:
          title: Gift cards
          body: Gift cards are valid for two years.
"""


def starter_slugs() -> set[str]:
    return {a.slug for a in load_pack().articles}


async def test_articles_apply_idempotently(hub: Hub) -> None:
    first = await apply_text(hub, ARTICLES)
    created = [(c.name, c.action) for c in first.changes if c.kind == "article"]
    assert created == [("opening-hours", "created"), ("gift-cards", "created")]
    again = await apply_text(hub, ARTICLES)
    assert [c.action for c in again.changes if c.kind == "article"] == ["unchanged"] * 2
    assert await scalar(hub, "select count(*) from kb_article_variants") == 3
    # a file that declares its own articles gets no starter articles
    assert await scalar(hub, "select count(*) from kb_articles") == 2

    edited = ARTICLES.replace("from 8 to 20", "from 9 to 17").replace(
        "        sv:\n", "        pl:\n"
    )
    third = await apply_text(hub, edited)
    change = next(c for c in third.changes if c.name == "opening-hours")
    assert change.action == "updated"
    assert change.fields == ["variants.en", "variants.pl", "variants.sv"]
    revision = await scalar(hub, "select revision from kb_articles where slug = 'opening-hours'")
    assert revision == 2
    kb = await load_knowledge_base(hub)
    assert [a.slug for a in kb.articles] == ["opening-hours"]  # the draft stays private
    assert kb.articles[0].variants["en"].body == "We answer every day from 9 to 17."
    # the file applies no per-article events; WorkspaceApplied lists the changes
    assert await scalar(hub, "select count(*) from events where name like 'kb.%'") == 0


async def test_articles_not_in_the_file_stay_unless_pruned(hub: Hub) -> None:
    await apply_text(hub, ARTICLES)
    only_one = ARTICLES.split("    - slug: gift-cards")[0]
    kept = await apply_text(hub, only_one)
    assert [c.action for c in kept.changes if c.kind == "article"] == ["unchanged"]
    assert await scalar(hub, "select count(*) from kb_articles") == 2

    pruned = await apply_text(hub, only_one.replace("  articles:", "  prune: true\n  articles:"))
    assert ("gift-cards", "deleted") in [(c.name, c.action) for c in pruned.changes]
    assert await scalar(hub, "select count(*) from kb_articles") == 1
    assert await scalar(hub, "select count(*) from kb_article_variants") == 2


async def test_starter_articles_are_seeded_once_into_an_empty_kb(hub: Hub) -> None:
    report = await apply_text(hub, BASIC)
    seeded = {c.name for c in report.changes if c.kind == "article" and c.action == "created"}
    assert seeded == starter_slugs() and len(seeded) >= 9
    again = await apply_text(hub, BASIC)
    assert not [c for c in again.changes if c.kind == "article"]
    kb = await load_knowledge_base(hub)
    match = kb.search("where is my order", "en")[0]
    assert match.slug == "order-status"
    assert match.url == "/help/order-status?lang=en"

    # deleting them all does not bring them back on the next apply
    await hub.db.transaction(lambda s: s.execute(delete(KbArticle)))
    await apply_text(hub, BASIC)
    assert await scalar(hub, "select count(*) from kb_articles") == 0


async def test_starter_articles_can_be_declined(hub: Hub) -> None:
    await apply_text(hub, BASIC + "knowledge_base:\n  starter_articles: false\n")
    assert await scalar(hub, "select count(*) from kb_articles") == 0


def problems(text: str) -> list[str]:
    with pytest.raises(WorkspaceFileError) as caught:
        parse_workspace(text, "ws.yaml")
    return caught.value.lines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "knowledge_base:\n  articles:\n    - slug: Not A Slug\n      variants:\n"
            "        en: {title: a, body: b}\n",
            "ws.yaml:3: knowledge_base.articles[0].slug: String should match pattern",
        ),
        (
            "knowledge_base:\n  articles:\n    - slug: a\n      variants: {}\n",
            "ws.yaml:4: knowledge_base.articles[0].variants:",
        ),
        (
            "knowledge_base:\n  articles:\n    - slug: a\n      variants:\n        en:\n"
            "          title: T\n",
            "ws.yaml:5: knowledge_base.articles[0].variants.en.body: Field required",
        ),
        (
            "knowledge_base:\n  articles:\n    - slug: a\n      status: gone\n"
            "      variants:\n        en: {title: a, body: b}\n",
            "ws.yaml:4: knowledge_base.articles[0].status:",
        ),
        ("knowledge_base:\n  prune: sometimes\n", "ws.yaml:2: knowledge_base.prune:"),
        ("knowledge_base:\n  artikels: []\n", "ws.yaml:2: knowledge_base.artikels: Extra inputs"),
    ],
)
def test_bad_sections_name_file_line_and_field(text: str, expected: str) -> None:
    assert any(line.startswith(expected) for line in problems(text)), problems(text)


async def test_a_duplicate_slug_fails_with_its_line_and_writes_nothing(hub: Hub) -> None:
    text = (
        ARTICLES + "    - slug: opening-hours\n      variants:\n        en: {title: a, body: b}\n"
    )
    with pytest.raises(WorkspaceFileError) as caught:
        await apply_text(hub, BASIC + text)
    line = text.count("\n", 0, text.rindex("- slug: opening-hours")) + 1 + BASIC.count("\n")
    assert caught.value.lines() == [
        f"test.yaml:{line}: knowledge_base.articles[2].slug: 'opening-hours' appears twice "
        "(first at articles[0])"
    ]
    assert await scalar(hub, "select count(*) from kb_articles") == 0
    assert await scalar(hub, "select count(*) from channels") == 0
