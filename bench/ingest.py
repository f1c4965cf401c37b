"""Ingest benchmark: Relaydesk's ``POST /api/v1/messages`` against the limits of this machine.

Measured in one run, on the same machine, with the same load generator (bench/_load.py):

1. the bare ASGI ceiling: a minimal Starlette JSON POST endpoint (bench/_ceiling.py) under
   the server settings ``relaydesk serve`` uses (uvicorn, uvloop, httptools, one process);
2. the raw SQLite insert rate of a message-sized row (Python's sqlite3, temp file, WAL,
   synchronous=NORMAL, one row per transaction);
3. Relaydesk's sustained ``POST /api/v1/messages`` rate over 10,000 conversations (one new
   customer each) with 64 concurrent clients, against a real ``relaydesk serve`` process,
   with p50/p99 latency, every status checked and the stored rows counted afterwards;
4. p99 latency in an open-loop run at half of the sustained rate.

The API process runs without the outbox worker (``relaydesk serve --no-worker``), as an
installation under load does (docs/operations.md): the worker's listeners (bot, routing) cost
far more per message than storing it, and on two cores they would share the server's core.
After phase 4 a ``relaydesk worker`` process drains the outbox for a while and its rate is
reported too. ``--in-process-worker`` measures the one-process setup instead.

Targets: (3) ≥ 40% of the lower of (1) and (2); p99 ≤ 25 ms in (4). The script prints
PASS/MISS per target and exits 0 either way: it is a measurement, not a test.

    uv run python bench/ingest.py                 # full run on SQLite
    uv run python bench/ingest.py --quick         # 1,000 conversations, shorter limits
    uv run python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test
        # Relaydesk on PostgreSQL: a throwaway database is created on that server and dropped

On a machine with two or more cores, servers run pinned to core 0 and the load generator
(this process) to core 1 (``--no-pin`` to let the scheduler place them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _load import (
    LoadResult,
    build_post,
    closed_loop,
    cpu_meter,
    free_port,
    open_loop,
    pin_current,
    pinned_preexec,
    run,
    wait_quiet,
    wait_ready,
)
from _pg import throwaway

HOST = "127.0.0.1"
RATE_TARGET_SHARE = 0.40
P99_TARGET_SECONDS = 0.025
BENCH_DIR = Path(__file__).resolve().parent

WORKSPACE = """\
version: 1
settings:
  name: Ingest benchmark
  default_country: SE
channels:
  - name: bench
    kind: api
    settings:
      identity_assurance: trusted
