"""The only code that writes the bot's decisions: replies, facts, state, handoff, resolution.

``record_turn`` persists one ``BotTurn`` (decided by the pure dialogue from a snapshot) in one
transaction, after checking the snapshot still holds: the journey is still the bot's, the
message is not handled yet, and no other turn slipped in. A retried event therefore sends
no second reply, and the work is a pure function of the database state (safe to retry).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bot.dialogue import BotTurn, DialogueState
from relaydesk.bot.dialogue.state import merge_states
from relaydesk.bot.handoff import build_package
from relaydesk.bot.intents import definition_version
from relaydesk.bot.models import BotDialogue
from relaydesk.bot.queries import INTENTS_KEY, VERSION_KEY
from relaydesk.bot.schemas import BotSpec, default_pack, stored_form
from relaydesk.bot.turn import TurnAnalysis
from relaydesk.journeys.actions import Reply, ReplyRefused, change_owner, queue_reply
from relaydesk.journeys.actions import resolve_journey as resolve
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyOwner

if TYPE_CHECKING:
    from relaydesk.workspace.actions import Change
    from relaydesk.workspace.file import LoadedWorkspace

ACTOR = "bot"
RESOLVED_BY_BOT = "resolved_by_bot"
TRANSCRIPT_LIMIT = 200
"""Message ids remembered per journey for the handoff's transcript reference."""


class Recorded(StrEnum):
    DONE = "done"
    DUPLICATE = "duplicate"
    """The message was handled already (a retried event): nothing written."""
    NOT_OURS = "not_ours"
    """The journey is no longer the bot's (or is closed): nothing written."""
    STALE = "stale"
    """Another turn was recorded since the snapshot: decide again from fresh state."""


@dataclass(frozen=True)
class TurnRecord:
    outcome: Recorded
    reply_ids: list[uuid.UUID] = field(default_factory=list)
    handoff: dict[str, object] | None = None


async def load_state(
    session: AsyncSession, journey_id: uuid.UUID
) -> tuple[DialogueState, uuid.UUID | None]:
    """The journey's dialogue state and the last message the bot handled (a read)."""
    row = await session.get(BotDialogue, journey_id)
    if row is None:
        return DialogueState(), None
    return DialogueState.from_dict(row.state), row.last_message_id


async def record_turn(
    session: AsyncSession,
    journey_id: uuid.UUID,
    message_id: uuid.UUID,
    turn: BotTurn,
    *,
    expected_turns: int,
    analysis: TurnAnalysis | None,
    channel: str | None = None,
    written: bool = True,
    signals: tuple[str, ...] = (),
) -> TurnRecord:
    """Persist ``turn`` as the bot's answer to ``message_id``.

    Replies are queued on ``channel`` (the one the customer wrote on) with buttons where the
    turn has them. A reply the channel refuses (opted out, window closed), or a channel that
    carries no written reply (a phone call, ``written=False``), turns the step into a
    handoff: a person can still reach the customer another way.
    """
    journey = await session.scalar(
        select(Journey).where(Journey.id == journey_id).with_for_update()
    )
    if journey is None or journey.owner_type != JourneyOwner.BOT.value:
        return TurnRecord(Recorded.NOT_OURS)
    if journey.status not in ACTIVE_JOURNEY_STATUSES:
        return TurnRecord(Recorded.NOT_OURS)
    row = await session.get(BotDialogue, journey_id, with_for_update=True)
    before = DialogueState.from_dict(row.state if row else None)
    if row is not None and (
        row.last_message_id == message_id or str(message_id) in before.transcript
    ):
        return TurnRecord(Recorded.DUPLICATE)
    if before.turns != expected_turns:
        return TurnRecord(Recorded.STALE)

    now = clock.now()
    context = dict(journey.context or {})
    learnt = {k: v for k, v in turn.facts.items() if k not in context}
    if learnt:
        journey.context = {**context, **learnt}
    reply_ids: list[uuid.UUID] = []
    if not written:
        if not turn.hands_off:
            turn = replace(turn, action="handoff", reason="bot_cannot_reply")
        turn = replace(turn, replies=())
    try:
        for reply in turn.replies:
            buttons = [
                {"id": ident, "title": title}
                for ident, title in zip(reply.button_ids, reply.buttons, strict=True)
            ]
            message = await queue_reply(
                session,
                journey_id,
                Reply(
                    text=reply.text,
                    author_type="bot",
                    channel=channel,
                    meta={"buttons": buttons} if buttons else {},
                ),
            )
            reply_ids.append(message.id)
    except ReplyRefused:
        turn = replace(turn, action="handoff", reason="bot_cannot_reply")

    transcript = (*before.transcript, str(message_id), *(str(i) for i in reply_ids))
    state = replace(turn.state, transcript=transcript[-TRANSCRIPT_LIMIT:])
    if row is None:
        session.add(
            BotDialogue(
                journey_id=journey_id,
                state=state.as_dict(),
                last_message_id=message_id,
                updated_at=now,
            )
        )
    else:
        row.state = state.as_dict()
        row.last_message_id = message_id
        row.updated_at = now
    await session.flush()

    package = None
    if turn.hands_off:
        reason = turn.reason or "human_request"
        package = build_package(
            reason=reason,
            state=state,
            analysis=analysis,
            journey_id=journey_id,
            facts=journey.context or {},
            missing_facts=turn.missing_facts,
            message_ids=state.transcript,
            signals=signals,
            now=now,
        )
        journey.handoff = package
        await change_owner(session, journey_id, JourneyOwner.QUEUE, reason=reason, actor=ACTOR)
    elif turn.resolves:
        await resolve(session, journey_id, outcome=RESOLVED_BY_BOT, actor=ACTOR)
    return TurnRecord(Recorded.DONE, reply_ids, package)


