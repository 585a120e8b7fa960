"""custom_flask.py hooks never make the server read a body they do not ask for.

An auth hook that refuses a large upload answers at once, and the body is
neither read nor held; a hook that does read the body still leaves it whole
for the route.  Driven in-process with a ``receive`` that counts what was
pulled from the "client", and once against the real server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from support.model_dirs import X_AUTH_HOOK
from support.server import rss_kib, run_server, wait_for

from drum_bridge import create_app

from ..conftest import MakeDir, config_for

AUTH_HOOK = X_AUTH_HOOK + """
    @app.route("/upload", methods=["POST"])
    def upload():
        return {"size": len(request.get_data())}
"""
READING_HOOK = """
from flask import g, request

def init_app(app):
    @app.before_request
    def peek():
        g.seen = len(request.get_data())

    @app.after_request
    def tell(response):
        response.headers["X-Seen"] = str(g.get("seen"))
        return response
"""
CSV_ROWS = b"a,b\n" + b"1.0,2.0\n" * 20_000  # ~160 KB, sent in chunks of 16 KB


class Client:
    """An ASGI client whose body arrives in chunks, counting the chunks the app pulled."""

    def __init__(self, body: bytes, chunk: int) -> None:
        self.chunks = [body[i: i + chunk] for i in range(0, len(body), chunk)] or [b""]
        self.pulled = 0
        #: How many chunks the app had pulled when its answer started.
        self.pulled_at_answer: int | None = None

    async def receive(self) -> dict[str, Any]:
        if self.pulled < len(self.chunks):
            chunk = self.chunks[self.pulled]
            self.pulled += 1
            return {"type": "http.request", "body": chunk, "more_body": self.pulled < len(self.chunks)}
        await asyncio.sleep(3600)  # the client waits for the answer; nothing more to send
        raise AssertionError("unreachable")


async def _request(
    app: Any, client: Client, path: str, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            client.pulled_at_answer = client.pulled
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    await asyncio.wait_for(app(scope, client.receive, send), 30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def _sized(length: int, **extra: bytes) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"text/csv"), (b"content-length", str(length).encode())]
    return headers + [(name.encode(), value) for name, value in extra.items()]


@pytest.mark.anyio
@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
@pytest.mark.parametrize("path", ["/predict/", "/upload"], ids=["drum-route", "flask-route"])
async def test_a_refusing_hook_answers_without_reading_the_body(
    make_model_dir: MakeDir, inline: bool, path: str
) -> None:
    app = create_app(config_for(make_model_dir(**{"custom_flask.py": AUTH_HOOK}), flask_hooks_inline=inline))
    await app.drum_runtime.startup()
    try:
        big = Client(b"x" * (64 * 1024 * 1024), chunk=1024 * 1024)
        status, _, body = await _request(app, big, path, _sized(64 * 1024 * 1024))
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
        # Answered once the first chunk was read on the loop (the read-ahead of 64 KiB, met by a
        # chunk of 1 MB): nobody read further for a hook that did not ask.
        assert big.pulled_at_answer == (1 if path == "/predict/" else 0)
        if path == "/predict/":
            assert big.pulled == 1
        # (Once its answer is out, the Flask route's mount reads on to see the client go,
        # discarding what it reads, as the server would.)
    finally:
        await app.drum_runtime.shutdown()


@pytest.mark.anyio
@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_what_a_hook_reads_reaches_the_route_whole(
    make_model_dir: MakeDir, inline: bool, chunked: bool
) -> None:
    app = create_app(config_for(make_model_dir(**{"custom_flask.py": READING_HOOK}), flask_hooks_inline=inline))
    await app.drum_runtime.startup()
    try:
        client = Client(CSV_ROWS, chunk=16 * 1024)
        headers = ([(b"content-type", b"text/csv"), (b"transfer-encoding", b"chunked")] if chunked
                   else _sized(len(CSV_ROWS)))
        status, response_headers, body = await _request(app, client, "/predict/", headers)
        assert status == 200, body
        assert response_headers[b"x-seen"] == str(len(CSV_ROWS)).encode()
        predictions = json.loads(body)["predictions"]
        assert len(predictions) == 20_000 and predictions[0] == pytest.approx(3.0)
    finally:
        await app.drum_runtime.shutdown()


@pytest.mark.anyio
async def test_a_hook_reading_past_the_body_limit_gets_413(make_model_dir: MakeDir) -> None:
    app = create_app(config_for(make_model_dir(**{"custom_flask.py": READING_HOOK}), max_body_size=64 * 1024))
    await app.drum_runtime.startup()
    try:
        client = Client(CSV_ROWS, chunk=16 * 1024)
        chunked = [(b"content-type", b"text/csv"), (b"transfer-encoding", b"chunked")]
        status, _, body = await _request(app, client, "/predict/", chunked)
        assert status == 413
        assert json.loads(body)["message"].startswith(
            "ERROR: 413 Request Entity Too Large: Request body is larger than the limit of 65536 bytes"
        )
        assert client.pulled == 5  # four chunks fit, the fifth passes the limit: no more read
        small = Client(b"a,b\n1,2\n", chunk=1024)
        status, _, body = await _request(app, small, "/predict/", _sized(8))
        assert status == 200, body
    finally:
        await app.drum_runtime.shutdown()


@pytest.mark.server
def test_an_unauthenticated_512_mb_upload_is_refused_before_it_is_sent(
    tmp_path: Path, make_model_dir: MakeDir
) -> None:
    code_dir = make_model_dir(**{"custom_flask.py": AUTH_HOOK})
    declared = 512 * 1024 * 1024
    with run_server(tmp_path, "--code-dir", str(code_dir), "--target-type", "regression",
                    "--max-body-size", "0", "--logging-level", "warning") as server:
        assert server.first_answer().status_code == 200
        idle_kb = rss_kib(server.process.pid)
        host, port = server.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Content-Length: %d\r\n\r\n" % declared)
            # The answer comes once the first MB is sent (hooks run after a read-ahead of 64 KiB).
            sock.sendall(b"x" * (1024 * 1024))
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 401 "), answer
            # Keep sending (bounded: 64 MB, 10 s): the server reads it only to discard it.
            sent = 0
            deadline = time.monotonic() + 10
            chunk = b"x" * (1024 * 1024)
            try:
                while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the server may close the connection: then nothing is held either
        grown_kb = rss_kib(server.process.pid) - idle_kb
        assert grown_kb < 50 * 1024, f"RSS grew by {grown_kb} KB after {sent} bytes"
        assert wait_for(lambda: server.first_answer().status_code or None, "/ping/", 10) == 200


class TricklingClient:
    """A client that sends a small body one byte at a time, ``pause`` seconds apart."""

    def __init__(self, body: bytes, pause: float) -> None:
        self.body, self.pause, self.sent = body, pause, 0
        self.pulled = 0
        self.pulled_at_answer: int | None = None

    async def receive(self) -> dict[str, Any]:
        if self.sent < len(self.body):
            await asyncio.sleep(self.pause)
            self.sent += 1
            self.pulled += 1
            return {"type": "http.request", "body": self.body[self.sent - 1: self.sent],
                    "more_body": self.sent < len(self.body)}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


@pytest.mark.anyio
async def test_a_trickling_body_holds_no_hook_thread(make_model_dir: MakeDir) -> None:
    """With one hook thread, a client trickling its body to a hook that reads it does not
    keep other requests' hooks waiting: the event loop reads the body, not the thread."""
    app = create_app(config_for(make_model_dir(**{"custom_flask.py": READING_HOOK}), flask_hook_threads=1))
    await app.drum_runtime.startup()
    try:
        slow = TricklingClient(b"a,b\n1,2\n", pause=0.3)  # 8 bytes over 2.4 s
        trickling = asyncio.ensure_future(_request(app, slow, "/predict/", _sized(8)))  # type: ignore[arg-type]
        await asyncio.sleep(0.5)
        start = time.monotonic()
        status, headers, _ = await _request(app, Client(b"a,b\n1,2\n", chunk=1024), "/predict/", _sized(8))
        quick = time.monotonic() - start
        assert (status, headers[b"x-seen"]) == (200, b"8")
        assert not trickling.done()
        assert quick < 1.0, f"the second request waited {quick:.2f} s behind the trickling one"
        status, headers, _ = await trickling
        assert (status, headers[b"x-seen"]) == (200, b"8")
    finally:
        await app.drum_runtime.shutdown()
