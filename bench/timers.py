"""Timers benchmark: firing lateness of durable timers against bare asyncio timers.

An hour of **simulated** clock (``relaydesk.clock.ScaledClock``, ``--speed`` times the wall
clock; default 12, so the hour takes 5 minutes), shared by every process of the run:

1. ``--workers`` real worker processes (the ``relaydesk worker`` command's own code, with the
   scaled clock installed) fire ``--timers`` timers whose due times are spread uniformly at
   random over the simulated hour, recording each firing in the firing transaction (this
   module is their handler module, loaded through RELAYDESK_TIMER_MODULES); half-way
   through, worker 0 is killed with SIGKILL and started again at once (the restart);
2. a churn process schedules timers and cancels them before they are due, at
   ``--cancel-rate`` cancellations per *wall-clock* second (the rate the database really
   serves), ten batches a second through ``schedule_many`` / ``cancel_many``, each
   cancellation checked to have found its pending timer;
3. this process seeds the timers (``schedule_many``), runs the same due times as bare
   ``loop.call_at`` timers (the physical limit: what the machine's scheduling allows) and
   watches.

Lateness is reported in simulated seconds (what a user of the hour would see; the target is
p99 ≤ 1 s) and in wall-clock seconds (simulated = wall x speed). Rows are counted: every
timer fired once (a witness row per firing, no unique key, so a double shows), no churn timer
fired, none lost. Prints PASS/MISS and exits 0 either way: a measurement, not a test.

    uv run python bench/timers.py                       # SQLite (temporary file)
    uv run python bench/timers.py --quick               # 10,000 timers, 100 cancels/s
    uv run python bench/timers.py --database-url postgresql://postgres@127.0.0.1:5432/test
        # a throwaway database is created on that server and dropped afterwards
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relaydesk import clock
from relaydesk.hub import Hub
from relaydesk.settings import Settings
from relaydesk.timers import DueTimer, cancel_many, load_timer_handlers, on_timer, schedule_many

KIND = "bench.timer"
TABLE = "bench_timer_firings"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIM_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@on_timer(KIND, in_transaction=True)
async def record(hub: Hub, timer: DueTimer, session: AsyncSession) -> None:
    """Record the firing, its simulated lateness and the wall time, in the firing transaction."""
    lateness = (clock.now() - timer.due_at).total_seconds()
    await session.execute(
        text(f"INSERT INTO {TABLE} (key, lateness, pid, wall) VALUES (:k, :l, :p, :w)"),
        {"k": timer.key, "l": lateness, "p": os.getpid(), "w": time.time()},
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[min(len(ordered), int(rank)) - 1]


def hub_for(url: str) -> Hub:
    return Hub.from_settings(Settings(database_url=url, run_worker=False, log_level="warning"))


def install_clock(wall_start: float, speed: float) -> clock.ScaledClock:
    scaled = clock.ScaledClock(SIM_START, speed, wall_start=wall_start)
    clock.set_clock(scaled)
    return scaled


async def make_table(url: str) -> None:
    hub = hub_for(url)

    async def table(session: AsyncSession) -> None:
        await session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        await session.execute(
            text(f"CREATE TABLE {TABLE} (key VARCHAR(60), lateness FLOAT, pid INTEGER, wall FLOAT)")
        )

    try:
        await hub.db.transaction(table)
    finally:
        await hub.close()


async def seed(url: str, dues: list[datetime]) -> None:
    """Through the product's batch API, 5,000 timers a transaction."""
    hub = hub_for(url)
    try:
        for first in range(0, len(dues), 5000):
            items = [(dues[n], f"t{n}", {}) for n in range(first, min(len(dues), first + 5000))]
            await hub.db.transaction(lambda s, i=items: schedule_many(s, KIND, i))  # type: ignore[misc]
    finally:
        await hub.close()


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RELAYDESK_TIMER_MODULES": "timers",  # this file, found through PYTHONPATH
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "RELAYDESK_LOG_LEVEL": "warning",
    }
    with log.open("ab") as out:
        return subprocess.Popen(  # as module "timers" only, so its handler registers once
            [sys.executable, "-c", "import timers; timers.main()", *args],
            stdout=out,
            stderr=out,
            env=env,
            cwd=ROOT,
        )


