"""Console sign-in: argon2 passwords, database-backed sessions in a signed cookie, CSRF
tokens derived from the session, and a lock-out after repeated failures.

- The cookie carries a 256-bit random session id, signed with the hub's key (a forged cookie
  is refused without a database read); the database holds only its SHA-256.
- The CSRF token is an HMAC of the session id (synchronizer token, nothing extra stored);
  forms send it as ``csrf_token``, ``fetch`` as the ``X-CSRF-Token`` header. The sign-in
  form, used before any session exists, gets one tied to a short-lived signed cookie.
- Lock-out: ``ACCOUNT_LIMIT`` failures for one email, or ``ADDRESS_LIMIT`` from one client
  address, within ``LOCKOUT_WINDOW`` refuse further attempts until the window has passed.
  Unknown emails are counted and answered exactly like known ones (no user enumeration).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, Signer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.agents.models import Agent
from relaydesk.agents.passwords import verify_password
from relaydesk.console import actions
from relaydesk.console.models import ConsoleSession, SignInFailure
from relaydesk.customers.identities import InvalidIdentity, normalize_email
from relaydesk.hub import Hub
from relaydesk.signing import signing_key

SESSION_COOKIE = "relaydesk_console"
LOGIN_COOKIE = "relaydesk_console_login"
COOKIE_PATH = "/console"
SESSION_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written at most this often per session (reads stay reads)."""
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
LOCKOUT_WINDOW = timedelta(minutes=15)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
BAD_CREDENTIALS = "That email and password do not match an account."
LOCKED = "Too many failed sign-ins. Try again in {minutes} minutes."


