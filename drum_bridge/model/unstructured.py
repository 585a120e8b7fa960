"""Unstructured models: what ``score_unstructured`` gets, and what it may return.

DRUM's rules, without HTTP: the route collects an ``UnstructuredRequest``;
``hook_arguments`` decodes its body as DRUM does (``text/*``, ``application/json``
or no media type: a ``str`` in the request's charset, UTF-8 by default;
anything else: ``bytes``), and ``answer`` checks the hook's return (``str``,
``bytes``, ``None`` or ``(data, {"mimetype": ..., "charset": ...})``) and
encodes it with its Content-Type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import PredictionError, UnprocessableEntityError

__all__ = [
    "FLASK_DEFAULT_CONTENT_TYPE",
    "UnstructuredAnswer",
    "UnstructuredRequest",
    "answer",
    "hook_arguments",
    "is_text",
]

TEXT_DEFAULT = "text/plain"
BINARY_DEFAULT = "application/octet-stream"
CHARSET_DEFAULT = "utf-8"
#: What DRUM's Flask sends when a hook's answer names its media type as None.
FLASK_DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class UnstructuredRequest:
    """One request to ``/predictUnstructured/``, as the hook will see it."""

    data: bytes
    #: The media type of the Content-Type, lower-case; ``""`` without one.
    mimetype: str
    #: The charset the Content-Type names, as spelled; None without one.
    charset: str | None
    #: The query arguments (Flask's ``request.args``: ``query.get``, ``query.getlist``).
    query: Mapping[str, str]
    #: The request headers by their capitalised names (``X-Foo``); repeats joined with ``,``.
    headers: dict[str, str]


@dataclass(frozen=True)
class UnstructuredAnswer:
    body: bytes
    content_type: str


def is_text(mimetype: str) -> bool:
    """Whether DRUM hands a body of this media type to the hook as ``str``."""
    return mimetype.startswith("text/") or mimetype == "application/json"


def _decode(data: bytes, charset: str) -> str:
    """The body as text; a charset that cannot decode it is the client's error (DRUM: 500)."""
    try:
        return data.decode(charset)
    except LookupError as exc:
        raise UnprocessableEntityError(
            f"Unknown charset {charset!r} in the request's Content-Type"
        ) from exc
    except UnicodeDecodeError as exc:
        raise UnprocessableEntityError(
            f"The request body cannot be decoded as {charset} (the charset of its"
            f" Content-Type, UTF-8 if it names none): {exc}"
        ) from exc


def hook_arguments(request: UnstructuredRequest) -> tuple[str | bytes, dict[str, Any]]:
    """``data`` and the keyword arguments of ``score_unstructured(model, data, **kwargs)``.

    ``charset`` is passed only when known: named by the request, or UTF-8 for text.
    """
    mimetype = request.mimetype or TEXT_DEFAULT
    charset = request.charset
    data: str | bytes = request.data
    if is_text(mimetype):
        charset = charset or CHARSET_DEFAULT
        data = _decode(request.data, charset)
    kwargs: dict[str, Any] = {"mimetype": mimetype}
    if charset is not None:
        kwargs["charset"] = charset
    kwargs["query"] = request.query
    kwargs["headers"] = request.headers
    return data, kwargs


def _split(result: Any) -> tuple[str | bytes | None, dict[str, Any]]:
    """The data and options of a hook's return, checked with DRUM's messages."""
    if not isinstance(result, tuple):
        if not isinstance(result, (str, bytes, type(None))):
            raise PredictionError(
                "In unstructured mode single return value can be of type str/bytes, but"
                f" received {type(result)}"
            )
        return result, {}
    if len(result) != 2:
        raise PredictionError(
            "In unstructured mode predictions of type tuple must have length = 2, but received"
            f" length = {len(result)}"
        )
    data, options = result
    if not isinstance(data, (str, bytes, type(None))) or not isinstance(options, (dict, type(None))):
        raise PredictionError(
            "In unstructured mode tuple return value must be of type (str/bytes, dict) but"
            f" received ({type(data)}, {type(options)})"
        )
    return data, options or {}


def answer(result: Any) -> UnstructuredAnswer:
    """The response for what ``score_unstructured`` returned.

    Text is encoded in the charset the options name (UTF-8 by default) and sent as
    ``text/plain`` unless they name another media type; bytes go as they are, as
    ``application/octet-stream`` by default; None is an empty text body.  Other
    option keys are ignored, as in DRUM.
    """
    data, options = _split(result)
    if isinstance(data, bytes):
        mimetype = options.get("mimetype", BINARY_DEFAULT)
        charset = options.get("charset")
        body = data
    else:
        mimetype = options.get("mimetype", TEXT_DEFAULT)
        charset = options.get("charset", CHARSET_DEFAULT)
        # An unusable charset (None, unknown) fails here: the model's error, a 500 as in DRUM.
        body = b"" if data is None else data.encode(charset)
    if mimetype is None:
        return UnstructuredAnswer(body, FLASK_DEFAULT_CONTENT_TYPE)
    content_type = str(mimetype) if charset is None else f"{mimetype}; charset={charset}"
    return UnstructuredAnswer(body, content_type)
