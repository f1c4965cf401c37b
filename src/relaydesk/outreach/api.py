"""Routes: notifications, a journey's next proactive update, surveys and their summary."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError, field_error
from relaydesk.channels.models import Channel
from relaydesk.journeys.api import ensure_current_journey
from relaydesk.journeys.models import Journey
from relaydesk.outreach.actions import notifications, updates
from relaydesk.outreach.actions.settings import apply_outreach
from relaydesk.outreach.config import OutreachConfig, stored_form
from relaydesk.outreach.models import Notification, Survey, SurveyAnswer, UpdatePlan
from relaydesk.outreach.queries import channel_key_problem, load_config, unknown_channel_keys
from relaydesk.outreach.schemas import (
    NextUpdateIn,
    NextUpdateOut,
    NotificationIn,
    NotificationOut,
    SurveyOut,
)
from relaydesk.outreach.summary import survey_summary

router = APIRouter(tags=["outreach"])


def _notification_out(row: Notification) -> NotificationOut:
    return NotificationOut.model_validate(row, from_attributes=True)


def _raise(exc: notifications.NotificationError) -> None:
    if exc.status == 422:
        raise field_error(("body", exc.field), exc.message)
    raise ApiError(exc.status, f"{exc.field.removesuffix('_id')}_not_found", exc.message)


@router.post("/notifications", status_code=201, response_model=NotificationOut)
async def create_notification(
    body: NotificationIn, hub: HubDep, principal: PrincipalDep
) -> NotificationOut:
    async def write(session: AsyncSession) -> NotificationOut:
        row = await notifications.create_notification(
            session,
            customer_id=body.customer_id,
            template=body.template,
            send_at=body.send_at,
            channel=body.channel,
            language=body.language,
            variables=body.variables,
            actor=principal.actor,
        )
        return _notification_out(row)

    try:
        out = await hub.db.transaction(write)
    except notifications.NotificationError as exc:
        _raise(exc)
    hub.wake_worker()
    return out


@router.get("/notifications/{notification_id}", response_model=NotificationOut)
async def read_notification(
    notification_id: uuid.UUID, hub: HubDep, _principal: PrincipalDep
) -> NotificationOut:
    async with hub.db.read() as session:
        row = await session.get(Notification, notification_id)
        if row is None:
            raise ApiError(404, "notification_not_found", f"no notification {notification_id}")
        return _notification_out(row)


async def _cancel(
    notification_id: uuid.UUID, hub: HubDep, principal: PrincipalDep
) -> NotificationOut:
    async def write(session: AsyncSession) -> NotificationOut:
        return _notification_out(
            await notifications.cancel_notification(session, notification_id, actor=principal.actor)
        )

    try:
        return await hub.db.transaction(write)
    except notifications.NotificationError as exc:
        _raise(exc)
    except notifications.AlreadyFinal as exc:
        raise ApiError(
            409, f"already_{exc.status}", f"the notification is {exc.status}; nothing to cancel"
        ) from None
    raise AssertionError  # pragma: no cover


@router.post(
    "/notifications/{notification_id}/cancel",
    response_model=NotificationOut,
    responses={409: {"description": "Already sent, skipped or cancelled"}},
)
async def cancel_notification(
    notification_id: uuid.UUID, hub: HubDep, principal: PrincipalDep
) -> NotificationOut:
    return await _cancel(notification_id, hub, principal)


@router.delete("/notifications/{notification_id}", response_model=NotificationOut)
async def delete_notification(
    notification_id: uuid.UUID, hub: HubDep, principal: PrincipalDep
) -> NotificationOut:
    return await _cancel(notification_id, hub, principal)


async def _plan_out(hub: HubDep, journey_id: uuid.UUID) -> NextUpdateOut:
    async with hub.db.read() as session:
        status = await session.scalar(select(Journey.status).where(Journey.id == journey_id))
        plan = await session.get(UpdatePlan, journey_id)
    pending = status == "pending"
    return NextUpdateOut(
        journey_id=journey_id,
        status=status or "unknown",
        next_at=plan.next_at if plan and pending else None,
        text=plan.text if plan else None,
        interval_seconds=plan.interval_seconds if plan else None,
        sent_count=plan.sent_count if plan else 0,
        last_sent_at=plan.last_sent_at if plan else None,
        last_result=plan.last_result if plan else None,
    )


@router.get("/journeys/{journey_id}/next-update", response_model=NextUpdateOut)
async def read_next_update(
    journey_id: uuid.UUID, request: Request, hub: HubDep, _principal: PrincipalDep
) -> NextUpdateOut:
    await ensure_current_journey(hub, journey_id, request)
    return await _plan_out(hub, journey_id)


@router.put(
    "/journeys/{journey_id}/next-update",
    response_model=NextUpdateOut,
    responses={409: {"description": "The journey is resolved or combined"}},
)
async def set_next_update(
    journey_id: uuid.UUID,
    body: NextUpdateIn,
    request: Request,
    hub: HubDep,
    principal: PrincipalDep,
) -> NextUpdateOut:
    """Mark the journey waiting on the company and set when (and with what text) the next
    status update goes."""
    await ensure_current_journey(hub, journey_id, request)
    try:
        await hub.db.transaction(
            lambda s: updates.wait_on_company(
                s,
                journey_id,
                actor=principal.actor,
                next_at=body.at,
                text=body.text,
                reason=body.reason,
            )
        )
    except updates.UpdateError as exc:
        if exc.status == 422:
            raise field_error(("body", exc.code), exc.message) from None
        raise ApiError(exc.status, exc.code, exc.message) from None
    hub.wake_worker()
    return await _plan_out(hub, journey_id)


@router.delete("/journeys/{journey_id}/next-update", response_model=NextUpdateOut)
async def stop_next_update(
    journey_id: uuid.UUID, request: Request, hub: HubDep, principal: PrincipalDep
) -> NextUpdateOut:
    """The company's part is done: the journey is open again and no more updates go."""
    await ensure_current_journey(hub, journey_id, request)
    try:
        await hub.db.transaction(lambda s: updates.resume(s, journey_id, actor=principal.actor))
    except updates.UpdateError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return await _plan_out(hub, journey_id)


