"""Open-loop load: requests sent at a fixed arrival rate, latency timed from when each was due.

Closed-loop load (wrk) sends the next request on a connection only when the previous answer
came back, so a slow server is offered less load and its queueing never shows in the
latency (coordinated omission). Here request ``i`` is due at ``start + i / rate`` whatever
happened before; its latency runs from that instant to the end of its answer, so time spent
waiting in a queue (the server's, the kernel's, or this client's when every connection is
busy) counts. wrk2 does this but is not packaged in Debian; wrk with a Lua ``delay()`` is
still closed-loop per connection and times from the actual send, hiding exactly that
queueing. So this is a small asyncio client of our own, honest about its own limits: it
reports how late it dispatched requests (``dispatch_lag_p99_ms``) and marks a run
``client_bound`` when it could not keep to the schedule, since then the latency is partly
its own.

HTTP/1.1 with keep-alive, one request in flight per connection, a new connection when none
is idle (up to ``--max-connections``, beyond which requests wait for one, still timed from
their due time). A server that closes after each answer (DRUM's gunicorn: keep-alive 0) gets
a new connection per request, as real clients would.

Run as a script (the runner pins it to the load CPUs with taskset); it prints one JSON object::

    python benchmarks/openloop.py --url http://127.0.0.1:8080/ping/ --rate 500 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Dispatch lag (p99) above which the client, not the server, set the pace.
CLIENT_BOUND_LAG_MS = 2.0


@dataclass
class OpenLoopResult:
    target_rate: float
    duration_s: float
    sent: int = 0
    ok: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0
    achieved_rps: float = 0.0
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    dispatch_lag_p99_ms: float = math.nan
    max_connections_used: int = 0
    client_bound: bool = False
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors + self.timeouts

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        del document["latencies_ms"]
        return {**document, "errors": self.errors}


def _percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight."""

    def __init__(self, generator: _Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.due: float | None = None
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def send(self, due: float) -> None:
        assert self.transport is not None
        self.due = due
        self.buffer.clear()
        self.transport.write(self.generator.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.due is None:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").lower()
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        body = len(self.buffer) - end - 4
        if "content-length" in headers:
            if body < int(headers["content-length"]):
                return
        elif "chunked" in headers.get("transfer-encoding", ""):
            if not self.buffer.endswith(b"0\r\n\r\n"):
                return
        elif status not in (204, 304):
            return  # delimited by the server closing: connection_lost completes it
        self.keep_alive = "close" not in headers.get("connection", "")
        self._complete(status)

    def _complete(self, status: int | None) -> None:
        due, self.due = self.due, None
        if due is not None:
            self.generator.completed(self, due, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.keep_alive = False
        if self.due is not None:
            end = self.buffer.find(b"\r\n\r\n")
            status = int(bytes(self.buffer[:end]).split()[1]) if end > 0 else None
            self._complete(status)
        self.generator.closed(self)


class _Generator:
    def __init__(self, url: str, rate: float, duration: float, request: bytes, max_conns: int) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80
        self.rate = rate
        self.total = max(1, int(rate * duration))
        self.request = request
        self.max_conns = max_conns
        self.idle: list[_Connection] = []
        self.waiting: collections.deque[float] = collections.deque()
        self.open = 0
        self.peak_open = 0
        self.outstanding = 0
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.statuses: collections.Counter[int | None] = collections.Counter()
        self.first_due = 0.0
        self.last_done = 0.0
        self.all_done = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def dispatch(self, due: float) -> None:
        self.outstanding += 1
        self.lags.append(time.perf_counter() - due)
        if self.idle:
            self.idle.pop().send(due)
        elif self.open < self.max_conns:
            self._connect(due)
        else:
            self.waiting.append(due)

    def _connect(self, due: float) -> None:
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        self.loop.create_task(self._open_and_send(due))

    async def _open_and_send(self, due: float) -> None:
        try:
            _, connection = await self.loop.create_connection(
                lambda: _Connection(self), self.host, self.port
            )
        except OSError:
            self.open -= 1
            self._finish(due, None)
            return
        connection.send(due)

    def completed(self, connection: _Connection, due: float, status: int | None) -> None:
        self._finish(due, status)
        if connection.keep_alive and connection.transport and not connection.transport.is_closing():
            if self.waiting:
                connection.send(self.waiting.popleft())
            else:
                self.idle.append(connection)
        elif connection.transport is not None:
            connection.transport.close()

    def closed(self, connection: _Connection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)
        self.open -= 1
        if self.waiting and self.open < self.max_conns:
            self._connect(self.waiting.popleft())

    def _finish(self, due: float, status: int | None) -> None:
        now = time.perf_counter()
        self.statuses[status] += 1
        if status is not None and 200 <= status < 400:
            self.latencies.append((now - due) * 1000)
        self.last_done = now
        self.outstanding -= 1
        if self.outstanding == 0:
            self.all_done.set()

    async def run(self, timeout: float) -> None:
        start = time.perf_counter() + 0.05
        self.first_due = start
        for index in range(self.total):
            due = start + index / self.rate
            # The loop's timers tick in whole milliseconds (libuv): sleep until 1 ms before
            # the due time, then yield (answers keep coming in) until it is there.
            delay = due - time.perf_counter()
            if delay > 0.0015:
                await asyncio.sleep(delay - 0.001)
            while due - time.perf_counter() > 0:
                await asyncio.sleep(0)
            if index % 64 == 0:
                await asyncio.sleep(0)  # behind schedule: still let answers in
            self.dispatch(due)
        if self.outstanding:
            self.all_done.clear()
            try:
                await asyncio.wait_for(self.all_done.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        for connection in self.idle:
            if connection.transport is not None:
                connection.transport.close()


async def run_open_loop(
    url: str,
    rate: float,
    duration: float,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    max_connections: int = 512,
    timeout: float = 10.0,
) -> OpenLoopResult:
    """Send ``rate`` requests a second for ``duration`` seconds; return what came back."""
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    head = [f"{method} {path or '/'} HTTP/1.1", f"Host: {parsed.netloc}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    generator = _Generator(url, rate, duration, request, max_connections)
    await generator.run(timeout)
    result = OpenLoopResult(target_rate=rate, duration_s=duration, sent=generator.total)
    result.ok = sum(n for s, n in generator.statuses.items() if s is not None and 200 <= s < 400)
    result.non_2xx = sum(n for s, n in generator.statuses.items() if s is not None) - result.ok
    result.socket_errors = generator.statuses[None]
    result.timeouts = generator.outstanding
    span = generator.last_done - generator.first_due
    result.achieved_rps = result.ok / span if span > 0 else 0.0
    ordered = sorted(generator.latencies)
    result.latencies_ms = ordered
    result.p50_ms, result.p90_ms, result.p99_ms = (_percentile(ordered, p) for p in (50, 90, 99))
    result.max_ms = ordered[-1] if ordered else math.nan
    result.dispatch_lag_p99_ms = _percentile(sorted(generator.lags), 99) * 1000
    result.max_connections_used = generator.peak_open
    result.client_bound = result.dispatch_lag_p99_ms > CLIENT_BOUND_LAG_MS
    return result


def _event_loop_policy() -> None:
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--url", required=True)
    add("--rate", type=float, required=True, help="requests per second")
    add("--duration", type=float, required=True, help="seconds of arrivals")
    add("--method", default="GET")
    add("--body-file", type=Path, help="request body")
    add("--header", action="append", default=[], metavar="NAME:VALUE")
    add("--max-connections", type=int, default=512)
    add("--timeout", type=float, default=10.0, help="seconds to wait for the last answers")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be > 0")
    headers = dict(h.split(":", 1) for h in args.header)
    body = args.body_file.read_bytes() if args.body_file else b""
    _event_loop_policy()
    started = time.monotonic()
    result = asyncio.run(
        run_open_loop(
            args.url, args.rate, args.duration, args.method, body,
            {k.strip(): v.strip() for k, v in headers.items()}, args.max_connections, args.timeout,
        )
    )
    document = {**result.as_dict(), "wall_s": round(time.monotonic() - started, 3)}
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
