"""A small, fast HTTP/1.1 load generator for the benchmarks (asyncio protocols on uvloop).

Why not httpx: on a 2-core machine a high-level Python client costs more CPU per request
than the server under test and would cap both the ceiling and the product. Here every
request is encoded before the clock starts, connections are kept alive, and a response is
read by finding the end of the headers, the status code and ``Content-Length`` — nothing
more. The same generator drives every server in a benchmark, so the figures compare.

Two modes:

- ``closed_loop``: N connections, each sends its next request as soon as the previous
  response arrived (throughput under a fixed number of concurrent clients).
- ``open_loop``: requests are *scheduled* at a fixed rate, whatever the server does; a
  request's latency is measured from when it was due, so a stalled server shows up in the
  percentiles (no coordinated omission).

Every response's status is checked against the expected one; anything else (another
status, a closed connection, a malformed response) counts as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"
_CONNECTION_CLOSE = b"\r\nconnection: close"


def build_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One complete, pre-encoded keep-alive POST request."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ProtocolError(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._need = -1  # total bytes of the current response, once the headers are in
        self._status = 0
        self._header_len = 0
        self.closed = False
        self.closing = False
        """The last response said ``Connection: close``: do not send on it again."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ProtocolError(f"connection closed: {exc}"))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        if self.closed or self.transport is None:
            raise ProtocolError("connection closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._need = -1
        assert self.transport is not None
        self.transport.write(data)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        if self._need < 0:
            end = buf.find(_HEADER_END)
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            try:
                self._status = int(head[9:12])
            except ValueError:
                self._fail(f"bad status line: {head[:40]!r}")
                return
            at = head.find(_CONTENT_LENGTH)
            if at < 0:
                self._fail("response without content-length")
                return
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + len(_CONTENT_LENGTH) : stop if stop >= 0 else None])
            self.closing = _CONNECTION_CLOSE in head
            self._header_len = end + 4
            self._need = self._header_len + length
        if len(buf) < self._need:
            return
        if len(buf) > self._need:
            self._fail("more bytes than the response announced")
            return
        body = bytes(buf[self._header_len :])
        buf.clear()
        self._need = -1
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, body))

    def _fail(self, why: str) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ProtocolError(why))
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(host: str, port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(_Connection, host, port)
    return protocol


@dataclass
class LoadResult:
    """What one load run saw. Latencies are in seconds, one per completed request."""

    label: str
    sent: int = 0
    ok: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    """Client CPU seconds (user + system) spent during the run."""
    target_rate: float | None = None
    first_error: str | None = None

    @property
    def errors(self) -> int:
        return self.sent - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    @property
    def client_busy(self) -> float:
        """Share of one core the load generator used."""
        return self.client_cpu / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[min(len(ordered), int(rank)) - 1]


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def _send(
    conn: _Connection, data: bytes, expect: int, result: LoadResult
) -> _Connection | None:
    """Send one request; returns the connection if it can be reused."""
    result.sent += 1
    try:
        status, _body = await conn.request(data)
    except (ProtocolError, OSError) as exc:
        result.statuses[type(exc).__name__] += 1
        result.first_error = result.first_error or str(exc)
        conn.close()
        return None
    result.statuses[str(status)] += 1
    if status == expect:
        result.ok += 1
    elif result.first_error is None:
        result.first_error = f"HTTP {status}: {_body[:300]!r}"
    if conn.closing:
        conn.close()
        return None
    return conn


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    expect: int,
    label: str,
) -> LoadResult:
    """Each of ``concurrency`` clients sends its next request when its last one answered."""
    result = LoadResult(label)
    conns = [await _connect(host, port) for _ in range(concurrency)]
    todo: Iterator[bytes] = iter(requests)
    perf = time.perf_counter

    async def client(conn: _Connection | None) -> None:
        for data in todo:
            if conn is None or conn.closed:
                conn = await _connect(host, port)
            started = perf()
            conn = await _send(conn, data, expect, result)
            result.latencies.append(perf() - started)
        if conn is not None:
            conn.close()

    cpu0, t0 = _cpu_seconds(), perf()
    await asyncio.gather(*(client(c) for c in conns))
    result.elapsed = perf() - t0
    result.client_cpu = _cpu_seconds() - cpu0
    return result


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    rate: float,
    concurrency: int,
    expect: int,
    label: str,
) -> LoadResult:
    """Send request i at ``start + i / rate`` on any idle connection; latency counts from then.

    When every connection is busy a due request waits for one, and that wait is part of its
    latency, as it would be for a real caller.
    """
    result = LoadResult(label, target_rate=rate)
    # Idle connections are reused last-in first-out, so at a low rate a few stay busy and the
    # rest sit idle; one the server closed meanwhile (keep-alive timeout) is replaced before
    # use instead of failing a request.
    idle: list[_Connection | None] = [await _connect(host, port) for _ in range(concurrency)]
    available = asyncio.Semaphore(concurrency)
    perf = time.perf_counter
    pending: set[asyncio.Task[None]] = set()

    async def one(conn: _Connection | None, data: bytes, due: float) -> None:
        try:
            if conn is None or conn.closed:
                conn = await _connect(host, port)
            reused = await _send(conn, data, expect, result)
            result.latencies.append(perf() - due)
            idle.append(reused)
        finally:
            available.release()

    cpu0, t0 = _cpu_seconds(), perf()
    interval = 1.0 / rate
    for i, data in enumerate(requests):
        due = t0 + i * interval
        delay = due - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        await available.acquire()
        task = asyncio.create_task(one(idle.pop() if idle else None, data, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    result.elapsed = perf() - t0
    result.client_cpu = _cpu_seconds() - cpu0
    for conn in idle:
        if conn is not None:
            conn.close()
    return result


def run(coro: object) -> object:
    """Run a coroutine on uvloop (the same loop as the servers) when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


# --- processes, ports and CPU accounting ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, *, timeout: float, proc: object | None = None) -> None:
    """Poll ``url`` until it answers 200; fail early if ``proc`` (a Popen) exited."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:  # type: ignore[attr-defined]
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")  # type: ignore[attr-defined]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s: {last}")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return float(total - idle), float(total)


@contextlib.contextmanager
def cpu_meter(pid: int | None) -> Iterator[dict[str, float]]:
    """Measure the server's CPU seconds and the machine's busy share over a block."""
    out: dict[str, float] = {}
    s0 = process_cpu_seconds(pid) if pid else 0.0
    b0, t0 = machine_cpu()
    w0 = time.perf_counter()
    yield out
    wall = time.perf_counter() - w0
    b1, t1 = machine_cpu()
    out["server_cpu"] = (process_cpu_seconds(pid) - s0) if pid else float("nan")
    out["server_busy"] = out["server_cpu"] / wall if wall else float("nan")
    out["machine_busy"] = (b1 - b0) / (t1 - t0) if t1 > t0 else float("nan")
    out["wall"] = wall


def machine_busy_share(seconds: float) -> float:
    """Share of all cores busy over the next ``seconds``."""
    b0, t0 = machine_cpu()
    time.sleep(seconds)
    b1, t1 = machine_cpu()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def wait_quiet(*, threshold: float = 0.10, timeout: float = 120.0) -> tuple[float, float]:
    """Wait until the machine is idle (other work would skew a benchmark).

    Returns (seconds waited, busy share last seen); gives up after ``timeout``.
    """
    t0 = time.monotonic()
    busy = machine_busy_share(1.0)
    while busy > threshold and time.monotonic() - t0 < timeout:
        busy = machine_busy_share(2.0)
    return time.monotonic() - t0, busy


def pin_current(cores: set[int]) -> bool:
    try:
        os.sched_setaffinity(0, cores)
    except (AttributeError, OSError, ValueError):
        return False
    return True


def pinned_preexec(cores: set[int] | None) -> object | None:
    """A ``preexec_fn`` that pins the child (and every thread it starts) to ``cores``."""
    if not cores:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cores)

    return pin
