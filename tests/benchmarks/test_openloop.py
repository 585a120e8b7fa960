"""The open-loop generator times each request from when it was due, so queueing shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from openloop import run_open_loop

SERVICE_S = 0.02  # the test server answers one request at a time, 20 ms each: 50 req/s


@asynccontextmanager
async def serial_server(status: int = 200) -> AsyncIterator[str]:
    """A keep-alive HTTP server on 127.0.0.1 that serves one request at a time."""
    lock = asyncio.Lock()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                async with lock:
                    await asyncio.sleep(SERVICE_S)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/ping/"
    finally:
        server.close()
        await server.wait_closed()


def test_below_capacity_the_latency_is_the_service_time() -> None:
    async def main() -> None:
        async with serial_server() as url:
            result = await run_open_loop(url, rate=20, duration=0.5, timeout=5)
        assert (result.sent, result.ok, result.errors) == (10, 10, 0)
        assert SERVICE_S * 1000 <= result.p50_ms < 200

    asyncio.run(main())


def test_above_capacity_the_queue_shows_in_the_latency() -> None:
    # 100 req/s offered to a 50 req/s server for 0.5 s: the 50th request is due at 0.49 s
    # but answered near 1.0 s. A closed-loop client would time every request at ~20 ms
    # of service plus its own connection's wait, never the missed schedule.
    async def main() -> None:
        async with serial_server() as url:
            result = await run_open_loop(url, rate=100, duration=0.5, timeout=5)
        assert result.ok == 50 and result.errors == 0
        assert result.max_ms > 350
        assert result.achieved_rps < 75

    asyncio.run(main())


def test_a_request_waiting_for_a_free_connection_is_timed_from_its_due_time() -> None:
    # One connection: the requests queue in the client. Timed from their send, each would
    # take 20 ms; timed from when they were due, the last waited about half a second.
    async def main() -> None:
        async with serial_server() as url:
            result = await run_open_loop(url, rate=100, duration=0.5, max_connections=1, timeout=5)
        assert result.ok == 50 and result.max_connections_used == 1
        assert result.max_ms > 350

    asyncio.run(main())


def test_error_answers_and_refused_connections_are_counted() -> None:
    async def main() -> None:
        async with serial_server(status=500) as url:
            result = await run_open_loop(url, rate=20, duration=0.25, timeout=5)
        assert (result.ok, result.non_2xx) == (0, 5)
        # The server is gone: every connection is refused.
        refused = await run_open_loop(url, rate=20, duration=0.25, timeout=5)
        assert (refused.ok, refused.socket_errors) == (0, 5)

    asyncio.run(main())
