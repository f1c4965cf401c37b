"""Fixtures for the email channel: an SMTP sink, a real Dovecot, the channel's workspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.channels.email.dovecot import Dovecot, MailboxAccount, dovecot_binary
from tests.channels.email.peers import SmtpSink
from tests.conftest import required

HOW_TO_DOVECOT = (
    "IMAP tests skipped: Dovecot is not installed. Install it with "
    "`apt-get install -y dovecot-imapd` (the tests start their own server on 127.0.0.1)"
)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def _dovecot() -> Iterator[Dovecot]:
    binary = dovecot_binary()
    if binary is None:
        if required("dovecot"):
            pytest.fail("Dovecot is required (RELAYDESK_TEST_REQUIRE) but is not installed")
        pytest.skip(HOW_TO_DOVECOT)
    server = Dovecot(binary)
    try:
        server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(f"Dovecot is installed but did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    yield from _dovecot()


@pytest.fixture
def private_dovecot() -> Iterator[Dovecot]:
    """A Dovecot of the test's own: failed logins slow down every later login from the same
    address (Dovecot's auth penalty), so tests that fail logins do not share the server."""
    yield from _dovecot()


@pytest.fixture
def mailbox(dovecot_server: Dovecot, monkeypatch: pytest.MonkeyPatch) -> MailboxAccount:
    """A fresh IMAP account; its password is in TEST_IMAP_PASSWORD."""
    user, password = dovecot_server.account()
    monkeypatch.setenv("TEST_IMAP_PASSWORD", password)
    return MailboxAccount(dovecot_server, user, password)
