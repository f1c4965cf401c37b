"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from RELAYDESK_TEST_POSTGRES_URL (or the local default if one answers);
without it those tests skip, saying how to run them. In CI (.ci/run) RELAYDESK_TEST_REQUIRE
names the services that must be there, and their tests fail instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from relaydesk import clock, migrate
from relaydesk.agents.actions import create_token
from relaydesk.app import create_app
from relaydesk.db import metadata
from relaydesk.hub import Hub
from relaydesk.settings import Settings

pytest_plugins = ["tests.helpers.loopback"]

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
HOW_TO_POSTGRES = (
    "PostgreSQL tests skipped: no server answered. Run them with "
    "RELAYDESK_TEST_POSTGRES_URL=postgresql://user@host:5432/db make test"
)
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def required(service: str) -> bool:
    return service in os.environ.get("RELAYDESK_TEST_REQUIRE", "").split(",")


def _postgres_reachable(url: str) -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(
                make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                timeout=2,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get("RELAYDESK_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    if not _postgres_reachable(url):
        if required("postgres"):
            pytest.fail(
                f"PostgreSQL is required (RELAYDESK_TEST_REQUIRE) but {url} does not answer"
            )
        pytest.skip(HOW_TO_POSTGRES)
    return url


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """A migrated throwaway database for this test session."""
    name = f"relaydesk_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(postgres_admin_url, f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    asyncio.run(_admin(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "relaydesk.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_template")
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    asyncio.run(_admin(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_worker=False)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[Hub]:
    hub = Hub.from_settings(settings)
    yield hub
    await hub.close()


@pytest.fixture
def manual_clock() -> Iterator[clock.ManualClock]:
    with clock.use_clock(clock.ManualClock()) as manual:
        yield manual  # type: ignore[misc]


@pytest.fixture
async def token(hub: Hub) -> str:
    return await hub.db.transaction(lambda s: create_token(s, f"test-{uuid.uuid4().hex[:6]}"))


@pytest.fixture
async def client(hub: Hub, token: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(hub=hub)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://relaydesk.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.fixture
async def anonymous(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(hub=hub)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://relaydesk.test"
    ) as http:
        yield http


async def scalar(hub: Hub, sql: str, **params: object) -> object:
    async with hub.db.read() as session:
        return (await session.execute(text(sql), params)).scalar()
