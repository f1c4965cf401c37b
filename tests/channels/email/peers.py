"""Real mail servers and clients on loopback for the email channel's tests.

- ``SmtpSink``: an aiosmtpd server (its own thread and loop) receiving what the hub sends.
- ``Dovecot`` (in dovecot.py): a real IMAP server.
- ``smtp_send`` / ``swaks_send``: clients handing a message to the hub's SMTP receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from tests.channels.email.dovecot import MailboxAccount
from tests.conftest import SHARED, scalar
from tests.helpers.workspace import apply_text

from relaydesk.channels.actions import process_webhook
from relaydesk.channels.base import ParsedWebhook
from relaydesk.channels.models import Channel
from relaydesk.channels.receivers import Receivers
from relaydesk.hub import Hub
from relaydesk.workspace.config import load_workspace_config

FIXTURES = SHARED / "fixtures" / "channels" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 15.0) -> Any:
    """Wait until ``check`` returns something truthy (receivers work in the background)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)


# --- SMTP ---------------------------------------------------------------------------------


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SinkHandler:
    messages: list[Delivered] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    """Recipient → SMTP answer to give instead of 250."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Delivered(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK: queued"


class SmtpSink:
    """The provider's SMTP server (smarthost) as the hub sees it."""

    def __init__(self, *, login: tuple[str, str] | None = None, port: int | None = None) -> None:
        self.handler = SinkHandler()
        self.port = port or free_port()
        extra: dict[str, Any] = {}
        if login is not None:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == login
                )
                return AuthResult(success=ok, handled=False)

            extra = {
                "authenticator": authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, server_hostname="sink.test", **extra
        )

    @property
    def messages(self) -> list[Delivered]:
        return self.handler.messages

    def start(self) -> SmtpSink:
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if getattr(self, "running", False):
            self.controller.stop()
            self.running = False


def smtp_send(port: int, raw: bytes, *, mail_from: str, to: str) -> dict[str, Any]:
    """Hand ``raw`` to an SMTP server with smtplib (blocking: call it in a thread)."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=15) as client:
        return client.sendmail(mail_from, [to], raw)


async def send(port: int, raw: bytes, *, mail_from: str = "kim@example.com", to: str) -> None:
    await asyncio.to_thread(smtp_send, port, raw, mail_from=mail_from, to=to)


async def swaks_send(port: int, raw: bytes, *, mail_from: str, to: str) -> tuple[int, str]:
    """Send with swaks (an independent SMTP client); returns its exit code and transcript."""
    with tempfile.NamedTemporaryFile(suffix=".eml") as handle:
        handle.write(raw)
        handle.flush()
        process = await asyncio.create_subprocess_exec(
            "swaks",
            "--server",
            "127.0.0.1",
            "--port",
            str(port),
            "--from",
            mail_from,
            "--to",
            to,
            "--helo",
            "swaks.test",
            "--data",
            handle.name,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output, _ = await process.communicate()
    return int(process.returncode or 0), output.decode("utf-8", "replace")


# --- the hub's receivers --------------------------------------------------------------------


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


@contextlib.asynccontextmanager
async def receiving(hub: Hub, *, smtp_port: int | None = None) -> AsyncIterator[Receivers]:
    """Run the hub's channel receivers (as beside the worker) for the body of the block."""
    receivers = Receivers(hub)
    await receivers.refresh()
    try:
        if smtp_port is not None:
            await eventually(lambda: port_open(smtp_port), within=10)
        yield receivers
    finally:
        await receivers.stop()


async def submitter(hub: Hub, channel_name: str) -> Callable[[ParsedWebhook], Awaitable[Any]]:
    """What the receivers hand to ``receive()``: store in one transaction."""
    async with hub.db.read() as session:
        channel = await session.scalar(select(Channel).where(Channel.name == channel_name))
        config = await load_workspace_config(session)
    assert channel is not None

    async def submit(parsed: ParsedWebhook) -> list[Any]:
        outcome = await hub.db.transaction(
            lambda s: process_webhook(s, channel, parsed, journey_window=config.journey_window)
        )
        return outcome.results

    return submit


# --- the channel -----------------------------------------------------------------------

ADDRESS = "support@shop.example"


async def apply_email_channel(
    hub: Hub,
    sink: SmtpSink,
    *,
    inbound: bool = True,
    mailbox: MailboxAccount | None = None,
    extra: str = "",
) -> int:
    """Apply the ``mail`` channel; returns the port of its SMTP receiver."""
    port = free_port()
    imap = ""
    if mailbox is not None:
        imap = f"""
      imap_host: 127.0.0.1
      imap_port: {mailbox.server.port}
      imap_tls: false
      imap_username: {mailbox.user}
      imap_password: env:TEST_IMAP_PASSWORD
      imap_poll_seconds: 1"""
    await apply_text(
        hub,
        f"""
channels:
  - name: mail
    kind: email
    settings:
      address: {ADDRESS}
      from_name: Shop Support
      smtp_host: 127.0.0.1
      smtp_port: {sink.port}
      smtp_starttls: false
      {f"inbound_smtp_port: {port}" if inbound else ""}{imap}{extra}
""",
    )
    return port


# --- messages -----------------------------------------------------------------------


def customer_mail(
    text: str = "Where is my order 1042?", *, message_id: str = "<q1@example.com>", **headers: str
) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Kim Doe <kim@example.com>")
    message["To"] = ADDRESS
    message["Subject"] = headers.pop("Subject", "Order 1042")
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes()


async def count(hub: Hub, table: str = "messages") -> int:
    """Rows in a table."""
    return int(str(await scalar(hub, f"select count(*) from {table}")))


def dsn(original_id: str, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A DSN as Postfix writes it, returning one of our messages."""
    return f"""\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {ADDRESS}
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn.1@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; kim@example.com
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <kim@example.com>: Recipient address rejected

--B1
Content-Type: text/rfc822-headers

From: {ADDRESS}
To: kim@example.com
Subject: Re: Order 1042
Message-ID: {original_id}

--B1--
""".replace("\n", "\r\n").encode()
