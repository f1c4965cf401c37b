"""Webhook benchmark: signed Twilio SMS webhooks into ``POST /hooks/<name>``.

Measured in one run, on one machine, with one load generator (bench/_load.py):

1. the bare ASGI ceiling: bench/_ceiling.py's Starlette app and uvicorn settings (those of
   ``relaydesk serve``) plus one route that reads a form and answers empty TwiML;
2. a real ``relaydesk serve`` with a ``twilio_sms`` channel: 10,000 webhooks signed with the
   twilio SDK's RequestValidator (9,500 messages from 2,000 phones, plus 5% duplicates as
   Twilio's retries: half racing the original, half later), 64 concurrent senders;
3. the same at half the rate of (2), open loop (latency counted from the scheduled time).

Every answer must be 200; afterwards the rows are counted (each MessageSid stored once, one
customer per phone). Targets: (2) ≥ 50% of (1); p99 acknowledgement ≤ 100 ms. It prints
PASS/MISS and exits 0: a measurement, not a test. Servers run on core 0, the load generator
on core 1 (``--no-pin`` not to pin). Process handling and counts come from bench/ingest.py.

    uv run python bench/webhooks.py [--quick]    # SQLite; --quick: 2,000 webhooks
    uv run python bench/webhooks.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

import _load
import ingest
from _pg import throwaway

HOST, Phase, ms = ingest.HOST, ingest.Phase, ingest.ms
RATE_TARGET_SHARE = 0.50
P99_TARGET_SECONDS = 0.100
TOKEN_ENV = "RELAYDESK_BENCH_TWILIO_TOKEN"
TOKEN = "bench-twilio-auth-token-0123456789"
ACCOUNT = "AC" + "0" * 32
OUR_NUMBER = "+46701234567"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response />'

WORKSPACE = f"""\
version: 1
settings:
  name: Webhook benchmark
  default_country: SE
channels:
  - name: sms
    kind: twilio_sms
    settings:
      account_sid: {ACCOUNT}
      auth_token: env:{TOKEN_ENV}
      phone_number: "{OUR_NUMBER}"
      base_url: http://127.0.0.1:9
routing:
  policy: human_first
"""
"""Every journey goes to the (empty) queue: the bot would answer each first message by SMS to
a provider that is not there (``base_url``), and those sends would be retried for ever, so
the outbox never drained. Routing still runs for every webhook, as in production.

