"""The ``relaydesk`` command: serve, demo, apply, token, worker, db."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import migrate
from relaydesk.settings import Settings

T = TypeVar("T")

FIRST_MESSAGE = (
    '{"channel": "website", "external_id": "hello-1", '
    '"sender": {"email": "you@example.com", "name": "You"}, '
    '"text": "Hi! Where is my order 1042?"}'
)

app = typer.Typer(
    help="Relaydesk: one customer, one journey, every channel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="API tokens for /api/v1.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
bot_app = typer.Typer(help="The bot's understanding (NLU).", no_args_is_help=True)
app.add_typer(bot_app, name="bot")
agent_app = typer.Typer(help="Console users (agents, supervisors, admins).", no_args_is_help=True)
app.add_typer(agent_app, name="agent")

err = Console(stderr=True, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="RELAYDESK_DATABASE_URL",
        help="sqlite:///path/to/file.db or postgresql://user@host/db",
        show_default=False,
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def load_settings(database_url: str | None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url is not None:
        values["database_url"] = database_url
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:

        def source(loc: tuple[str | int, ...]) -> str:
            if loc == ("database_url",) and database_url is not None:
                return "--database-url (or RELAYDESK_DATABASE_URL)"
            return f"RELAYDESK_{'_'.join(str(p) for p in loc).upper()}"

        problems = "; ".join(
            f"{source(e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise fail(f"bad configuration: {problems}") from None


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await coro_fn()

    return asyncio.run(main())


def migrate_or_fail(settings: Settings) -> None:
    try:
        migrate.upgrade(settings.database_url)
    except Exception as exc:
        raise fail(f"cannot migrate {safe_url(settings.database_url)}: {exc}") from None


def listen_or_fail(host: str, port: int) -> socket.socket:
    from relaydesk.serving import PortTaken, listen

    try:
        return listen(host, port)
    except PortTaken as exc:
        raise fail(
            f"{exc.strerror}. Stop the process that holds it, or pick another port "
            "(--port N; with make: make serve PORT=N)"
        ) from None
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc}") from None


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="Workspace file applied at start")
    ] = None,
    workers_in_process: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the outbox worker in this process")
    ] = True,
) -> None:
    """Migrate the database, apply the workspace file, and serve the hub."""
    from relaydesk.serving import run_server

    settings = load_settings(database_url, run_worker=workers_in_process)
    sock = listen_or_fail(host, port)
    migrate_or_fail(settings)
    if workspace is not None:
        _apply(settings, workspace, dry_run=False, quiet=True)
    run_server(settings, host=host, port=port, sock=sock)


@app.command()
def demo(
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="The demo workspace file")
    ] = Path("examples/demo-workspace.yaml"),
    serve_too: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Set up a demo workspace with sample customers and a fresh token, then serve."""
    from relaydesk.demo import demo_sign_in, seed_demo
    from relaydesk.serving import run_server

    settings = load_settings(database_url)
    sock = listen_or_fail(host, port) if serve_too else None
    migrate_or_fail(settings)
    _apply(settings, workspace, dry_run=False, quiet=True)
    token = run(lambda: seed_demo(settings))
    sign_in = run(lambda: demo_sign_in(settings))
    base = f"http://{host}:{port}"
    console = (
        f"{base}/console   (sign in as {sign_in[0]} / {sign_in[1]}; a new password each run)\n"
        "                 Agents start offline: set Presence to online in the console's header\n"
        "                 to get the offer when the shop's customer asks for a person."
        if sign_in
        else f"{base}/console   (no agent: add one with `relaydesk agent create`)"
    )
    err.print(
        f"""
[bold green]Relaydesk is running[/] on {base}   (database: {safe_url(settings.database_url)})

  Health:        curl {base}/healthz
  Demo shop:     {base}/demo/shop   (play the customer in the chat widget)
  Agent console: {console}
  API explorer:  {base}/docs
  Demo token:    {token}

  Post a first customer message:
    curl -s -X POST {base}/api/v1/messages \\
      -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
      -d '{FIRST_MESSAGE}'

  Then follow the journey_id it returns:
    curl -s -H 'Authorization: Bearer {token}' {base}/api/v1/journeys/<journey_id>
""",
        highlight=False,
        soft_wrap=True,
    )
    if serve_too:
        run_server(settings, host=host, port=port, sock=sock)


