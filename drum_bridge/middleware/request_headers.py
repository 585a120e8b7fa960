"""``RequestHeadersMiddleware``: what request headers may reach hooks, routes and the model.

- Names holding ``_`` are dropped.  WSGI spells ``X-Auth`` and ``X_Auth`` alike
  (``HTTP_X_AUTH``), so a client could pass ``X_Auth: token`` to a Flask hook
  that checks ``X-Auth`` while a proxy in front strips only ``X-Auth``.
  gunicorn (real DRUM's default server) drops such headers for this reason.
- Headers larger in all than ``max_header_size`` bytes are answered 431 in
  DRUM's shape, before anything else sees the request.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from ..asgi.responses import error_response

__all__ = ["RequestHeadersMiddleware"]

logger = logging.getLogger("drum_bridge.middleware")


class RequestHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, max_header_size: int) -> None:
        self.app = app
        self.limit = max_header_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if self.limit:
            size = sum(len(name) + len(value) for name, value in headers)
            if size > self.limit and scope["type"] == "http":
                response = error_response(
                    f"Request headers are {size} bytes, more than the limit of {self.limit}"
                    " (set by --max-header-size / DRUM_BRIDGE_MAX_HEADER_SIZE)",
                    431,
                    {"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        if any(b"_" in name for name, _ in headers):
            dropped = [name for name, _ in headers if b"_" in name]
            logger.debug("Dropped request headers with '_' in their names: %s", dropped)
            # In place: the layers outside (metrics) read what routing adds to this scope.
            scope["headers"] = [(n, v) for n, v in headers if b"_" not in n]
        await self.app(scope, receive, send)
