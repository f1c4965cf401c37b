"""The bot in the worker: answers customer messages on journeys it owns, on every channel.

``MessageReceived`` on a journey owned by ``bot`` → understand the message (turn.py), decide
(dialogue, pure) → record (actions.py). ``OwnerChanged`` to ``bot`` → answer the latest
customer message nobody answered yet. Both paths meet in ``answer()``, which is idempotent:
the dialogue row remembers the messages handled, so a retried event sends nothing twice.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.bot.actions import Recorded, TurnRecord, load_state, merge_dialogues, record_turn
from relaydesk.bot.dialogue import ChannelTraits, DialogueKit, DialogueState, DialogueTexts
from relaydesk.bot.dialogue.pipeline import take_turn
from relaydesk.bot.kb import KnowledgeBase
from relaydesk.bot.nlu import NluModel
from relaydesk.bot.pack import Pack
from relaydesk.bot.queries import intents_definition, intents_version
from relaydesk.bot.runtime import DEFAULT_MODELS, Trained
from relaydesk.bot.schemas import default_pack
from relaydesk.bus import RetryLater, StoredEvent, on
from relaydesk.channels.models import Channel
from relaydesk.channels.registry import UnknownChannelKind, adapter_class
from relaydesk.customers.models import Customer, Identity
from relaydesk.hub import Hub
from relaydesk.journeys.events import JourneysCombined, MessageReceived, OwnerChanged
from relaydesk.journeys.models import Journey, Message
from relaydesk.journeys.states import ACTIVE_JOURNEY_STATUSES, JourneyOwner
from relaydesk.workspace.events import WorkspaceApplied

HUMAN_META_KEYS = ("requests_human", "human_request", "human_requested")
"""Set by channel controls: the widget's button, a Messenger postback, a Telegram command,
an IVR key."""
PREVIOUS_MESSAGES = 5
"""Earlier customer messages given to sentiment (a repeated message is a frustration sign)."""
PROFILE_FACTS = {"email": "email", "phone": "phone"}
"""Identity kinds that answer a fact the bot would otherwise ask for."""
STALE_RETRIES = 3
VERSION_CACHE_KEY = ("bot", "intents_version")
"""Key in ``hub.config_cache``: a process sees changed intents within its TTL (1 s)."""


class BotRuntime:
    """The bot's static parts for one hub: model, pack, texts, loaded once and off the loop.

    Without a ``model`` handed in, the model is the workspace's: the default pack's while the
    workspace declares no intents, else the one trained on its ``bot:`` section. The stored
    version is re-read at most once a second (one primary-key read, ``hub.config_cache``); a new
    version trains in the background while the previous model keeps answering. Models are
    shared by the process (``DEFAULT_MODELS``): a second hub does not train again.
    """

    def __init__(
        self,
        *,
        model: NluModel | None = None,
        pack: Pack | None = None,
        texts: DialogueTexts | None = None,
    ) -> None:
        self._fixed = Trained("fixed", model, pack or _default_pack()) if model else None
        self._texts = texts
        self._last: Trained | None = None
        self._pack_kbs: dict[int, KnowledgeBase] = {}

    async def trained(self, hub: Hub) -> Trained:
        """The model and pack to answer with now (waits only when nothing was ready yet)."""
        if self._fixed is not None:
            return self._fixed
        version = await hub.config_cache.get(VERSION_CACHE_KEY, partial(_read_version, hub))
        if version is None:
            future = DEFAULT_MODELS.start()
        else:
            known = DEFAULT_MODELS.known(version)
            if known is None:
                async with hub.db.read() as session:
                    stored = await intents_definition(session)
                if stored is None:  # removed since the version was read
                    hub.config_cache.clear()
                    return await self.trained(hub)
                known = DEFAULT_MODELS.start(stored[1], stored[0])
            future = known
        if not future.done() and self._last is not None:
            return self._last  # keep answering while the new version trains
        self._last = await asyncio.wrap_future(future)
        return self._last

    async def model(self, hub: Hub) -> NluModel:
        return (await self.trained(hub)).model

    async def kit(self, hub: Hub, pack: Pack | None = None) -> DialogueKit:
        if pack is None:
            pack = (await self.trained(hub)).pack
        if self._texts is None:
            self._texts = await asyncio.to_thread(DialogueTexts.load)
        pack_kb = self._pack_kbs.get(id(pack))
        if pack_kb is None:
            pack_kb = await asyncio.to_thread(_pack_kb, pack)
            self._pack_kbs = {id(pack): pack_kb}  # one pack at a time
        base = hub.settings.public_url or ""
        kb = await knowledge_base(hub, pack_kb)
        return DialogueKit(pack, kb, self._texts, base)


async def _read_version(hub: Hub) -> str | None:
    async with hub.db.read() as session:
        return await intents_version(session)


@lru_cache(maxsize=1)
def _default_pack() -> Pack:
    return default_pack()


@lru_cache(maxsize=1)
def _default_pack_kb() -> KnowledgeBase:
    return KnowledgeBase(_default_pack().articles)


def _pack_kb(pack: Pack) -> KnowledgeBase:
    """The pack's own articles, searchable (used while the workspace has none)."""
    return _default_pack_kb() if pack is _default_pack() else KnowledgeBase(pack.articles)


