"""Streams through the hooks and through the a2wsgi bridge: kept streaming, and never
left running once nobody listens (client gone, or server shutting down)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import pytest
from support.server import ServerProcess, run_server, wait_for

from drum_bridge import create_app

from ..conftest import MakeDir, config_for

ENDLESS = """
import time
from flask import Response, stream_with_context

CLOSED = []

def init_app(app):
    @app.route("/stream")
    def stream():
        def ticks():
            try:
                while True:
                    yield b"tick\\n"
                    time.sleep(0.02)
            finally:
                CLOSED.append(1)
        return Response(stream_with_context(ticks()), mimetype="text/plain")

    @app.route("/closed")
    def closed():
        return {"closed": len(CLOSED)}
"""


@contextmanager
def streaming_server(make_model_dir: MakeDir, *args: str) -> Iterator[ServerProcess]:
    code_dir = make_model_dir(**{"custom_flask.py": ENDLESS})
    with run_server(code_dir.parent, "--code-dir", str(code_dir), "--target-type", "regression",
                    "--wsgi-threads", "2", *args) as server:
        assert server.first_answer().status_code == 200
        yield server


@contextmanager
def open_stream(server: ServerProcess) -> Iterator[socket.socket]:
    """A client reading /stream until it has seen it flow; the socket closes on exit."""
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    try:
        sock.sendall(f"GET /stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        seen = b""
        while seen.count(b"tick") < 3:
            chunk = sock.recv(4096)
            assert chunk, "the stream ended early"
            seen += chunk
        assert seen.startswith(b"HTTP/1.1 200")
        yield sock
    finally:
        sock.close()


def closed_count(server: ServerProcess) -> int:
    response = httpx.get(server.base_url + "/closed", timeout=5)
    assert response.status_code == 200
    return int(response.json()["closed"])


@pytest.mark.server
@pytest.mark.timeout(90)
def test_abandoned_streams_are_closed_and_free_their_threads(make_model_dir: MakeDir) -> None:
    with streaming_server(make_model_dir) as server:
        # Twice as many streams as threads: each must give its thread back once dropped.
        for opened in range(1, 5):
            with open_stream(server):
                pass
            wait_for(lambda n=opened: closed_count(server) >= n or None, f"{opened} closed streams", 10)
        assert closed_count(server) == 4


@pytest.mark.server
@pytest.mark.timeout(90)
def test_sigterm_ends_the_server_with_streams_open(make_model_dir: MakeDir) -> None:
    with streaming_server(make_model_dir, "--graceful-timeout", "1") as server:
        with open_stream(server) as first, open_stream(server) as second:
            started = time.monotonic()
            assert server.terminate(timeout=20) == 0
            assert time.monotonic() - started < 15
            for sock in (first, second):
                sock.settimeout(5)
                while sock.recv(65536):
                    pass  # the server ended the stream: the socket reaches EOF


STREAMING_ROUTE = """
import asyncio
from fastapi.responses import StreamingResponse

GATE = asyncio.Event()

def init_app(app):
    app.state.gate = GATE

    @app.get("/slow")
    async def slow():
        async def body():
            yield b"first"
            await GATE.wait()
            yield b"second"
        return StreamingResponse(body(), media_type="text/plain")
"""
AFTER_HOOK = """
def init_app(app):
    @app.after_request
    def stamp(response):
        response.headers["X-After"] = "yes"
        return response
"""


@pytest.mark.anyio
@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
async def test_after_request_leaves_fastapi_streams_unbuffered(make_model_dir: MakeDir, inline: bool) -> None:
    code_dir = make_model_dir(**{"custom_fastapi.py": STREAMING_ROUTE, "custom_flask.py": AFTER_HOOK})
    app = create_app(config_for(code_dir, load_all_extensions=True, flask_hooks_inline=inline))
    await app.drum_runtime.startup()
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message.get("body") == b"first":
            # The first chunk reached the client before the route produced the second:
            # nothing between them buffers the body.
            app.state.gate.set()

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/slow", "raw_path": b"/slow", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with anyio.fail_after(10):
        await app(scope, receive, send)
    start = messages[0]
    assert start["status"] == 200
    assert (b"x-after", b"yes") in start["headers"]
    bodies = [m["body"] for m in messages[1:] if m.get("body")]
    assert bodies == [b"first", b"second"]