async def merge_dialogues(
    session: AsyncSession, journey_id: uuid.UUID, combined_id: uuid.UUID
) -> bool:
    """Fold the dialogue of ``combined_id`` into ``journey_id`` (journeys were combined).

    Idempotent: the folded journey's row is deleted, so a retry finds nothing to do.
    Returns whether anything changed.
    """
    rows = {
        row.journey_id: row
        for row in (
            await session.scalars(
                select(BotDialogue)
                .where(BotDialogue.journey_id.in_((journey_id, combined_id)))
                .order_by(BotDialogue.journey_id)
                .with_for_update()
            )
        ).all()
    }
    folded = rows.get(combined_id)
    if folded is None:
        return False
    kept = rows.get(journey_id)
    other = DialogueState.from_dict(folded.state)
    if kept is None:
        session.add(
            BotDialogue(
                journey_id=journey_id,
                state=other.as_dict(),
                last_message_id=folded.last_message_id,
                updated_at=clock.now(),
            )
        )
    else:
        mine = DialogueState.from_dict(kept.state)
        merged = merge_states(mine, other, TRANSCRIPT_LIMIT)
        if merged.updated_at == other.updated_at and other.updated_at != mine.updated_at:
            kept.last_message_id = folded.last_message_id or kept.last_message_id
        kept.state, kept.updated_at = merged.as_dict(), clock.now()
    await session.delete(folded)
    await session.flush()
    return True


class UnknownArticle(ValueError):
    """An intent names a knowledge-base article that does not exist."""

    def __init__(self, intent: str, slug: str) -> None:
        self.intent, self.slug = intent, slug
        super().__init__(
            f"intents.{intent}.article: no knowledge-base article {slug!r} "
            "(declare it under knowledge_base.articles or create it through /api/v1/kb)"
        )


async def check_articles(
    session: AsyncSession, spec: BotSpec, declared: Iterable[str] = ()
) -> None:
    """Every intent's article exists: in the knowledge base, declared beside it, or in the
    default pack (whose articles answer while the knowledge base is empty)."""
    from relaydesk.kb.models import KbArticle

    wanted = {iid: d.article for iid, d in spec.intents.items() if d.article}
    if not wanted:
        return
    known = set(declared) | set(
        await session.scalars(select(KbArticle.slug).where(KbArticle.slug.in_(wanted.values())))
    )
    if spec.pack == "default":
        known |= {a.slug for a in default_pack().articles}
    for iid, slug in wanted.items():
        if slug not in known:
            raise UnknownArticle(iid, slug)


async def store_intents(session: AsyncSession, spec: BotSpec) -> tuple[str, str | None]:
    """Store the workspace's ``bot:`` section; ("created" | "updated" | "unchanged" |
    "deleted", version). A section that declares nothing returns to the default pack."""
    from relaydesk.workspace.models import WorkspaceSetting

    definition = stored_form(spec)
    empty = not (spec.intents or spec.facts or spec.out_of_scope) and spec.pack == "default"
    empty = empty and spec.out_of_scope_threshold is None
    rows = {
        key: await session.get(WorkspaceSetting, key, with_for_update=True)
        for key in (INTENTS_KEY, VERSION_KEY)
    }
    if empty:
        present = [r for r in rows.values() if r is not None]
        for stale in present:
            await session.delete(stale)
        return ("deleted" if present else "unchanged"), None
    version = definition_version(definition)
    current = rows[VERSION_KEY]
    if current is not None and current.value.get("value") == version and rows[INTENTS_KEY]:
        return "unchanged", version
    now = clock.now()
    for key, value in ((INTENTS_KEY, definition), (VERSION_KEY, version)):
        setting = rows[key]
        if setting is None:
            session.add(WorkspaceSetting(key=key, value={"value": value}, updated_at=now))
        else:
            setting.value, setting.updated_at = {"value": value}, now
    await session.flush()
    return ("created" if current is None else "updated"), version


async def apply_bot(session: AsyncSession, loaded: LoadedWorkspace, *, actor: str) -> list[Change]:
    """The workspace file's ``bot:`` section, idempotently; no section changes nothing."""
    from relaydesk.workspace.actions import Change  # the workspace imports this module

    spec = loaded.spec.bot
    if spec is None:
        return []
    declared = [a.slug for a in loaded.spec.knowledge_base.articles]
    try:
        await check_articles(session, spec, declared)
    except UnknownArticle as exc:
        raise loaded.error(
            ("bot", "intents", exc.intent, "article"), str(exc).partition(": ")[2]
        ) from None
    action, _version = await store_intents(session, spec)
    return [Change("bot", "intents", action)]