As in bench/ingest.py, the API process runs without the outbox worker; a ``relaydesk worker``
process drains the outbox afterwards and its rate is printed."""


# --- requests ------------------------------------------------------------------------------


PHONE_BASE = {"a": 0, "b": 0, "w": 8_000_000, "m": 1_000_000, "h": 5_000_000}
"""Warm-up and measured senders are different people (7-digit Swedish mobile numbers)."""


SMS_FORM = parse_qsl(
    "ToCountry=SE&ToState=&SmsMessageSid={sid}&NumMedia=0&ToCity=&FromZip=&SmsSid={sid}"
    "&FromState=&SmsStatus=received&FromCity=&Body={body}&FromCountry=SE&To=%2B46701234567"
    f"&ToZip=&NumSegments=1&MessageSid={{sid}}&AccountSid={ACCOUNT}&From={{from}}"
    "&ApiVersion=2010-04-01",
    keep_blank_values=True,
)
"""An inbound SMS webhook's fields as Twilio posts them (the shared fixture's shape)."""


def sms_fields(phase: str, n: int, phone: int) -> list[tuple[str, str]]:
    values = {
        "{sid}": f"SM{phase}{n:031x}"[:34],
        "{body}": ingest.TEXTS[n % len(ingest.TEXTS)].format(n=100_000 + n),
        "{from}": f"+4670{PHONE_BASE[phase] + phone:07d}",
    }
    return [(name, values.get(value, value)) for name, value in SMS_FORM]


def signed_post(port: int, path: str, fields: list[tuple[str, str]]) -> bytes:
    """A keep-alive POST signed as Twilio signs it (the SDK's RequestValidator)."""
    url = f"http://{HOST}:{port}{path}"
    signature = RequestValidator(TOKEN).compute_signature(url, dict(fields))
    request = _load.build_post(
        HOST, port, path, urlencode(fields).encode(), {"X-Twilio-Signature": signature}
    )
    return request.replace(b"application/json\r\n", b"application/x-www-form-urlencoded\r\n", 1)


@dataclass
class Workload:
    requests: list[bytes]
    distinct: int
    duplicates: int
    phones: int


def workload(port: int, phase: str, total: int, phones: int, dup_share: float) -> Workload:
    """``total`` webhooks: distinct messages round-robin over ``phones`` senders, plus
    duplicates (exact repeats, as Twilio retries): half right behind the original, half later."""
    rng = random.Random(f"{phase}-{total}")
    duplicates = round(total * dup_share)
    distinct = total - duplicates
    path = "/hooks/sms"
    originals = [signed_post(port, path, sms_fields(phase, n, n % phones)) for n in range(distinct)]
    requests = list(originals)
    for k in range(duplicates):
        original = rng.randrange(distinct)
        at = original + 1 + (rng.randrange(8) if k % 2 == 0 else rng.randrange(distinct))
        requests.insert(min(at, len(requests)), originals[original])
    return Workload(requests, distinct, duplicates, min(phones, distinct))


def measure(
    port: int, pid: int, requests: list[bytes], concurrency: int, rate: float | None = None
) -> Phase:
    """One load run (closed loop, or open loop at ``rate``) with the server's CPU measured."""
    options = {"concurrency": concurrency, "expect": 200, "label": ""}
    with _load.cpu_meter(pid) as cpu:
        if rate is None:
            result = _load.run(_load.closed_loop(HOST, port, requests, **options))
        else:
            result = _load.run(_load.open_loop(HOST, port, requests, rate=rate, **options))
    assert isinstance(result, _load.LoadResult)
    return Phase(result, cpu)


# --- the ceiling: _ceiling.py's app plus a form endpoint -------------------------------------


def serve_ceiling(port: int) -> None:
    """Run bench/_ceiling.py's server with a Twilio-shaped route added (no copy of it)."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    import _ceiling

    async def hook(request: Request) -> Response:
        fields = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        if not fields:
            return Response(b"", status_code=400)
        return Response(EMPTY_TWIML, media_type="text/xml")

    _ceiling.app.router.routes.append(Route("/hooks/sms", hook, methods=["POST"]))
    sys.argv = [sys.argv[0], str(port)]
    _ceiling.main()


def measure_ceiling(n: int, concurrency: int, tmp: Path, cores: set[int] | None) -> Phase:
    port = _load.free_port()
    proc = ingest.start_server(
        [sys.executable, str(Path(__file__).resolve()), "--serve-ceiling", str(port)],
        tmp / "ceiling.log",
        cores,
        f"http://{HOST}:{port}/healthz",
    )
    try:
        measure(port, proc.pid, workload(port, "a", 2_000, 500, 0.0).requests, concurrency)
        return measure(port, proc.pid, workload(port, "b", n, 2_000, 0.0).requests, concurrency)
    finally:
        ingest.stop_server(proc)


# --- Relaydesk ------------------------------------------------------------------------------


@dataclass
class RelaydeskRun:
    phase: Phase
    half: Phase
    workloads: tuple[Workload, ...]
    sent_total: int
    ok_total: int
    counts: dict[str, int]


def measure_relaydesk(
    load_plan: tuple[int, int, float],
    concurrency: int,
    half_seconds: float,
    tmp: Path,
    database_url: str,
    cores: set[int] | None,
) -> RelaydeskRun:
    workspace = tmp / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    port = _load.free_port()
    os.environ[TOKEN_ENV] = TOKEN
    os.environ["RELAYDESK_PUBLIC_URL"] = f"http://{HOST}:{port}"  # what Twilio signs
    argv = [*ingest.relaydesk_command(), "serve", "--database-url", database_url]
    argv += ["--workspace", str(workspace), "--host", HOST, "--port", str(port), "--no-worker"]
    proc = ingest.start_server(argv, tmp / "relaydesk.log", cores, f"http://{HOST}:{port}/healthz")
    store = ingest.Store(database_url)
    total, phones, dup_share = load_plan
    try:
        warm = workload(port, "w", 300, 100, 0.0)
        load = workload(port, "m", total, phones, dup_share)
        warmed = measure(port, proc.pid, warm.requests, concurrency).result
        sustained = measure(port, proc.pid, load.requests, concurrency)
        pending = store.counts()["outbox_pending"]
        for line in ingest.describe(sustained):
            print(f"   {line}")
        print(f"   outbox: {pending:,} pending at the end (the API process runs no worker)\n")
        print("3. Relaydesk open loop at half that rate (latency from the scheduled time)")
        ingest.settle()
        rate = max(1.0, sustained.result.rate / 2)
        half_load = workload(port, "h", max(200, int(rate * half_seconds)), phones, dup_share)
        half = measure(port, proc.pid, half_load.requests, concurrency, rate)
    finally:
        ingest.stop_server(proc)
        os.environ.pop("RELAYDESK_PUBLIC_URL", None)
    cli = ingest.relaydesk_command()
    worker_rate = ingest.drain_for(cli, database_url, store, 20.0, cores)
    print(f"   then a `relaydesk worker` process drained {worker_rate:,.1f} outbox entries/s")
    return RelaydeskRun(
        phase=sustained,
        half=half,
        workloads=(warm, load, half_load),
        sent_total=warmed.sent + sustained.result.sent + half.result.sent,
        ok_total=warmed.ok + sustained.result.ok + half.result.ok,
        counts=store.counts(),
    )


def per_cpu_second(phase: Phase) -> float:
    """Requests answered per second of the server's own CPU time: its rate with a whole
    core, which other work on the machine skews far less than the wall-clock rate."""
    cpu = phase.cpu.get("server_cpu", 0.0)
    return phase.result.ok / cpu if cpu > 0 else float("nan")


# --- report ---------------------------------------------------------------------------------


def report(ceiling: Phase, rd: RelaydeskRun, kind: str, concurrency: int) -> None:
    """Print the row counts, the summary and PASS/MISS per target."""
    c = rd.counts
    runs = rd.workloads
    expected = sum(w.distinct for w in runs)
    lost = expected - c["distinct_messages"]
    duplicated = c["messages"] - c["distinct_messages"]
    expected_customers = sum(w.phones for w in runs)
    intact = (
        rd.ok_total == rd.sent_total
        and lost == 0
        and duplicated == 0
        and c["messages"] == expected
        and c["customers"] == expected_customers
    )
    print(
        f"stored: {c['messages']:,} messages for {expected:,} distinct webhooks "
        f"({rd.sent_total:,} sent incl. {sum(w.duplicates for w in runs):,} duplicates; "
        f"{rd.ok_total:,} answered 200): lost {max(lost, 0)}, duplicated {duplicated}; "
        f"{c['customers']:,} customers (expected {expected_customers:,}); outbox pending "
        f"{c['outbox_pending']}, dead {c['outbox_dead']} — {'OK' if intact else 'MISMATCH'}"
    )
    print()
    r, half = rd.phase.result, rd.half.result
    share = r.rate / ceiling.result.rate if ceiling.result.rate else 0.0
    cpu_share = per_cpu_second(rd.phase) / per_cpu_second(ceiling)
    p99, p99_half = r.percentile(99), half.percentile(99)
    rate_ok = share >= RATE_TARGET_SHARE and r.errors == 0
    p99_ok = p99 <= P99_TARGET_SECONDS and r.errors == 0
    print("Summary")
    print(
        f"   ASGI ceiling           {ceiling.result.rate:>7,.0f} req/s      "
        f"({per_cpu_second(ceiling):,.0f} per server CPU second)"
    )
    print(
        f"   Relaydesk ({kind:<10})  {r.rate:>7,.0f} webhooks/s = {share:.1%} of the ceiling "
        f"({per_cpu_second(rd.phase):,.0f} per server CPU second = {cpu_share:.1%})"
    )
    print(
        f"   ack latency, {concurrency} senders: p50 {ms(r.percentile(50))}, p99 {ms(p99)}; "
        f"open loop at {half.target_rate or 0:,.0f}/s: p50 {ms(half.percentile(50))}, "
        f"p99 {ms(p99_half)}"
    )
    print(
        f"{'PASS' if rate_ok else 'MISS'}: rate ≥ {RATE_TARGET_SHARE:.0%} of the ceiling — "
        f"{r.rate:,.0f}/s is {share:.1%} of {ceiling.result.rate:,.0f}/s"
    )
    print(
        f"{'PASS' if p99_ok else 'MISS'}: p99 acknowledgement ≤ {ms(P99_TARGET_SECONDS)} "
        f"with {concurrency} senders — p99 {ms(p99)} (at half rate: p99 {ms(p99_half)})"
    )
    print(f"{'PASS' if intact else 'MISS'}: zero lost, zero duplicated (rows counted)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve-ceiling", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="2,000 webhooks")
    parser.add_argument("--database-url", default=None, help="postgresql://... (throwaway db)")
    parser.add_argument("--webhooks", type=int, default=None, help="default 10,000")
    parser.add_argument("--phones", type=int, default=2_000)
    parser.add_argument("--duplicates", type=float, default=0.05, help="share, default 0.05")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)
    if args.serve_ceiling is not None:
        serve_ceiling(args.serve_ceiling)
        return 0
    total = args.webhooks or (2_000 if args.quick else 10_000)

    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    server_cores: set[int] | None = None
    if not args.no_pin and len(cores) >= 2:
        ordered = sorted(cores)
        server_cores = {ordered[0]}
        _load.pin_current({ordered[1]})
    placement = (
        f"servers pinned to core {min(server_cores)}, load generator to core {sorted(cores)[1]}"
        if server_cores
        else "no CPU pinning"
    )
    tmp = Path(tempfile.mkdtemp(prefix="relaydesk-webhooks-"))
    drop_pg: Callable[[], None] | None = None
    started = dt.datetime.now().astimezone()
    print(
        f"Relaydesk webhook benchmark (Twilio SMS) — {started:%Y-%m-%d %H:%M %Z}\n"
        f"machine: {ingest.machine_line()}\nsoftware: {ingest.versions()}\n"
        f"code: {ingest.code_under_test()}\n"
        f"placement: {placement}; {args.concurrency} concurrent senders\n",
        flush=True,
    )
    try:
        if args.database_url and not args.database_url.startswith("sqlite"):
            database_url, drop_pg = throwaway(args.database_url, "webhooks")
        else:
            database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        kind = "PostgreSQL" if drop_pg else "SQLite"

        print("1. bare ASGI ceiling: Starlette form POST → empty TwiML, same uvicorn settings")
        ingest.settle()
        ceiling = measure_ceiling(total, args.concurrency, tmp, server_cores)
        for line in ingest.describe(ceiling):
            print(f"   {line}")
        print(flush=True)

        print(
            f"2. Relaydesk POST /hooks/sms on {kind}: {total:,} signed Twilio webhooks "
            f"({args.duplicates:.0%} duplicates) from {args.phones:,} phones, "
            f"{args.concurrency} senders",
            flush=True,
        )
        ingest.settle()
        rd = measure_relaydesk(
            (total, args.phones, args.duplicates),
            args.concurrency,
            5.0 if args.quick else 20.0,
            tmp,
            database_url,
            server_cores,
        )
        for line in ingest.describe(rd.half):
            print(f"   {line}")
        print()
        report(ceiling, rd, kind, args.concurrency)
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
