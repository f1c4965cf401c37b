"""Context providers: the workspace section, the HTTP JSON provider against a loopback server
(good, slow, 500, bad JSON), its cache, and the customer panel that shows them."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.console.support import WORKSPACE, sign_in
from tests.console.test_pages import scene  # noqa: F401  (the fixture)
from tests.helpers.loopback import LoopbackProvider, Scripted, provider  # noqa: F401
from tests.helpers.workspace import apply_text

from relaydesk.console import context
from relaydesk.console.context import (
    ContextField,
    HttpJsonProvider,
    gather_context,
    pick,
    register,
    unregister,
)
from relaydesk.console.schemas import ContextProviderSpec
from relaydesk.customers.schemas import CustomerOut
from relaydesk.hub import Hub
from relaydesk.workspace.file import WorkspaceFileError, parse_workspace

EMAIL = "maja.lindqvist+vip@example.se"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    context.answers.clear()
    yield
    context.answers.clear()


def customer(email: str | None = EMAIL) -> CustomerOut:
    return CustomerOut.model_construct(
        id=uuid.UUID("00000000-0000-0000-0000-00000000abcd"),
        name="Maja Lindqvist",
        email=email,
        phone=None,
        country="SE",
        locale="sv",
    )


def spec(url: str, **extra: Any) -> ContextProviderSpec:
    return ContextProviderSpec.model_validate(
        {
            "name": "orders",
            "title": "Order system",
            "url": url + "/customers/{customer.email}?id={customer.id}",
            "headers": {"Authorization": "env:ORDERS_TOKEN", "X-Shop": "north"},
            "timeout": 1,
            "cache_ttl": "5m",
            "fields": [
                {"path": "status", "label": "Account"},
                {"path": "orders.0.id", "label": "Latest order"},
                {"path": "flags", "label": "Flags"},
                {"path": "missing.deep", "label": "Missing"},
            ],
            **extra,
        }
    )


GOOD = {"status": "vip", "orders": [{"id": "A-77"}, {"id": "A-76"}], "flags": ["late", "gift"]}


async def test_good_answer_fields_url_encoding_headers_and_cache(
    provider: LoopbackProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "Bearer s3cret")
    provider.then(Scripted(body=GOOD))
    async with httpx.AsyncClient() as http:
        source = HttpJsonProvider(spec(provider.url), http)
        [panel] = await gather_context([source], customer())
        [again] = await gather_context([source], customer())
    assert panel.status == "ok" and panel.title == "Order system"
    assert panel.fields == (
        ContextField("Account", "vip"),
        ContextField("Latest order", "A-77"),
        ContextField("Flags", '["late", "gift"]'),
        ContextField("Missing", None),
    )
    assert again == panel
    assert len(provider.requests) == 1  # the second came from the cache
    request = provider.requests[0]
    assert request.path == (
        "/customers/maja.lindqvist%2Bvip%40example.se?id=00000000-0000-0000-0000-00000000abcd"
    )
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["x-shop"] == "north"


@pytest.mark.parametrize(
    "answer",
    [
        Scripted(status=500, body={"error": "boom"}),
        Scripted(body=b"<html>not json</html>"),
        Scripted(status=302, headers={"Location": "http://127.0.0.1:1/"}),
    ],
    ids=["http-500", "bad-json", "redirect"],
)
async def test_failing_provider_is_unavailable_and_logs_no_personal_data(
    provider: LoopbackProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    answer: Scripted,
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "Bearer s3cret")
    provider.then(answer)
    # Everything the hub logs; httpx and httpcore at WARNING as relaydesk/logs.py sets them
    # (they log request URLs at INFO).
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="relaydesk")
    async with httpx.AsyncClient() as http:
        source = HttpJsonProvider(spec(provider.url), http)
        [panel] = await gather_context([source], customer())
        [cached] = await gather_context([source], customer())
    assert panel.status == "unavailable" and panel.fields == ()
    assert cached.status == "unavailable"
    assert len(provider.requests) == 1  # a failure is not asked again at once
    logged = caplog.text
    assert "context provider orders unavailable" in logged
    for secret in ("maja", "example.se", "s3cret", "Lindqvist", "abcd"):
        assert secret not in logged.lower()


async def test_slow_provider_never_holds_the_page_beyond_its_timeout(
    provider: LoopbackProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "t")
    provider.then(Scripted(body=GOOD, delay=3.0))
    fast = LoopbackProvider().start()
    fast.then(Scripted(body={"status": "ok"}))
    try:
        async with httpx.AsyncClient() as http:
            slow = HttpJsonProvider(spec(provider.url, timeout=0.5), http)
            other = HttpJsonProvider(spec(fast.url, name="crm", title="CRM"), http)
            started = time.monotonic()
            panels = await gather_context([slow, other], customer())
            took = time.monotonic() - started
    finally:
        fast.stop()
    assert took < 1.5  # both were asked at once; the slow one was cut at 0.5 s
    assert [(p.name, p.status) for p in panels] == [("orders", "unavailable"), ("crm", "ok")]


async def test_missing_customer_field_or_secret_skips_or_fails_cleanly(
    provider: LoopbackProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ORDERS_TOKEN", raising=False)
    async with httpx.AsyncClient() as http:
        source = HttpJsonProvider(spec(provider.url), http)
        [no_email] = await gather_context([source], customer(email=None))
        [no_secret] = await gather_context([source], customer())
    assert no_email.status == "not_applicable"
    assert no_secret.status == "unavailable"
    assert provider.requests == []  # neither was sent


async def test_a_python_provider_that_raises_is_unavailable() -> None:
    class Broken:
        name = "weather"
        title = "Weather"
        timeout = 1.0
        cache_ttl = 0.0

        def cache_key(self, customer: CustomerOut) -> str | None:
            return str(customer.id)

        async def fetch(self, customer: CustomerOut) -> list[ContextField]:
            raise RuntimeError("bug")

    [panel] = await gather_context([Broken()], customer())
    assert panel.status == "unavailable"
    assert await gather_context([Broken()], None) == []


def test_pick_reads_dotted_paths() -> None:
    data = {"a": {"b": [1, {"c": "x"}]}}
    assert pick(data, "a.b.1.c") == "x"
    assert pick(data, "a.b.5") is None
    assert pick(data, "a.b.c") is None
    assert pick([], "0") is None


SECTION = """
context_providers:
  - name: orders
    url: https://orders.example.com/api/customers/{customer.email}
    headers:
      Authorization: env:ORDERS_TOKEN
    timeout: 2s
    cache_ttl: 10m
    fields:
      - path: status
        label: Account status
