"""Routes: the queue, agents' presence, answers to offers, and transfers."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Request

from relaydesk import clock
from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import ApiError, field_error
from relaydesk.journeys.actions import JourneyNotFound
from relaydesk.journeys.api import ensure_current_journey
from relaydesk.routing.actions import (
    AgentNotFound,
    Answered,
    OfferClosed,
    OfferNotFound,
    TransferRefused,
    accept_offer,
    decline_offer,
    set_presence,
    transfer,
)
from relaydesk.routing.models import Assignment
from relaydesk.routing.queries import queue_view
from relaydesk.routing.schemas import (
    OfferOut,
    PresenceIn,
    PresenceOut,
    QueueOut,
    TransferIn,
    TransferOut,
)

router = APIRouter(tags=["routing"])


@router.get("/queue", response_model=QueueOut)
async def get_queue(hub: HubDep, _: PrincipalDep) -> QueueOut:
    """Journeys waiting for a person, best first, with position and estimated wait."""
    async with hub.db.read() as session:
        return await queue_view(session, clock.now())


@router.put(
    "/agents/{agent_id}/presence",
    response_model=PresenceOut,
    responses={404: {"description": "No active agent with that id"}},
)
async def put_presence(
    agent_id: uuid.UUID, body: PresenceIn, hub: HubDep, principal: PrincipalDep
) -> PresenceOut:
    """Online agents receive offers; away or offline withdraws their pending offers."""
    try:
        done = await hub.db.transaction(
            lambda s: set_presence(s, agent_id, body.presence, actor=principal.actor)
        )
    except AgentNotFound:
        raise ApiError(404, "agent_not_found", f"no active agent {agent_id}") from None
    hub.wake_worker()
    return PresenceOut(
        agent_id=done.agent_id, presence=done.presence, load=done.load, requeued=done.requeued
    )


async def _offer_out(hub: HubDep, answered: Answered) -> OfferOut:
    async with hub.db.read() as session:
        offer = await session.get(Assignment, answered.offer_id)
    assert offer is not None
    return OfferOut(
        id=offer.id,
        journey_id=offer.journey_id,
        agent_id=offer.agent_id,
        status="accepted" if offer.status in ("active", "ended") else offer.status,
        expires_at=offer.expires_at,
    )


async def _answer(
    hub: HubDep, offer_id: uuid.UUID, verb: Literal["accept", "decline"], actor: str
) -> OfferOut:
    action = accept_offer if verb == "accept" else decline_offer
    try:
        answered = await hub.db.transaction(lambda s: action(s, offer_id, actor=actor))
    except OfferNotFound:
        raise ApiError(404, "offer_not_found", f"no offer {offer_id}") from None
    except OfferClosed as exc:
        raise ApiError(409, "offer_closed", str(exc), offer_status=exc.status) from None
    hub.wake_worker()
    return await _offer_out(hub, answered)


@router.post(
    "/offers/{offer_id}/accept",
    response_model=OfferOut,
    responses={404: {"description": "No such offer"}, 409: {"description": "Not pending"}},
)
async def post_accept(offer_id: uuid.UUID, hub: HubDep, principal: PrincipalDep) -> OfferOut:
    """The agent takes the journey: it becomes theirs."""
    return await _answer(hub, offer_id, "accept", principal.actor)


@router.post(
    "/offers/{offer_id}/decline",
    response_model=OfferOut,
    responses={404: {"description": "No such offer"}, 409: {"description": "Not pending"}},
)
async def post_decline(offer_id: uuid.UUID, hub: HubDep, principal: PrincipalDep) -> OfferOut:
    """The journey is offered to the next best agent (or waits in the queue)."""
    return await _answer(hub, offer_id, "decline", principal.actor)


@router.post(
    "/journeys/{journey_id}/transfer",
    response_model=TransferOut,
    responses={
        404: {"description": "No such journey"},
        409: {"description": "Closed journey, agent away or at capacity (load named)"},
    },
)
async def post_transfer(
    journey_id: uuid.UUID, body: TransferIn, request: Request, hub: HubDep, principal: PrincipalDep
) -> TransferOut:
    """To an agent (directly, within their capacity), a team (its members get the offer) or
    back to the bot."""
    await ensure_current_journey(hub, journey_id, request)
    try:
        done = await hub.db.transaction(
            lambda s: transfer(
                s,
                journey_id,
                body.to,
                actor=principal.actor,
                reason=body.reason,
                agent_id=body.agent_id,
                team=body.team,
                forced_by=body.forced_by,
            )
        )
    except JourneyNotFound:
        raise ApiError(404, "journey_not_found", f"no journey {journey_id}") from None
    except TransferRefused as exc:
        if exc.code == "unknown_agent":
            raise field_error(("body", "agent_id"), str(exc)) from None
        if exc.code == "unknown_team":
            raise field_error(("body", "team"), str(exc)) from None
        if exc.code == "not_supervisor":
            raise field_error(("body", "forced_by"), str(exc)) from None
        raise ApiError(409, exc.code, str(exc), headers=None, **exc.facts) from None
    hub.wake_worker()
    return TransferOut(
        journey_id=done.journey_id,
        to=done.to,
        outcome=done.routed.target,
        agent_id=done.routed.agent_id,
        offer_id=done.routed.offer_id,
    )
