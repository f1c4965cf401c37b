"""The persisted half of ``bench/routing.py``: real assignment transactions on a database.

Both strategies run the same stream against the same seeded database (reset in between):

- **persisted routing**: ``routing.actions.route_journey`` as the worker runs it on a new
  message — journey lock, snapshot reads, agent pool, ``decide``, queue entry, the offer
  (agent load row locked and re-summed, assignment row, offer timer, ``OfferMade``), the
  decision row and ``JourneyRouted``, all in one committed transaction;
- **persisted round-robin**: the same journey lock and the same kind of rows (owner change,
  the offer with its timer and event, the load row locked and re-summed, a decision row with
  its event), for the next online agent with room in a fixed rotation — no snapshot, no
  value, no skills.

Conversations end after the stream's handle time (simulated seconds, a manual clock set to
each arrival's time); ending them (``end_holding``) happens outside the timed part.
"""

from __future__ import annotations

import cProfile
import heapq
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock, heap
from relaydesk.agents.models import Agent
from relaydesk.channels.models import Channel
from relaydesk.customers.models import Customer
from relaydesk.db import Database
from relaydesk.journeys.actions import change_owner
from relaydesk.journeys.models import Conversation, Journey, Message
from relaydesk.journeys.states import JourneyOwner
from relaydesk.routing.actions import Routed, end_holding, route_journey
from relaydesk.routing.actions.assign import _reserve, lock_journey, record
from relaydesk.routing.assignment import Decision, JourneySnapshot
from relaydesk.routing.pool import EPSILON, AgentSnapshot
from relaydesk.routing.queries import load_context
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.routing.understanding import Understood
from relaydesk.routing.value import CustomerValue, Signals, estimate

if TYPE_CHECKING:
    from routing import Arrival

KINDS = {
    "voice": "twilio_voice",
    "chat": "webchat",
    "messaging": "whatsapp_cloud",
    "email": "email",
}
ROUTING_TABLES = (
    "routing_assignments",
    "routing_decisions",
    "routing_queue",
    "agent_loads",
    "timers",
    "outbox",
)