"""


def test_section_parses_with_defaults() -> None:
    loaded = parse_workspace("version: 1\n" + SECTION, "ws.yaml")
    providers = loaded.spec.context_providers
    assert providers is not None and len(providers) == 1
    assert providers[0].timeout == 2.0 and providers[0].cache_ttl == 600.0
    assert providers[0].title == "Orders"


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("{customer.email}", "{customer.password}"), 5, "unknown placeholder {customer.password}"),
        (("env:ORDERS_TOKEN", "Bearer abc"), 7, "Authorization: a secret"),
        (("timeout: 2s", "timeout: 30s"), 8, "between 0 and 10 seconds"),
        (("https://orders.example.com", "ftp://orders.example.com"), 5, "http:// or https://"),
        (("path: status", "path: 'a..b'"), 11, "a dotted path"),
        (("cache_ttl: 10m", "cache_ttl: soon"), 9, "a duration like"),
    ],
)
def test_section_errors_name_file_and_line(
    change: tuple[str, str], line: int, message: str
) -> None:
    text = "version: 1\n" + SECTION.replace(*change)
    with pytest.raises(WorkspaceFileError) as failed:
        parse_workspace(text, "ws.yaml")
    [problem] = failed.value.lines()
    assert problem.startswith(f"ws.yaml:{line}: context_providers[0]")
    assert message in problem


def test_duplicate_provider_names_are_refused() -> None:
    twice = SECTION + SECTION.split("context_providers:\n")[1]
    with pytest.raises(WorkspaceFileError, match="'orders' appears twice"):
        parse_workspace("version: 1\n" + twice, "ws.yaml")


async def test_applying_the_section_is_idempotent(hub: Hub) -> None:
    first = await apply_text(hub, WORKSPACE + SECTION)
    again = await apply_text(hub, WORKSPACE + SECTION)
    changed = await apply_text(hub, WORKSPACE + SECTION.replace("10m", "20m"))
    removed = await apply_text(hub, WORKSPACE + "context_providers: []\n")

    def of(report: Any) -> list[tuple[str, list[str]]]:
        return [(c.action, c.fields) for c in report.changes if c.kind == "context_providers"]

    assert of(first) == [("created", [])]
    assert of(again) == [("unchanged", [])]
    assert of(changed) == [("updated", ["orders"])]
    assert of(removed) == [("updated", ["orders"])]


async def test_customer_panel_shows_providers_and_unavailable_ones(
    browser: httpx.AsyncClient,
    scene: dict[str, Any],  # noqa: F811
    hub: Hub,
    provider: LoopbackProvider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "t")
    failing = LoopbackProvider()  # answers 500 to everything
    failing.default = Scripted(status=500)
    failing.start()
    section = f"""
context_providers:
  - name: orders
    title: Order system
    url: {provider.url}/c/{{customer.email}}
    headers: {{Authorization: "env:ORDERS_TOKEN"}}
    fields:
      - {{path: status, label: Account status}}
  - name: broken
    url: {failing.url}/broken/{{customer.id}}
    timeout: 0.5
    fields:
      - {{path: x, label: X}}
"""
    await apply_text(hub, WORKSPACE + section)
    provider.default = Scripted(body={"status": "vip since 2019"})

    class Kind:
        name = "registered"
        title = "From Python"
        timeout = 1.0
        cache_ttl = 0.0

        def cache_key(self, customer: CustomerOut) -> str | None:
            return str(customer.id)

        async def fetch(self, customer: CustomerOut) -> list[ContextField]:
            return [ContextField("Greeting", f"hello {customer.country}")]

    register(Kind())
    try:
        await sign_in(browser, "alice@example.com")
        page = await browser.get(f"/console/journeys/{scene['journeys']['Maja'].id}")
    finally:
        unregister("registered")
        failing.stop()
    assert page.status_code == 200
    text = page.text
    assert '<h3 id="ctx-orders">Order system</h3>' in text
    assert "<dt>Account status</dt><dd>vip since 2019</dd>" in text
    assert '<h3 id="ctx-broken">Broken</h3>' in text
    assert "Unavailable right now." in text
    assert "<dt>Greeting</dt><dd>hello SE</dd>" in text
    assert [r.path.split("/")[1] for r in provider.requests] == ["c"]
    assert [r.path.split("/")[1] for r in failing.requests] == ["broken"]
