"""``RequestMetricsMiddleware``: every request counted and timed, by route template and status.

Outside everything but DRUM's headers, so that the answers of the limits
(413, 431), of the hooks (401, ...) and of the probes are counted too.  The
route is the template that matched (``/predict/``, a ``custom_fastapi.py``
route's path, ``<custom_flask.py>`` for the legacy Flask app), never the raw
path: a client cannot grow the label set.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..asgi.scope import ROUTE_KEY
from ..observability.metrics import ModelMetrics

__all__ = ["RequestMetricsMiddleware", "UNMATCHED"]

#: The route label of a request no route claimed.
UNMATCHED = "<unmatched>"


def route_label(scope: Scope) -> str:
    template = scope.get(ROUTE_KEY)
    if template is not None:
        return str(template)
    route = scope.get("route")  # a FastAPI route of custom_fastapi.py
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ModelMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        start = time.perf_counter()
        status = 0

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.started()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            metrics.answered(
                scope["method"], route_label(scope), status or 500, time.perf_counter() - start
            )
