"""Routes: parse a text with the workspace's trained model (like Rasa's /model/parse), and
read or replace the workspace's intents (the workspace file's ``bot:`` section)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.api.errors import field_error
from relaydesk.bot.actions import UnknownArticle, check_articles, store_intents
from relaydesk.bot.listeners import runtime_for
from relaydesk.bot.queries import intents_definition
from relaydesk.bot.runtime import DEFAULT_MODELS
from relaydesk.bot.schemas import BotIntentsOut, BotSpec

router = APIRouter(tags=["bot"])


class ParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=4000)]
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")] | None = Field(
        None, description="A hint; detected from the text when absent"
    )


class ParseOut(BaseModel):
    language: str
    intent: str | None
    confidence: float
    entities: list[dict[str, Any]]
    human_request: bool
    out_of_scope: bool
    sentiment: dict[str, Any]


@router.post("/bot/parse", response_model=ParseOut, summary="Understand one customer message")
async def parse(body: ParseIn, hub: HubDep, _: PrincipalDep) -> ParseOut:
    model = await runtime_for(hub).model(hub)  # the model the live bot answers with
    result = model.parse(body.text, body.language).as_dict()
    return ParseOut.model_validate(result)


async def _intents_out(hub: HubDep) -> BotIntentsOut:
    async with hub.db.read() as session:
        stored = await intents_definition(session)
    if stored is None:
        from relaydesk.bot.schemas import default_pack

        return BotIntentsOut(version=None, bot=None, intents=sorted(default_pack().intents))
    from relaydesk.bot.intents import workspace_pack

    return BotIntentsOut(
        version=stored[0], bot=stored[1], intents=sorted(workspace_pack(stored[1]).intents)
    )


@router.get("/bot/intents", response_model=BotIntentsOut, summary="The workspace's intents")
async def get_intents(hub: HubDep, _: PrincipalDep) -> BotIntentsOut:
    return await _intents_out(hub)


@router.put("/bot/intents", response_model=BotIntentsOut, summary="Replace the workspace's intents")
async def put_intents(body: BotSpec, hub: HubDep, _: PrincipalDep) -> BotIntentsOut:
    """The same section as the workspace file's ``bot:``; ``{}`` returns to the default pack.
    The new model trains in the background; the old one answers until it is ready."""

    async def work(session: Any) -> tuple[str, str | None]:
        await check_articles(session, body)
        return await store_intents(session, body)

    try:
        _action, version = await hub.db.transaction(work)
    except UnknownArticle as exc:
        message = str(exc).partition(": ")[2]
        raise field_error(("body", "intents", exc.intent, "article"), message) from None
    hub.config_cache.clear()  # this process sees the new version at once
    out = await _intents_out(hub)
    if version is not None and out.bot is not None:
        DEFAULT_MODELS.start(out.bot, version)
    return out
