"""/api/v1: every domain's routes, all behind bearer-token authentication."""

from __future__ import annotations

from fastapi import APIRouter

from relaydesk.api import events, outbox
from relaydesk.api.errors import UNAUTHORIZED
from relaydesk.audit import api as audit_api
from relaydesk.bot import api as bot_api
from relaydesk.channels import api as channels_api
from relaydesk.customers import api as customers_api
from relaydesk.journeys import api as journeys_api
from relaydesk.journeys import replies_api
from relaydesk.outreach import api as outreach_api

router = APIRouter(prefix="/api/v1", responses=UNAUTHORIZED)
for module in (
    journeys_api,
    replies_api,
    customers_api,
    channels_api,
    events,
    outbox,
    bot_api,
    outreach_api,
    audit_api,
):
    router.include_router(module.router)