def run_worker(url: str, wall_start: float, speed: float) -> None:
    """What ``relaydesk worker`` does (migration check, then the worker process), on the
    benchmark's simulated clock."""
    from relaydesk.cli import load_settings, migrate_or_fail
    from relaydesk.serving import run_worker_process

    install_clock(wall_start, speed)
    settings = load_settings(url)
    migrate_or_fail(settings)
    run_worker_process(settings)


async def churn(url: str, rate: int, until: float, wall_start: float, speed: float) -> None:
    """Ten times a (wall) second: schedule ``rate / 10`` timers due 30-60 simulated minutes
    ahead, and cancel those scheduled 5 wall seconds or more ago, in one transaction."""
    install_clock(wall_start, speed)
    load_timer_handlers()  # the handler modules' imports are start-up, not churn
    hub = hub_for(url)
    per_tick = max(1, rate // 10)
    waiting: collections.deque[tuple[float, list[str]]] = collections.deque()
    done = missed = late_ticks = tick = 0
    started, cpu_before = time.time(), time.process_time()  # after the imports and start-up

    async def work(session: AsyncSession, keys: list[str], victims: list[str]) -> int:
        found = await cancel_many(session, victims)
        due = clock.now() + timedelta(minutes=random.uniform(30, 60))
        await schedule_many(session, KIND, [(due, key, {}) for key in keys])
        return len(found)

    try:
        while time.time() < until:
            keys = [f"c{tick}-{n}" for n in range(per_tick)]
            victims: list[str] = []
            while waiting and waiting[0][0] <= time.time() - 5:
                victims.extend(waiting.popleft()[1])
            found = await hub.db.transaction(lambda s, k=keys, v=victims: work(s, k, v))  # type: ignore[misc]
            done += found
            missed += len(victims) - found
            waiting.append((time.time(), keys))
            tick += 1
            delay = started + tick / 10 - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late_ticks += 1
        elapsed = time.time() - started
        rest = [key for _, keys in waiting for key in keys]  # cancel before they fall due
        found = len(await hub.db.transaction(lambda s: cancel_many(s, rest)))
        done, missed = done + found, missed + len(rest) - found
    finally:
        await hub.close()
    cpu = time.process_time() - cpu_before
    print(f"CHURN {done} {missed} {elapsed:.1f} {late_ticks} {tick} {cpu:.2f}", flush=True)


async def baseline(walls: list[float]) -> list[float]:
    """The same due times as bare asyncio timers in a process of their own; wall lateness."""
    loop = asyncio.get_running_loop()
    lateness: list[float] = []
    finished = asyncio.Event()

    def fire(due: float) -> None:
        lateness.append(time.time() - due)
        if len(lateness) == len(walls):
            finished.set()

    offset = loop.time() - time.time()
    for wall in walls:
        loop.call_at(wall + offset, fire, wall)
    await finished.wait()
    return lateness


def run_baseline(path: Path) -> None:
    walls = json.loads(path.read_text())
    path.write_text(json.dumps(asyncio.run(baseline(walls))))


async def scalar(url: str, sql: str, **params: object) -> int:
    hub = hub_for(url)
    try:
        async with hub.db.read() as session:
            return int(await session.scalar(text(sql), params) or 0)
    finally:
        await hub.close()


async def pending(url: str) -> int:
    return await scalar(
        url, "SELECT count(*) FROM timers WHERE status = 'pending' AND kind = :k", k=KIND
    )


async def read_firings(url: str) -> list[tuple[str, float, int, float]]:
    hub = hub_for(url)
    try:
        async with hub.db.read() as session:
            rows = await session.execute(text(f"SELECT key, lateness, pid, wall FROM {TABLE}"))
            return [(r[0], float(r[1]), int(r[2]), float(r[3])) for r in rows]
    finally:
        await hub.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats(values: list[float], unit: float = 1.0) -> str:
    p50, p99 = percentile(values, 50) * unit, percentile(values, 99) * unit
    top = max(values, default=float("nan")) * unit
    return f"p50 {p50 * 1000:9.1f} ms   p99 {p99 * 1000:9.1f} ms   max {top * 1000:9.1f} ms"


async def wait_ready(url: str, pids: set[int], deadline: float) -> None:
    """Schedule warm-up timers (keys ``w…``, due now) until each of ``pids`` fired one."""
    hub = hub_for(url)
    try:
        for n in range(10**6):
            items = [(clock.now(), f"w{n}-{m}", {}) for m in range(5)]
            await hub.db.transaction(lambda s, i=items: schedule_many(s, KIND, i))  # type: ignore[misc]
            await asyncio.sleep(1)
            async with hub.db.read() as session:
                fired = set(
                    (await session.scalars(text(f"SELECT DISTINCT pid FROM {TABLE}"))).all()
                )
            if pids <= fired or time.time() > deadline:
                return
    finally:
        await hub.close()


async def bench(args: argparse.Namespace, url: str, logs: Path) -> bool:
    count, speed, span = args.timers, args.speed, args.hours * 3600
    await make_table(url)
    wall_start = time.time()
    install_clock(wall_start, speed)
    log = logs / "workers.log"
    clock_args = ["--wall-start", str(wall_start), "--speed", str(speed)]
    worker_args = ["--worker", url, *clock_args]
    workers = [spawn(worker_args, log) for _ in range(args.workers)]
    started = time.time()
    await wait_ready(url, {w.pid for w in workers}, started + 600)
    print(
        f"{len(workers)} worker(s) ready (fired a warm-up timer) in {time.time() - started:.1f} s"
    )
    lead = 10 + count / 3000  # wall seconds to seed before the first due time
    open_sim = clock.now() + timedelta(seconds=lead * speed)
    dues = sorted(open_sim + timedelta(seconds=random.uniform(0, span)) for _ in range(count))
    t0 = time.time()
    await seed(url, dues)
    print(f"seeded {count:,} timers in {time.time() - t0:.1f} s", flush=True)

    def wall_of(due: datetime) -> float:
        return wall_start + (due - SIM_START).total_seconds() / speed

    walls = [wall_of(due) for due in dues]
    end = walls[-1]
    churner = (
        spawn(
            [
                "--churn",
                url,
                "--cancel-rate",
                str(args.cancel_rate),
                "--until",
                str(end),
                *clock_args,
            ],
            logs / "churn.log",
        )
        if args.cancel_rate
        else None
    )
    base_file = logs / "baseline.json"
    base_file.write_text(json.dumps(walls))
    base_process = spawn(["--baseline", str(base_file)], logs / "baseline.log")
    print(f"first timer due in {walls[0] - time.time():.1f} s (wall)", flush=True)
    restart_at = walls[0] + (end - walls[0]) / 2
    await asyncio.sleep(max(0.0, restart_at - time.time()))
    cpu = cpu_seconds(workers[0].pid)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    killed_at = time.time()
    workers.append(spawn(worker_args, log))
    restarted = workers[-1]
    print(
        f"worker killed (SIGKILL), restarted at {(killed_at - walls[0]) * speed:.0f} s of the hour"
    )
    while base_process.poll() is None:  # noqa: ASYNC110 (another process)
        await asyncio.sleep(1)
    base = json.loads(base_file.read_text())
    deadline = time.time() + 300
    while await pending(url) and time.time() < deadline:  # noqa: ASYNC110 (other processes)
        await asyncio.sleep(1)
    if churner:
        churner.wait(600)
    cpu += sum(cpu_seconds(w.pid) for w in workers[1:])
    for worker in workers[1:]:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    firings = await read_firings(url)
    per_key = collections.Counter(f[0] for f in firings)
    fired = [f for f in firings if f[0].startswith("t")]
    doubled = sum(n - 1 for k, n in per_key.items() if k.startswith("t") and n > 1)
    wrongly_fired = sum(n for k, n in per_key.items() if k.startswith("c"))
    still_pending = await pending(url)  # not lost: they would fire later
    fired_keys = {f[0] for f in fired}
    missed = count - len(fired_keys) - still_pending
    sim_late = [f[1] for f in fired]
    wall_late = [f[3] - walls[int(f[0][1:])] for f in fired]
    around = [f[1] for f in fired if abs(walls[int(f[0][1:])] - killed_at) > 30]
    firsts = [f[3] for f in firings if f[2] == restarted.pid]
    gap = min(firsts, default=float("nan")) - killed_at
    churn_out = (logs / "churn.log").read_text() if churner else "CHURN 0 0 1 0 0 0"
    cancelled, not_found, churn_s, late_ticks, ticks, churn_cpu = (
        float(x) for x in churn_out.split("CHURN ")[-1].split()[:6]
    )
    p99 = percentile(sim_late, 99)
    ok = p99 <= 1.0 and missed == still_pending == doubled == wrongly_fired == 0
    print(f"\nworkers ({args.workers} at a time; {len(workers)} processes over the run)")
    print(f"  timers fired            {len(fired_keys):,} of {count:,} over {span:.0f} simulated s")
    print(f"  lateness, simulated     {stats(sim_late)}")
    print(f"  lateness, wall clock    {stats(wall_late)}")
    print(f"  away from the restart   {stats(around)}   (simulated; due > 30 s wall from the kill)")
    tenths: list[list[float]] = [[] for _ in range(10)]
    for f in fired:
        tenths[min(9, int((walls[int(f[0][1:])] - walls[0]) * 10 / (end - walls[0] or 1)))].append(
            f[1]
        )
    print(
        "  p99 by tenth of the hour " + " ".join(f"{percentile(t, 99):.2f}" for t in tenths) + " s"
    )
    print(f"  restart: new worker's first firing {gap:.1f} s (wall) after the kill")
    print(
        f"  worker CPU              {cpu * 1000 / max(1, len(firings)):.2f} ms per firing"
        " (incl. start-up)"
    )
    print(f"bare asyncio timers, wall {stats(base)}")
    print(f"bare asyncio, simulated   {stats(base, speed)}")
    print(
        f"cancellations  {cancelled:,.0f} in {churn_s:.0f} s = {cancelled / churn_s:,.0f}/s wall"
        f" (asked {args.cancel_rate:,}/s; {late_ticks:.0f} of {ticks:.0f} ticks behind); "
        f"{not_found:.0f} not found pending; churn CPU "
        f"{churn_cpu * 1000 / max(1, ticks * args.cancel_rate / 10):.3f} ms per schedule + cancel"
    )
    print(
        f"lost {missed}   doubled {doubled}   churn timers fired (must be 0) {wrongly_fired}"
        f"   still pending when the bench stopped waiting {still_pending}"
    )
    ratio = p99 / max(1e-9, percentile(base, 99) * speed)
    print(
        f"\n{'PASS' if ok else 'MISS'}: p99 lateness {p99 * 1000:.0f} ms simulated "
        f"(target ≤ 1000 ms; {ratio:.1f}x bare asyncio's p99), no missed/doubled"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="postgresql://... (default: SQLite temp file)")
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=1.0, help="simulated span of the due times")
    parser.add_argument(
        "--speed", type=float, default=12.0, help="simulated seconds per wall second"
    )
    parser.add_argument("--cancel-rate", type=int, default=1000, help="per wall-clock second")
    parser.add_argument("--workers", type=int, default=1, help="worker processes at a time")
    parser.add_argument("--quick", action="store_true", help="10,000 timers, 100 cancels/s")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--churn", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--wall-start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.wall_start, args.speed)
        return
    if args.baseline:
        run_baseline(args.baseline)
        return
    if args.churn:
        asyncio.run(churn(args.churn, args.cancel_rate, args.until, args.wall_start, args.speed))
        return
    if args.quick:
        args.timers, args.cancel_rate = 10_000, 100
    from relaydesk import migrate

    with tempfile.TemporaryDirectory(prefix="relaydesk-bench-timers-") as tmp:
        drop = None
        if args.database_url:
            from _pg import throwaway

            url, drop = throwaway(args.database_url, "timers")
        else:
            url = f"sqlite:///{tmp}/bench.db"
        try:
            migrate.upgrade(url)
            print(
                f"Timers benchmark: {args.timers:,} timers over {args.hours:g} simulated hour(s)"
                f" at {args.speed:g}x, {args.cancel_rate:,} cancellations/s, {args.workers}"
                f" worker(s), one SIGKILL + restart; {'PostgreSQL' if drop else 'SQLite'};"
                f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            asyncio.run(bench(args, url, Path(tmp)))
            print(f"load average at the end {os.getloadavg()[0]:.1f}")
        finally:
            if drop:
                drop()


if __name__ == "__main__":
    main()
