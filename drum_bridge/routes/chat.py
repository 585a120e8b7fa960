"""The OpenAI-compatible routes: chat completions (JSON or Server-Sent Events) and ``/models``.

``/chat/completions`` reads the request's JSON as Flask's ``get_json`` does (DRUM's
415 and 400 answers), calls the chat hook through ``model.chat`` (a sync hook in a
model thread, an ``async def`` one on the loop) and answers a ``ChatCompletion`` as
JSON, or a stream of chunks as Server-Sent Events: ``data: {chunk}\\n\\n`` each, then
``data: [DONE]\\n\\n``.  A stream is sent as its chunks are produced: a sync iterator's
chunks one by one in model threads, an async iterator's on the loop.

A client that goes away stops the stream: the chunk being produced is waited for,
then the iterator is closed (a generator's ``finally`` runs) and no other chunk is
asked for.  A stream that fails after its first chunk cannot change its status any
more: it ends with an ``event: error`` whose data is ``{"error": {"message", "type",
"code"}}``, and without ``data: [DONE]`` (the ``openai`` client raises ``APIError``);
the exception is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ..asgi.responses import json_response
from ..errors import DrumHTTPError, is_user_http_error
from ..model import chat as model_chat
from ..model.chat import AsyncChunks, ChatAnswer, ChatCall, Completion, SyncChunks
from ..model.predictor import is_async
from ..model_runtime import DrumRuntime, request_timed_out
from ..observability.tracing import chat_request_attributes, chat_response_attributes
from .samples import split_content_type
from .unstructured import hook_headers

__all__ = ["ChatStreamResponse", "chat", "forward_request", "get_supported_llm_models"]

logger = logging.getLogger("drum_bridge.routes")

#: werkzeug's BadRequest text, which DRUM answers as ``{"error": ...}`` for a body that is not JSON.
BAD_REQUEST = "The browser (or proxy) sent a request that this server could not understand."
#: Flask's refusal of a body whose Content-Type is not JSON (DRUM sends it with a 500).
NOT_JSON = (
    "415 Unsupported Media Type: Did not attempt to load JSON data because the request"
    " Content-Type was not 'application/json'."
)
EVENT_STREAM = "text/event-stream"
DONE = b"data: [DONE]\n\n"


def _is_json(mimetype: str) -> bool:
    """Flask's ``is_json``: ``application/json`` or ``application/*+json``."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


class _NotJSON(Exception):
    pass


async def _read_json(request: Request) -> Any:
    """The body's JSON; the Content-Type is checked before a byte of the body is read."""
    mimetype, _ = split_content_type(request.headers.get("content-type", ""))
    if not _is_json(mimetype):
        raise DrumHTTPError(NOT_JSON, status_code=415)
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson refuses and Flask reads: UTF-16/32, NaN, integers past 64 bits
        return json.loads(body)
    except ValueError as exc:
        raise _NotJSON from exc


async def _on_loop(runtime: DrumRuntime, func: Any, *args: Any) -> Any:
    """Await ``async def`` model code in this task, bounded by the request timeout (504)."""
    timeout = runtime.config.request_timeout or None
    with anyio.move_on_after(timeout):
        return await func(*args)
    raise request_timed_out(timeout)


async def _next_chunk(runtime: DrumRuntime, stream: SyncChunks | AsyncChunks) -> Any:
    if isinstance(stream, AsyncChunks):
        return await _on_loop(runtime, stream.next)
    if stream.first_ready:
        return stream.next()  # produced with the hook's call, in its thread
    return await runtime.continue_model(stream.next)


async def _close(runtime: DrumRuntime, stream: SyncChunks | AsyncChunks) -> None:
    """Close the stream's iterator, even in a cancelled task (the client went away)."""
    with anyio.CancelScope(shield=True):
        try:
            if isinstance(stream, AsyncChunks):
                await stream.close()
            else:
                await runtime.continue_model(stream.close)
        except Exception:
            logger.exception("Closing the chat stream failed")


