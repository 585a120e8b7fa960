"""Chat streams timed from the client side: time to first chunk and to ``[DONE]``.

wrk cannot time a first chunk, hence this client: raw sockets and asyncio from the standard
library, so that it adds little of its own to what it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from _harness import HOST
from procstat import parse_cpu_list

CHAT_BODY = json.dumps(
    {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go"}]}
).encode()




@dataclass(frozen=True)
class StreamSample:
    ok: bool
    ttfc_ms: float = math.nan
    total_ms: float = math.nan
    error: str = ""


async def one_stream(port: int, chunks: int, timeout: float) -> StreamSample:
    """POST one streaming chat request; time its first chunk and its ``[DONE]``."""
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(CHAT_BODY)}\r\n\r\n"
    ).encode() + CHAT_BODY
    started = time.perf_counter()
    deadline = started + timeout
    first = done = None
    seen = b""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        return StreamSample(False, error=f"connect: {exc!r}")
    try:
        writer.write(request)
        await writer.drain()
        while done is None:
            data = await asyncio.wait_for(reader.read(65536), max(0.001, deadline - time.perf_counter()))
            if not data:
                break
            now = time.perf_counter()
            seen += data
            if first is None and b"data: {" in seen:
                first = now
            if b"data: [DONE]\n\n" in seen:
                done = now
    except (OSError, asyncio.TimeoutError) as exc:
        return StreamSample(False, error=f"read: {exc!r}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not seen.startswith(b"HTTP/1.1 200"):
        return StreamSample(False, error=f"answer: {seen[:80]!r}")
    if first is None or done is None or seen.count(b"data: {") != chunks:
        return StreamSample(False, error=f"{seen.count(b'data: {')} chunks, done={done is not None}")
    return StreamSample(True, (first - started) * 1000, (done - started) * 1000)


async def burst(port: int, clients: int, chunks: int, timeout: float) -> list[StreamSample]:
    """``clients`` streams opened at once."""
    return list(await asyncio.gather(*(one_stream(port, chunks, timeout) for _ in range(clients))))


@contextlib.contextmanager
def pinned_to(cpus: str | None) -> Iterator[None]:
    """Run this process (the load generator) on ``cpus`` for a while."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, parse_cpu_list(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