"""

TEXTS = (
    "Hi! Where is my order {n}? The tracking page has not changed since Monday.",
    "My parcel {n} arrived damaged, the box was crushed. Can I get a replacement?",
    "I was charged twice for order {n}. Please refund the second payment.",
    "Can I change the delivery address for order {n}? I am moving next week.",
)


@dataclass
class Plan:
    concurrency: int
    ceiling_warmup: int
    ceiling_requests: int
    sqlite_rows: int
    conversations: int
    per_conversation: int
    warmup: int
    half_seconds: float
    drain_timeout: float
    in_process_worker: bool = False
    worker_seconds: float = 20.0


@dataclass
class Phase:
    result: LoadResult
    cpu: dict[str, float] = field(default_factory=dict)


# --- requests --------------------------------------------------------------------------------


def message_body(phase: str, sender: int, nth: int) -> bytes:
    return json.dumps(
        {
            "channel": "bench",
            "external_id": f"{phase}-{sender}-{nth}",
            "sender": {"email": f"{phase}{sender}@bench.example", "name": f"Customer {sender}"},
            "text": TEXTS[(sender + nth) % len(TEXTS)].format(n=100_000 + sender),
        },
        separators=(",", ":"),
    ).encode()


def message_requests(
    port: int, token: str, phase: str, senders: int, per_sender: int = 1
) -> list[bytes]:
    """``senders`` distinct customers, ``per_sender`` messages each, interleaved by round."""
    headers = {"Authorization": f"Bearer {token}"}
    return [
        build_post(HOST, port, "/api/v1/messages", message_body(phase, s, r), headers)
        for r in range(per_sender)
        for s in range(senders)
    ]


# --- processes -------------------------------------------------------------------------------


def relaydesk_command() -> list[str]:
    script = Path(sys.executable).with_name("relaydesk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "relaydesk.cli"]


def start_server(
    argv: Sequence[str], log_path: Path, cores: set[int] | None, ready_url: str
) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    proc = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=pinned_preexec(cores),  # type: ignore[arg-type]
        cwd=BENCH_DIR.parent,
    )
    log.close()
    try:
        wait_ready(ready_url, timeout=180, proc=proc)
    except Exception:
        stop_server(proc)
        sys.stderr.write(log_path.read_text(errors="replace")[-3000:])
        raise
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- 1. the ASGI ceiling -----------------------------------------------------------------------


def measure_ceiling(plan: Plan, tmp: Path, server_cores: set[int] | None) -> Phase:
    port = free_port()
    proc = start_server(
        [sys.executable, str(BENCH_DIR / "_ceiling.py"), str(port)],
        tmp / "ceiling.log",
        server_cores,
        f"http://{HOST}:{port}/healthz",
    )
    try:

        def requests(phase: str, n: int) -> list[bytes]:
            return [
                build_post(HOST, port, "/api/v1/messages", message_body(phase, i, 0), {})
                for i in range(n)
            ]

        warm, main = requests("w", plan.ceiling_warmup), requests("c", plan.ceiling_requests)
        run(closed_loop(HOST, port, warm, concurrency=plan.concurrency, expect=201, label="warm"))
        with cpu_meter(proc.pid) as cpu:
            result = run(
                closed_loop(
                    HOST,
                    port,
                    main,
                    concurrency=plan.concurrency,
                    expect=201,
                    label="ASGI ceiling",
                )
            )
    finally:
        stop_server(proc)
    assert isinstance(result, LoadResult)
    return Phase(result, cpu)


# --- 2. raw SQLite inserts -------------------------------------------------------------------

RAW_SCHEMA = """
CREATE TABLE messages (
    id CHAR(32) NOT NULL PRIMARY KEY,
    conversation_id CHAR(32) NOT NULL,
    journey_id CHAR(32) NOT NULL,
    customer_id CHAR(32) NOT NULL,
    channel_id CHAR(32) NOT NULL,
    external_id VARCHAR(300),
    direction VARCHAR(8) NOT NULL,
    author_type VARCHAR(16) NOT NULL,
    author_id VARCHAR(100),
    text TEXT NOT NULL,
    meta JSON NOT NULL,
    sent_at DATETIME,
    created_at DATETIME NOT NULL,
    received_at DATETIME NOT NULL,
    delivery_status VARCHAR(16),
    delivery_error TEXT,
    UNIQUE (channel_id, external_id)
)
"""
RAW_INSERT = (
    "INSERT INTO messages (id, conversation_id, journey_id, customer_id, channel_id, "
    "external_id, direction, author_type, author_id, text, meta, sent_at, created_at, "
    "received_at) VALUES (?, ?, ?, ?, ?, ?, 'inbound', 'customer', NULL, ?, '{}', NULL, ?, ?)"
)


def raw_rows(n: int) -> list[tuple[str, ...]]:
    channel = uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    return [
        (
            uuid.uuid4().hex,
            uuid.uuid4().hex,
            uuid.uuid4().hex,
            uuid.uuid4().hex,
            channel,
            f"raw-{i}",
            TEXTS[i % len(TEXTS)].format(n=100_000 + i),
            now,
            now,
        )
        for i in range(n)
    ]


@dataclass
class RawInserts:
    label: str
    rows: int
    elapsed: float
    stored: int
    cpu: float = float("nan")
    """CPU seconds this process spent inserting (SQLite runs in-process)."""

    @property
    def rate(self) -> float:
        return self.rows / self.elapsed

    @property
    def cpu_rate(self) -> float:
        """Rows per CPU second: the rate with a whole core, whatever else ran."""
        return self.rows / self.cpu if self.cpu > 0 else float("nan")


def measure_sqlite(plan: Plan, tmp: Path) -> RawInserts:
    path = tmp / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(RAW_SCHEMA)
    warm, rows = raw_rows(1000), raw_rows(plan.sqlite_rows)
    execute = conn.execute

    def insert_all(batch: list[tuple[str, ...]]) -> None:
        for row in batch:
            execute("BEGIN")
            execute(RAW_INSERT, row)
            execute("COMMIT")

    insert_all(warm)
    c0, t0 = time.process_time(), time.perf_counter()
    insert_all(rows)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0] - len(warm)
    conn.close()
    return RawInserts("SQLite (sqlite3, WAL, synchronous=NORMAL)", len(rows), elapsed, stored, cpu)


async def _pg_raw(dsn: str, n: int) -> RawInserts:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            RAW_SCHEMA.replace("CHAR(32)", "UUID")
            .replace("JSON", "JSONB")
            .replace("DATETIME", "TIMESTAMPTZ")
            .replace("CREATE TABLE messages", "CREATE TABLE raw_messages")
        )
        insert = (
            RAW_INSERT.replace("INSERT INTO messages", "INSERT INTO raw_messages")
            .replace("?, ?, ?, ?, ?, ?", "$1, $2, $3, $4, $5, $6")
            .replace("?, '{}', NULL, ?, ?", "$7, '{}', NULL, $8, $9")
        )
        stmt = await conn.prepare(insert)
        now = dt.datetime.now(dt.UTC)

        def rows(m: int, tag: str) -> list[tuple[Any, ...]]:
            channel = uuid.uuid4()
            return [
                (
                    *(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()),
                    *(channel, f"{tag}-{i}", TEXTS[i % 4].format(n=i), now, now),
                )
                for i in range(m)
            ]

        for row in rows(200, "w"):
            await stmt.fetch(*row)  # autocommit: one transaction per row
        batch = rows(n, "r")
        t0 = time.perf_counter()
        for row in batch:
            await stmt.fetch(*row)
        elapsed = time.perf_counter() - t0
        stored = await conn.fetchval("SELECT count(*) FROM raw_messages WHERE external_id ~ '^r-'")
    finally:
        await conn.close()
    return RawInserts("PostgreSQL (asyncpg, 1 connection)", n, elapsed, int(stored))


# --- 3./4. Relaydesk ---------------------------------------------------------------------------


class Store:
    """Counts in Relaydesk's database, read from outside the server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")

    def counts(self) -> dict[str, int]:
        queries = {
            # Inbound only: listeners (the bot) may write replies while the run goes on.
            "messages": "SELECT count(*) FROM messages WHERE direction = 'inbound'",
            "distinct_messages": (
                "SELECT count(*) FROM (SELECT DISTINCT channel_id, external_id FROM messages"
                " WHERE direction = 'inbound') d"
            ),
            "replies": "SELECT count(*) FROM messages WHERE direction = 'outbound'",
            "customers": "SELECT count(*) FROM customers",
            "conversations": "SELECT count(*) FROM conversations",
            "outbox_pending": "SELECT count(*) FROM outbox WHERE status = 'pending'",
            "outbox_done": "SELECT count(*) FROM outbox WHERE status = 'done'",
            "outbox_dead": "SELECT count(*) FROM outbox WHERE status = 'dead'",
        }
        if self.is_sqlite:
            path = self.url.split(":///", 1)[1]
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}
            finally:
                conn.close()

        async def go() -> dict[str, int]:
            import asyncpg

            conn = await asyncpg.connect(self.url)
            try:
                return {k: int(await conn.fetchval(q)) for k, q in queries.items()}
            finally:
                await conn.close()

        out = run(go())
        assert isinstance(out, dict)
        return out

    def wait_drained(self, timeout: float) -> tuple[float, int]:
        """Wait until the outbox has no pending work; (seconds waited, pending left)."""
        t0 = time.perf_counter()
        pending = self.counts()["outbox_pending"]
        while pending and time.perf_counter() - t0 < timeout:
            time.sleep(0.25)
            pending = self.counts()["outbox_pending"]
        return time.perf_counter() - t0, pending


