"""One of the worker processes of the routing scale test (tests/routing/test_scale.py).

Runs the routing actions the worker's listeners run — route new journeys, answer offers
(accept, decline, time out), change presence, complete journeys, drain the queue, transfer —
in random order against a shared PostgreSQL database, as fast as it can:

    python tests/routing/scale_driver.py DATABASE_URL SEED OPERATIONS

Races with the other process are expected and answered the way the API answers them (an
offer already answered, a journey already resolved); anything else fails the run.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk.agents.models import Agent
from relaydesk.db import Database
from relaydesk.journeys.actions import JourneyNotFound, resolve_journey
from relaydesk.journeys.models import Journey
from relaydesk.journeys.states import InvalidTransition
from relaydesk.routing.actions import (
    OfferClosed,
    OfferNotFound,
    TransferRefused,
    accept_offer,
    assign_waiting,
    decline_offer,
    expire_offer,
    journey_closed,
    relax_waiting,
    route_journey,
    set_presence,
    transfer,
)
from relaydesk.routing.models import HOLDING, Assignment, QueueEntryRow
from relaydesk.routing.understanding import Understood

TOPICS = ["billing", "returns", "tech", "complaint", "sales"]
EXPECTED = (OfferClosed, OfferNotFound, TransferRefused, InvalidTransition, JourneyNotFound)


async def pick(db: Database, query: Any) -> Any:
    async with db.read() as session:
        return await session.scalar(query.order_by(func.random()).limit(1))


async def run(url: str, seed: int, operations: int) -> Counter[str]:
    rng = random.Random(seed)
    db = Database.connect(url, pool_size=4)
    done: Counter[str] = Counter()
    actor = f"scale-{seed}"

    async def route() -> None:
        journey_id = await pick(db, select(Journey.id).where(Journey.owner_type == "unassigned"))
        if journey_id is None:
            return
        understood = Understood(
            language=rng.choice(["en", "sv"]),
            intent=rng.choice([*TOPICS, None]),
            intent_signals=frozenset(rng.sample(["churn_risk", "purchase_intent"], 1)),
            bot_may_resolve=rng.random() < 0.3,
            sentiment=rng.uniform(-1, 0.5),
            human_request=rng.random() < 0.5,
        )
        await db.transaction(
            lambda s: route_journey(s, journey_id, understood, trigger="message", actor=actor)
        )

    async def presence() -> None:
        agent_id = await pick(db, select(Agent.id))
        value = rng.choices(["online", "away", "offline"], [6, 3, 1])[0]
        await db.transaction(lambda s: set_presence(s, agent_id, value, actor=actor))

    async def answer() -> None:
        offer_id = await pick(db, select(Assignment.id).where(Assignment.status == "offered"))
        if offer_id is None:
            return
        verb = rng.choices(["accept", "decline", "expire"], [6, 2.5, 1.5])[0]
        work: Callable[[AsyncSession], Awaitable[object]]
        if verb == "accept":
            work = lambda s: accept_offer(s, offer_id, actor=actor)  # noqa: E731
        elif verb == "decline":
            work = lambda s: decline_offer(s, offer_id, actor=actor)  # noqa: E731
        else:
            work = lambda s: expire_offer(s, offer_id)  # noqa: E731
        await db.transaction(work)

    async def complete() -> None:
        journey_id = await pick(
            db,
            select(Journey.id).where(Journey.owner_type == "agent", Journey.status == "open"),
        )
        if journey_id is None:
            return
        await db.transaction(
            lambda s: resolve_journey(s, journey_id, outcome="resolved", actor=actor)
        )
        await db.transaction(lambda s: journey_closed(s, journey_id, actor=actor))

    async def drain() -> None:
        held = select(Assignment.journey_id).where(Assignment.status.in_(HOLDING))
        journey_id = await pick(
            db, select(QueueEntryRow.journey_id).where(QueueEntryRow.journey_id.not_in(held))
        )
        if journey_id is not None:
            await db.transaction(
                lambda s: assign_waiting(s, journey_id, trigger="queue", actor=actor)
            )

    async def relax() -> None:
        """A relaxation timer firing (``routing.relax``) for a waiting journey."""
        journey_id = await pick(db, select(QueueEntryRow.journey_id))
        if journey_id is not None:
            await db.transaction(lambda s: relax_waiting(s, journey_id))

    async def move() -> None:
        journey_id = await pick(
            db, select(Journey.id).where(Journey.owner_type == "agent", Journey.status == "open")
        )
        if journey_id is None:
            return
        to = rng.choice(["agent", "team", "bot"])
        agent_id = await pick(db, select(Agent.id)) if to == "agent" else None
        await db.transaction(
            lambda s: transfer(
                s,
                journey_id,
                to,  # type: ignore[arg-type]
                actor=actor,
                reason="scale",
                agent_id=agent_id,
                team="night" if to == "team" else None,
            )
        )

    steps = {
        "route": (route, 40),
        "presence": (presence, 12),
        "answer": (answer, 28),
        "complete": (complete, 15),
        "drain": (drain, 8),
        "relax": (relax, 2),
        "transfer": (move, 5),
    }
    names = list(steps)
    weights = [steps[n][1] for n in names]
    try:
        for _ in range(operations):
            name = rng.choices(names, weights)[0]
            try:
                await steps[name][0]()
                done[name] += 1
            except EXPECTED as exc:
                done[f"{name}:{type(exc).__name__}"] += 1
    finally:
        await db.dispose()
    return done


def main() -> None:
    url, seed, operations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    counts = asyncio.run(run(url, seed, operations))
    print(json.dumps(dict(counts), sort_keys=True))


if __name__ == "__main__":
    main()
