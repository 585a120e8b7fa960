"""Reading an HTTP scope: the path a route sees, and the host the client named."""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["ROUTE_KEY", "request_host", "route_path"]


#: The path template of the route that matched, set by routing (metrics label requests by it).
ROUTE_KEY = "drum_bridge.route"


def route_path(scope: Scope) -> str:
    """The path below the app's mount point (``root_path``), as routes match it."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def request_host(scope: Scope) -> str:
    """The ``Host`` header, else the server's address (as werkzeug derives it)."""
    for name, value in scope["headers"]:
        if name == b"host":
            return bytes(value).decode("latin-1")
    server = scope.get("server")
    if server is None:
        return "localhost"
    host, port = server
    return f"{host}:{port}" if port else str(host)