async def seed(db: Database, agents: list[AgentSnapshot], stream: list[Arrival]) -> None:
    """Agents (all online), one channel per class, and per arrival a customer, journey,
    conversation and inbound message (what ``route_journey`` reads)."""
    now = clock.now() - timedelta(hours=1)  # set up well before the stream starts
    channels = {
        klass: {
            "id": uuid.uuid4(),
            "name": f"bench-{klass}",
            "kind": kind,
            "settings": {},
            "enabled": True,
            "created_at": now,
            "updated_at": now,
        }
        for klass, kind in KINDS.items()
    }
    agent_rows = [
        {
            "id": a.id,
            "email": f"agent{n}@bench.invalid",
            "name": f"Agent {n}",
            "role": "agent",
            "languages": sorted(a.languages),
            "skills": dict(a.skills),
            "capacity": dict(a.capacity),
            "presence": "online",
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for n, a in enumerate(agents)
    ]
    customers, journeys, conversations, messages = [], [], [], []
    for arrival in stream:
        j = arrival.journey
        customer_id, conversation_id = uuid.uuid4(), uuid.uuid4()
        channel_id = channels[j.channel_class]["id"]
        customers.append(
            {
                "id": customer_id,
                "lifetime_value": Decimal(f"{j.customer.lifetime_value:.2f}"),
                "locale": j.language,
                "attributes": {},
                "created_at": now - timedelta(days=400),
                "updated_at": now,
            }
        )
        journeys.append(
            {
                "id": j.id,
                "customer_id": customer_id,
                "status": "open",
                "owner_type": "unassigned",
                "context": {},
                "created_at": now,
                "updated_at": now,
                "last_activity_at": now,
                "reopen_count": 0,
            }
        )
        conversations.append(
            {
                "id": conversation_id,
                "journey_id": j.id,
                "customer_id": customer_id,
                "channel_id": channel_id,
                "thread_key": "",
                "status": "open",
                "reply_to": {},
                "created_at": now,
                "last_message_at": now,
                "last_inbound_at": now,
            }
        )
        messages.append(
            {
                "id": uuid.uuid4(),
                "conversation_id": conversation_id,
                "journey_id": j.id,
                "customer_id": customer_id,
                "channel_id": channel_id,
                "direction": "inbound",
                "author_type": "customer",
                "text": "I need a person",
                "meta": {},
                "created_at": now,
                "received_at": now,
            }
        )

    async def write(session: AsyncSession) -> None:
        await session.execute(insert(Channel), list(channels.values()))
        for table, rows in (
            (Agent, agent_rows),
            (Customer, customers),
            (Journey, journeys),
            (Conversation, conversations),
            (Message, messages),
        ):
            for start in range(0, len(rows), 1000):
                await session.execute(insert(table), rows[start : start + 1000])

    await db.transaction(write)


async def reset(db: Database) -> None:
    """Back to the seeded state: every journey unassigned, no routing rows, no events."""

    async def work(session: AsyncSession) -> None:
        for table in ROUTING_TABLES:
            await session.execute(text(f"DELETE FROM {table}"))
        await session.execute(update(Journey).values(owner_type="unassigned", owner_agent_id=None))
        await session.execute(update(Agent).values(presence="online"))

    await db.transaction(work)


def understood(arrival: Arrival) -> Understood:
    s = arrival.journey.signals
    return Understood(
        language=arrival.journey.language,
        intent=s.intent,
        intent_signals=s.intent_signals,
        sentiment=s.sentiment,
        human_request=arrival.journey.human_request,
    )


class RoundRobin:
    """The next online agent with room in a fixed rotation, persisted like an offer.

    It keeps the agents' capacities from its start (a trivial router's whole state) and a
    running guess of their loads, and checks the guess under the agent's load-row lock."""

    def __init__(self, agents: list[AgentSnapshot]) -> None:
        self.agents = agents
        self.loads = {a.id: 0.0 for a in agents}
        self.next = 0
        self.estimate = estimate(Signals(), CustomerValue(), RoutingConfig(), "EUR")

    def released(self, agent_id: uuid.UUID, weight: float) -> None:
        self.loads[agent_id] = max(0.0, self.loads[agent_id] - weight)

    async def assign(
        self, session: AsyncSession, journey_id: uuid.UUID, channel_class: str
    ) -> Routed | None:
        journey = await lock_journey(session, journey_id)
        if journey is None or journey.owner_type != JourneyOwner.UNASSIGNED.value:
            return None
        ctx = await load_context(session)
        await change_owner(
            session, journey_id, JourneyOwner.QUEUE, reason="round_robin", actor="rr"
        )
        snapshot = JourneySnapshot(journey_id, channel_class=channel_class)
        n = len(self.agents)
        for step in range(n):
            agent = self.agents[(self.next + step) % n]
            weight = agent.weight(channel_class)
            if weight is None or self.loads[agent.id] + weight > 1.0 + EPSILON:
                continue
            decision = Decision(
                "agent",
                agent.id,
                "round_robin",
                "round_robin",
                self.estimate,
                0.0,
                None,
                "round robin",
                {"weight": weight},
            )
            offer = await _reserve(session, journey, snapshot, decision, ctx, actor="rr")
            if offer is None:
                self.loads[agent.id] = 1.0  # full after all: skip it until it frees a place
                continue
            self.next = (self.next + step + 1) % n
            self.loads[agent.id] += weight
            row = await record(
                session, journey, snapshot, decision, trigger="message", actor="rr", currency="EUR"
            )
            return Routed("agent", agent.id, offer.id, row.id)
        return Routed("queue")


@dataclass
class Persisted:
    name: str
    latencies_ns: list[int]
    assigned: int
    queued: int
    wall_s: float
    cpu_s: float = 0.0
    """This process's CPU time in the decision transactions (SQLite runs in it; PostgreSQL's
    own work does not show here)."""

    @property
    def rate(self) -> float:
        """Committed decisions per second of wall-clock time spent in the transactions."""
        return len(self.latencies_ns) / (sum(self.latencies_ns) / 1e9)

    @property
    def cpu_rate(self) -> float:
        """Decisions per CPU second of this process: robust to other work on the machine."""
        return len(self.latencies_ns) / self.cpu_s if self.cpu_s else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


Work = Callable[[AsyncSession, "Arrival"], Awaitable[Routed | None]]


async def run(
    name: str,
    db: Database,
    stream: list[Arrival],
    work: Work,
    manual: clock.ManualClock,
    start: object,
    on_release: Callable[[uuid.UUID, float], None] | None = None,
) -> Persisted:
    ends: list[tuple[float, int, uuid.UUID, uuid.UUID, float]] = []
    latencies: list[int] = []
    assigned = queued = 0
    cpu = 0.0
    began = time.perf_counter()
    for seq, arrival in enumerate(stream):
        manual.set(start + timedelta(seconds=arrival.at))  # type: ignore[operator]
        while ends and ends[0][0] <= arrival.at:
            _, _, journey_id, agent_id, weight = heapq.heappop(ends)
            await db.transaction(
                partial(end_holding, journey_id=journey_id, reason="ended", actor="bench")
            )
            if on_release is not None:
                on_release(agent_id, weight)
        started = time.perf_counter_ns()
        cpu_before = time.process_time()
        routed = await db.transaction(lambda s, a=arrival: work(s, a))
        cpu += time.process_time() - cpu_before
        latencies.append(time.perf_counter_ns() - started)
        if routed is None or routed.target != "agent" or routed.agent_id is None:
            queued += 1
            continue
        assigned += 1
        weight = 1.0 / stream_capacity(arrival, routed.agent_id)
        heapq.heappush(
            ends, (arrival.at + arrival.handle, seq, arrival.journey.id, routed.agent_id, weight)
        )
    return Persisted(name, latencies, assigned, queued, time.perf_counter() - began, cpu)


_CAPACITY: dict[uuid.UUID, AgentSnapshot] = {}


def stream_capacity(arrival: Arrival, agent_id: uuid.UUID) -> int:
    return _CAPACITY[agent_id].capacity[arrival.journey.channel_class]


async def over_capacity(db: Database) -> int:
    """Agents whose offered and active conversations weigh more than 1.0 (must be 0)."""
    async with db.read() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT agent_id FROM routing_assignments WHERE status IN "
                    "('offered', 'active') GROUP BY agent_id HAVING SUM(weight) > 1.000001"
                )
            )
        ).all()
        doubles = (
            await session.execute(
                text(
                    "SELECT journey_id FROM routing_assignments WHERE status IN "
                    "('offered', 'active') GROUP BY journey_id HAVING COUNT(*) > 1"
                )
            )
        ).all()
    return len(rows) + len(doubles)


