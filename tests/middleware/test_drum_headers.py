"""``DrumHeadersMiddleware``: DRUM's version and request-id headers on every HTTP response."""

from __future__ import annotations

import uuid

import pytest
from starlette.types import Message, Receive, Scope, Send

from drum_bridge.middleware.drum_headers import DrumHeadersMiddleware


async def _app_with_own_headers(scope: Scope, receive: Receive, send: Send) -> None:
    # An app that sets the headers itself, in another case: they must not be doubled.
    headers = [(b"x-drum-version", b"app"), (b"x_request_id", b"app"), (b"content-type", b"text/plain")]
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
    app = DrumHeadersMiddleware(_app_with_own_headers, version="1.2.3")
    start, body = await _call(app, "http", [(b"x-request-id", b"abc-123")])

    assert start["status"] == 418 and body["body"] == b"teapot"
    assert start["headers"] == [
        (b"content-type", b"text/plain"), (b"X-Drum-Version", b"1.2.3"), (b"X_Request_ID", b"abc-123"),
    ]


@pytest.mark.anyio
async def test_without_a_request_id_each_response_gets_a_new_uuid() -> None:
    app = DrumHeadersMiddleware(_app_with_own_headers, version="1.2.3")
    ids = []
    for _ in range(2):
        start, _body = await _call(app, "http", [(b"x-request-id", b"")])
        ids.append(dict(start["headers"])[b"X_Request_ID"].decode())
    assert ids[0] != ids[1]
    assert all(uuid.UUID(value).version == 4 for value in ids)


@pytest.mark.anyio
async def test_other_scopes_pass_through_untouched() -> None:
    app = DrumHeadersMiddleware(_app_with_own_headers, version="1.2.3")
    start, _body = await _call(app, "websocket", [])
    assert (b"X-Drum-Version", b"1.2.3") not in start["headers"]
