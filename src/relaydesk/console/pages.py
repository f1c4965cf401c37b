"""Console routes: sign-in and sign-out, the inbox, the journey view and its forms.

Every page is rendered on the server and works without JavaScript; ``live.js`` only
refreshes parts of it when the ``journeys`` live topic says something changed.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from relaydesk import clock
from relaydesk.console import auth
from relaydesk.console import journey_forms as _journey_forms  # noqa: F401  (its routes)
from relaydesk.console import next_update as _next_update  # noqa: F401  (its route)
from relaydesk.console import notices as _notices  # noqa: F401  (its routes)
from relaydesk.console.actions import revoke_session
from relaydesk.console.admin.pages import router as admin_router
from relaydesk.console.auth import UserDep
from relaydesk.console.composer import router as composer_router
from relaydesk.console.live import router as live_router
from relaydesk.console.offers import router as offers_router
from relaydesk.console.queries import SLA_LABELS, STATUSES, InboxFilters, channel_names, inbox
from relaydesk.console.rendering import ASSETS, STATIC, assets_version, render
from relaydesk.console.supervisor import router as supervisor_router
from relaydesk.console.workload import PRESENCES, desk, offers_for
from relaydesk.hub import Hub
from relaydesk.routing.queries import queue_view
from relaydesk.sla.queries import open_notices

log = logging.getLogger("relaydesk.console")
router = APIRouter(prefix="/console", include_in_schema=False)
router.include_router(composer_router)
router.include_router(live_router)
router.include_router(offers_router)
router.include_router(supervisor_router)
router.include_router(admin_router)


CLOSED_OFFER = {
    status: f"That offer is no longer waiting for you: it was {status}."
    for status in ("accepted", "declined", "expired", "withdrawn")
}


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    hub = _hub(request)
    target = auth.safe_next(next)
    if await auth.load_user(hub, request.cookies.get(auth.SESSION_COOKIE)) is not None:
        return RedirectResponse(target, status_code=303)
    return await _login_form(request, target, email="", error=None, status=200)


async def _login_form(
    request: Request, target: str, *, email: str, error: str | None, status: int
) -> Response:
    hub = _hub(request)
    nonce = request.cookies.get(auth.LOGIN_COOKIE) or auth.new_login_nonce()
    response = render(
        "login.html",
        status,
        next=target,
        email=email,
        error=error,
        csrf_token=await auth.login_csrf(hub, nonce),
        user=None,
    )
    auth.set_login_cookie(response, hub, request, nonce)
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    hub = _hub(request)
    form = await auth.read_form(request)
    await auth.check_login_csrf(request, form)
    target = auth.safe_next(form.get("next"))
    email = form.get("email", "")[:320]
    password = form.get("password", "")
    if not email.strip() or not password:
        return await _login_form(
            request, target, email=email, error="Enter your email and password.", status=400
        )
    result = await auth.sign_in(hub, email, password, auth.client_address(request))
    if result.cookie is None:
        log.info("console sign-in refused (%s)", "locked" if result.locked else "bad credentials")
        return await _login_form(
            request, target, email=email, error=result.error, status=429 if result.locked else 401
        )
    response = RedirectResponse(target, status_code=303)
    auth.set_session_cookie(response, hub, request, result.cookie)
    response.delete_cookie(auth.LOGIN_COOKIE, path=auth.COOKIE_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, user: UserDep) -> Response:
    hub = _hub(request)
    auth.check_csrf(user, request, await auth.read_form(request))
    await hub.db.transaction(lambda s: revoke_session(s, user.session_id))
    response = RedirectResponse("/console/login", status_code=303)
    auth.clear_session_cookie(response, hub, request)
    return response


@router.get("")
@router.get("/")
async def inbox_page(
    request: Request,
    user: UserDep,
    view: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    intent: str | None = None,
    sla: str | None = None,
    offer: str | None = None,
) -> Response:
    hub = _hub(request)
    async with hub.db.read() as session:
        channels = await channel_names(session)
        filters = InboxFilters.parse(user, view, channel, status, intent, sla, channels=channels)
        rows = await inbox(session, user, filters)
        mine = await desk(session, user.agent_id)
        offers = await offers_for(session, user.agent_id, clock.now())
        notices = await open_notices(session, user.agent_id)
        places = (
            {item.journey_id: item for item in (await queue_view(session, clock.now())).items}
            if filters.view == "queue"
            else {}
        )
    return render(
        "inbox.html",
        user=user,
        rows=rows,
        offers=offers,
        notices=notices,
        places=places,
        offer_notice=CLOSED_OFFER.get(offer or ""),
        desk=mine,
        presences=PRESENCES,
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        filters=filters,
        channels=channels,
        statuses=STATUSES,
        sla_labels=SLA_LABELS,
    )


@router.get("/static/{name}")
async def static_file(name: str, v: str | None = None) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return JSONResponse({"error": "not_found", "detail": "no such console file"}, 404)
    cache = "public, max-age=31536000, immutable" if v == assets_version() else "no-cache"
    return Response(
        (STATIC / name).read_bytes(), media_type=media_type, headers={"Cache-Control": cache}
    )
