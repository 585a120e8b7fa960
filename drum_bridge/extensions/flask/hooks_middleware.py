"""``FlaskHooksMiddleware``: custom_flask.py's request hooks guarding every request.

For each HTTP request (websockets and lifespan pass through) it decides, before any routing, who runs the hooks:

- a request FastAPI will answer (a DRUM route, a custom_fastapi.py route,
  ``/docs``...): the hooks are *translated*.  Before-request hooks run here
  first and may answer; after-request hooks see the response's status and
  headers on its way out; teardown hooks run at the end.
- any other request goes to the legacy Flask app (the router's default),
  where Flask runs its own hooks, once: its routes, its 404, 405 and 308.

Either way no request reaches a route without passing the hooks.

The body is never read ahead of the hooks: they get it as a file that asks
the client for the next chunk only when a hook reads it (``ThreadBody``), so
a hook that answers without reading it (an auth hook refusing a large upload)
never makes the server read or hold it.  What a hook read reaches the route
whole.  Reading from the client blocks, so the hooks of a request with a body
run in a worker thread even in the inline mode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.exceptions import RequestEntityTooLarge

from ...asgi.body import ThreadBody, may_have_body
from ...asgi.responses import error_response
from ...asgi.scope import route_path
from ...errors import PayloadTooLargeError
from ...thread_pool import ThreadPool
from .environ import build_environ
from .internals import FlaskRequestCycle, HeaderList, has_teardown_work

__all__ = ["FlaskHooksMiddleware", "router_claims"]

T = TypeVar("T")

logger = logging.getLogger("drum_bridge.extensions")


def router_claims(router: Router, scope: Scope) -> bool:
    """Whether ``router`` answers ``scope`` itself (a route, or its slash redirect)."""
    for route in router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return True
    # Starlette's router answers a path one slash away from a route with a redirect.
    if router.redirect_slashes and route_path(scope) != "/":
        path: str = scope["path"]
        alternative = {**scope, "path": path.rstrip("/") if path.endswith("/") else path + "/"}
        return any(route.matches(alternative)[0] is not Match.NONE for route in router.routes)
    return False


def _as_http_error(exc: Exception) -> Exception:
    """A body over the limit, read by a hook, is answered by Flask as an HTTP 413."""
    if isinstance(exc, PayloadTooLargeError):
        return RequestEntityTooLarge(exc.message)
    return exc


def _encode_headers(headers: HeaderList) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _decode_headers(raw: Any) -> HeaderList:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


class FlaskHooksMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        flask_app: Flask,
        router: Router,
        inline: bool,
        pool: ThreadPool,
    ) -> None:
        self.app = app
        self.flask_app = flask_app
        self.router = router
        self.inline = inline
        # The stack is built once init_app has registered its hooks (Flask refuses new ones
        # after the first request), so these hold for the app's life.
        self.teardown_work = has_teardown_work(flask_app)
        self.after_hooks = any(flask_app.after_request_funcs.values())
        self.pool = pool

    async def _inline(self, func: Callable[..., T], *args: Any) -> T:
        return func(*args)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not router_claims(self.router, scope):
            await self.app(scope, receive, send)
            return
        body: ThreadBody | None = None
        if may_have_body(scope):
            body = ThreadBody(receive, asyncio.get_running_loop(), translate=_as_http_error)
            await body.prefetch()  # on the loop: a trickling client holds no hook thread
            if body.disconnected:
                return  # the client went away before the hooks ran: nobody to answer
        # A body read whole cannot make a hook wait: inline hooks stay inline.
        run = self._inline if self.inline and (body is None or body.complete) else self.pool.run
        cycle = FlaskRequestCycle(self.flask_app, build_environ(scope, body))
        try:
            answer = await run(cycle.begin)
        except Exception as exc:
            # Flask itself failed (not a hook: those errors are answered by Flask's handlers).
            logger.exception("The legacy Flask app failed to start the request")
            await run(cycle.end, exc)
            await error_response(str(exc), 500)(scope, receive, send)
            return
        if body is not None and body.disconnected:
            await run(cycle.end, None)
            return  # the client went away while a hook read the body: nobody to answer
        if answer is not None:
            # The unread rest of the body is the server's to discard: nothing holds it here.
            status, headers, content = answer
            await send({"type": "http.response.start", "status": status, "headers": _encode_headers(headers)})
            await send({"type": "http.response.body", "body": content})
            return
        if body is not None:
            receive = body.replay(receive)
        # Only hooks can ask for after-request work, and they have run: decide once.
        if cycle.needs_after(self.after_hooks):
            send = self._through_after_hooks(cycle, send, run)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            error = exc
            raise
        finally:
            # Teardown hooks may block (closing a connection): threads, unless there are none.
            if self.teardown_work:
                await run(cycle.end, error)
            else:
                cycle.end(error)

    def _through_after_hooks(
        self, cycle: FlaskRequestCycle, send: Send, run: Callable[..., Any]
    ) -> Send:
        replaced = False

        async def send_through_hooks(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start":
                status, headers, content = await run(
                    cycle.after, message["status"], _decode_headers(message.get("headers", ()))
                )
                await send({**message, "status": status, "headers": _encode_headers(headers)})
                if content is not None:
                    replaced = True
                    await send({"type": "http.response.body", "body": content})
            elif not replaced:
                await send(message)

        return send_through_hooks
