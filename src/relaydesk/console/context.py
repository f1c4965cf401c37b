"""Context providers: data from the operator's own systems in the customer panel.

A provider is anything with the ``ContextProvider`` shape: the hub ships ``HttpJsonProvider``
(configured under ``context_providers:`` in the workspace file) and a deployment may add its
own in Python with ``register``. Each provider gets its own time budget; a slow or failing
one shows as *unavailable* and never holds the page longer than its timeout. Answers (and,
briefly, failures) are cached per provider and customer. Logs name the provider and what
went wrong, never the customer, the URL (it carries customer fields) or the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.console.actions import CONTEXT_PROVIDERS_KEY
from relaydesk.console.schemas import PLACEHOLDER, ContextProviderSpec
from relaydesk.customers.schemas import CustomerOut
from relaydesk.workspace.models import WorkspaceSetting

log = logging.getLogger("relaydesk.console.context")

MAX_BODY = 256 * 1024
MAX_VALUE = 200
FAILURE_TTL = 15.0
"""A failing provider is asked again at most this often per customer (spares a page the
provider's full timeout on every refresh)."""
CACHE_SIZE = 2048


class ProviderUnavailable(Exception):
    """The provider could not answer; ``reason`` is for logs (no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ContextField:
    label: str
    value: str | None
    """None when the answer had nothing at that path."""


@dataclass(frozen=True)
class ContextPanel:
    name: str
    title: str
    status: str
    """ok | unavailable | not_applicable (the customer lacks what the provider needs)"""
    fields: tuple[ContextField, ...] = ()


class ContextProvider(Protocol):
    """What the customer panel needs from a provider."""

    name: str
    title: str
    timeout: float
    """Seconds the page waits at most."""
    cache_ttl: float
    """Seconds an answer is reused for the same ``cache_key`` (0: never)."""

    def cache_key(self, customer: CustomerOut) -> str | None:
        """What identifies the answer for this customer; None: nothing to ask for them."""
        ...

    async def fetch(self, customer: CustomerOut) -> list[ContextField]:
        """The fields to show; raises ``ProviderUnavailable`` (or any error) on failure."""
        ...


_registered: list[ContextProvider] = []


def register(provider: ContextProvider) -> None:
    """Add a provider written in Python (shown after the workspace file's providers)."""
    _registered.append(provider)


def unregister(name: str) -> None:
    _registered[:] = [p for p in _registered if p.name != name]


def _customer_value(customer: CustomerOut, field: str) -> str | None:
    value = getattr(customer, field, None)
    return None if value is None or value == "" else str(value)


def pick(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (keys, or indices into lists); None if absent."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and re.fullmatch(r"\d+", part) and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


class HttpJsonProvider:
    """GET a JSON document from the operator's system and show some of its fields."""

    def __init__(self, spec: ContextProviderSpec, http: httpx.AsyncClient) -> None:
        self.spec = spec
        self.http = http
        self.name = spec.name
        self.title = spec.title or spec.name
        self.timeout = spec.timeout
        self.cache_ttl = spec.cache_ttl

    def url_for(self, customer: CustomerOut) -> str | None:
        missing = False

        def fill(match: re.Match[str]) -> str:
            nonlocal missing
            value = _customer_value(customer, match.group(1).partition(".")[2])
            if value is None:
                missing = True
                return ""
            return quote(value, safe="")

        url = PLACEHOLDER.sub(fill, self.spec.url)
        return None if missing else url

    def cache_key(self, customer: CustomerOut) -> str | None:
        return self.url_for(customer)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        for name, value in self.spec.headers.items():
            if value.startswith("env:"):
                secret = os.environ.get(value.removeprefix("env:"))
                if not secret:
                    raise ProviderUnavailable(f"environment variable {value[4:]} is not set")
                value = secret
            headers[name] = value
        return headers

    async def fetch(self, customer: CustomerOut) -> list[ContextField]:
        url = self.url_for(customer)
        if url is None:
            return []
        try:
            async with self.http.stream(
                "GET", url, headers=self._headers(), timeout=httpx.Timeout(self.timeout)
            ) as response:
                if response.status_code != 200:
                    raise ProviderUnavailable(f"HTTP {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise ProviderUnavailable(f"answer larger than {MAX_BODY} bytes")
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        try:
            data = json.loads(body)
        except ValueError:
            raise ProviderUnavailable("answer is not JSON") from None
        return [ContextField(f.label, shown(pick(data, f.path))) for f in self.spec.fields]


class _AnswerCache:
    """Bounded, time-limited answers per (provider, key); the oldest go first when full."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[float, ContextPanel]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> ContextPanel | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, key: tuple[str, str], panel: ContextPanel, ttl: float) -> None:
        if ttl <= 0:
            return
        self._items[key] = (time.monotonic() + ttl, panel)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


answers = _AnswerCache()


async def _panel(provider: ContextProvider, customer: CustomerOut) -> ContextPanel:
    key = provider.cache_key(customer)
    if key is None:
        return ContextPanel(provider.name, provider.title, "not_applicable")
    cached = answers.get((provider.name, key))
    if cached is not None:
        return cached
    try:
        fields = await asyncio.wait_for(provider.fetch(customer), provider.timeout)
    except TimeoutError:
        reason = f"no answer within {provider.timeout:g} s"
    except ProviderUnavailable as exc:
        reason = exc.reason
    except Exception as exc:  # a provider's bug must not break the page
        reason = f"error {type(exc).__name__}"
    else:
        panel = ContextPanel(provider.name, provider.title, "ok", tuple(fields))
        answers.put((provider.name, key), panel, provider.cache_ttl)
        return panel
    log.warning("context provider %s unavailable: %s", provider.name, reason)
    panel = ContextPanel(provider.name, provider.title, "unavailable")
    answers.put((provider.name, key), panel, min(FAILURE_TTL, provider.cache_ttl))
    return panel


async def gather_context(
    providers: list[ContextProvider], customer: CustomerOut | None
) -> list[ContextPanel]:
    """Every provider's panel, asked at the same time (the page waits for the slowest
    provider's timeout at most)."""
    if customer is None or not providers:
        return []
    return list(await asyncio.gather(*(_panel(p, customer) for p in providers)))


async def configured_providers(
    session: AsyncSession, http: httpx.AsyncClient
) -> list[ContextProvider]:
    """The workspace file's providers (as stored when it was applied), then registered ones."""
    row = await session.get(WorkspaceSetting, CONTEXT_PROVIDERS_KEY)
    specs = [ContextProviderSpec.model_validate(p) for p in (row.value["value"] if row else [])]
    found: list[ContextProvider] = [HttpJsonProvider(spec, http) for spec in specs]
    return found + list(_registered)
