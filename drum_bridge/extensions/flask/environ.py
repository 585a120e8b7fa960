"""A WSGI environ for an ASGI HTTP scope, as a2wsgi builds it for the legacy Flask routes.

Translated hooks see the request keys a2wsgi would set for the same request
(method, script name and path, query, server, client, headers), so a hook
reads a request the same way on both paths.  The body stream's class,
``wsgi.errors`` and ``asgi.scope`` differ: a hook that inspects those can tell
the two paths apart.  It is built per request on the hot path, so it caches
header names.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from starlette.types import Scope

from ...asgi.scope import route_path

__all__ = ["build_environ"]

_HEADER_KEYS: dict[bytes, str] = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}
_CACHE_LIMIT = 512


def _header_key(name: bytes) -> str:
    key = _HEADER_KEYS.get(name)
    if key is None:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if len(_HEADER_KEYS) < _CACHE_LIMIT:
            _HEADER_KEYS[name] = key
    return key


_NO_BODY = io.BytesIO()


def build_environ(scope: Scope, body: io.RawIOBase | None) -> dict[str, Any]:
    """The environ; ``body`` is read as the request's ``wsgi.input`` (None: it has none)."""
    root_path: str = scope.get("root_path", "")
    path = route_path(scope)
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "asgi.scope": scope,
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or 0),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": _NO_BODY if body is None else io.BufferedReader(body),
        # The stream ends where the body does, chunked bodies included (werkzeug reads those only then).
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client is not None:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for name, value in scope["headers"]:
        key = _header_key(name)
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ
