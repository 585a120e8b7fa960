"""``DrumHeadersMiddleware``: DRUM's version and request-id headers, and drum-bridge's own
version, on every HTTP response."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send
from support.model_dirs import write_custom_py
from support.scoring import NO_MODEL, serve

import drum_bridge
from drum_bridge.middleware.drum_headers import DrumHeadersMiddleware


async def _app_with_own_headers(scope: Scope, receive: Receive, send: Send) -> None:
    # An app that sets the headers itself, in another case: they must not be doubled.
    headers = [
        (b"x-drum-version", b"app"), (b"x-drum-bridge-version", b"app"), (b"x_request_id", b"app"),
        (b"content-type", b"text/plain"),
    ]
    await send({"type": "http.response.start", "status": 418, "headers": headers})
    await send({"type": "http.response.body", "body": b"teapot"})


async def _call(app: DrumHeadersMiddleware, scope_type: str, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": scope_type, "headers": headers}, receive, send)
    return sent


@pytest.mark.anyio
async def test_an_incoming_request_id_is_echoed_and_the_app_s_headers_replaced() -> None:
    app = DrumHeadersMiddleware(_app_with_own_headers, drum_version="1.2.3", bridge_version="9.9")
    start, body = await _call(app, "http", [(b"x-request-id", b"abc-123")])

    assert start["status"] == 418 and body["body"] == b"teapot"
    assert start["headers"] == [
        (b"content-type", b"text/plain"), (b"X-Drum-Version", b"1.2.3"),
        (b"X-Drum-Bridge-Version", b"9.9"), (b"X_Request_ID", b"abc-123"),
    ]


@pytest.mark.anyio
async def test_by_default_the_drum_release_and_drum_bridge_s_version() -> None:
    start, _body = await _call(DrumHeadersMiddleware(_app_with_own_headers), "http", [])

    headers = dict(start["headers"])
    assert headers[b"X-Drum-Version"] == b"1.18.1"
    assert headers[b"X-Drum-Bridge-Version"] == drum_bridge.__version__.encode()


@pytest.mark.anyio
async def test_without_a_request_id_each_response_gets_a_new_uuid() -> None:
    app = DrumHeadersMiddleware(_app_with_own_headers, drum_version="1.2.3")
    ids = []
    for _ in range(2):
        start, _body = await _call(app, "http", [(b"x-request-id", b"")])
        ids.append(dict(start["headers"])[b"X_Request_ID"].decode())
    assert ids[0] != ids[1]
    assert all(uuid.UUID(value).version == 4 for value in ids)


@pytest.mark.anyio
async def test_other_scopes_pass_through_untouched() -> None:
    app = DrumHeadersMiddleware(_app_with_own_headers, drum_version="1.2.3")
    start, _body = await _call(app, "websocket", [])
    assert start["headers"] == [
        (b"x-drum-version", b"app"), (b"x-drum-bridge-version", b"app"), (b"x_request_id", b"app"),
        (b"content-type", b"text/plain"),
    ]


def test_info_and_every_response_name_drum_s_release_and_drum_bridge_s(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", NO_MODEL + """
def score(data, model, **kwargs):
    return pd.DataFrame({"Predictions": 0.0}, index=data.index)
""")
    with serve(code_dir) as client:
        info = client.get("/info/")
        missing = client.get("/no/such/path")

    assert {key: info.json()[key] for key in ("drumServer", "drumVersion", "drumBridgeVersion")} == {
        "drumServer": "fastapi", "drumVersion": "1.18.1", "drumBridgeVersion": drum_bridge.__version__,
    }
    for response in (info, missing):
        assert response.headers["x-drum-version"] == "1.18.1"
        assert response.headers["x-drum-bridge-version"] == drum_bridge.__version__


def test_forked_workers_do_not_repeat_each_others_request_ids() -> None:
    # gunicorn forks its workers: each must draw its own ids (random reseeds after a fork).
    from drum_bridge.middleware.drum_headers import _new_request_id

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id to the parent, then out without cleanup
        os.write(write_end, _new_request_id())
        os._exit(0)
    os.close(write_end)
    try:
        child_id = os.read(read_end, 64)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    parent_id = _new_request_id()
    assert uuid.UUID(child_id.decode()).version == 4
    assert child_id != parent_id
