"""``ProbesMiddleware``: ``/livez``, ``/readyz``, ``/startupz`` and ``/metrics``.

Orchestrators' probes beside DRUM's ``/ping/`` and ``/health/``, under the
same ``URL_PREFIX``.  They answer on the event loop at once, whatever the
model threads are doing, and outside the ``custom_flask.py`` hooks and
``custom_fastapi.py`` middleware: a liveness probe carries no credentials, and
an auth hook that refused it would get the pod restarted.  Only these exact
paths (GET or HEAD) are answered here; any other spelling goes on to routing.

- ``/livez``: 200 while the process serves.
- ``/startupz``: 200 once start-up finished (the model loaded, or failed into
  the error server); 503 before.
- ``/readyz``: 200 when the model is loaded and the server is not draining;
  503 with the state (``not loaded``, ``loading``, ``failed``, ``draining``)
  otherwise.  A mounted app whose host did not enter its lifespan starts
  loading when probed.
- ``/metrics``: Prometheus' text format (all worker processes), unless
  ``--metrics off``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..asgi.responses import error_response, json_response
from ..asgi.scope import ROUTE_KEY, route_path
from ..model_runtime import DrumRuntime
from ..observability.metrics import CONTENT_TYPE_LATEST, exposition

__all__ = ["PROBE_PATHS", "ProbesMiddleware"]

PROBE_PATHS = ("/livez", "/readyz", "/startupz")
_STARTED = frozenset({"ready", "failed", "draining"})


def _livez(runtime: DrumRuntime) -> Response:
    return json_response({"status": "alive"})


def _startupz(runtime: DrumRuntime) -> Response:
    state = runtime.state
    if state in _STARTED:
        return json_response({"status": "started", "state": state})
    runtime.load_in_background()
    return json_response({"status": "starting", "state": runtime.state}, 503)


def _readyz(runtime: DrumRuntime) -> Response:
    state = runtime.state
    if state == "ready":
        return json_response({"status": "ready"})
    if state == "not loaded":
        runtime.load_in_background()
        state = runtime.state
    return json_response({"status": "not ready", "state": state}, 503)


def _metrics(runtime: DrumRuntime) -> Response:
    if runtime.metrics is not None:
        runtime.metrics.flush()
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class ProbesMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: DrumRuntime) -> None:
        self.app = app
        self.runtime = runtime
        prefix = runtime.config.url_prefix
        answers: dict[str, Callable[[DrumRuntime], Response]] = {
            "/livez": _livez, "/readyz": _readyz, "/startupz": _startupz,
        }
        if runtime.metrics is not None:
            answers["/metrics"] = _metrics
        self.answers = {prefix + path: answer for path, answer in answers.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = route_path(scope)
            answer = self.answers.get(path)
            if answer is not None:
                scope[ROUTE_KEY] = path
                if scope["method"] in ("GET", "HEAD"):
                    response = answer(self.runtime)
                else:
                    response = error_response(
                        f"405 Method Not Allowed: {path} answers GET and HEAD only", 405,
                        {"Allow": "GET, HEAD"},
                    )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
