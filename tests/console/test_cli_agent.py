"""`relaydesk agent create` and `relaydesk agent password`, run in-process with Typer's runner."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from relaydesk.agents.passwords import verify_password
from relaydesk.cli import app

WORKSPACE = """
version: 1
teams:
  - name: support
agents:
  - email: Wendy@Example.com
    name: Wendy Workspace
    teams: [support]
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def relaydesk(db: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, [*args, "--database-url", f"sqlite:///{db}"], input=stdin)


def stored(db: Path, email: str) -> tuple[str, str, str | None] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "select name, role, password_hash from agents where email = ?", (email,)
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def test_create_reads_the_password_from_stdin_and_prints_only_the_id(db: Path) -> None:
    result = relaydesk(
        db,
        "agent",
        "create",
        "Carol@Example.COM",
        "--name",
        "Carol",
        "--role",
        "supervisor",
        stdin="a very good password\n",
    )
    assert result.exit_code == 0, result.stderr
    agent_id = result.stdout.strip()
    assert str(uuid.UUID(agent_id)) == agent_id
    assert "created supervisor carol@example.com" in result.stderr
    assert "a very good password" not in result.stdout + result.stderr
    row = stored(db, "carol@example.com")
    assert row is not None
    name, role, digest = row
    assert (name, role) == ("Carol", "supervisor")
    assert digest is not None and digest.startswith("$argon2id$")
    assert verify_password(digest, "a very good password")


def test_create_with_password_option_then_a_duplicate_is_refused(db: Path) -> None:
    first = relaydesk(
        db, "agent", "create", "dan@example.com", "--name", "Dan", "--password", "x" * 12
    )
    assert first.exit_code == 0, first.stderr
    again = relaydesk(
        db, "agent", "create", "DAN@example.com", "--name", "Dan", "--password", "y" * 12
    )
    assert again.exit_code == 1
    assert "an agent with email dan@example.com exists" in again.stderr
    assert again.stdout == ""
    row = stored(db, "dan@example.com")
    assert row is not None and verify_password(row[2], "x" * 12)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["bob@example.com", "--name", "Bob", "--role", "boss"], "a fine password", "--role must"),
        (["not-an-email", "--name", "Bob"], "a fine password", "not an email address"),
        (["bob@example.com", "--name", "Bob"], "short\n", "at least 12 characters"),
        (["bob@example.com", "--name", "Bob"], "", "no password given"),
        (["bob@example.com", "--name", "  "], "a fine password", "--name cannot be empty"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(
    db: Path, args: list[str], stdin: str, message: str
) -> None:
    result = relaydesk(db, "agent", "create", *args, stdin=stdin)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""
    assert not db.exists() or stored(db, "bob@example.com") is None


def test_password_for_a_workspace_agent(db: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    applied = relaydesk(db, "apply", "-f", str(workspace))
    assert applied.exit_code == 0, applied.stderr
    row = stored(db, "wendy@example.com")
    assert row is not None and row[2] is None  # workspace agents start without a password

    result = relaydesk(db, "agent", "password", "wendy@example.com", stdin="her new password\n")
    assert result.exit_code == 0, result.stderr
    assert "password set for wendy@example.com" in result.stderr
    row = stored(db, "wendy@example.com")
    assert row is not None and verify_password(row[2], "her new password")

    missing = relaydesk(db, "agent", "password", "nobody@example.com", stdin="her new password")
    assert missing.exit_code == 1
    assert "no agent with email nobody@example.com" in missing.stderr
