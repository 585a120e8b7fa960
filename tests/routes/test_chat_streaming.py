"""Chat streams, called as a server calls the app (ASGI messages, times taken as they
arrive): each chunk is sent as soon as it is produced, a client that goes away stops the
iterator (its ``finally`` runs, no model thread stays busy), a chunk that takes longer than
the request timeout ends the stream, and the extension hooks guard the chat routes without
buffering their streams."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from support.contract import sse_events
from support.model_dirs import write_custom_py
from support.server import wait_for

from drum_bridge import Config, TargetType, create_app

pytest.importorskip("openai")

CHUNKS = """\
import asyncio
import threading
import time
from pathlib import Path

from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

HERE = Path(__file__).parent


def load_model(code_dir):
    return "streams"


def chunk(content):
    return ChatCompletionChunk(id="s", created=1, model="m", object="chat.completion.chunk",
                               choices=[Choice(index=0, delta=ChoiceDelta(content=content),
                                               finish_reason=None)])


def closed(how):
    (HERE / "closed").write_text(how + " " + threading.current_thread().name)
"""
SYNC_STREAMS = CHUNKS + """

class Upstream:
    \"\"\"Shaped like the openai client's Stream: an iterator whose close() ends the upstream
    call, and whose __iter__ is a generator of its own (closing that one closes nothing).\"\"\"

    def __init__(self):
        self._chunks = self._receive()

    def _receive(self):
        while True:
            time.sleep(0.02)
            yield chunk("tick")

    def __next__(self):
        return next(self._chunks)

    def __iter__(self):
        yield from self._chunks

    def close(self):
        closed("upstream")


def chat(completion_create_params, model, **kwargs):
    text = completion_create_params["messages"][-1]["content"]

    def slow():  # three chunks 200 ms apart, each saying when it was produced
        for i in range(3):
            if i:
                time.sleep(0.2)
            yield chunk(repr(time.monotonic()))

    def endless():
        try:
            while True:
                yield chunk("tick")
                time.sleep(0.02)
        finally:
            closed("endless")

    def stuck():  # the second chunk takes longer than the request timeout
        try:
            yield chunk("first")
            time.sleep(1)
            yield chunk("late")
        finally:
            closed("stuck")

    def gated():  # the second chunk waits until the client has seen the first one
        yield chunk("first")
        deadline = time.monotonic() + 5
        while not (HERE / "seen").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        yield chunk("second" if (HERE / "seen").exists() else "timed out")

    return {"slow": slow, "endless": endless, "stuck": stuck, "gated": gated, "proxy": Upstream}[text]()
"""
ASYNC_STREAMS = CHUNKS + """

class Upstream:
    \"\"\"Shaped like the openai client's AsyncStream: its close() is a coroutine.\"\"\"

    def __init__(self):
        self._chunks = self._receive()

    async def _receive(self):
        while True:
            await asyncio.sleep(0.02)
            yield chunk("tick")

    async def __anext__(self):
        return await self._chunks.__anext__()

    async def __aiter__(self):
        async for item in self._chunks:
            yield item

    async def close(self):
        closed("upstream")


async def chat(completion_create_params, model, **kwargs):
    text = completion_create_params["messages"][-1]["content"]

    async def slow():
        for i in range(3):
            if i:
                await asyncio.sleep(0.2)
            yield chunk(repr(time.monotonic()))

    async def endless():
        try:
            while True:
                yield chunk("tick")
                await asyncio.sleep(0.02)
        finally:
            closed("endless")

    return {"slow": slow, "endless": endless, "proxy": Upstream}[text]()
