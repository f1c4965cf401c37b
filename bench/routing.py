"""Routing benchmark: the pure ``decide`` against a trivial round-robin, in the same run.

7,500 online agents, 50 skills (1 to 6 per agent, levels 1 to 3), 1 or 2 of 6 languages each,
capacity up to 50 per channel class; a stream of 1,000 arrivals per simulated second, every
one needing a person (the expensive path: value, policy, requirement, agent search), each
conversation ending after an exponential handle time (mean 20 s) so loads rise and fall.
Both strategies see the same stream and start from the same agents; only the decision itself
is timed (pool updates, arrivals and completions are outside the clock).

Then the **persisted** assignment (``bench/_routing_db.py``): the same agents and the first
``--persisted`` arrivals of the stream (10,000), each a committed ``route_journey`` transaction
(snapshot, pool, ``decide``, queue entry, offer with its timer and event, load row, decision
row), against a round-robin persisted on the same database in the same run (same journey
lock, the same kind of rows, the next online agent with room). The round-robin is the limit
here: what the database allows for an assignment that writes what ours writes.

Targets: ``decide`` ≥ 5,000 decisions/s on one core, p99 ≤ 5 ms; persisted ≥ 50% of the
persisted round-robin rate on the same database. Prints PASS/MISS and exits 0: it is a
measurement, not a test.

    uv run python bench/routing.py              # 30,000 pure decisions, 10,000 persisted (SQLite)
    uv run python bench/routing.py --quick      # 5,000 pure, 1,000 persisted
    uv run python bench/routing.py --database-url postgresql://postgres@127.0.0.1:5432/test
        # persisted on PostgreSQL: a throwaway database on that server, dropped afterwards
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from relaydesk.routing.assignment import JourneySnapshot, decide
from relaydesk.routing.pool import AgentPool, AgentSnapshot
from relaydesk.routing.schemas import RoutingConfig
from relaydesk.routing.value import CustomerValue, Signals

LANGUAGES = ["en", "de", "fr", "es", "sv", "pl"]
SKILLS = [f"skill{n:02d}" for n in range(50)]
CLASSES = ["voice", "chat", "messaging", "email"]
CLASS_MIX = [0.1, 0.3, 0.4, 0.2]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_agents(rng: random.Random, count: int) -> list[AgentSnapshot]:
    agents = []
    for n in range(count):
        langs = frozenset(rng.sample(LANGUAGES, rng.choice((1, 1, 2))))
        skills = {s: rng.randint(1, 3) for s in rng.sample(SKILLS, rng.randint(1, 6))}
        capacity = {
            "voice": 1,
            "chat": rng.randint(1, 10),
            "messaging": rng.randint(1, 50),
            "email": rng.randint(1, 50),
        }
        agents.append(AgentSnapshot(uuid.UUID(int=n + 1), "online", langs, skills, capacity, 0.0))
    return agents


@dataclass(frozen=True)
class Arrival:
    at: float
    journey: JourneySnapshot
    handle: float


def make_stream(rng: random.Random, seconds: int, rate: int, agents: int) -> list[Arrival]:
    stream = []
    for i in range(seconds * rate):
        at = i / rate
        intent = rng.choice(SKILLS)
        previous = uuid.UUID(int=rng.randint(1, agents)) if rng.random() < 0.1 else None
        journey = JourneySnapshot(
            uuid.uuid4(),
            channel="web",
            channel_class=rng.choices(CLASSES, CLASS_MIX)[0],
            language=rng.choice(LANGUAGES),
            signals=Signals(
                intent=intent,
                intent_signals=frozenset(
                    rng.sample(["purchase_intent", "churn_risk", "complaint"], rng.randint(0, 2))
                ),
                sentiment=rng.uniform(-1, 1),
                contacts_7d=rng.randint(1, 4),
                channels_tried=rng.randint(1, 3),
            ),
            customer=CustomerValue(lifetime_value=rng.uniform(0, 5000)),
            human_request=rng.random() < 0.3,
            needs_person=True,
            previous_agent_id=previous,
            previous_agent_at=START - timedelta(hours=1) if previous else None,
            waiting_since=START + timedelta(seconds=at),
        )
        stream.append(Arrival(at, journey, rng.expovariate(1 / 20)))
    return stream


Strategy = Callable[[JourneySnapshot, AgentPool, datetime], tuple[uuid.UUID | None, float]]


def routed(config: RoutingConfig) -> Strategy:
    def choose(
        j: JourneySnapshot, pool: AgentPool, now: datetime
    ) -> tuple[uuid.UUID | None, float]:
        d = decide(j, pool, now, config)
        return d.agent_id, d.details.get("weight", 0.0)

    return choose


def round_robin(agent_ids: list[uuid.UUID]) -> Strategy:
    """The baseline every vendor ships: the next online agent with room, nothing else."""
    state = {"next": 0}

    def choose(
        j: JourneySnapshot, pool: AgentPool, now: datetime
    ) -> tuple[uuid.UUID | None, float]:
        n = len(agent_ids)
        for step in range(n):
            agent = pool.agents[agent_ids[(state["next"] + step) % n]]
            if agent.presence == "online" and agent.fits(j.channel_class):
                state["next"] = (state["next"] + step + 1) % n
                return agent.id, agent.weight(j.channel_class) or 0.0
        return None, 0.0

    return choose


@dataclass
class Result:
    name: str
    latencies_ns: list[int]
    cpu_ns: list[int]
    assigned: int
    queued: int
    max_load: float

    @property
    def rate(self) -> float:
        """Decisions per second of wall-clock time spent deciding."""
        return len(self.latencies_ns) / (sum(self.latencies_ns) / 1e9)

    @property
    def cpu_rate(self) -> float:
        """Decisions per second of CPU time: what one core can do, whoever else runs."""
        return len(self.cpu_ns) / (sum(self.cpu_ns) / 1e9)

    def pct(self, q: float, cpu: bool = False) -> float:
        ordered = sorted(self.cpu_ns if cpu else self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def run(
    name: str, strategy: Strategy, agents: list[AgentSnapshot], stream: list[Arrival]
) -> Result:
    pool = AgentPool(agents)
    ends: list[tuple[float, int, uuid.UUID, float]] = []
    latencies: list[int] = []
    cpu: list[int] = []
    assigned = queued = 0
    max_load = 0.0
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for seq, arrival in enumerate(stream):
        while ends and ends[0][0] <= arrival.at:
            _, _, done_id, done_weight = heapq.heappop(ends)
            agent = pool.agents[done_id]
            pool.update(done_id, load=max(0.0, agent.load - done_weight))
        now = START + timedelta(seconds=arrival.at)
        cpu_started, started = cpu_clock(), clock()
        agent_id, weight = strategy(arrival.journey, pool, now)
        latencies.append(clock() - started)
        cpu.append(cpu_clock() - cpu_started)
        if agent_id is None:
            queued += 1
            continue
        assigned += 1
        load = pool.agents[agent_id].load + weight
        max_load = max(max_load, load)
        pool.update(agent_id, load=load, last_assigned=arrival.at)
        heapq.heappush(ends, (arrival.at + arrival.handle, seq, agent_id, weight))
    return Result(name, latencies, cpu, assigned, queued, max_load)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=7500)
    parser.add_argument("--rate", type=int, default=1000, help="arrivals per simulated second")
    parser.add_argument("--seconds", type=int, default=30, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--persisted", type=int, default=10_000, help="arrivals persisted")
    parser.add_argument("--profile", help="write a cProfile of the persisted routing run here")
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite temp file)")
    parser.add_argument("--no-persisted", action="store_true", help="only the pure decide")
    parser.add_argument("--quick", action="store_true", help="5,000 pure, 1,000 persisted")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.persisted = 5, 1000
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # one core, as the target says
    rng = random.Random(args.seed)
    agents = make_agents(rng, args.agents)
    stream = make_stream(rng, args.seconds, args.rate, args.agents)
    config = RoutingConfig(currency="EUR")
    print(
        f"routing bench: {args.agents:,} agents, {len(SKILLS)} skills, "
        f"{len(stream):,} arrivals at {args.rate:,}/s, Python {platform.python_version()}"
    )
    results = [
        run("round-robin", round_robin([a.id for a in agents]), agents, stream),
        run("decide", routed(config), agents, stream),
    ]
    for r in results:
        print(
            f"{r.name:>12}: wall {r.rate:>9,.0f} decisions/s  p50 {r.pct(0.5):.3f} ms  "
            f"p99 {r.pct(0.99):.3f} ms  max {max(r.latencies_ns) / 1e6:.2f} ms  "
            f"mean {statistics.fmean(r.latencies_ns) / 1e3:.1f} µs"
        )
        print(
            f"{'':>12}  cpu  {r.cpu_rate:>9,.0f} decisions/s  p50 {r.pct(0.5, True):.3f} ms  "
            f"p99 {r.pct(0.99, True):.3f} ms  max {max(r.cpu_ns) / 1e6:.2f} ms  "
            f"assigned {r.assigned:,}  queued {r.queued:,}  max load {r.max_load:.3f}"
        )
    ours, baseline = results[1], results[0]
    for label, rate, p99 in (
        ("wall", ours.rate, ours.pct(0.99)),
        ("cpu", ours.cpu_rate, ours.pct(0.99, True)),
    ):
        print(
            f"decide ≥ 5,000 decisions/s ({label}): {'PASS' if rate >= 5000 else 'MISS'} "
            f"({rate:,.0f}/s); p99 ≤ 5 ms ({label}): {'PASS' if p99 <= 5.0 else 'MISS'} "
            f"({p99:.3f} ms)"
        )
    print(f"decide / round-robin rate (wall): {ours.rate / baseline.rate:.2f}")
    print(f"machine load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    over = [r.name for r in results if r.max_load > 1.0 + 1e-9]
    print(f"capacity respected: {'yes' if not over else 'NO: ' + ', '.join(over)}")
    sys.stdout.flush()
    if not args.no_persisted:
        persisted_bench(args, agents, stream[: args.persisted])


def persisted_bench(
    args: argparse.Namespace, agents: list[AgentSnapshot], stream: list[Arrival]
) -> None:
    from _pg import throwaway
    from _routing_db import persisted
    from relaydesk import migrate

    with tempfile.TemporaryDirectory(prefix="relaydesk-bench-routing-") as tmp:
        drop = None
        if args.database_url:
            url, drop = throwaway(args.database_url, "routing")
        else:
            url = f"sqlite:///{tmp}/bench.db"
        try:
            migrate.upgrade(url)
            where = "PostgreSQL" if drop else "SQLite"
            print(
                f"persisted on {where}: {len(stream):,} arrivals, load average "
                f"{os.getloadavg()[0]:.2f}",
                flush=True,
            )
            rr, ours = asyncio.run(persisted(url, agents, stream, START, args.profile))
        finally:
            if drop:
                drop()
    for r in (rr, ours):
        print(
            f"{r.name:>12}: {r.rate:>7,.0f} decisions/s  p50 {r.pct(0.5):.2f} ms  "
            f"p99 {r.pct(0.99):.2f} ms  max {max(r.latencies_ns) / 1e6:.1f} ms  "
            f"assigned {r.assigned:,}  queued {r.queued:,}  ({r.wall_s:.1f} s with completions)"
        )
    ratio = ours.rate / rr.rate
    print(
        f"persisted / round-robin rate ({where}): {ratio:.1%} "
        f"{'PASS' if ratio >= 0.5 else 'MISS'} (target ≥ 50%)"
    )
    print(
        f"per CPU second of this process: round-robin {rr.cpu_rate:,.0f}/s, persisted "
        f"{ours.cpu_rate:,.0f}/s = {ours.cpu_rate / rr.cpu_rate:.1%}"
        + (" (PostgreSQL's own CPU not counted)" if drop else "")
    )
    print(f"machine load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
