"""The public help centre: pages render without a token, escape, search, negotiate language."""

from __future__ import annotations

import re
from typing import Any

import httpx
from tests.helpers.workspace import apply_text

from relaydesk.hub import Hub

WORKSPACE = """
settings:
  name: Northwind
  default_language: sv
knowledge_base:
  articles:
    - slug: returns
      tags: [returns, refunds]
      variants:
        en:
          title: Returns & refunds
          body: |
            You have **30 days** to return an item. [Print a label](https://shop.example/label).

            <script>alert("x")</script>
          questions: [how do I return an item]
        sv:
          title: Returer
          body: Du har 30 dagars öppet köp.
          questions: [hur returnerar jag en vara]
        pl:
          title: Zwroty
          body: Masz 30 dni na zwrot.
    - slug: tricky
      tags: ["<b>tag</b>"]
      variants:
        en:
          title: "<img src=x onerror=alert(1)> title"
          body: "[click](javascript:alert(1)) and <iframe src=//evil></iframe>"
    - slug: secret-draft
      status: draft
      variants:
        en:
          title: Unreleased product
          body: Launching next month.
"""


async def page(http: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    response = await http.get(path, **kwargs)
    assert response.headers["content-type"].startswith("text/html")
    return response


async def test_index_lists_published_articles_and_topics(
    hub: Hub, anonymous: httpx.AsyncClient
) -> None:
    await apply_text(hub, WORKSPACE)
    response = await page(anonymous, "/help", params={"lang": "en"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en">' in html
    assert "Northwind · Help centre" in html
    assert 'href="/help/returns?lang=en"' in html and "Returns &amp; refunds" in html
    assert "secret-draft" not in html and "Unreleased" not in html
    assert 'href="/help?tag=refunds&amp;lang=en"' in html
    assert "<script" not in html.lower()  # no JavaScript anywhere: it works without it
    assert '<form class="search" action="/help" method="get"' in html
    assert response.headers["content-security-policy"].startswith("default-src 'none'")

    tagged = await page(anonymous, "/help", params={"tag": "refunds", "lang": "en"})
    assert 'href="/help/returns?lang=en"' in tagged.text
    assert "/help/tricky" not in tagged.text
    assert 'aria-current="page">refunds' in tagged.text


async def test_everything_customers_wrote_is_escaped(
    hub: Hub, anonymous: httpx.AsyncClient
) -> None:
    await apply_text(hub, WORKSPACE)
    for path in ("/help?lang=en", "/help/tricky", "/help/returns?lang=en"):
        html = (await page(anonymous, path)).text
        assert "<img src=x" not in html and "<iframe" not in html and "<b>tag" not in html
        assert "<script>" not in html and 'href="javascript:' not in html, html
    tricky = (await page(anonymous, "/help/tricky")).text
    assert "&lt;img src=x onerror=alert(1)&gt; title" in tricky
    assert "&lt;iframe src=//evil&gt;&lt;/iframe&gt;" in tricky
    returns = (await page(anonymous, "/help/returns", params={"lang": "en"})).text
    assert "<strong>30 days</strong>" in returns  # Markdown still renders
    assert '<a href="https://shop.example/label">Print a label</a>' in returns
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in returns
    reflected = await page(anonymous, "/help", params={"q": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in reflected.text
    assert "&#34;&gt;&lt;script&gt;" in reflected.text


async def test_article_page_with_variants_and_alternates(
    hub: Hub, anonymous: httpx.AsyncClient
) -> None:
    await apply_text(hub, WORKSPACE)
    response = await page(anonymous, "/help/returns", params={"lang": "pl"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="pl">' in html and "<h1>Zwroty</h1>" in html
    assert response.headers["content-language"] == "pl"
    assert "Accept-Language" in response.headers["vary"]
    alternates = re.findall(r'<link rel="alternate" hreflang="([a-z-]+)" href="([^"]+)">', html)
    assert alternates == [
        ("en", "http://relaydesk.test/help/returns?lang=en"),
        ("pl", "http://relaydesk.test/help/returns?lang=pl"),
        ("sv", "http://relaydesk.test/help/returns?lang=sv"),
        ("x-default", "http://relaydesk.test/help/returns"),
    ]
    assert '<link rel="canonical" href="http://relaydesk.test/help/returns?lang=pl">' in html
    assert 'hreflang="sv" lang="sv">Svenska</a>' in html  # the other languages, by name
    assert "Centrum pomocy" in html  # the page's own words follow the language


async def test_language_negotiation(hub: Hub, anonymous: httpx.AsyncClient) -> None:
    await apply_text(hub, WORKSPACE)

    async def language(path: str, accept: str | None = None, **params: str) -> str:
        headers = {"Accept-Language": accept} if accept else {}
        response = await page(anonymous, path, params=params, headers=headers)
        assert response.status_code == 200
        return response.headers["content-language"]

    assert await language("/help/returns") == "sv"  # the workspace's default language
    assert await language("/help/returns", "pl-PL,pl;q=0.9,en;q=0.8") == "pl"
    assert await language("/help/returns", "de-DE,en;q=0.5,pl;q=0.4") == "en"
    assert await language("/help/returns", "pl;q=0.1, en;q=0.9") == "en"
    assert await language("/help/returns", "pl;q=0, de") == "sv"
    assert await language("/help/returns", "pl", lang="en") == "en"  # ?lang= wins
    assert await language("/help/returns", "pl", lang="de") == "pl"  # unless it is missing
    assert await language("/help/tricky", "sv") == "en"  # the only variant
    assert await language("/help", "pl") == "pl"


async def test_search_finds_articles_in_the_visitors_language(
    hub: Hub, anonymous: httpx.AsyncClient
) -> None:
    await apply_text(hub, WORKSPACE)
    html = (await page(anonymous, "/help", params={"q": "how can I return an item?"})).text
    results = html.split('id="results-title"')[1].split("</section>")[0]
    assert 'href="/help/returns?lang=en"' in results
    assert "Unreleased" not in html
    swedish = (await page(anonymous, "/help", params={"q": "returnera vara", "lang": "sv"})).text
    assert 'href="/help/returns?lang=sv"' in swedish.split("</section>")[0]
    assert "Resultat för" in swedish
    none = (await page(anonymous, "/help", params={"q": "zeppelin timetable", "lang": "en"})).text
    assert "No articles match your search" in none


async def test_unknown_and_draft_articles_are_404_pages(
    hub: Hub, anonymous: httpx.AsyncClient
) -> None:
    await apply_text(hub, WORKSPACE)
    for slug in ("no-such-article", "secret-draft", "<script>"):
        response = await page(anonymous, f"/help/{slug}", headers={"Accept-Language": "en"})
        assert response.status_code == 404
        assert "Article not found" in response.text
        assert "Unreleased" not in response.text and "<script>" not in response.text
        assert '<form class="search"' in response.text


async def test_empty_help_centre_and_stylesheet(hub: Hub, anonymous: httpx.AsyncClient) -> None:
    html = (await page(anonymous, "/help")).text
    assert "There are no articles yet." in html
    css_link = re.search(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert css_link is not None
    css = await anonymous.get(css_link.group(1))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]


async def test_public_url_makes_links_absolute(hub: Hub, anonymous: httpx.AsyncClient) -> None:
    hub.settings = hub.settings.model_copy(update={"public_url": "https://help.example.com"})
    await apply_text(hub, WORKSPACE)
    html = (await page(anonymous, "/help/returns", params={"lang": "en"})).text
    assert 'hreflang="sv" href="https://help.example.com/help/returns?lang=sv"' in html
