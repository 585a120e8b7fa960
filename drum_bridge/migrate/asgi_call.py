"""One request sent straight to an ASGI app, in process: no client library, no socket.

The path is sent as a server would (``path`` percent-decoded, ``raw_path`` as
sent), so that no client tidies a spelling up before the app sees it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message

__all__ = ["Answer", "asgi_call"]

HOST = b"127.0.0.1:8080"


@dataclass(frozen=True)
class Answer:
    status: int
    #: Header names in lower case; repeated headers joined with ", ".
    headers: dict[str, str]
    body: bytes


async def asgi_call(app: ASGIApp, method: str, target: str, headers: tuple[tuple[str, str], ...]) -> Answer:
    path, _, query = target.partition("?")
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": unquote(path), "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"), "root_path": "",
        "headers": [(b"host", HOST), *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
    }
    request_sent = False
    finished = asyncio.Event()
    status = 0
    answer_headers: dict[str, str] = {}
    body = bytearray()

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", ()):
                key, text = bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1")
                answer_headers[key] = f"{answer_headers[key]}, {text}" if key in answer_headers else text
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    except Exception:
        # Starlette answers 500 and then raises, for the server to log: keep what it answered;
        # an app that failed before answering gets what uvicorn answers.
        if not status:
            return Answer(500, {"content-type": "text/plain; charset=utf-8"}, b"Internal Server Error")
    finally:
        finished.set()
    return Answer(status, answer_headers, bytes(body))
