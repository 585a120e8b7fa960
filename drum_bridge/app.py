"""``create_app(...)``: the ASGI app that serves one model with the DRUM contract.

``create_app(config)`` or ``create_app(code_dir=..., target_type=..., **settings)``
with ``Config``'s field names.  The app runs alone under a server, or mounted in
a host application: the host enters ``app.lifespan_context(host)`` from its own
lifespan (mounted apps get no lifespan events), or else the model loads on
first use.

The whole stack, outermost first; ``outer_layers`` below declares the first
seven, FastAPI builds the rest::

    DrumHeadersMiddleware        X-Drum-Version, X-Drum-Bridge-Version and X_Request_ID on every
                                 response; the request id for log lines
    RequestMetricsMiddleware     requests counted and timed by route template (unless --metrics off)
    StartupErrorMiddleware       a failed lifespan start-up reported in one line
    RequestHeadersMiddleware     431 past --max-header-size; headers named with "_" dropped
    BodyLimitMiddleware          413 for a body over --max-body-size, before reading it
    ProbesMiddleware             /livez, /readyz, /startupz, /metrics (outside the hooks)
    FlaskHooksMiddleware         translated custom_flask.py hooks (only when loaded)
    ServerErrorMiddleware        FastAPI's own
    user middleware              whatever custom_fastapi.py adds
    ExceptionMiddleware          FastAPI's own
    router                       DrumRoutes, then user routes; what no route claims goes
                                 to the legacy Flask app (a2wsgi), else werkzeug's 404 page
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, overload

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from werkzeug.exceptions import NotFound

from .asgi.responses import error_response, werkzeug_response
from .asgi.scope import ROUTE_KEY
from .compat.provide import provide_datarobot_drum
from .config import Batching, Config, ServerType, TargetType
from .config.model_metadata import read_model_metadata
from .errors import ConfigError, DrumHTTPError, ExtensionError
from .extensions import LoadedExtensions, load_extensions
from .middleware.body_limit import BodyLimitMiddleware
from .middleware.drum_headers import DrumHeadersMiddleware
from .middleware.probes import ProbesMiddleware
from .middleware.request_headers import RequestHeadersMiddleware
from .middleware.request_metrics import RequestMetricsMiddleware
from .middleware.startup_error import StartupErrorMiddleware
from .model_runtime import DrumRuntime
from .routes.drum_routes import DrumRoutes
from .routes.endpoints import build_endpoints
from .routes.route_table import BLUEPRINT, build_map
from .version import __version__

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AppSettings", "DrumApp", "config_from_settings", "create_app", "outer_layers"]

logger = logging.getLogger("drum_bridge.app")

#: FastAPI 0.16x traces every request itself once an OpenTelemetry SDK is configured (a
#: second span a request, /ping/ included, at a third of /ping/'s throughput measured here):
#: drum-bridge's spans are DRUM's (one a model request), so FastAPI's own are off.
_NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {}
)

#: The metrics' route label of requests served by the legacy Flask app.
LEGACY_FLASK_ROUTE = "<custom_flask.py>"


def outer_layers(runtime: DrumRuntime, extensions: LoadedExtensions) -> list[Middleware]:
    """drum-bridge's middleware around FastAPI's whole stack, outermost first.

    Outside FastAPI's error handling, so that their answers (and every
    response, hook answers and 404s included) still get DRUM's headers.
    """
    metrics = (
        [Middleware(RequestMetricsMiddleware, metrics=runtime.metrics)]
        if runtime.metrics is not None else []
    )
    return [
        Middleware(DrumHeadersMiddleware),
        *metrics,
        Middleware(
            StartupErrorMiddleware,
            cause=lambda: runtime.startup_error,
            show_stacktrace=runtime.config.show_stacktrace,
        ),
        Middleware(RequestHeadersMiddleware, max_header_size=runtime.config.max_header_size),
        Middleware(BodyLimitMiddleware, max_body_size=runtime.config.max_body_size),
        Middleware(ProbesMiddleware, runtime=runtime),
        *extensions.middleware,
    ]


class AppSettings(TypedDict, total=False):
    """``create_app``'s keywords beside ``code_dir`` and ``target_type``: ``Config``'s fields.

    Enums may be given by value (``"fastapi"``), paths as strings, labels as any
    sequence of strings; ``batching`` also as a bool (``True``: ``"on"``).
    """

    positive_class_label: str | None
    negative_class_label: str | None
    class_labels: Sequence[str] | None
    target_name: str | None
    llm_id: str | None
    url_prefix: str
    host: str
    port: int
    max_workers: int
    with_error_server: bool
    show_stacktrace: bool
    server_type: ServerType | str
    load_all_extensions: bool
    model_threads: int
    flask_hooks_inline: bool
    flask_hook_threads: int
    wsgi_threads: int
    graceful_timeout: float
    request_timeout: float
    max_waiting_requests: int
    batching: Batching | str | bool
    batch_row_wise_score: bool
    batch_max_rows: int
    batch_max_requests: int
    batch_max_wait_ms: float
    max_header_size: int
    max_body_size: int
    header_timeout: float
    body_timeout: float
    metrics: bool
    log_format: str
    access_log: bool
    gc_freeze: bool
    keep_freed_memory: bool
    backlog: int
    keep_alive: float
    max_requests: int
    max_requests_jitter: int
    deployment_config: str | os.PathLike[str] | None
    user_secrets_mount_path: str | os.PathLike[str] | None
    user_secrets_prefix: str | None
    allow_dr_api_access: bool
    webserver: str | None
    api_token: str | None
    model_metadata: dict[str, object] | None


_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))
_PATH_FIELDS = ("deployment_config", "user_secrets_mount_path")


def _labels(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"class_labels must be a sequence of labels, got {value!r}")
    return tuple(str(label) for label in value)


def config_from_settings(code_dir: str | os.PathLike[str], target_type: TargetType | str,
                         settings: dict[str, Any]) -> Config:
    """The ``Config`` for ``create_app``'s keywords; unknown ones are a ``TypeError``.

    Values are read as the CLI reads its flags (a relative ``code_dir`` from the
    working directory); ``model-metadata.yaml`` fills ``/info/``'s
    ``modelMetadata`` unless given.  Nothing is read from the environment.
    """
    unknown = sorted(set(settings) - _CONFIG_FIELDS - {"code_dir", "target_type"})
    if unknown:
        raise TypeError(f"create_app() got unknown settings: {', '.join(unknown)}")
    values = dict(settings)
    values["code_dir"] = path = Path(code_dir).resolve()
    values["target_type"] = (
        target_type if isinstance(target_type, TargetType) else TargetType.parse(str(target_type))
    )
    server_type = values.get("server_type")
    if server_type is not None and not isinstance(server_type, ServerType):
        values["server_type"] = ServerType.parse(str(server_type))
    batching = values.get("batching")
    if isinstance(batching, bool):  # a switch: on or off, without the check of auto
        values["batching"] = Batching.ON if batching else Batching.OFF
    elif batching is not None and not isinstance(batching, Batching):
        values["batching"] = Batching.parse(str(batching))
    if "class_labels" in values:
        values["class_labels"] = _labels(values["class_labels"])
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            values[name] = Path(values[name]).resolve()
    if "model_metadata" not in values and path.is_dir():
        metadata = read_model_metadata(path)
        values["model_metadata"] = metadata.raw if metadata else None
    return Config(**values)


class DrumApp(FastAPI):
    """The ASGI app serving one model: ``DrumApp(config)``, or ``create_app(...)``.

    ``drum_runtime`` holds the model; ``drum_layers`` (from ``outer_layers``)
    wrap the stack FastAPI builds.
    """

    drum_runtime: DrumRuntime
    drum_layers: Sequence[Middleware] = ()

    def __init__(self, config: Config, /) -> None:
        if not isinstance(config, Config):
            raise TypeError(
                f"DrumApp() takes a Config, got {type(config).__name__}; or use"
                " drum_bridge.create_app(code_dir=..., target_type=...)"
            )
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

        super().__init__(
            title="drum-bridge",
            version=__version__,
            lifespan=lifespan,
            exception_handlers={Exception: _unhandled_error},
            **_NO_NATIVE_TELEMETRY,
        )
        self.drum_runtime = runtime
        drum_routes = DrumRoutes(build_map(config.url_prefix), build_endpoints(runtime, BLUEPRINT))
        self.router.routes.insert(0, drum_routes)
        try:
            extensions = load_extensions(self, config)
        except ExtensionError as exc:
            if not config.with_error_server:
                raise
            runtime.load_error = str(exc)
            logger.error("Extension failed to load; serving the error server (513): %s", exc)
            extensions = LoadedExtensions()
        self.router.default = _labelled(extensions.fallback) if extensions.fallback else _not_found
        runtime.on_shutdown.extend(extensions.on_shutdown)
        self.drum_layers = outer_layers(runtime, extensions)

    def lifespan_context(self, host: object = None) -> AbstractAsyncContextManager[Any]:
        """The app's lifespan, for a host that mounts it: ``async with app.lifespan_context(host):``
        in the host's own lifespan loads the model on entry and releases it (and the
        extensions' threads and streams) on exit.  ``host`` is accepted for symmetry
        with a lifespan function and not used.
        """
        return self.router.lifespan_context(self)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.drum_layers):
            app = cls(app, *args, **kwargs)
        return app


async def _unhandled_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DrumHTTPError):  # e.g. a body over the limit, read by a user route
        return error_response(exc.message, exc.status_code, exc.headers)
    return error_response(str(exc) or type(exc).__name__, 500)


def _labelled(fallback: ASGIApp) -> ASGIApp:
    """The legacy Flask app, its requests labelled as its own in metrics."""

    async def legacy_flask(scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROUTE_KEY] = LEGACY_FLASK_ROUTE
        await fallback(scope, receive, send)

    return legacy_flask


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await werkzeug_response(NotFound())(scope, receive, send)


@overload
def create_app(config: Config, /) -> DrumApp: ...


@overload
def create_app(
    *,
    code_dir: str | os.PathLike[str],
    target_type: TargetType | str,
    **settings: Unpack[AppSettings],
) -> DrumApp: ...


def create_app(
    config: Config | None = None,
    /,
    *,
    code_dir: str | os.PathLike[str] | None = None,
    target_type: TargetType | str | None = None,
    **settings: Any,
) -> DrumApp:
    """The app serving the model in ``code_dir``: DRUM routes, then the model dir's extensions.

    ``create_app(Config(...))``, or ``create_app(code_dir=..., target_type=..., **settings)``
    with ``Config``'s field names (``TypeError`` for an unknown one, ``ConfigError`` for a
    value it refuses).  The model loads in the app's lifespan, in a host's lifespan that
    enters ``app.lifespan_context(host)``, or else on the first request that needs it.
    """
    if config is not None:
        given = sorted([*settings, *(["code_dir"] if code_dir is not None else []),
                        *(["target_type"] if target_type is not None else [])])
        if given:
            raise TypeError(f"create_app() takes a Config or settings, not both (got {', '.join(given)})")
        return DrumApp(config)
    if code_dir is None or target_type is None:
        missing = [n for n, v in (("code_dir", code_dir), ("target_type", target_type)) if v is None]
        raise TypeError(f"create_app() needs a Config, or code_dir and target_type (missing: {', '.join(missing)})")
    return DrumApp(config_from_settings(code_dir, target_type, settings))
