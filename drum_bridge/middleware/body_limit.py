"""``BodyLimitMiddleware``: no request body larger than the limit is read, nor held.

A declared ``Content-Length`` over the limit is answered 413 before anything
reads the body (and before any hook or route runs).  A body without one
(chunked) is counted as it is received: the read that passes the limit raises
``PayloadTooLargeError``, which the DRUM routes and the hooks answer as 413;
if it escapes to here before a response has started, it is answered here.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..asgi.responses import error_response
from ..errors import PayloadTooLargeError

__all__ = ["BodyLimitMiddleware", "too_large"]


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"Request body is larger than the limit of {limit} bytes"
        " (set by --max-body-size / DRUM_BRIDGE_MAX_BODY_SIZE)"
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses these before they get here
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_size: int) -> None:
        self.app = app
        self.limit = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit
        if scope["type"] != "http" or not limit:
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _answer(too_large(limit), scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except PayloadTooLargeError as exc:
            # FastAPI's error layer may have answered it already (and re-raised it).
            if not started:
                await _answer(exc, scope, receive, send)


async def _answer(exc: PayloadTooLargeError, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(exc.message, exc.status_code)
    # The client may still be sending the rest: closing tells it not to.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
