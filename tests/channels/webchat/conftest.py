"""Web chat fixtures: a real server on a free port, and a fake mail channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from tests.channels.webchat.support import WORKSPACE, FakeMail, serve
from tests.helpers.workspace import apply_text

from relaydesk.channels import registry
from relaydesk.hub import Hub


@pytest.fixture(autouse=True)
def fake_mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeMail]]:
    monkeypatch.setitem(registry.KINDS, FakeMail.kind, FakeMail)
    FakeMail.sent = []
    FakeMail.fail_with = []
    yield FakeMail


@pytest.fixture
async def workspace(hub: Hub, fake_mail: type[FakeMail]) -> None:
    await apply_text(hub, WORKSPACE)


@pytest.fixture
async def server(hub: Hub, workspace: None) -> AsyncIterator[str]:
    """The hub served by uvicorn on a free port; yields its base URL (http://127.0.0.1:P)."""
    async with serve(hub) as base:
        yield base
