"""/api/v1: every domain's routes, all behind bearer-token authentication."""

from __future__ import annotations

from fastapi import APIRouter

from relaydesk.api import events, outbox
from relaydesk.bot import api as bot_api
from relaydesk.channels import api as channels_api
from relaydesk.customers import api as customers_api
from relaydesk.journeys import api as journeys_api
from relaydesk.journeys import replies_api

router = APIRouter(prefix="/api/v1")
for module in (journeys_api, replies_api, customers_api, channels_api, events, outbox, bot_api):
    router.include_router(module.router)

from relaydesk.audit import api as audit_api  # noqa: E402  (issue 6: the audit log)

router.include_router(audit_api.router)
