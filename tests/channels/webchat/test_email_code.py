"""The one-time code goes out through the real email channel, to an SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.channels.webchat.support import SHOP, deliver, open_widget, serve
from tests.helpers.workspace import apply_text

from relaydesk.hub import Hub


class Sink:
    def __init__(self) -> None:
        self.mail: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mail.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


async def test_the_code_is_emailed_and_verifies(hub: Hub, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    await apply_text(
        hub,
        f"""
channels:
  - name: chat
    kind: webchat
    settings:
      allowed_origins: ["{SHOP}"]
      title: Northwind help
      verification_channel: support-mail
  - name: support-mail
    kind: email
    settings:
      address: support@northwind.example
      from_name: Northwind Support
      smtp_host: 127.0.0.1
      smtp_port: {port}
      smtp_starttls: false
""",
    )
    async with serve(hub) as base, open_widget(base) as widget:
        await widget.send(type="email", address="Sam@Example.com")
        assert (await widget.expect("email_status"))["status"] == "pending"
        await deliver(hub)
        assert (await widget.expect("email_status"))["status"] == "sent"
        [mail] = sink.mail
        assert mail["To"] == "sam@example.com"
        assert mail["From"] == "Northwind Support <support@northwind.example>"
        assert "Northwind help" in mail["Subject"]
        assert mail["Auto-Submitted"]  # an automatic message: autoresponders stay quiet
        body = mail.get_content()
        code = re.search(r"Your code is (\d{6})", body).group(1)  # type: ignore[union-attr]
        assert code in mail["Subject"]
        await widget.send(type="verify", code=code)
        assert (await widget.expect("email_status"))["status"] == "verified"