async def persisted(
    url: str,
    agents: list[AgentSnapshot],
    stream: list[Arrival],
    start: object,
    profile: str | None = None,
) -> list[Persisted]:
    """Round-robin, then persisted routing, on one database; returns both results."""
    _CAPACITY.update({a.id: a for a in agents})
    manual = clock.ManualClock(start)  # type: ignore[arg-type]
    results: list[Persisted] = []
    with clock.use_clock(manual):
        db = Database.connect(url)
        try:
            await seed(db, agents, stream)
            # What a `relaydesk worker` process does once started: freeze the long-lived heap
            # (here also the seeded agents and stream) so full collections skip it.
            heap.enable()
            heap.settle("bench seeded")
            rr = RoundRobin(agents)

            async def round_robin(session: AsyncSession, arrival: Arrival) -> Routed | None:
                return await rr.assign(session, arrival.journey.id, arrival.journey.channel_class)

            async def routed(session: AsyncSession, arrival: Arrival) -> Routed | None:
                return await route_journey(
                    session, arrival.journey.id, understood(arrival), trigger="message"
                )

            await reset(db)
            results.append(
                await run("round-robin", db, stream, round_robin, manual, start, rr.released)
            )
            bad_rr = await over_capacity(db)
            await reset(db)
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
            results.append(await run("persisted", db, stream, routed, manual, start))
            if profiler is not None and profile:
                profiler.disable()
                profiler.dump_stats(profile)
            bad = await over_capacity(db)
            if bad or bad_rr:
                print(f"INVARIANT BROKEN: round-robin {bad_rr}, persisted {bad} bad rows")
        finally:
            await db.dispose()
    return results
