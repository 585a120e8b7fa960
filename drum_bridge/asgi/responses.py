"""Responses in DRUM's shapes: JSON bodies, error messages and werkzeug's HTML pages."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from werkzeug.exceptions import HTTPException as WerkzeugHTTPException

__all__ = ["USER_HTTP_ERROR_HEADER", "json_response", "error_response", "werkzeug_response"]

JSON = "application/json"


USER_HTTP_ERROR_HEADER = "X-Drum-User-Http-Error"


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, headers=headers, media_type=JSON)


def error_response(
    message: str, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    """DRUM's error body: ``{"message": "ERROR: <message>"}``."""
    return json_response({"message": f"ERROR: {message}"}, status_code, headers=headers)


def werkzeug_response(exc: WerkzeugHTTPException) -> Response:
    """The page Flask would send for a routing error (404, 405, 308), headers included."""
    page = exc.get_response()
    headers = {k: v for k, v in page.headers.items() if k.lower() != "content-length"}
    return Response(page.get_data(), status_code=page.status_code, headers=headers)
