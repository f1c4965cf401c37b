"""Route: parse a text with the workspace's trained model (like Rasa's /model/parse)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from relaydesk.api.deps import HubDep, PrincipalDep
from relaydesk.bot.listeners import runtime_for

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
    model = await runtime_for(hub).model()  # the model the live bot answers with
    result = model.parse(body.text, body.language).as_dict()
    return ParseOut.model_validate(result)
