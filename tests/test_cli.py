"""The relaydesk command, run as a user runs it (a real process)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from relaydesk.agents.tokens import hash_token

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-workspace.yaml"


def relaydesk(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relaydesk.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=120,
        cwd=ROOT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_token_create_prints_only_the_token_and_stores_its_hash(
    db_url: str, tmp_path: Path
) -> None:
    result = relaydesk("token", "create", "website", "--database-url", db_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert token.startswith("rdk_") and len(token) > 40
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        (stored,) = conn.execute(
            "select token_hash from api_tokens where name='website'"
        ).fetchone()
    assert stored == hash_token(token)
    assert token not in (tmp_path / "cli.db").read_bytes().decode("latin-1")

    again = relaydesk("token", "create", "website", "--database-url", db_url)
    assert again.returncode == 1
    assert again.stdout == ""
    assert "exists" in again.stderr

    listed = relaydesk("token", "list", "--database-url", db_url)
    assert "website" in listed.stdout and token not in listed.stdout
    assert relaydesk("token", "revoke", "website", "--database-url", db_url).returncode == 0
    assert relaydesk("token", "revoke", "website", "--database-url", db_url).returncode == 1


def test_database_url_from_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    result = relaydesk("token", "create", "x", env={"RELAYDESK_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env.db").exists()


def test_bad_database_url_is_named(tmp_path: Path) -> None:
    result = relaydesk("token", "create", "x", "--database-url", "mysql://nope/db")
    assert result.returncode == 1
    assert "unsupported database 'mysql'" in result.stderr
    assert "--database-url" in result.stderr


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_taken_port_fails_at_once_with_the_reason_and_no_banner(
    command: str, db_url: str
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        result = relaydesk(command, "--database-url", db_url, "--port", port)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "make serve PORT=N" in result.stderr
    assert "running" not in result.stderr and "token" not in result.stderr.lower()


def test_apply_reports_changes_and_is_idempotent(db_url: str) -> None:
    first = relaydesk("apply", "-f", str(DEMO), "--database-url", db_url)
    assert first.returncode == 0, first.stderr
    assert "channel website: created" in first.stdout
    assert "agent ada@northwind.example: created" in first.stdout
    second = relaydesk("apply", "-f", str(DEMO), "--database-url", db_url)
    assert second.returncode == 0
    assert "created" not in second.stdout and "updated" not in second.stdout
    assert "unchanged" in second.stdout


def test_apply_dry_run_changes_nothing(db_url: str, tmp_path: Path) -> None:
    result = relaydesk("apply", "-f", str(DEMO), "--dry-run", "--database-url", db_url)
    assert result.returncode == 0
    assert "dry run, nothing changed" in result.stdout
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("select count(*) from channels").fetchone() == (0,)


def test_apply_rejects_a_bad_file_with_its_line(db_url: str, tmp_path: Path) -> None:
    relaydesk("apply", "-f", str(DEMO), "--database-url", db_url)
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("role: supervisor", "role: overlord"))
    result = relaydesk("apply", "-f", str(bad), "--database-url", db_url)
    assert result.returncode == 1
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "overlord" in text)
    assert f"{bad}:{line}: agents[0].role:" in result.stderr
    missing = relaydesk("apply", "-f", str(tmp_path / "nope.yaml"), "--database-url", db_url)
    assert missing.returncode == 1
    assert "nope.yaml: no such file" in missing.stderr


def test_db_upgrade_and_check(db_url: str) -> None:
    assert relaydesk("db", "upgrade", "--database-url", db_url).returncode == 0
    check = relaydesk("db", "check", "--database-url", db_url)
    assert check.returncode == 0, check.stderr


def test_postgres_url_is_accepted(postgres_template: str) -> None:
    result = relaydesk("db", "check", "--database-url", postgres_template)
    assert result.returncode == 0, result.stderr


def _wait_healthy(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1).json() == {"status": "ok"}:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def test_serve_migrates_applies_and_stops_cleanly_on_sigterm(db_url: str, tmp_path: Path) -> None:
    token = relaydesk("token", "create", "t", "--database-url", db_url).stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relaydesk.cli",
            "serve",
            "--database-url",
            db_url,
            "--port",
            str(port),
            "--workspace",
            str(DEMO),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(base, server)
        # Hold SQLite's write lock so the next request is in flight inside the server.
        blocker = sqlite3.connect(tmp_path / "cli.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = pool.submit(
                    http.post,
                    "/api/v1/messages",
                    json={
                        "channel": "website",
                        "external_id": "inflight",
                        "text": "hello",
                        "sender": {"email": "late@example.com"},
                    },
                    timeout=30,
                )
                time.sleep(1.0)
                server.send_signal(signal.SIGTERM)
                time.sleep(0.5)
                assert server.poll() is None, "server quit with a request in flight"
                blocker.execute("COMMIT")
                response = pending.result()
        assert response.status_code == 201, response.text
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown (Unix convention)
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    stderr = server.stderr.read() if server.stderr else ""
    assert "Finished server process" in stderr
    assert "worker stopped" in stderr
    assert "late@example.com" not in stderr  # personal data never reaches the logs
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("select count(*) from messages").fetchone() == (1,)
        # the worker finished its job in hand: nothing is left claimed; unclaimed work stays
        # pending in the outbox for the next start
        claimed = conn.execute(
            "select count(*) from outbox where locked_until is not null"
        ).fetchone()
        kept = conn.execute(
            "select count(*) from outbox join events on events.id = outbox.event_id"
            " where events.name = 'message.received'"
        ).fetchone()
    assert claimed == (0,)
    assert kept[0] >= 1  # one row per listener of message.received; none lost


def test_demo_prints_a_working_sign_in_the_shop_page_and_how_to_get_offers(
    db_url: str, tmp_path: Path
) -> None:
    """The first five minutes: `make serve` (relaydesk demo) says where the shop page is, how
    to sign in, and that an agent receives offers only once online (everyone starts offline)."""
    import re

    from relaydesk.agents.passwords import verify_password

    result = relaydesk("demo", "--no-serve", "--database-url", db_url, "--port", "8765")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stderr.split())
    assert "Demo shop: http://127.0.0.1:8765/demo/shop" in out
    found = re.search(r"sign in as (ada@northwind\.example) / (\S+);", out)
    assert found is not None, out
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        stored, presence = conn.execute(
            "select password_hash, presence from agents where email = ?", (found.group(1),)
        ).fetchone()
    assert verify_password(stored, found.group(2))
    assert presence == "offline"  # so the banner must say how to start receiving offers
    assert "set Presence to online" in out
