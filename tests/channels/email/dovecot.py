"""A real IMAP server for the tests: Dovecot started from a throwaway config
(``dovecot -F -c FILE``): listen 127.0.0.1 on a free high port, ``ssl = no``, passwd-file
users, Maildir under a temporary directory. Works as root and as an ordinary user."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
"""


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
    )


USERS = 200


class Dovecot:
    """A throwaway Dovecot on 127.0.0.1 with a mailbox per test."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        # not under pytest's 0700 tmp dirs: Dovecot's unprivileged processes must reach it
        self.root = Path(tempfile.mkdtemp(prefix="relaydesk-dovecot-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:  # Dovecot refuses root for its helpers and for mail access
            internal, group, login = "dovecot", "dovecot", "dovenull"
            self.uid, self.gid = pwd.getpwnam("dovecot").pw_uid, pwd.getpwnam("dovecot").pw_gid
        else:  # everything runs as the user running the tests
            internal = login = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            self.uid, self.gid = os.getuid(), os.getgid()
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", self.uid, self.gid)
        self.used = 0
        self.passwords = [uuid.uuid4().hex for _ in range(USERS)]
        (self.root / "users").write_text(
            "".join(
                f"support{n}:{{PLAIN}}{password}:{self.uid}:{self.gid}::"
                f"{self.root / 'home' / f'support{n}'}::\n"
                for n, password in enumerate(self.passwords, 1)
            )
        )
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(
            DOVECOT_CONF.format(
                root=self.root,
                uid=self.uid,
                internal=internal,
                group=group,
                login=login,
                port=self.port,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        with (self.root / "stderr.log").open("wb") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.conf)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=2).logout()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start listening: {self.log()}")

    def log(self) -> str:
        found = [self.root / "stderr.log", self.root / "dovecot.log"]
        return "\n".join(path.read_text(errors="replace") for path in found if path.exists())

    def account(self) -> tuple[str, str]:
        """A fresh mailbox (users are written before the start: Dovecot re-reads its
        passwd-file only when the file's time changes, at one-second resolution)."""
        self.used += 1
        if self.used > USERS:
            raise RuntimeError(f"more than {USERS} IMAP accounts in one session")
        return f"support{self.used}", self.passwords[self.used - 1]

    def imap(self, user: str, password: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(user, password)
        return conn

    def append(self, user: str, password: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into the mailbox, as the MTA's delivery would."""
        conn = self.imap(user, password)
        try:
            status, data = conn.append(folder, None, None, raw.replace(b"\r\n", b"\n"))
            assert status == "OK", data
        finally:
            conn.logout()

    def flags(self, user: str, password: str, folder: str = "INBOX") -> list[str]:
        """Each message's flags in ``folder`` (read-only, so nothing changes)."""
        conn = self.imap(user, password)
        try:
            conn.select(folder, readonly=True)
            _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            return [item.decode() for item in data if isinstance(item, bytes)]
        finally:
            conn.logout()

    def count(self, user: str, password: str, folder: str) -> int:
        conn = self.imap(user, password)
        try:
            status, data = conn.select(folder, readonly=True)
            return int(data[0] or 0) if status == "OK" else -1
        finally:
            conn.logout()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class MailboxAccount:
    server: Dovecot
    user: str
    password: str

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        self.server.append(self.user, self.password, raw, folder)

    def flags(self, folder: str = "INBOX") -> list[str]:
        return self.server.flags(self.user, self.password, folder)

    def count(self, folder: str) -> int:
        return self.server.count(self.user, self.password, folder)