@dataclass
class RelaydeskRun:
    database: str
    sustained: Phase
    half: Phase
    sent_total: int
    ok_total: int
    pending_after_sustained: int
    drain_seconds: float
    pending_after_drain: int
    counts: dict[str, int]
    expected_customers: int
    startup_seconds: float
    worker_rate: float | None = None


def measure_relaydesk(
    plan: Plan, tmp: Path, database_url: str, server_cores: set[int] | None
) -> RelaydeskRun:
    workspace = tmp / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    cli = relaydesk_command()
    created = subprocess.run(
        [*cli, "token", "create", "bench", "--database-url", database_url],
        capture_output=True,
        text=True,
        check=False,
        cwd=BENCH_DIR.parent,
    )
    if created.returncode != 0:
        raise RuntimeError(f"relaydesk token create failed: {created.stderr.strip()}")
    token = created.stdout.strip()
    port = free_port()
    t0 = time.perf_counter()
    proc = start_server(
        [
            *cli,
            "serve",
            "--database-url",
            database_url,
            "--workspace",
            str(workspace),
            "--host",
            HOST,
            "--port",
            str(port),
            *(() if plan.in_process_worker else ("--no-worker",)),
        ],
        tmp / "relaydesk.log",
        server_cores,
        f"http://{HOST}:{port}/healthz",
    )
    startup = time.perf_counter() - t0
    store = Store(database_url)
    try:
        warm = message_requests(port, token, "w", plan.warmup)
        main = message_requests(port, token, "m", plan.conversations, plan.per_conversation)
        warmed = run(
            closed_loop(HOST, port, warm, concurrency=plan.concurrency, expect=201, label="warm")
        )
        assert isinstance(warmed, LoadResult)
        if plan.in_process_worker:
            store.wait_drained(plan.drain_timeout)
        with cpu_meter(proc.pid) as cpu:
            sustained = run(
                closed_loop(
                    HOST,
                    port,
                    main,
                    concurrency=plan.concurrency,
                    expect=201,
                    label="Relaydesk sustained",
                )
            )
        assert isinstance(sustained, LoadResult)
        if sustained.ok == 0:
            raise RuntimeError(f"no message was accepted: {sustained.first_error}")
        pending_after = store.counts()["outbox_pending"]
        drain_seconds = 0.0
        if plan.in_process_worker:
            drain_seconds, _ = store.wait_drained(plan.drain_timeout)
        wait_quiet(threshold=0.10, timeout=QUIET_TIMEOUT)

        half_rate = max(1.0, sustained.rate / 2)
        n_half = max(200, int(half_rate * plan.half_seconds))
        half_requests = message_requests(port, token, "h", n_half)
        with cpu_meter(proc.pid) as half_cpu:
            half = run(
                open_loop(
                    HOST,
                    port,
                    half_requests,
                    rate=half_rate,
                    concurrency=plan.concurrency,
                    expect=201,
                    label="Relaydesk at half rate",
                )
            )
        assert isinstance(half, LoadResult)
        pending_left = 0
        if plan.in_process_worker:
            _, pending_left = store.wait_drained(plan.drain_timeout)
    finally:
        stop_server(proc)
    worker_rate = None
    if not plan.in_process_worker:
        worker_rate = drain_for(cli, database_url, store, plan.worker_seconds, server_cores)
        pending_left = store.counts()["outbox_pending"]
    counts = store.counts()
    return RelaydeskRun(
        database="PostgreSQL" if database_url.startswith("postgres") else "SQLite",
        sustained=Phase(sustained, cpu),
        half=Phase(half, half_cpu),
        sent_total=warmed.sent + sustained.sent + half.sent,
        ok_total=warmed.ok + sustained.ok + half.ok,
        pending_after_sustained=pending_after,
        drain_seconds=drain_seconds,
        pending_after_drain=pending_left,
        counts=counts,
        expected_customers=plan.warmup + plan.conversations + n_half,
        startup_seconds=startup,
        worker_rate=worker_rate,
    )