def _apply(settings: Settings, path: Path, *, dry_run: bool, quiet: bool) -> None:
    from relaydesk.db import Database
    from relaydesk.workspace.actions import ApplyReport, apply_workspace
    from relaydesk.workspace.file import WorkspaceFileError, load_workspace_file

    try:
        loaded = load_workspace_file(path)
    except WorkspaceFileError as exc:
        for line in exc.lines():
            err.print(f"[bold red]error:[/] {escape(line)}", highlight=False)
        raise typer.Exit(1) from None

    class _DryRun(Exception):
        def __init__(self, report: ApplyReport) -> None:
            self.report = report

    async def go() -> ApplyReport:
        db = Database.connect(settings.database_url, pool_size=1)
        try:

            async def work(session: AsyncSession) -> ApplyReport:
                actor = f"cli:{os.getenv('USER', 'operator')}"
                report = await apply_workspace(session, loaded, actor=actor)
                if dry_run:
                    raise _DryRun(report)
                return report

            try:
                return await db.transaction(work)
            except _DryRun as stopped:
                return stopped.report
        finally:
            await db.dispose()

    try:
        report = run(go)
    except WorkspaceFileError as exc:
        for line in exc.lines():
            err.print(f"[bold red]error:[/] {escape(line)}", highlight=False)
        raise typer.Exit(1) from None
    out = Console()
    if not quiet:
        for change in report.changes:
            if change.action != "unchanged":
                detail = f" ({', '.join(change.fields)})" if change.fields else ""
                out.print(f"{change.kind} {change.name}: {change.action}{detail}", highlight=False)
    prefix = "dry run, nothing changed: " if dry_run else ""
    (err if quiet else out).print(f"{prefix}{path}: {report.summary()}", highlight=False)


@app.command()
def apply(
    file: Annotated[Path, typer.Option("--file", "-f", help="The workspace YAML file")],
    database_url: DatabaseUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change")] = False,
) -> None:
    """Create or update channels, teams, agents and settings from a workspace file."""
    settings = load_settings(database_url)
    migrate_or_fail(settings)
    _apply(settings, file, dry_run=dry_run, quiet=False)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. website-backend")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it (only now; it is stored hashed)."""
    from relaydesk.agents.actions import TokenNameTaken, create_token
    from relaydesk.db import Database

    settings = load_settings(database_url)
    migrate_or_fail(settings)

    async def go() -> str:
        db = Database.connect(settings.database_url, pool_size=1)
        try:
            return await db.transaction(lambda s: create_token(s, name))
        finally:
            await db.dispose()

    try:
        secret = run(go)
    except (TokenNameTaken, ValueError) as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(secret + "\n")


@token_app.command("revoke")
def token_revoke(name: str, database_url: DatabaseUrl = None) -> None:
    """Revoke a token by name."""
    from relaydesk.agents.actions import revoke_token
    from relaydesk.db import Database

    settings = load_settings(database_url)
    migrate_or_fail(settings)

    async def go() -> bool:
        db = Database.connect(settings.database_url, pool_size=1)
        try:
            return await db.transaction(lambda s: revoke_token(s, name))
        finally:
            await db.dispose()

    if not run(go):
        raise fail(f"no active token named {name!r}")
    err.print(f"revoked {escape(name)}")


@token_app.command("list")
def token_list(database_url: DatabaseUrl = None) -> None:
    """List tokens (names and dates; secrets are never shown again)."""
    from sqlalchemy import select

    from relaydesk.agents.models import ApiToken
    from relaydesk.db import Database

    settings = load_settings(database_url)
    migrate_or_fail(settings)

    async def go() -> list[tuple[str, datetime, datetime | None]]:
        db = Database.connect(settings.database_url, pool_size=1)
        try:
            async with db.read() as session:
                rows = await session.execute(
                    select(ApiToken.name, ApiToken.created_at, ApiToken.revoked_at).order_by(
                        ApiToken.created_at
                    )
                )
                return [(name, created, revoked) for name, created, revoked in rows]
        finally:
            await db.dispose()

    for name, created, revoked in run(go):
        state = f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else "active"
        typer.echo(f"{name}\tcreated {created:%Y-%m-%d %H:%M}\t{state}")


def _read_password(given: str | None) -> str:
    """--password, else a hidden prompt on a terminal, else the first line of stdin."""
    if given is not None:
        return given
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


def _agent_inputs(email: str, password: str | None) -> tuple[str, str]:
    """Normalised email and argon2 hash, or a CLI error naming what is wrong."""
    from relaydesk.agents.passwords import WeakPassword, hash_password
    from relaydesk.customers.identities import InvalidIdentity, normalize_email

    try:
        address = normalize_email(email)
    except InvalidIdentity as exc:
        raise fail(f"not an email address: {exc.reason}") from None
    secret = _read_password(password)
    if not secret:
        raise fail("no password given (pipe it on stdin, or use --password)")
    try:
        return address, hash_password(secret)
    except WeakPassword as exc:
        raise fail(str(exc)) from None