"""
Sent = list[tuple[float, dict[str, Any]]]


def chat_scope(path: str = "/v1/chat/completions", headers: Sequence[tuple[bytes, bytes]] = ()) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
    }


async def stream(
    app: FastAPI, text: str, *, leave_when: Callable[[Sent], bool] = lambda sent: False,
    on_send: Callable[[Sent], None] = lambda sent: None, headers: Sequence[tuple[bytes, bytes]] = (),
) -> Sent:
    """POST a streaming chat request; what the app sent, with arrival times.

    The client goes away (``http.disconnect``) once ``leave_when(sent)`` holds.
    """
    body = json.dumps({"model": "m", "stream": True,
                       "messages": [{"role": "user", "content": text}]}).encode()
    sent: Sent = []
    left = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append((time.monotonic(), message))
        on_send(sent)
        if leave_when(sent):
            left.set()

    with anyio.fail_after(10):
        await app(chat_scope(headers=headers), receive, send)
    return sent


def bodies(sent: Sent) -> list[bytes]:
    return [m["body"] for _, m in sent if m["type"] == "http.response.body" and m.get("body")]


def events(sent: Sent) -> list[dict[str, str]]:
    return sse_events(b"".join(bodies(sent)).decode())


def contents(sent: Sent) -> list[str]:
    return [json.loads(e["data"])["choices"][0]["delta"]["content"] for e in events(sent)
            if e["data"] != "[DONE]" and "event" not in e]


def ticks(sent: Sent) -> int:
    return sum(body.count(b'"tick"') for body in bodies(sent))


@asynccontextmanager
async def started(code_dir: Path, **settings: Any) -> AsyncIterator[FastAPI]:
    app = create_app(Config(code_dir=code_dir, target_type=TargetType.TEXT_GENERATION,
                            target_name="completion", **settings))
    await app.drum_runtime.startup()
    try:
        yield app
    finally:
        await app.drum_runtime.shutdown()


def read_closed(code_dir: Path) -> str | None:
    path = code_dir / "closed"
    return path.read_text() if path.exists() else None


@pytest.mark.anyio
@pytest.mark.parametrize("source", [SYNC_STREAMS, ASYNC_STREAMS], ids=["sync", "async"])
async def test_each_chunk_is_sent_as_soon_as_it_is_produced(tmp_path: Path, source: str) -> None:
    async with started(write_custom_py(tmp_path, source)) as app:
        sent = await stream(app, "slow")

    start = sent[0][1]
    assert start["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    produced = [float(c) for c in contents(sent)]
    assert len(produced) == 3
    first_arrival = next(at for at, m in sent if m.get("body", b"").startswith(b"data: {"))
    # The first chunk reached the client while the model was still producing the others.
    assert first_arrival < produced[-1] - 0.2
    assert events(sent)[-1] == {"data": "[DONE]"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("source", "text", "thread"),
    [
        (SYNC_STREAMS, "endless", "drum-model-"),
        (ASYNC_STREAMS, "endless", ""),
        (SYNC_STREAMS, "proxy", "drum-model-"),
        (ASYNC_STREAMS, "proxy", ""),
    ],
    ids=["sync-generator", "async-generator", "sync-upstream", "async-upstream"],
)
async def test_a_client_going_away_stops_the_stream(
    tmp_path: Path, source: str, text: str, thread: str
) -> None:
    code_dir = write_custom_py(tmp_path, source)
    async with started(code_dir) as app:
        sent = await stream(app, text, leave_when=lambda sent: ticks(sent) >= 3)

        # The iterator was closed (a generator's finally ran, an upstream's close() was
        # called) before the app returned, and no model thread is left producing chunks
        # for nobody.
        how = read_closed(code_dir)
        assert how is not None and how.startswith("endless" if text == "endless" else "upstream")
        if thread:
            assert how.split()[1].startswith(thread)
        assert app.drum_runtime.executor.busy == 0
        assert app.drum_runtime.executor.waiting == 0
    assert 3 <= ticks(sent) <= 4
    assert not any(body.endswith(b"data: [DONE]\n\n") for body in bodies(sent))


@pytest.mark.anyio
async def test_a_chunk_past_the_request_timeout_ends_the_stream_with_an_error(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path, SYNC_STREAMS)
    async with started(code_dir, request_timeout=0.3) as app:
        started_at = time.monotonic()
        sent = await stream(app, "stuck")

        assert time.monotonic() - started_at < 0.9  # released at the deadline, not after the chunk
        assert contents(sent) == ["first"]
        last = events(sent)[-1]
        assert last["event"] == "error"
        assert json.loads(last["data"])["error"]["code"] == 504
        # The chunk still in production is waited for in its thread, then the generator closes.
        assert wait_for(lambda: read_closed(code_dir), "the generator's finally", 5).startswith("stuck")
        wait_for(lambda: app.drum_runtime.executor.busy == 0 or None, "a free model thread", 5)


AFTER_HOOK = """\
def init_app(app):
    @app.after_request
    def stamp(response):
        response.headers["X-After"] = response.headers.get("Content-Type", "none")
        return response
"""
FLASK_AUTH = """\
from flask import request


def init_app(app):
    @app.before_request
    def auth():
        if request.headers.get("X-Auth-Token") != "secret":
            return {"message": "no token"}, 401
"""
FASTAPI_AUTH = """\
from starlette.responses import JSONResponse


def init_app(app):
    @app.middleware("http")
    async def auth(request, call_next):
        if request.headers.get("x-auth-token") != "secret":
            return JSONResponse({"message": "no token"}, status_code=401)
        return await call_next(request)
"""


@pytest.mark.anyio
@pytest.mark.parametrize("inline", [False, True], ids=["threaded", "inline"])
async def test_after_request_hooks_see_the_stream_and_do_not_buffer_it(tmp_path: Path, inline: bool) -> None:
    code_dir = write_custom_py(tmp_path, SYNC_STREAMS)
    (code_dir / "custom_flask.py").write_text(AFTER_HOOK)

    def on_send(sent: Sent) -> None:
        if b'"first"' in b"".join(bodies(sent)):
            (code_dir / "seen").touch()  # the model may now produce the second chunk

    async with started(code_dir, flask_hooks_inline=inline) as app:
        sent = await stream(app, "gated", on_send=on_send)

    headers = dict(sent[0][1]["headers"])
    assert headers[b"x-after"] == b"text/event-stream; charset=utf-8"
    # The second chunk could only be produced once the first had reached the client.
    assert contents(sent) == ["first", "second"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("extension", "source"),
    [("custom_flask.py", FLASK_AUTH), ("custom_fastapi.py", FASTAPI_AUTH)],
    ids=["flask-hook", "fastapi-middleware"],
)
async def test_extension_auth_guards_the_chat_routes(tmp_path: Path, extension: str, source: str) -> None:
    code_dir = write_custom_py(tmp_path, SYNC_STREAMS)
    (code_dir / extension).write_text(source)
    async with started(code_dir) as app:
        refused = await stream(app, "endless")
        allowed = await stream(app, "slow", headers=[(b"x-auth-token", b"secret")])

    assert refused[0][1]["status"] == 401
    assert json.loads(b"".join(bodies(refused))) == {"message": "no token"}
    assert read_closed(code_dir) is None  # the hook was never called
    assert allowed[0][1]["status"] == 200
    assert len(contents(allowed)) == 3 and events(allowed)[-1] == {"data": "[DONE]"}
