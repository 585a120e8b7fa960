"""``create_app(config)``: the ASGI app that serves one model with the DRUM contract.

Layers, outermost first::

    DrumHeadersMiddleware        X-Drum-Version and X_Request_ID on every response
    FlaskHooksMiddleware         translated custom_flask.py hooks (only when loaded)
    ServerErrorMiddleware        FastAPI's own
    user middleware              whatever custom_fastapi.py adds
    ExceptionMiddleware          FastAPI's own
    router                       DrumRoutes, then user routes; the default answer is
                                 werkzeug's 404 page, or the legacy Flask app (a2wsgi)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from werkzeug.exceptions import NotFound

from . import __version__
from .config import Config
from .errors import ExtensionError
from .extensions import load_extensions
from .middleware.headers import DrumHeadersMiddleware
from .middleware.lifespan import StartupErrorMiddleware
from .routes.dispatch import DrumRoutes
from .routes.endpoints import build_endpoints
from .routes.responses import error_response, werkzeug_response
from .routes.table import BLUEPRINT, build_map
from .runtime import DrumRuntime

__all__ = ["DrumApp", "create_app"]

logger = logging.getLogger("drum_bridge.app")

OuterMiddleware = Callable[[ASGIApp], ASGIApp]


class DrumApp(FastAPI):
    """A FastAPI app whose outermost layers are drum-bridge's own.

    ``drum_runtime`` holds the model; ``drum_outer_middleware`` wrap the whole
    stack, FastAPI's error handling included, so that their answers (and every
    response) still get DRUM's headers.
    """

    drum_runtime: DrumRuntime
    drum_outer_middleware: list[OuterMiddleware]

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for wrap in reversed(self.drum_outer_middleware):
            app = wrap(app)
        runtime = self.drum_runtime
        app = StartupErrorMiddleware(
            app, cause=lambda: runtime.startup_error, show_stacktrace=runtime.config.show_stacktrace
        )
        return DrumHeadersMiddleware(app, version=__version__)


async def _unhandled_error(request: Request, exc: Exception) -> Response:
    return error_response(str(exc) or type(exc).__name__, 500)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await werkzeug_response(NotFound())(scope, receive, send)


def create_app(config: Config) -> DrumApp:
    """Build the app: DRUM routes, then the model dir's extensions.

    The model itself loads in the lifespan (``app.drum_runtime.startup()``).
    """
    runtime = DrumRuntime(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.startup()
        try:
            yield
        finally:
            await runtime.shutdown()

    app = DrumApp(
        title="drum-bridge",
        version=__version__,
        lifespan=lifespan,
        exception_handlers={Exception: _unhandled_error},
    )
    app.drum_runtime = runtime
    app.drum_outer_middleware = []
    drum_routes = DrumRoutes(build_map(config.url_prefix), build_endpoints(runtime, BLUEPRINT))
    app.router.routes.insert(0, drum_routes)
    app.router.default = _not_found
    try:
        load_extensions(app, config)
    except ExtensionError as exc:
        if not config.with_error_server:
            raise
        runtime.load_error = str(exc)
        logger.error("Extension failed to load; serving the error server (513): %s", exc)
    return app
