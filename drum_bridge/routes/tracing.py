"""A DRUM-named OpenTelemetry span around a request of the model routes.

Only imported work happens here when tracing is on (``runtime.tracer`` set):
the caller's context comes from the request headers through the configured
propagators (``traceparent`` by default), as DRUM takes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..observability.tracing import consumer_attributes

__all__ = ["traced"]


async def traced(
    tracer: Any, name: str, request: Request, answer: Callable[[Request], Awaitable[Response]]
) -> Response:
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind, Status, StatusCode

    parent = propagate.extract(request.headers)
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER) as span:
        span.set_attributes(consumer_attributes(request.headers))
        response = await answer(request)
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))
        return response
