"""``/predictUnstructured/`` and ``/predictionsUnstructured/``: ``score_unstructured``.

The route collects what DRUM hands the hook (body, media type, charset, Flask's
``request.args`` and ``dict(request.headers)``); decoding, calling and encoding
are ``LoadedModel.score_unstructured``'s, in a model thread, or on the event
loop for an ``async def`` hook.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from werkzeug.datastructures import ImmutableMultiDict

from ..config import TargetType
from ..errors import UnprocessableEntityError
from ..model.unstructured import UnstructuredAnswer, UnstructuredRequest
from ..model_runtime import DrumRuntime
from .samples import split_content_type

__all__ = ["hook_headers", "hook_query", "predict_unstructured"]

#: DRUM routes unstructured requests to these; text generation models too (guard models).
_SERVED = frozenset({TargetType.UNSTRUCTURED, TargetType.TEXT_GENERATION})


def hook_query(query_string: bytes) -> ImmutableMultiDict[str, str]:
    """The query as Flask's ``request.args``: ``query["a"]`` is the first value of ``a``."""
    pairs = parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True)
    return ImmutableMultiDict(pairs)


def hook_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers as DRUM passes them: ``dict(request.headers)`` under its gunicorn.

    Names capitalised as werkzeug does (``X-Foo``), repeated headers joined with
    ``,``.  (Names with an underscore never get here: ``RequestHeadersMiddleware``
    drops them, as gunicorn does.)
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").title()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


async def predict_unstructured(runtime: DrumRuntime, request: Request) -> Response:
    target_type = runtime.config.target_type
    if target_type not in _SERVED:
        raise UnprocessableEntityError(
            f"This model has target type {target_type}, use either /predict/ or /predictions/"
            " endpoint."
        )
    model = runtime.loaded
    if model.hooks.score_unstructured is None:
        # DRUM calls the missing hook here and answers 500 "'NoneType' object is not callable".
        raise UnprocessableEntityError(
            f"This model has target type {target_type} and its custom.py defines no"
            " score_unstructured hook; use either /predict/ or /predictions/ endpoint."
        )
    mimetype, charset = split_content_type(request.headers.get("content-type", ""))
    unstructured_request = UnstructuredRequest(
        data=await request.body(),
        mimetype=mimetype,
        charset=charset,
        query=hook_query(request.scope.get("query_string", b"")),
        headers=hook_headers(request.scope["headers"]),
    )
    if model.score_unstructured_is_async:
        # run_model awaits an async def on the loop (with the request timeout).
        answer = cast(
            UnstructuredAnswer,
            await runtime.run_model(model.score_unstructured_async, unstructured_request),
        )
    else:
        answer = await runtime.run_model(model.score_unstructured, unstructured_request)
    return Response(answer.body, headers={"Content-Type": answer.content_type})