@router.get("/surveys/summary")
async def read_survey_summary(
    hub: HubDep,
    _principal: PrincipalDep,
    since: Annotated[
        AwareDatetime | None, Query(description="Answers from this time (with a time zone)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Answers before this time (with a time zone)")
    ] = None,
) -> dict[str, Any]:
    async with hub.db.read() as session:
        return await survey_summary(session, since=since, until=until)


SURVEY_STATUSES = ("scheduled", "asking", "answered", "expired", "skipped", "cancelled")


@router.get("/surveys", response_model=list[SurveyOut])
async def list_surveys(
    request: Request,
    response: Response,
    hub: HubDep,
    _principal: PrincipalDep,
    journey_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(SURVEY_STATUSES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    before: Annotated[
        uuid.UUID | None, Query(description="The id of the last survey of the previous page")
    ] = None,
) -> list[SurveyOut]:
    """Newest first; a ``Link: <…>; rel="next"`` header points at the next page."""
    async with hub.db.read() as session:
        query = select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())
        if journey_id is not None:
            query = query.where(Survey.journey_id == journey_id)
        if customer_id is not None:
            query = query.where(Survey.customer_id == customer_id)
        if status is not None:
            query = query.where(Survey.status == status)
        if before is not None:
            cursor = await session.get(Survey, before)
            if cursor is None:
                raise field_error(("query", "before"), "no survey with this id")
            query = query.where(
                or_(
                    Survey.created_at < cursor.created_at,
                    and_(Survey.created_at == cursor.created_at, Survey.id < cursor.id),
                )
            )
        found = (await session.scalars(query.limit(limit + 1))).all()
        surveys = found[:limit]
        if len(found) > limit:
            following = request.url.include_query_params(before=str(surveys[-1].id))
            response.headers["Link"] = f'<{following}>; rel="next"'
        answers: dict[uuid.UUID, dict[str, int]] = {}
        if surveys:
            for row in (
                await session.scalars(
                    select(SurveyAnswer).where(SurveyAnswer.survey_id.in_([s.id for s in surveys]))
                )
            ).all():
                answers.setdefault(row.survey_id, {})[row.question] = row.score
    return [
        SurveyOut.model_validate(
            {
                **{c: getattr(s, c) for c in SurveyOut.model_fields if c != "answers"},
                "answers": answers.get(s.id, {}),
            }
        )
        for s in surveys
    ]


@router.get("/outreach/settings")
async def read_outreach_settings(hub: HubDep, _principal: PrincipalDep) -> dict[str, Any]:
    async with hub.db.read() as session:
        return stored_form(await load_config(session)) or {}


@router.put("/outreach/settings")
async def write_outreach_settings(
    body: OutreachConfig, hub: HubDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Replace the ``outreach:`` section (the same rules as the workspace file)."""
    async with hub.db.read() as session:
        names = list((await session.scalars(select(Channel.name))).all())
    unknown = unknown_channel_keys(body, names)
    if unknown:
        path, key = unknown[0]
        raise field_error(("body", *path[1:]), channel_key_problem(key, names))
    await hub.db.transaction(lambda s: apply_outreach(s, body, actor=principal.actor))
    return stored_form(body)
