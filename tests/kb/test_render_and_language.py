"""Pure helpers: Markdown to safe HTML and plain text, and the visitor's language."""

from __future__ import annotations

import pytest

from relaydesk.bot.kb import KnowledgeBase, article_url
from relaydesk.bot.pack import Article, ArticleVariant
from relaydesk.kb.i18n import accepted_languages, choose_language
from relaydesk.kb.render import snippet, to_html, to_text


def test_markdown_renders_and_raw_html_is_escaped() -> None:
    html = to_html("**Bold** and <b onclick=x>raw</b>\n\n[bad](javascript:alert(1)) [ok](/help)")
    assert "<strong>Bold</strong>" in html
    assert "&lt;b onclick=x&gt;raw&lt;/b&gt;" in html
    assert 'href="javascript:' not in html
    assert '<a href="/help">ok</a>' in html


def test_plain_text_keeps_words_and_link_targets() -> None:
    text = to_text("# Title\n\n- one *two*\n- [three](https://x.example)\n\n```\ncode\n```")
    assert text == "Title\none two\nthree (https://x.example)\ncode"
    assert to_text("[https://x.example](https://x.example)") == "https://x.example"
    assert snippet("word " * 100, 20) == "word word word word…"
    assert snippet("short") == "short"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("sv-SE,sv;q=0.9,en-US;q=0.8,en;q=0.7", ["sv", "en"]),
        ("en;q=0.2, pl", ["pl", "en"]),
        ("*, de;q=0", []),
        ("fr;q=abc, nl", ["nl"]),
    ],
)
def test_accept_language(header: str | None, expected: list[str]) -> None:
    assert accepted_languages(header) == expected


def test_choose_language_order() -> None:
    have = ["en", "pl", "sv"]
    assert choose_language(have, requested="pl", accept_language="sv", default="en") == "pl"
    assert choose_language(have, requested="xx", accept_language="sv", default="en") == "sv"
    assert choose_language(have, requested=None, accept_language="de", default="pl") == "pl"
    assert choose_language(["id"], requested=None, accept_language="de", default="sv") == "id"
    assert choose_language(["sv"], requested=None, accept_language=None, default="pl") == "sv"


def test_matches_carry_urls_only_when_the_kb_knows_its_address() -> None:
    article = Article("a", (), {"en": ArticleVariant("Refunds", "Refund in 5 days", ("refund",))})
    assert KnowledgeBase([article]).search("refund")[0].url is None
    linked = KnowledgeBase([article], base_url="https://x.example/")
    assert linked.search("refund")[0].url == "https://x.example/help/a?lang=en"
    fallback = linked.variant("a", "sv")  # no Swedish variant: the English one
    assert fallback is not None and fallback.url == "https://x.example/help/a?lang=en"
    assert article_url("", "a", "pl") == "/help/a?lang=pl"
