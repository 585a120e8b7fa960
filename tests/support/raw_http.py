"""A raw HTTP/1.1 client over asyncio sockets: one request per connection, sent as written.

No client library tidies a method, path or header up first, so tests can send what a hostile
client would, and see how the connection ended when no response came.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field

from .server import ServerProcess

__all__ = ["ANSWER_TIMEOUT", "Answer", "exchange", "parse_answer", "port_of", "request_bytes"]

ANSWER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Answer:
    """What came back on one connection: a response, or how the connection ended without one."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    #: ``None`` for a response; else "closed" (EOF before a status line), "reset" or "timeout".
    failure: str | None = None

    def json(self) -> object:
        return json.loads(self.body)


def request_bytes(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method.upper() in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_answer(data: bytes, seconds: float) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})", status_line)
    if not match:
        return Answer(None, seconds=seconds, failure=f"no status line: {status_line[:80]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(match.group(1)), headers, body, seconds)


async def exchange(port: int, request: bytes, timeout: float = ANSWER_TIMEOUT) -> Answer:
    """Send ``request`` whole on a new connection, then read until the server closes it."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout
        )
    except (OSError, asyncio.TimeoutError) as exc:
        return Answer(None, seconds=time.monotonic() - started, failure=f"connect: {exc!r}")
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return Answer(None, seconds=time.monotonic() - started, failure="reset")
    except asyncio.TimeoutError:
        return Answer(None, seconds=time.monotonic() - started, failure="timeout")
    finally:
        writer.close()
    seconds = time.monotonic() - started
    if not data:
        return Answer(None, seconds=seconds, failure="closed")
    return parse_answer(data, seconds)


def port_of(server: ServerProcess) -> int:
    return int(server.base_url.rsplit(":", 1)[1])
