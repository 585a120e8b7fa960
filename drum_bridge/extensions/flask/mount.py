"""``LegacyFlaskMount``: the legacy Flask app served through one a2wsgi bridge.

a2wsgi keeps iterating a Flask response after the client has gone (uvicorn's
``send()`` just returns), so an endless ``stream_with_context`` generator
would hold one of its threads forever, and a few of them would exhaust the
pool and stall shutdown.  This mount watches for the disconnect and stops the
response at its next chunk (closing it, so Flask tears down); at shutdown it
stops every open response the same way and waits for their threads.

The body is read only as Flask reads it (a2wsgi reads it from the client
lazily): a hook that answers without reading it never makes the server hold
it.  Watching for the disconnect begins once the body has ended, or once the
response has started: from then on, a body the app had not read is discarded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any, cast

import anyio
import anyio.to_thread
from a2wsgi import WSGIMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.exceptions import RequestEntityTooLarge

from ...asgi.body import may_have_body
from ...errors import PayloadTooLargeError

__all__ = ["LegacyFlaskMount"]

logger = logging.getLogger("drum_bridge.extensions")

STOP_KEY = "drum_bridge.stop_response"
WSGIApp = Any


class _Inflight:
    """How many WSGI calls are running in the bridge's threads."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def enter(self) -> None:
        with self._changed:
            self._count += 1

    def leave(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


class _StoppableResponse:
    """A WSGI response iterable that ends early once ``stop`` is set."""

    def __init__(self, inner: Iterable[bytes], stop: threading.Event, inflight: _Inflight) -> None:
        self.inner = inner
        self.stop = stop
        self.inflight = inflight

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if self.stop.is_set():
                return
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.inner, "close", None)
            if close is not None:
                close()
        finally:
            self.inflight.leave()


def _stoppable(app: WSGIApp, inflight: _Inflight) -> WSGIApp:
    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        stop: threading.Event = environ["asgi.scope"][STOP_KEY]
        # a2wsgi's body stream ends where the body does: werkzeug then reads chunked bodies too.
        environ["wsgi.input_terminated"] = True
        inflight.enter()
        try:
            return _StoppableResponse(app(environ, start_response), stop, inflight)
        except BaseException:
            inflight.leave()
            raise

    return wsgi


class LegacyFlaskMount:
    """ASGI app answering with the legacy Flask app, ``threads`` requests at once."""

    def __init__(self, flask_wsgi: WSGIApp, *, threads: int) -> None:
        self._inflight = _Inflight()
        # a2wsgi types its ASGI side with its own TypedDicts; to us it is an ASGIApp.
        self.bridge = cast(ASGIApp, WSGIMiddleware(_stoppable(flask_wsgi, self._inflight), workers=threads))
        self._open: set[threading.Event] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.bridge(scope, receive, send)
            return
        stop = threading.Event()
        scope = {**scope, STOP_KEY: stop}
        released = anyio.Event()
        watch = anyio.Event()
        body_open = may_have_body(scope)
        if not body_open:
            watch.set()

        async def app_receive() -> Message:
            # a2wsgi reads the body through here, from the WSGI thread, as Flask asks for it.
            nonlocal body_open
            if not body_open or watch.is_set():
                return {"type": "http.request", "body": b"", "more_body": False}
            try:
                message = await receive()
            except PayloadTooLargeError as exc:
                body_open = False
                raise RequestEntityTooLarge(exc.message) from exc  # Flask answers its 413
            if message["type"] == "http.disconnect":
                stop.set()
                released.set()
                body_open = False
                return {"type": "http.request", "body": b"", "more_body": False}
            if not message.get("more_body", False):
                body_open = False
                watch.set()
            return message

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                watch.set()
            await send(message)

        async def watch_disconnect() -> None:
            await watch.wait()
            while not released.is_set():
                try:
                    message = await receive()
                except PayloadTooLargeError:
                    return  # an unread body past the limit: the server stops reading it
                if message["type"] == "http.disconnect":
                    stop.set()
                    released.set()

        self._open.add(stop)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch_disconnect)
                try:
                    await self.bridge(scope, app_receive, watched_send)
                finally:
                    stop.set()
                    released.set()
                    tasks.cancel_scope.cancel()
        finally:
            self._open.discard(stop)

    def stop_all(self) -> int:
        """Stop every open response at its next chunk; answers how many were open."""
        open_now = list(self._open)
        for stop in open_now:
            stop.set()
        return len(open_now)

    async def aclose(self, timeout: float) -> None:
        """Stop open responses and wait, up to ``timeout`` seconds, for their threads."""
        stopped = self.stop_all()
        idle = await anyio.to_thread.run_sync(self._inflight.wait_idle, timeout)
        if not idle:
            logger.warning(
                "Legacy Flask responses still run %.0f s after shutdown began: they block"
                " without yielding a chunk, so they cannot be stopped", timeout,
            )
        elif stopped:
            logger.info("Stopped %d open legacy Flask response(s) for shutdown", stopped)