async def knowledge_base(hub: Hub, fallback: KnowledgeBase) -> KnowledgeBase:
    """Where the bot's articles come from — the one place to switch it: the workspace's
    published articles (relaydesk.kb), or the pack's while the workspace has none."""
    try:
        from relaydesk.kb.queries import load_knowledge_base
    except ImportError:  # pragma: no cover - the kb package is optional to the bot
        return fallback
    loaded = await load_knowledge_base(hub)
    return loaded if loaded.articles else fallback


_runtimes: dict[int, tuple[weakref.ref[Hub], BotRuntime]] = {}


def runtime_for(hub: Hub) -> BotRuntime:
    """The hub's runtime, created on first use (the model trains on the first turn)."""
    entry = _runtimes.get(id(hub))
    if entry is None or entry[0]() is not hub:
        key = id(hub)
        entry = (weakref.ref(hub, lambda _ref: _runtimes.pop(key, None)), BotRuntime())
        _runtimes[key] = entry
    return entry[1]


def use_runtime(hub: Hub, runtime: BotRuntime) -> None:
    """Give the hub a ready runtime (tests and the simulator share one trained model)."""
    key = id(hub)
    _runtimes[key] = (weakref.ref(hub, lambda _ref: _runtimes.pop(key, None)), runtime)


def requests_human(meta: dict[str, Any] | None) -> bool:
    return any(bool((meta or {}).get(key)) for key in HUMAN_META_KEYS)


@dataclass(frozen=True)
class Snapshot:
    """What one turn is decided from, read in one transaction."""

    journey: Journey
    message: Message
    channel: Channel
    state: DialogueState
    known_facts: dict[str, Any]
    previous: list[str]
    locale: str | None


async def _snapshot(
    session: AsyncSession, journey_id: uuid.UUID, message_id: uuid.UUID
) -> Snapshot | None:
    """The snapshot, or None when the bot has nothing to answer."""
    journey = await session.get(Journey, journey_id)
    message = await session.get(Message, message_id)
    if journey is None or message is None or message.journey_id != journey_id:
        return None
    if journey.owner_type != JourneyOwner.BOT.value:
        return None
    if journey.status not in ACTIVE_JOURNEY_STATUSES or message.direction != "inbound":
        return None
    if message.author_type != "customer" and not (
        message.author_type == "system" and requests_human(message.meta)
    ):
        return None
    state, last_id = await load_state(session, journey_id)
    if last_id == message_id or str(message_id) in state.transcript:
        return None
    if await _answered_since(session, journey_id, message, last_id):
        return None
    channel = await session.get(Channel, message.channel_id)
    if channel is None:
        return None
    known = dict(journey.context or {})
    identities = (
        await session.scalars(
            select(Identity).where(
                Identity.customer_id == journey.customer_id,
                Identity.kind.in_(list(PROFILE_FACTS)),
            )
        )
    ).all()
    for identity in sorted(identities, key=lambda i: i.created_at):
        known.setdefault(PROFILE_FACTS[identity.kind], identity.value)
    previous = (
        await session.scalars(
            select(Message.text)
            .where(
                Message.journey_id == journey_id,
                Message.direction == "inbound",
                Message.author_type == "customer",
                Message.id != message_id,
                Message.received_at <= message.received_at,
            )
            .order_by(Message.received_at.desc(), Message.id.desc())
            .limit(PREVIOUS_MESSAGES)
        )
    ).all()
    locale = await session.scalar(select(Customer.locale).where(Customer.id == journey.customer_id))
    return Snapshot(journey, message, channel, state, known, list(reversed(previous)), locale)


async def _answered_since(
    session: AsyncSession, journey_id: uuid.UUID, message: Message, last_id: uuid.UUID | None
) -> bool:
    """A newer message was handled by the bot, or a person replied after this one."""
    if last_id is not None:
        last_at: datetime | None = await session.scalar(
            select(Message.received_at).where(Message.id == last_id)
        )
        if last_at is not None and last_at > message.received_at:
            return True
    person_reply = await session.scalar(
        select(Message.id)
        .where(
            Message.journey_id == journey_id,
            Message.direction == "outbound",
            Message.author_type == "agent",
            Message.received_at > message.received_at,
        )
        .limit(1)
    )
    return person_reply is not None