def drain_for(
    cli: list[str], database_url: str, store: Store, seconds: float, cores: set[int] | None
) -> float:
    """Run a ``relaydesk worker`` process for ``seconds``: outbox entries it finished per
    second, counted from its first finished entry (start-up trains the bot's model)."""
    proc = subprocess.Popen(
        [*cli, "worker", "--database-url", database_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pinned_preexec(cores),  # type: ignore[arg-type]
        cwd=BENCH_DIR.parent,
    )
    try:
        # Finished entries, not the pending count: listeners queue more work as they run
        # (a bot reply, its delivery, an offer), so pending can grow while the worker works.
        before = store.counts()["outbox_done"]
        deadline = time.perf_counter() + 180
        while store.counts()["outbox_done"] == before and time.perf_counter() < deadline:
            time.sleep(0.2)
        first = store.counts()["outbox_done"]
        t0 = time.perf_counter()
        time.sleep(seconds)
        done = store.counts()["outbox_done"] - first
        return done / (time.perf_counter() - t0)
    finally:
        stop_server(proc)


# --- PostgreSQL throwaway database -------------------------------------------------------------


# --- report ------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def describe(phase: Phase) -> list[str]:
    r = phase.result
    lines = [
        f"requests {r.sent:,}  ok {r.ok:,}  errors {r.errors}"
        + (f" {dict(r.statuses)} first: {r.first_error}" if r.errors else ""),
        f"rate {r.rate:,.0f}/s over {r.elapsed:.1f} s"
        + (f" (target {r.target_rate:,.0f}/s)" if r.target_rate else ""),
        f"latency p50 {ms(r.percentile(50))}  p90 {ms(r.percentile(90))}  "
        f"p99 {ms(r.percentile(99))}  max {ms(max(r.latencies, default=0.0))}",
    ]
    cpu = phase.cpu
    if cpu:
        ncpu = os.cpu_count() or 1
        other = cpu["machine_busy"] * ncpu - cpu["server_busy"] - r.client_busy
        lines.append(
            f"CPU (share of one core): server process {cpu['server_busy']:.0%}, load generator "
            f"{r.client_busy:.0%}, everything else {max(other, 0.0):.0%}; server CPU per "
            f"request {cpu['server_cpu'] / max(r.ok, 1) * 1e6:,.0f} µs"
        )
        if other > 0.15 and r.target_rate is None:
            lines.append(
                "WARNING: other work used the CPU during this run; the rate may be understated"
            )
    if r.target_rate is None and r.client_busy > 0.9:
        lines.append("WARNING: the load generator was near saturation; this figure may be capped")
    return lines


QUIET_TIMEOUT = 120.0


def per_cpu_second(phase: Phase) -> float:
    """Requests the server answers per second of its CPU time (its rate with a whole core)."""
    cpu = phase.cpu.get("server_cpu", float("nan"))
    return phase.result.ok / cpu if cpu and cpu > 0 else float("nan")


def settle() -> None:
    """Start each phase on an idle machine; say so when other work was running."""
    waited, busy = wait_quiet(threshold=0.10, timeout=QUIET_TIMEOUT)
    if busy > 0.10:
        print(
            f"   WARNING: the machine stayed {busy:.0%} busy with other work for "
            f"{waited:.0f} s; the figures below are skewed by it",
            flush=True,
        )
    elif waited > 2:
        print(f"   (waited {waited:.0f} s for other work on the machine to finish)", flush=True)


def machine_line() -> str:
    model = platform.processor() or platform.machine()
    with suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def versions() -> str:
    import sqlalchemy
    import starlette
    import uvicorn

    return (
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"uvicorn {uvicorn.__version__}, Starlette {starlette.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


def code_under_test() -> str:
    """Where the measured relaydesk package comes from, and its git commit if it has one."""
    import relaydesk

    src = Path(relaydesk.__file__).resolve().parent
    where = f"relaydesk {relaydesk.__version__} from {src}"

    def git(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(src), *cmd], capture_output=True, text=True, check=False
        )

    with suppress(OSError):
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode == 0:
            dirty = git("diff", "--quiet", "HEAD", "--", ".").returncode != 0
            where += f", commit {head.stdout.strip()}" + (" + uncommitted changes" if dirty else "")
    return where


def main(argv: Sequence[str] | None = None) -> int:
    global QUIET_TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 conversations, short runs")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://... to run Relaydesk on PostgreSQL (a throwaway database is "
        "created on that server); default: SQLite in a temp directory",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--per-conversation", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    parser.add_argument(
        "--in-process-worker",
        action="store_true",
        help="run the outbox worker inside the API process (one-process setup) and drain "
        "between phases",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (logs, db)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=QUIET_TIMEOUT,
        help="before each phase, wait up to this many seconds for other work on the machine "
        "to stop (default %(default)s)",
    )
    args = parser.parse_args(argv)
    QUIET_TIMEOUT = args.quiet_timeout

    quick = args.quick
    plan = Plan(
        concurrency=args.concurrency,
        ceiling_warmup=2_000,
        ceiling_requests=10_000 if quick else 50_000,
        sqlite_rows=10_000 if quick else 50_000,
        conversations=args.conversations or (1_000 if quick else 10_000),
        per_conversation=args.per_conversation,
        warmup=100 if quick else 300,
        half_seconds=5.0 if quick else 20.0,
        drain_timeout=300.0,
        in_process_worker=args.in_process_worker,
    )

    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pinned = not args.no_pin and len(cores) >= 2
    server_cores: set[int] | None = None
    if pinned:
        ordered = sorted(cores)
        server_cores = {ordered[0]}
        pin_current({ordered[1]})
    placement = (
        f"servers pinned to core {min(server_cores)}, load generator to core "
        f"{sorted(cores)[1]} (os.sched_setaffinity)"
        if server_cores
        else "no CPU pinning"
    )

    tmp = Path(tempfile.mkdtemp(prefix="relaydesk-bench-"))
    drop_pg: Callable[[], None] | None = None
    started = dt.datetime.now().astimezone()
    print(f"Relaydesk ingest benchmark — {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {machine_line()}")
    print(f"software: {versions()}")
    print(f"code: {code_under_test()}")
    print(f"placement: {placement}; {plan.concurrency} concurrent clients")
    env = sorted(k for k in os.environ if k.startswith("RELAYDESK_"))
    if env:
        print(f"environment: {', '.join(env)} set (they reach `relaydesk serve`)")
    print(f"run: {'quick' if quick else 'full'}; temp dir {tmp}")
    print(flush=True)
    try:
        if args.database_url and not args.database_url.startswith("sqlite"):
            database_url, drop_pg = throwaway(args.database_url, "ingest")
        else:
            database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"

        print("1. bare ASGI ceiling: Starlette JSON POST, uvicorn + uvloop + httptools, 1 process")
        settle()
        ceiling = measure_ceiling(plan, tmp, server_cores)
        for line in describe(ceiling):
            print(f"   {line}")
        print(flush=True)

        print("2. raw SQLite insert: message-sized row, WAL, synchronous=NORMAL, 1 row/transaction")
        settle()
        raw = measure_sqlite(plan, tmp)
        print(
            f"   {raw.rows:,} rows in {raw.elapsed:.2f} s: {raw.rate:,.0f} rows/s "
            f"({raw.cpu / raw.rows * 1e6:,.0f} µs CPU per row: {raw.cpu_rate:,.0f} rows per "
            "CPU second)"
        )
        if raw.stored != raw.rows:
            print(f"   WARNING: {raw.stored:,} rows stored, expected {raw.rows:,}")
        pg_raw: RawInserts | None = None
        if drop_pg is not None:
            pg_raw = run(_pg_raw(database_url, 2_000 if quick else 5_000))  # type: ignore[assignment]
            assert pg_raw is not None
            print(
                f"   (for reference, not a target limit: {pg_raw.label}, 1 row/transaction: "
                f"{pg_raw.rows:,} rows in {pg_raw.elapsed:.2f} s: {pg_raw.rate:,.0f} rows/s)"
            )
        print(flush=True)

        total = plan.conversations * plan.per_conversation
        kind = "PostgreSQL" if drop_pg is not None else "SQLite"
        print(
            f"3. Relaydesk POST /api/v1/messages on {kind}: {total:,} messages from "
            f"{plan.conversations:,} new customers/conversations, {plan.concurrency} clients "
            f"(after {plan.warmup} warm-up messages)",
            flush=True,
        )
        settle()
        rd = measure_relaydesk(plan, tmp, database_url, server_cores)
        for line in describe(rd.sustained):
            print(f"   {line}")
        if rd.worker_rate is None:
            print(
                f"   outbox: {rd.pending_after_sustained:,} entries pending when the run ended, "
                f"drained by the in-process worker in {rd.drain_seconds:.1f} s"
            )
        else:
            print(
                f"   outbox: {rd.pending_after_sustained:,} entries pending when the run ended "
                "(the API process runs no worker)"
            )
        print()
        print("4. Relaydesk open loop at half the sustained rate (latency from the scheduled time)")
        for line in describe(rd.half):
            print(f"   {line}")
        if rd.worker_rate is not None:
            per_message = rd.pending_after_sustained / max(1, rd.sustained.result.ok)
            print(
                f"   then a `relaydesk worker` process finished {rd.worker_rate:,.1f} outbox "
                f"entries/s for {plan.worker_seconds:.0f} s (listeners: bot, routing, ...; "
                f"about {per_message:.1f} queued per message by the API, more by listeners)"
            )
        print()

        c = rd.counts
        failed = rd.sent_total - rd.ok_total
        lost = rd.ok_total - c["messages"]
        duplicated = c["messages"] - c["distinct_messages"]
        intact = lost == 0 and duplicated == 0
        print(
            f"stored: {c['messages']:,} inbound messages (and {c['replies']:,} replies written "
            f"by listeners); {rd.sent_total:,} sent, {rd.ok_total:,} "
            f"answered 201, {failed:,} failed: lost {max(lost, 0)}, duplicated {duplicated}, "
            f"stored without a 201 {max(-lost, 0)} — {'OK' if intact else 'MISMATCH'}"
        )
        print(
            f"        {c['customers']:,} customers (one per sender; {rd.expected_customers:,} "
            f"senders were sent); outbox pending {c['outbox_pending']}, dead {c['outbox_dead']}"
        )
        if failed:
            print(f"NOTE: {failed:,} requests failed (see the errors above); they count as MISS")
        print()

        limit_name, limit = min(
            ("ASGI ceiling", ceiling.result.rate),
            ("raw SQLite insert", raw.rate),
            key=lambda item: item[1],
        )
        rate = rd.sustained.result.rate
        share = rate / limit if limit else 0.0
        p99_half = rd.half.result.percentile(99)
        rate_ok = share >= RATE_TARGET_SHARE and rd.sustained.result.errors == 0
        p99_ok = p99_half <= P99_TARGET_SECONDS and rd.half.result.errors == 0
        print("Summary")
        print(f"   ASGI ceiling          {ceiling.result.rate:>9,.0f} req/s")
        print(f"   raw SQLite insert     {raw.rate:>9,.0f} rows/s")
        print(f"   lower limit           {limit:>9,.0f} /s ({limit_name})")
        print(
            f"   {'Relaydesk (' + kind + ')':<22}{rate:>9,.0f} msg/s  = {share:.1%} of the lower "
            "limit  "
            f"(p50 {ms(rd.sustained.result.percentile(50))}, "
            f"p99 {ms(rd.sustained.result.percentile(99))})"
        )
        print(
            f"   at half rate ({rd.half.result.target_rate:,.0f}/s)  "
            f"p50 {ms(rd.half.result.percentile(50))}, p99 {ms(p99_half)}"
        )
        ceiling_cpu = per_cpu_second(ceiling)
        relaydesk_cpu = per_cpu_second(rd.sustained)
        cpu_limit = min(ceiling_cpu, raw.cpu_rate)
        print(
            f"   per CPU second (rate with a whole core, robust to other work on the machine): "
            f"ceiling {ceiling_cpu:,.0f}/s, SQLite {raw.cpu_rate:,.0f}/s, Relaydesk "
            f"{relaydesk_cpu:,.0f}/s = {relaydesk_cpu / cpu_limit:.1%} of the lower"
        )
        print(
            f"{'PASS' if rate_ok else 'MISS'}: sustained rate ≥ {RATE_TARGET_SHARE:.0%} of the "
            f"lower limit — {rate:,.0f}/s is {share:.1%} of {limit:,.0f}/s "
            f"(target ≥ {RATE_TARGET_SHARE * limit:,.0f}/s)"
        )
        print(
            f"{'PASS' if p99_ok else 'MISS'}: p99 ≤ {ms(P99_TARGET_SECONDS)} at half the "
            f"sustained rate — p99 {ms(p99_half)} at {rd.half.result.rate:,.0f}/s"
        )
        if not intact:
            print("NOTE: the stored rows do not match what was accepted (see 'stored' above)")

        if args.json:
            figures = {
                "date": started.isoformat(),
                "machine": machine_line(),
                "software": versions(),
                "code": code_under_test(),
                "placement": placement,
                "quick": quick,
                "database": kind,
                "ceiling_rps": ceiling.result.rate,
                "ceiling_p99_ms": ceiling.result.percentile(99) * 1000,
                "sqlite_rows_per_s": raw.rate,
                "postgres_rows_per_s": pg_raw.rate if pg_raw else None,
                "ceiling_per_cpu_second": ceiling_cpu,
                "sqlite_rows_per_cpu_second": raw.cpu_rate,
                "relaydesk_per_cpu_second": relaydesk_cpu,
                "relaydesk_rps": rate,
                "relaydesk_p50_ms": rd.sustained.result.percentile(50) * 1000,
                "relaydesk_p99_ms": rd.sustained.result.percentile(99) * 1000,
                "share_of_lower_limit": share,
                "half_rate": rd.half.result.target_rate,
                "half_p50_ms": rd.half.result.percentile(50) * 1000,
                "half_p99_ms": p99_half * 1000,
                "errors": rd.sent_total - rd.ok_total,
                "rows_intact": intact,
                "in_process_worker": plan.in_process_worker,
                "worker_entries_per_s": rd.worker_rate,
                "rate_target_met": rate_ok,
                "p99_target_met": p99_ok,
            }
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if drop_pg is not None:
            with suppress(Exception):
                drop_pg()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
