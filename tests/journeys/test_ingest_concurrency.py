"""Concurrent posts of customer messages: stored once, one customer, one journey.

The in-process tests post through the ASGI transport with ``asyncio.gather``: the requests
interleave on one event loop and the hub's ingest queue stores them in batches. The batches
are kept small here (``BATCH``), so that a test holds many of them: on PostgreSQL several run
their transactions at the same time and race on the unique keys and row locks, and inside
each batch repeats and shared identities meet; on SQLite the single writer queues them. The
last test runs two real ``relaydesk serve`` processes against one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from tests.conftest import scalar
from tests.helpers.ingest_invariants import Snapshot, assert_ingest_invariants
from tests.helpers.workspace import apply_text

from relaydesk.hub import Hub

EMAIL = "ada@example.com"
PHONE = "+46701234567"


BATCH = 4


@pytest.fixture(autouse=True)
async def workspace(hub: Hub) -> None:
    await apply_text(hub)
    hub.ingest.MAX_MESSAGES = BATCH


@pytest.fixture
def peak_connections(hub: Hub) -> Iterator[list[int]]:
    """The most write connections checked out at once (proof the posts overlapped)."""
    peak, now = [0], [0]

    def checkout(*_: Any) -> None:
        now[0] += 1
        peak[0] = max(peak[0], now[0])

    def checkin(*_: Any) -> None:
        now[0] -= 1

    engine = hub.db.writer.sync_engine
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    yield peak
    event.remove(engine, "checkout", checkout)
    event.remove(engine, "checkin", checkin)


def message(external_id: str, channel: str = "web", **sender: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "external_id": external_id,
        "sender": sender,
        "text": f"message {external_id}",
    }


async def post_all(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    responses = await asyncio.gather(*(client.post("/api/v1/messages", json=b) for b in bodies))
    failed = [(r.status_code, r.text) for r in responses if r.status_code not in (200, 201)]
    assert not failed, f"{len(failed)} of {len(bodies)} posts failed, e.g. {failed[:3]}"
    return list(responses)


async def count_events(hub: Hub, name: str) -> object:
    return await scalar(hub, "select count(*) from events where name = :name", name=name)


def is_postgres(hub: Hub) -> bool:
    return not hub.db.is_sqlite


@pytest.mark.parametrize("customer", ["new", "known"])
async def test_twenty_concurrent_retries_store_one_message(
    client: httpx.AsyncClient, hub: Hub, customer: str, peak_connections: list[int]
) -> None:
    if customer == "known":
        earlier = await client.post("/api/v1/messages", json=message("earlier", email=EMAIL))
        assert earlier.status_code == 201
    body = message("retried", email=EMAIL, name="Ada")

    responses = await post_all(client, [body] * 20)

    answers = [r.json() for r in responses]
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}
    assert [a["duplicate"] for a in answers].count(False) == 1
    assert all(
        a["duplicate"] is (r.status_code == 200) for a, r in zip(answers, responses, strict=True)
    )
    ids = {
        (a["message_id"], a["conversation_id"], a["journey_id"], a["customer_id"]) for a in answers
    }
    assert len(ids) == 1, ids
    stored = await scalar(
        hub, "select count(*) from messages where external_id = :id", id="retried"
    )
    assert stored == 1
    state = await assert_ingest_invariants(hub)
    assert len(state.customers) == 1
    assert len(state.journeys) == 1
    assert len(state.conversations) == 1
    assert len(state.inbound()) == (2 if customer == "known" else 1)
    assert await count_events(hub, "customer.created") == 1
    if is_postgres(hub):
        assert peak_connections[0] > 1, "the posts never overlapped on PostgreSQL"


def one_new_customer_on_two_channels() -> list[dict[str, Any]]:
    """100 posts on web with the email, 100 on app with email and phone, interleaved."""
    bodies: list[dict[str, Any]] = []
    for n in range(100):
        bodies.append(message(f"w{n}", "web", email=EMAIL))
        bodies.append(message(f"a{n}", "app", email=EMAIL, phone=PHONE))
    return bodies


def assert_one_customer_one_journey(state: Snapshot, answers: list[dict[str, Any]]) -> None:
    """Exactly one customer row (none created and merged away), one journey, a conversation
    per channel, every message stored once and answered with the ids it was stored under."""
    [customer] = state.customers
    assert state.customers[customer] is None
    assert {(i.kind, i.value, i.customer_id) for i in state.identities} == {
        ("email", EMAIL, customer),
        ("phone", PHONE, customer),
    }
    [journey] = state.journeys
    assert state.journeys[journey] == customer
    assert sorted(c.channel for c in state.conversations.values()) == ["app", "web"]
    assert all(c.journey_id == journey for c in state.conversations.values())
    assert len(state.inbound()) == 200
    assert all(a["duplicate"] is False for a in answers)
    assert {a["customer_id"] for a in answers} == {str(customer)}
    assert {a["journey_id"] for a in answers} == {str(journey)}
    by_channel = {c.channel: str(c.id) for c in state.conversations.values()}
    stored = {str(m.id): m for m in state.inbound()}
    for answer in answers:
        message_row = stored[answer["message_id"]]
        assert answer["conversation_id"] == by_channel[message_row.channel]


async def test_two_hundred_concurrent_posts_make_one_customer_and_one_journey(
    client: httpx.AsyncClient, hub: Hub, peak_connections: list[int]
) -> None:
    responses = await post_all(client, one_new_customer_on_two_channels())

    assert {r.status_code for r in responses} == {201}
    state = await assert_ingest_invariants(hub)
    assert_one_customer_one_journey(state, [r.json() for r in responses])
    assert await count_events(hub, "customer.created") == 1
    assert await count_events(hub, "customer.merged") == 0
    assert await count_events(hub, "journey.opened") == 1
    assert await count_events(hub, "conversation.opened") == 2
    if is_postgres(hub):
        assert peak_connections[0] > 1, "the posts never overlapped on PostgreSQL"


async def test_identities_that_meet_under_load_end_as_one_live_customer(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    """100 posts with only the email, 100 with only the phone, 20 with both, all at once.

    Email and phone may first make two customers (nothing links them yet); a post with both
    then merges the newer into the older. Afterwards exactly one live customer holds both
    identities and all 220 messages; a merged-away customer holds nothing.
    """
    bodies = [message(f"e{n}", "web", email=EMAIL) for n in range(100)]
    bodies += [message(f"p{n}", "app", phone=PHONE) for n in range(100)]
    bodies += [message(f"b{n}", "app", email=EMAIL, phone=PHONE) for n in range(20)]
    bodies = [bodies[(n * 37) % len(bodies)] for n in range(len(bodies))]  # interleave, fixed
    assert len({b["external_id"] for b in bodies}) == 220

    responses = await post_all(client, bodies)

    assert {r.status_code for r in responses} == {201}
    state = await assert_ingest_invariants(hub)
    [live] = state.live_customers
    assert len(state.merged_customers) <= 1
    assert {(i.kind, i.value, i.customer_id) for i in state.identities} == {
        ("email", EMAIL, live),
        ("phone", PHONE, live),
    }
    assert len(state.inbound()) == 220
    assert {m.customer_id for m in state.inbound()} == {live}
    answered = {state.current(uuid.UUID(r.json()["customer_id"])) for r in responses}
    assert answered == {live}
    assert set(state.journeys.values()) == {live}
    assert len(state.journeys) == 1  # a merge folds the two open journeys into one
    assert await count_events(hub, "customer.merged") == len(state.merged_customers)


# --- two real processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(database_url: str, logs: Path, count: int) -> AsyncIterator[list[str]]:
    """Start ``count`` ``relaydesk serve`` processes on one database; yield their base URLs."""
    executable = Path(sys.executable).parent / "relaydesk"
    env = {**os.environ, "RELAYDESK_LOG_LEVEL": "warning"}
    processes: list[asyncio.subprocess.Process] = []
    urls: list[str] = []
    try:
        for n in range(count):
            port = free_port()
            log = (logs / f"serve-{n}.log").open("wb")
            processes.append(
                await asyncio.create_subprocess_exec(
                    str(executable),
                    "serve",
                    "--database-url",
                    database_url,
                    "--port",
                    str(port),
                    "--no-worker",
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            )
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(url, processes[-1], logs / f"serve-{n}.log")
            urls.append(url)
        yield urls
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_healthy(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                pytest.fail(f"relaydesk serve exited with {process.returncode}:\n{output}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    output = await asyncio.to_thread(log.read_text)
    pytest.fail(f"relaydesk serve did not answer on {url} within 60 s:\n{output}")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_take_two_hundred_posts_for_one_new_customer(
    database_url: str, hub: Hub, token: str, tmp_path: Path
) -> None:
    bodies = one_new_customer_on_two_channels()
    async with (
        serving(database_url, tmp_path, count=2) as urls,
        httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=httpx.Limits(max_connections=100),
        ) as http,
    ):
        responses = await asyncio.gather(
            *(http.post(f"{urls[n % 2]}/api/v1/messages", json=b) for n, b in enumerate(bodies))
        )
    failed = [(r.status_code, r.text) for r in responses if r.status_code != 201]
    assert not failed, f"{len(failed)} posts failed, e.g. {failed[:3]}"
    state = await assert_ingest_invariants(hub)
    assert_one_customer_one_journey(state, [r.json() for r in responses])
    assert await count_events(hub, "customer.created") == 1
    assert await count_events(hub, "journey.opened") == 1
