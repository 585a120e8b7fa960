"""``create_app(config)``: the ASGI app that serves one model with the DRUM contract.

The whole stack, outermost first; ``outer_layers`` below declares the first
five, FastAPI builds the rest::

    DrumHeadersMiddleware        X-Drum-Version, X-Drum-Bridge-Version and X_Request_ID on every response
    StartupErrorMiddleware       a failed lifespan start-up reported in one line
    RequestHeadersMiddleware     431 past --max-header-size; headers named with "_" dropped
    BodyLimitMiddleware          413 for a body over --max-body-size, before reading it
    FlaskHooksMiddleware         translated custom_flask.py hooks (only when loaded)
    ServerErrorMiddleware        FastAPI's own
    user middleware              whatever custom_fastapi.py adds
    ExceptionMiddleware          FastAPI's own
    router                       DrumRoutes, then user routes; what no route claims goes
                                 to the legacy Flask app (a2wsgi), else werkzeug's 404 page
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from werkzeug.exceptions import NotFound

from .asgi.responses import error_response, werkzeug_response
from .compat.provide import provide_datarobot_drum
from .config import Config
from .errors import DrumHTTPError, ExtensionError
from .extensions import LoadedExtensions, load_extensions
from .middleware.body_limit import BodyLimitMiddleware
from .middleware.drum_headers import DrumHeadersMiddleware
from .middleware.request_headers import RequestHeadersMiddleware
from .middleware.startup_error import StartupErrorMiddleware
from .model_runtime import DrumRuntime
from .routes.drum_routes import DrumRoutes
from .routes.endpoints import build_endpoints
from .routes.route_table import BLUEPRINT, build_map
from .version import __version__

__all__ = ["DrumApp", "create_app", "outer_layers"]

logger = logging.getLogger("drum_bridge.app")


def outer_layers(runtime: DrumRuntime, extensions: LoadedExtensions) -> list[Middleware]:
    """drum-bridge's middleware around FastAPI's whole stack, outermost first.

    Outside FastAPI's error handling, so that their answers (and every
    response, hook answers and 404s included) still get DRUM's headers.
    """
    return [
        Middleware(DrumHeadersMiddleware),
        Middleware(
            StartupErrorMiddleware,
            cause=lambda: runtime.startup_error,
            show_stacktrace=runtime.config.show_stacktrace,
        ),
        Middleware(RequestHeadersMiddleware, max_header_size=runtime.config.max_header_size),
        Middleware(BodyLimitMiddleware, max_body_size=runtime.config.max_body_size),
        *extensions.middleware,
    ]


class DrumApp(FastAPI):
    """A FastAPI app whose outermost layers are drum-bridge's own.

    ``drum_runtime`` holds the model; ``drum_layers`` (from ``outer_layers``)
    wrap the stack FastAPI builds.
    """

    drum_runtime: DrumRuntime
    drum_layers: Sequence[Middleware] = ()

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.drum_layers):
            app = cls(app, *args, **kwargs)
        return app


async def _unhandled_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DrumHTTPError):  # e.g. a body over the limit, read by a user route
        return error_response(exc.message, exc.status_code, exc.headers)
    return error_response(str(exc) or type(exc).__name__, 500)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await werkzeug_response(NotFound())(scope, receive, send)


def create_app(config: Config) -> DrumApp:
    """Build the app: DRUM routes, then the model dir's extensions.

    The model itself loads in the lifespan (``app.drum_runtime.startup()``).
    """
    # Extension files may import datarobot_drum too, and they load before the model.
    provide_datarobot_drum()
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
    drum_routes = DrumRoutes(build_map(config.url_prefix), build_endpoints(runtime, BLUEPRINT))
    app.router.routes.insert(0, drum_routes)
    try:
        extensions = load_extensions(app, config)
    except ExtensionError as exc:
        if not config.with_error_server:
            raise
        runtime.load_error = str(exc)
        logger.error("Extension failed to load; serving the error server (513): %s", exc)
        extensions = LoadedExtensions()
    app.router.default = extensions.fallback or _not_found
    runtime.on_shutdown.extend(extensions.on_shutdown)
    app.drum_layers = outer_layers(runtime, extensions)
    return app