@agent_app.command("create")
def agent_create(
    email: Annotated[str, typer.Argument(help="Sign-in email")],
    name: Annotated[str, typer.Option("--name", help="Display name")],
    role: Annotated[
        str, typer.Option("--role", help="agent | supervisor | admin", show_default=True)
    ] = "agent",
    password: Annotated[
        str | None,
        typer.Option("--password", help="Password (default: read from stdin)", show_default=False),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a console user; the password is read from stdin unless --password is given."""
    from relaydesk.agents.actions import ROLES, AgentExists, create_agent
    from relaydesk.db import Database

    if role not in ROLES:
        raise fail(f"--role must be one of {', '.join(ROLES)} (got {role!r})")
    if not name.strip():
        raise fail("--name cannot be empty")
    address, password_hash = _agent_inputs(email, password)
    settings = load_settings(database_url)
    migrate_or_fail(settings)

    async def go() -> str:
        db = Database.connect(settings.database_url, pool_size=1)
        try:
            agent = await db.transaction(
                lambda s: create_agent(
                    s, address, name=name, role=role, password_hash=password_hash
                )
            )
            return str(agent.id)
        finally:
            await db.dispose()

    try:
        agent_id = run(go)
    except (AgentExists, ValueError) as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(agent_id + "\n")
    err.print(f"created {role} {address}; sign in at /console/login", highlight=False)


@agent_app.command("password")
def agent_password(
    email: Annotated[str, typer.Argument(help="The agent's sign-in email")],
    database_url: DatabaseUrl = None,
) -> None:
    """Set an agent's password (read from stdin) and end their open console sessions."""
    from relaydesk.agents.actions import AgentNotFound, set_password
    from relaydesk.console.actions import revoke_agent_sessions
    from relaydesk.db import Database

    address, password_hash = _agent_inputs(email, None)
    settings = load_settings(database_url)
    migrate_or_fail(settings)

    async def go() -> None:
        db = Database.connect(settings.database_url, pool_size=1)

        async def work(session: AsyncSession) -> None:
            agent = await set_password(session, address, password_hash)
            await revoke_agent_sessions(session, agent.id)

        try:
            await db.transaction(work)
        finally:
            await db.dispose()

    try:
        run(go)
    except AgentNotFound as exc:
        raise fail(str(exc)) from None
    err.print(f"password set for {address}; their console sessions were ended", highlight=False)


@app.command()
def worker(database_url: DatabaseUrl = None) -> None:
    """Run an outbox worker on its own (for installs with several app processes)."""
    from relaydesk.serving import run_worker_process

    settings = load_settings(database_url)
    migrate_or_fail(settings)
    run_worker_process(settings)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Migrate the database schema to the latest version."""
    settings = load_settings(database_url)
    migrate_or_fail(settings)
    err.print(f"{safe_url(settings.database_url)} is up to date")


@db_app.command("check")
def db_check(database_url: DatabaseUrl = None) -> None:
    """Fail if the database schema differs from the code's models."""
    settings = load_settings(database_url)
    try:
        migrate.check(settings.database_url)
    except Exception as exc:
        raise fail(f"schema drift: {exc}") from None
    err.print("schema matches the models")


@bot_app.command("eval")
def bot_eval(
    data: Annotated[
        Path, typer.Option(help="Folder with banking77/, bitext/, abcd/ (the shared datasets)")
    ] = Path("../shared/data"),
    tests: Annotated[
        Path, typer.Option(help="Folder with the held-out sets (tests/bot/data)")
    ] = Path("tests/bot/data"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON")] = False,
    backend: Annotated[
        str, typer.Option(help="Banking77 intent backend: tfidf, or ensemble (embeddings extra)")
    ] = "tfidf",
) -> None:
    """Measure the bot's quality bars with the product's own pipeline."""
    import json

    from relaydesk.bot.evaluation import run_all

    for folder in (data, tests):
        if not folder.is_dir():
            raise fail(f"{folder}: no such folder")
    from relaydesk.bot.embeddings import BACKENDS, available

    if backend not in BACKENDS:
        raise fail(f"--backend: unknown {backend!r} (use {', '.join(BACKENDS)})")
    if backend == "ensemble" and not available():
        raise fail("--backend ensemble needs the embeddings extra: uv sync --extra embeddings")
    report = run_all(data, tests, backend=backend).as_dict()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=1) + "\n")
    else:
        for bar in report["bars"]:
            mark = "PASS" if bar["passed"] else "MISS"
            typer.echo(f"{mark}  {json.dumps({k: v for k, v in bar.items() if k != 'passed'})}")
    raise typer.Exit(0 if report["passed"] else 1)


from relaydesk.routing.cli import routing_app  # noqa: E402

app.add_typer(routing_app, name="routing")


if __name__ == "__main__":
    app()
