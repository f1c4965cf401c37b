"""Routes: the channels and their health."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.channels.models import Channel
from relaydesk.channels.schemas import ChannelHealth, ChannelList, ChannelOut

router = APIRouter(tags=["channels"])


@router.get("/channels", response_model=ChannelList, summary="Channels with their health")
async def list_channels(hub: HubDep, _: PrincipalDep) -> ChannelList:
    async with hub.db.read() as session:
        rows = (await session.scalars(select(Channel).order_by(Channel.name))).all()
    return ChannelList(
        items=[
            ChannelOut(
                name=row.name,
                kind=row.kind,
                display_name=row.display_name,
                enabled=row.enabled,
                settings=row.settings,
                health=ChannelHealth(
                    last_inbound_at=row.last_inbound_at,
                    last_outbound_at=row.last_outbound_at,
                    last_error=row.last_error,
                    last_error_at=row.last_error_at,
                ),
            )
            for row in rows
        ]
    )
