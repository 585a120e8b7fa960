"""The DRUM endpoints: one async function per view name of the ``model_api`` blueprint."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from werkzeug.exceptions import NotFound

from ..asgi.responses import (
    USER_HTTP_ERROR_HEADER,
    error_response,
    json_response,
    werkzeug_response,
)
from ..config import TargetType
from ..errors import DrumHTTPError, is_user_http_error
from ..model_runtime import DrumRuntime
from ..observability.tracing import SPAN_NAMES
from ..version import DRUM_VERSION, __version__
from . import chat as chat_routes
from . import structured, unstructured
from .drum_routes import Endpoint
from .tracing import traced

__all__ = ["build_endpoints"]

logger = logging.getLogger("drum_bridge.routes")

OK = {"message": "OK"}


View = Callable[[DrumRuntime, Request], Awaitable[Response]]

#: The views DRUM's error server keeps (answering 513); the others are 404 there.
ERROR_SERVER_VIEWS = frozenset({"ping", "health", "predict", "transform", "predict_unstructured"})
#: Liveness: answers without waiting for the model to load on first use.
NO_MODEL_VIEWS = frozenset({"ping"})


def _guarded(runtime: DrumRuntime, name: str, view: View) -> Endpoint:
    """DRUM's blueprint error handler, around each view.

    A failure becomes ``{"message": "ERROR: ..."}`` with its status (500 for an
    unexpected one), except a ``CustomHTTPError`` raised by model code: its own
    status and message, without the prefix, and ``X-Drum-User-Http-Error: true``.
    """
    in_error_server = name in ERROR_SERVER_VIEWS
    needs_model = name not in NO_MODEL_VIEWS
    span_name = SPAN_NAMES.get(name)

    @functools.wraps(view)
    async def endpoint(request: Request) -> Response:
        if span_name is not None and runtime.tracer is not None:
            return await traced(runtime.tracer, span_name, request, answer)
        return await answer(request)

    async def answer(request: Request) -> Response:
        try:
            if needs_model:
                # A mounted app whose host did not enter its lifespan loads the model now.
                await runtime.ensure_loaded()
            if runtime.load_error is not None:
                if in_error_server:
                    return error_response(runtime.load_error, 513)
                return werkzeug_response(NotFound())
            return await view(runtime, request)
        except DrumHTTPError as exc:
            logger.error(
                "%s %s: %s", request.method, request.url.path, exc.message,
                exc_info=runtime.config.show_stacktrace,
            )
            return error_response(exc.message, exc.status_code, exc.headers)
        except Exception as exc:
            if is_user_http_error(exc):
                return json_response(
                    {"message": str(exc)},
                    getattr(exc, "status_code", 400),
                    headers={USER_HTTP_ERROR_HEADER: "true"},
                )
            logger.exception("%s %s failed", request.method, request.url.path)
            return error_response(str(exc), 500)

    return endpoint


async def _probe_hook(hook: Callable[[], Any] | None, name: str) -> Response:
    """``custom.py``'s probe hook, in a thread of its own (never behind scoring), or OK."""
    if hook is None:
        return json_response(OK)
    answer = await anyio.to_thread.run_sync(hook)
    body, status = answer if isinstance(answer, tuple) and len(answer) == 2 else (answer, 200)
    if isinstance(body, str):
        body = {"message": body}
    if not isinstance(body, dict) or not isinstance(status, int):
        raise DrumHTTPError(
            f"{name}() must return a dict or a (dict, status) pair, got {type(answer).__name__}"
        )
    return json_response(body, status)


async def ping(runtime: DrumRuntime, request: Request) -> Response:
    # Liveness: the model may still be loading (a mounted app); its hook once it loaded.
    hooks = runtime.model.hooks if runtime.model is not None else None
    return await _probe_hook(hooks.liveness_probe if hooks else None, "liveness_probe")


async def health(runtime: DrumRuntime, request: Request) -> Response:
    return await _probe_hook(runtime.loaded.hooks.readiness_probe, "readiness_probe")


async def info(runtime: DrumRuntime, request: Request) -> Response:
    config = runtime.config
    body: dict[str, object] = {
        "codeDir": str(config.code_dir),
        "drumBridgeVersion": __version__,
        "drumServer": "fastapi",
        "drumVersion": DRUM_VERSION,
        "language": "python",
        "modelMetadata": config.model_metadata,
        "predictor": runtime.loaded.predictor_name,
        "targetType": config.target_type.value,
    }
    # As DRUM: the labels of binary and multiclass models (not of multilabel ones).
    if config.target_type is TargetType.BINARY and config.positive_class_label is not None:
        body["positiveClassLabel"] = config.positive_class_label
        body["negativeClassLabel"] = config.negative_class_label
    elif config.target_type is TargetType.MULTICLASS and config.class_labels is not None:
        body["classLabels"] = list(config.class_labels)
    return json_response(body)


async def capabilities(runtime: DrumRuntime, request: Request) -> Response:
    chat = runtime.loaded.hooks.chat is not None
    return json_response(
        {"supported_methods": {"chat": chat}, "supported_payload_formats": {"csv": None, "mtx": None}}
    )


async def stats(runtime: DrumRuntime, request: Request) -> Response:
    return json_response(runtime.stats.body())


VIEWS: dict[str, View] = {
    "ping": ping,
    "health": health,
    "info": info,
    "capabilities": capabilities,
    "stats": stats,
    "predict": structured.predict,
    "transform": structured.transform,
    "predict_unstructured": unstructured.predict_unstructured,
    "chat": chat_routes.chat,
    "get_supported_llm_models": chat_routes.get_supported_llm_models,
    "forward_request": chat_routes.forward_request,
}


def build_endpoints(runtime: DrumRuntime, blueprint: str) -> dict[str, Endpoint]:
    return {f"{blueprint}.{name}": _guarded(runtime, name, view) for name, view in VIEWS.items()}