@dataclass(frozen=True)
class ConsoleUser:
    session_id: uuid.UUID
    agent_id: uuid.UUID
    email: str
    name: str
    role: str
    csrf_token: str

    @property
    def sees_everything(self) -> bool:
        return self.role in ("supervisor", "admin")


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(key: str, purpose: str, value: str) -> str:
    return hmac.new(key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _signer(key: str) -> Signer:
    return Signer(key, salt="relaydesk.console.session")


def secure_cookies(hub: Hub, request: Request) -> bool:
    public = hub.settings.public_url or ""
    return public.startswith("https://") or request.url.scheme == "https"


def safe_next(target: str | None) -> str:
    """A local console path to return to after sign-in; anything else becomes ``/console``."""
    if not target or len(target) > 2000 or any(c in target for c in "\\\r\n\t"):
        return "/console"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console"):
        return "/console"
    if parts.path not in ("/console", "/console/") and not parts.path.startswith("/console/"):
        return "/console"
    return target


def login_url(next_path: str) -> str:
    return "/console/login?" + urlencode({"next": safe_next(next_path)})


# --- sessions -------------------------------------------------------------------------------


async def load_user(hub: Hub, cookie: str | None) -> ConsoleUser | None:
    """The signed-in agent for this cookie, or None (forged, expired, idle, revoked, inactive)."""
    if not cookie:
        return None
    key = await signing_key(hub)
    try:
        token = _signer(key).unsign(cookie).decode()
    except BadSignature:
        return None
    now = clock.now()
    async with hub.db.read() as session:
        row = (
            await session.execute(
                select(ConsoleSession, Agent)
                .join(Agent, Agent.id == ConsoleSession.agent_id)
                .where(
                    ConsoleSession.token_hash == hash_session_token(token),
                    ConsoleSession.revoked_at.is_(None),
                    ConsoleSession.expires_at > now,
                    ConsoleSession.last_seen_at > now - IDLE_TIMEOUT,
                    Agent.active.is_(True),
                )
            )
        ).first()
    if row is None:
        return None
    stored, agent = row
    if now - stored.last_seen_at >= TOUCH_EVERY:
        await hub.db.transaction(lambda s: actions.touch_session(s, stored.id, now))
    return ConsoleUser(
        session_id=stored.id,
        agent_id=agent.id,
        email=agent.email,
        name=agent.name,
        role=agent.role,
        csrf_token=_mac(key, "csrf", token),
    )


@dataclass(frozen=True)
class SignInResult:
    cookie: str | None = None
    error: str | None = None
    locked: bool = False


def _failure_keys(key: str, email: str, address: str) -> tuple[str, str]:
    return "email:" + _mac(key, "lockout", email)[:64], "addr:" + _mac(key, "lockout", address)[:64]


async def _locked_for(hub: Hub, keys: tuple[str, str]) -> timedelta | None:
    """How long the lock-out still lasts, or None when sign-in may be tried."""
    now = clock.now()
    since = now - LOCKOUT_WINDOW
    longest: timedelta | None = None
    async with hub.db.read() as session:
        for key, limit in zip(keys, (ACCOUNT_LIMIT, ADDRESS_LIMIT), strict=True):
            count = await session.scalar(
                select(func.count())
                .select_from(SignInFailure)
                .where(SignInFailure.key == key, SignInFailure.created_at > since)
            )
            if (count or 0) < limit:
                continue
            times = (
                await session.scalars(
                    select(SignInFailure.created_at)
                    .where(SignInFailure.key == key, SignInFailure.created_at > since)
                    .order_by(SignInFailure.created_at.desc())
                    .limit(limit)
                )
            ).all()
            remaining = times[-1] + LOCKOUT_WINDOW - now
            longest = remaining if longest is None else max(longest, remaining)
    return longest


def _normal_email(raw: str) -> str:
    """As agents' emails are stored; input that is not an email is compared as typed."""
    try:
        return normalize_email(raw)
    except InvalidIdentity:
        return raw.strip().casefold()


async def sign_in(hub: Hub, email: str, password: str, address: str) -> SignInResult:
    email = _normal_email(email)
    key = await signing_key(hub)
    keys = _failure_keys(key, email, address)
    locked = await _locked_for(hub, keys)
    if locked is not None:
        minutes = max(1, -(-int(locked.total_seconds()) // 60))
        return SignInResult(error=LOCKED.format(minutes=minutes), locked=True)
    async with hub.db.read() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == email))
    stored_hash = agent.password_hash if agent is not None and agent.active else None
    # argon2 takes tens of milliseconds of CPU: keep the event loop free meanwhile.
    matches = await asyncio.to_thread(verify_password, stored_hash, password)
    if not matches or agent is None:
        await hub.db.transaction(
            lambda s: actions.record_failure(s, list(keys), keep=LOCKOUT_WINDOW)
        )
        return SignInResult(error=BAD_CREDENTIALS)
    token = secrets.token_urlsafe(32)
    agent_id = agent.id

    async def open_it(session: AsyncSession) -> None:
        await actions.clear_failures(session, keys[0])
        await actions.open_session(
            session, agent_id, hash_session_token(token), lifetime=SESSION_LIFETIME
        )

    await hub.db.transaction(open_it)
    return SignInResult(cookie=_signer(key).sign(token).decode())


def set_session_cookie(response: Response, hub: Hub, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        secure=secure_cookies(hub, request),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, hub: Hub, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        secure=secure_cookies(hub, request),
        httponly=True,
        samesite="lax",
    )


# --- the sign-in form's CSRF token (before a session exists) ------------------------------


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


async def login_csrf(hub: Hub, nonce: str) -> str:
    return _mac(await signing_key(hub), "login", nonce)


def set_login_cookie(response: Response, hub: Hub, request: Request, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path=COOKIE_PATH,
        secure=secure_cookies(hub, request),
        httponly=True,
        samesite="strict",
    )


async def check_login_csrf(request: Request, form: dict[str, str]) -> None:
    nonce = request.cookies.get(LOGIN_COOKIE)
    sent = form.get(CSRF_FIELD, "")
    if not nonce or not hmac.compare_digest(sent, await login_csrf(_hub(request), nonce)):
        raise HTTPException(403, "the sign-in form expired or came from another site; reload it")


# --- request helpers ------------------------------------------------------------------------


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body of a console form (the body size is capped by the app)."""
    body = await request.body()
    if not body:
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "console forms are application/x-www-form-urlencoded")
    text = body.decode("utf-8", errors="replace")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=50))
    except ValueError:
        raise HTTPException(400, "too many form fields") from None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in agent; anonymous page visits are sent to the sign-in page (303)."""
    user = await load_user(_hub(request), request.cookies.get(SESSION_COOKIE))
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "sign in first", headers={"Location": login_url(target)})
    return user


UserDep = Annotated[ConsoleUser, Depends(current_user)]


def check_csrf(user: ConsoleUser, request: Request, form: dict[str, str] | None = None) -> None:
    """Refuse (403) a state-changing request without this session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent, user.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