async def chat(runtime: DrumRuntime, request: Request) -> Response:
    model = runtime.loaded
    hook = model_chat.check_chat_supported(model.hooks.chat)
    try:
        body = await _read_json(request)
    except _NotJSON:
        return json_response({"error": BAD_REQUEST}, 400)
    if runtime.tracer is not None:
        current_span().set_attributes(chat_request_attributes(body))
    call = ChatCall(model_chat.chat_params(body), hook_headers(request.scope["headers"]))
    answer: ChatAnswer
    if is_async(hook):
        answer = await _on_loop(runtime, model_chat.call_chat_async, hook, model.model, call)
    else:
        answer = await runtime.run_model(model_chat.call_chat, hook, model.model, call)
    if isinstance(answer, Completion):
        if runtime.tracer is not None:
            current_span().set_attributes(chat_response_attributes(answer.body))
        # Keys sorted, as Flask's jsonify sends DRUM's answer.
        body_bytes = orjson.dumps(answer.body, option=orjson.OPT_SORT_KEYS)
        return Response(body_bytes, media_type="application/json")
    try:
        if not answer.first_ready:
            # A stream whose first chunk is not produced yet (an async hook's sync iterator,
            # a sync hook's async one): it decides between a 500 and a 200, as in DRUM.
            if isinstance(answer, AsyncChunks):
                await _on_loop(runtime, answer.take_first)
            else:
                await runtime.run_model(answer.take_first)
    except BaseException:
        await _close(runtime, answer)
        raise
    return ChatStreamResponse(runtime, answer, f"{request.method} {request.url.path}")


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _error_event(exc: BaseException) -> bytes:
    if isinstance(exc, DrumHTTPError):
        message, code = exc.message, exc.status_code
    elif is_user_http_error(exc):
        message, code = str(exc), int(getattr(exc, "status_code", 400))
    else:
        message, code = str(exc) or type(exc).__name__, 500
    error = {"message": message, "type": "server_error" if code >= 500 else "invalid_request_error",
             "code": code}
    return b"event: error\ndata: " + orjson.dumps({"error": error}) + b"\n\n"


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` once the client goes away (the body was read: only that can come)."""
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:
        logger.debug("receive() failed during a chat stream; taken as a disconnect", exc_info=True)
    scope.cancel()


class ChatStreamResponse(Response):
    """A chat stream as Server-Sent Events, stopped when its client goes away."""

    media_type = EVENT_STREAM

    def __init__(self, runtime: DrumRuntime, stream: SyncChunks | AsyncChunks, what: str) -> None:
        self.runtime = runtime
        self.stream = stream
        self.what = what
        self.status_code = 200
        self.background = None
        self.init_headers()  # text/event-stream; charset=utf-8, no Content-Length
        self._ended = False
        # The request's span (ended when this is returned) is the stream span's parent.
        self._trace_context = current_context() if runtime.tracer is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.runtime.metrics
        if metrics is not None:
            metrics.streams.inc()
            metrics.streams_open.inc()
        try:
            if self._trace_context is not None:
                with self.runtime.tracer.start_as_current_span(
                    "drum.chat.completions.stream", context=self._trace_context
                ):
                    await self._stream(scope, receive, send)
            else:
                await self._stream(scope, receive, send)
        finally:
            if metrics is not None:
                metrics.streams_open.dec()

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            with anyio.CancelScope() as sending:
                watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, sending))
                try:
                    await self._send_events(send)
                finally:
                    watcher.cancel()
        finally:
            if not self._ended:
                await _close(self.runtime, self.stream)

    async def _send_events(self, send: Send) -> None:
        runtime, stream = self.runtime, self.stream
        sent = 0
        chunk = await _next_chunk(runtime, stream)
        while chunk is not None:
            await send(_body(_event(chunk), more=True))
            sent += 1
            try:
                chunk = await _next_chunk(runtime, stream)
            except Exception as exc:
                logger.error(
                    "%s: the chat stream failed after %d chunks", self.what, sent, exc_info=exc
                )
                await send(_body(_error_event(exc), more=False))
                return
        self._ended = True
        await send(_body(DONE, more=False))


def _body(data: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def get_supported_llm_models(runtime: DrumRuntime, request: Request) -> Response:
    model_chat.check_models_supported(runtime.config.target_type)
    model = runtime.loaded
    hook = model.hooks.get_supported_llm_models
    if hook is None:
        entries = model_chat.llm_models(runtime.config.llm_id)
    elif is_async(hook):
        entries = model_chat.models_from_hook(await _on_loop(runtime, hook, model.model))
    else:
        entries = await runtime.run_model(model_chat.supported_models, hook, model.model)
    body = orjson.dumps({"data": entries, "object": "list"}, option=orjson.OPT_SORT_KEYS)
    return Response(body, media_type="application/json")


async def forward_request(runtime: DrumRuntime, request: Request) -> Response:
    # DRUM answers this one without the "ERROR: " prefix.
    return json_response(
        {"message": "This endpoint is only supported by OpenAI based predictors"}, 400
    )


def current_span() -> Any:
    """The request's span (tracing is on: OpenTelemetry is installed)."""
    from opentelemetry import trace

    return trace.get_current_span()


def current_context() -> Any:
    from opentelemetry import context

    return context.get_current()