def _payload(meta: dict[str, Any] | None) -> str | None:
    """The id of the button the customer pressed, as the channel reported it."""
    value = (meta or {}).get("payload")
    return value if isinstance(value, str) and value else None


def _traits(kind: str) -> ChannelTraits:
    try:
        return ChannelTraits.of(adapter_class(kind))
    except UnknownChannelKind:
        return ChannelTraits()


async def _decide_and_record(hub: Hub, runtime: BotRuntime, snap: Snapshot) -> TurnRecord:
    """Understand, decide (pure) and record one turn from ``snap``."""
    trained = await runtime.trained(hub)
    model = trained.model
    kit = await runtime.kit(hub, trained.pack)
    traits = _traits(snap.channel.kind)
    analysis, turn = take_turn(
        model,
        kit,
        snap.state,
        snap.message.text,
        channel=traits,
        known_facts=snap.known_facts,
        previous=snap.previous,
        language_hint=(snap.locale or "")[:2].lower() or None,
        requests_human=requests_human(snap.message.meta),
        payload=_payload(snap.message.meta),
        now=clock.now(),
    )
    topic = kit.pack.intents.get(turn.state.intent or "")
    work = partial(
        record_turn,
        journey_id=snap.journey.id,
        message_id=snap.message.id,
        turn=turn,
        expected_turns=snap.state.turns,
        analysis=analysis,
        channel=snap.channel.name,
        written=traits.written,
        signals=tuple(sorted(topic.signals)) if topic else (),
    )
    return await hub.db.transaction(work)


async def answer(hub: Hub, journey_id: uuid.UUID, message_id: uuid.UUID) -> TurnRecord | None:
    """Answer one customer message if the bot owns the journey and has not answered it."""
    runtime = runtime_for(hub)
    for _ in range(STALE_RETRIES):
        async with hub.db.read() as session:
            snap = await _snapshot(session, journey_id, message_id)
        if snap is None:
            return None
        record = await _decide_and_record(hub, runtime, snap)
        if record.outcome is not Recorded.STALE:
            if record.reply_ids:
                hub.wake_worker()
            return record
    raise RetryLater("bot: the dialogue changed under every attempt", after=1.0)


@on(MessageReceived)
async def answer_message(hub: Hub, event: StoredEvent) -> None:
    """A customer wrote on a journey; answer it if the bot owns it (others ignore it)."""
    if event.journey_id is None:
        return
    await answer(hub, event.journey_id, uuid.UUID(str(event.payload["message_id"])))


@on(OwnerChanged)
async def take_over(hub: Hub, event: StoredEvent) -> None:
    """The journey was handed to the bot: answer the customer's latest message, if unanswered."""
    if event.journey_id is None or event.payload.get("to_owner") != JourneyOwner.BOT.value:
        return
    async with hub.db.read() as session:
        candidates = (
            await session.scalars(
                select(Message)
                .where(
                    Message.journey_id == event.journey_id,
                    Message.direction == "inbound",
                    Message.author_type.in_(("customer", "system")),
                )
                .order_by(Message.received_at.desc(), Message.id.desc())
                .limit(10)
            )
        ).all()
    latest = next(
        (m for m in candidates if m.author_type == "customer" or requests_human(m.meta)), None
    )
    if latest is not None:
        await answer(hub, event.journey_id, latest.id)


@on(WorkspaceApplied)
async def train_workspace_intents(hub: Hub, event: StoredEvent) -> None:
    """New intents were applied: start training them now, not on the next customer's turn."""
    if any(c.get("kind") == "bot" for c in event.payload.get("changes", [])):
        await start_training(hub)


async def start_training(hub: Hub) -> None:
    """Start training the workspace's model in the background (at launch, after a change)."""
    async with hub.db.read() as session:
        stored = await intents_definition(session)
    if stored is not None:
        DEFAULT_MODELS.start(stored[1], stored[0])


@on(JourneysCombined)
async def combine_dialogues(hub: Hub, event: StoredEvent) -> None:
    """Two journeys became one: the bot keeps one memory of both (facts asked, articles
    offered, the open question of the latest conversation)."""
    if event.journey_id is None:
        return
    combined = uuid.UUID(str(event.payload["combined_journey_id"]))
    keeper = event.journey_id
    await hub.db.transaction(lambda session: merge_dialogues(session, keeper, combined))
