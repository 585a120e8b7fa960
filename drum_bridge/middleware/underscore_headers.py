"""``UnderscoreHeadersMiddleware``: request headers whose names hold ``_`` are dropped.

WSGI spells ``X-Auth`` and ``X_Auth`` alike (``HTTP_X_AUTH``), so a client could
pass ``X_Auth: token`` to a Flask hook that checks ``X-Auth`` while a proxy in
front strips only ``X-Auth``.  gunicorn (real DRUM's default server) drops such
headers for this reason; so does drum-bridge, before any hook, route or model
sees the request.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["UnderscoreHeadersMiddleware"]

logger = logging.getLogger("drum_bridge.middleware")


class UnderscoreHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = scope["headers"]
            if any(b"_" in name for name, _ in headers):
                dropped = [name for name, _ in headers if b"_" in name]
                logger.debug("Dropped request headers with '_' in their names: %s", dropped)
                scope = {**scope, "headers": [(n, v) for n, v in headers if b"_" not in n]}
        await self.app(scope, receive, send)
