"""Schema migrations (Alembic), callable from the CLI, the server start and tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _ensure_sqlite_directory(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _in_thread(fn: object) -> None:
    """Alembic's env runs its own event loop; keep it off a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()  # type: ignore[operator]
        return
    raise RuntimeError("call migrate functions from sync code or via asyncio.to_thread")


def upgrade(database_url: str, revision: str = "head") -> None:
    _ensure_sqlite_directory(database_url)
    _in_thread(lambda: command.upgrade(alembic_config(database_url), revision))


def downgrade(database_url: str, revision: str) -> None:
    _in_thread(lambda: command.downgrade(alembic_config(database_url), revision))


def check(database_url: str) -> None:
    """Raise if the models and the migrated schema differ (``alembic check``)."""
    _in_thread(lambda: command.check(alembic_config(database_url)))


def revision(database_url: str, message: str) -> None:
    _in_thread(
        lambda: command.revision(alembic_config(database_url), message=message, autogenerate=True)
    )
