"""Two worker processes routing 2,000 journeys over 200 agents on one PostgreSQL database.

Each process (tests/routing/scale_driver.py) runs the routing actions in random order:
new journeys, presence changes, accept / decline / time out, completions, queue drains,
relaxation timers firing,
transfers. Meanwhile this test samples the database: no agent's offered and active
conversations ever weigh more than 1.0, no journey ever has two holders. Afterwards every
invariant is checked and every journey is accounted for (resolved, with the bot, with one
agent, or in the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from tests.helpers.workspace import apply_text
from tests.routing.helpers import check_invariants

from relaydesk import clock
from relaydesk.customers.models import Customer
from relaydesk.db import metadata
from relaydesk.hub import Hub
from relaydesk.journeys.models import Journey
from relaydesk.routing.actions import OfferClosed, accept_offer, expire_offer, route_journey
from relaydesk.routing.models import Assignment, QueueEntryRow
from relaydesk.routing.understanding import Understood
from relaydesk.settings import Settings

JOURNEYS = 2000
AGENTS = 200
OPERATIONS = int(os.environ.get("RELAYDESK_SCALE_OPERATIONS", "2600"))
"""Per driver: about 40% route, so the two drivers route about all 2,000 journeys while racing."""
DRIVER = Path(__file__).with_name("scale_driver.py")
ROOT = Path(__file__).resolve().parents[2]

OVER_CAPACITY = text(
    "SELECT agent_id, SUM(weight) FROM routing_assignments "
    "WHERE status IN ('offered', 'active') GROUP BY agent_id HAVING SUM(weight) > 1.000001"
)
TWO_HOLDERS = text(
    "SELECT journey_id FROM routing_assignments WHERE status IN ('offered', 'active') "
    "GROUP BY journey_id HAVING COUNT(*) > 1"
)


def _workspace(rng: random.Random) -> str:
    lines = ["settings:", "  currency: EUR", "teams:", "  - name: night", "agents:"]
    for n in range(AGENTS):
        languages = rng.choice(["[en]", "[sv]", "[en, sv]"])
        skills = {
            t: rng.randint(1, 3)
            for t in rng.sample(
                ["billing", "returns", "tech", "complaint", "sales"], rng.randint(0, 3)
            )
        }
        lines += [
            f"  - email: agent{n}@example.com",
            f"    name: Agent {n}",
            f"    languages: {languages}",
            f"    skills: {json.dumps(skills)}",
            f"    capacity: {{messaging: {rng.randint(1, 4)}}}",
            *(["    teams: [night]"] if n % 10 == 0 else []),
        ]
    lines += ["routing:", "  threshold: 40", "  offer_timeout: 30s", "  auto_away_after: 2"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def pg_url(postgres_template: str) -> Iterator[str]:
    from tests.conftest import _admin

    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    asyncio.run(_admin(postgres_template, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield postgres_template


async def _seed(hub: Hub, rng: random.Random) -> None:
    await apply_text(hub, _workspace(rng))
    now = clock.now()
    customers = [
        {
            "id": uuid.uuid4(),
            "lifetime_value": rng.choice([0, 300, 1500, 6000]),
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(JOURNEYS)
    ]
    journeys = [
        {
            "id": uuid.uuid4(),
            "customer_id": c["id"],
            "status": "open",
            "owner_type": "unassigned",
            "context": {},
            "created_at": now,
            "updated_at": now,
            "last_activity_at": now,
            "reopen_count": 0,
        }
        for c in customers
    ]

    async def write(session: AsyncSession) -> None:
        await session.execute(insert(Customer), customers)
        await session.execute(insert(Journey), journeys)

    await hub.db.transaction(write)
    await hub.db.transaction(lambda s: s.execute(text("UPDATE agents SET presence = 'online'")))


async def _sample(hub: Hub, stop: asyncio.Event) -> tuple[int, list[object]]:
    samples, bad = 0, list[object]()
    while not stop.is_set():
        async with hub.db.read() as session:
            bad += list((await session.execute(OVER_CAPACITY)).all())
            bad += list((await session.execute(TWO_HOLDERS)).all())
        samples += 1
        await asyncio.sleep(0.05)
    return samples, bad


async def _answer_offers(hub: Hub) -> None:
    """Lapse the offers whose time is up (what the timer does), accept the rest."""
    for _ in range(20):
        async with hub.db.read() as session:
            offers = (
                await session.execute(
                    select(Assignment.id, Assignment.expires_at).where(
                        Assignment.status == "offered"
                    )
                )
            ).all()
        if not offers:
            return
        for offer_id, expires_at in offers:
            if expires_at is not None and expires_at <= clock.now():
                await hub.db.transaction(partial(expire_offer, offer_id=offer_id))
                continue
            with contextlib.suppress(OfferClosed):
                await hub.db.transaction(partial(accept_offer, offer_id=offer_id, actor="settle"))


async def _settle(hub: Hub) -> None:
    """Answer what is pending and route what is new, so every journey has its place."""
    await _answer_offers(hub)
    async with hub.db.read() as session:
        fresh = (
            await session.scalars(select(Journey.id).where(Journey.owner_type == "unassigned"))
        ).all()
    for journey_id in fresh:
        await hub.db.transaction(
            partial(
                route_journey,
                journey_id=journey_id,
                understood=Understood(human_request=True),
                trigger="message",
                actor="settle",
            )
        )
    await _answer_offers(hub)


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_workers_never_double_assign_or_overfill(pg_url: str) -> None:
    rng = random.Random(20261123)
    hub = Hub.from_settings(Settings(database_url=pg_url, run_worker=False))
    try:
        await _seed(hub, rng)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(DRIVER),
                pg_url,
                str(seed),
                str(OPERATIONS),
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for seed in (1, 2)
        ]
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(hub, stop))
        outputs = [await p.communicate() for p in procs]
        stop.set()
        samples, violations = await sampler
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err.decode()[-3000:]
        counts = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
        print(f"\nscale drivers: {counts}; {samples} samples, violations: {violations}")
        assert samples > 10
        assert violations == []
        for c in counts:  # both processes really did the work, including the racy parts
            assert c.get("route", 0) > 100 and c.get("answer", 0) > 100, c
            assert c.get("complete", 0) > 50 and c.get("presence", 0) > 50, c

        async with hub.db.read() as session:
            unrouted = await session.scalar(
                select(func.count()).where(Journey.owner_type == "unassigned")
            )
        assert unrouted is not None and unrouted < JOURNEYS // 10, unrouted  # a real flood
        await _settle(hub)
        await check_invariants(hub)
        async with hub.db.read() as session:
            journeys = (
                await session.execute(
                    select(Journey.id, Journey.status, Journey.owner_type, Journey.owner_agent_id)
                )
            ).all()
            queued = set((await session.scalars(select(QueueEntryRow.journey_id))).all())
            active = dict(
                (
                    await session.execute(
                        select(Assignment.journey_id, Assignment.agent_id).where(
                            Assignment.status == "active"
                        )
                    )
                ).all()
            )
            ended = await session.scalar(select(func.count()).where(Assignment.status == "ended"))
        assert len(journeys) == JOURNEYS
        places = {"resolved": 0, "bot": 0, "agent": 0, "queue": 0}
        for journey_id, status, owner, agent_id in journeys:
            if status == "resolved":
                places["resolved"] += 1
                assert journey_id not in queued and journey_id not in active
            elif owner == "bot":
                places["bot"] += 1
                assert journey_id not in queued and journey_id not in active
            elif owner == "agent":
                places["agent"] += 1
                assert active.get(journey_id) == agent_id, (
                    "an agent's journey without its assignment"
                )
            else:
                assert owner == "queue", (journey_id, owner)
                assert journey_id in queued, "a journey fell out of the queue"
                places["queue"] += 1
        assert sum(places.values()) == JOURNEYS
        assert places["resolved"] > 100 and places["agent"] > 0 and ended
        print(f"\nscale: {counts} samples={samples} places={places}")
    finally:
        await hub.close()
