"""What a custom_flask.py holds, as ``reading`` finds it and ``writing`` uses it."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .report import Finding, Report
from .translating import FlaskNames, TokenAuth

__all__ = ["FlaskExtension", "Function", "Hook", "KNOWN_EXTENSIONS", "Route", "fastapi_path", "middleware_name"]

#: Flask extensions without an automatic counterpart: module -> (what it becomes, why not automatic).
KNOWN_EXTENSIONS: dict[str, tuple[str, str]] = {
    "flask_limiter": ("slowapi's Limiter (a Starlette rate limiter)",
                      "limits and their storage are configured differently; port them by hand"),
    "flask_talisman": ("a pure ASGI middleware setting the same security headers",
                       "Talisman's policies (CSP, HTTPS redirects) have no one-to-one counterpart"),
    "prometheus_flask_exporter": ("prometheus-fastapi-instrumentator",
                                  "metric names and labels differ; dashboards need a look"),
    "flask_compress": ("starlette.middleware.gzip.GZipMiddleware",
                       "compression levels and MIME types are configured differently"),
    "flask_caching": ("a cache of your own (no drop-in counterpart)", "caches views through Flask's request context"),
    "flask_login": ("a FastAPI dependency reading your session or token", "sessions and user loading are Flask's"),
    "flask_jwt_extended": ("a FastAPI dependency verifying the JWT (e.g. with PyJWT)",
                           "its decorators read Flask's request context"),
    "flask_sqlalchemy": ("SQLAlchemy itself, with a session per request as a dependency",
                         "the session is bound to Flask's app context"),
}


Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Hook:
    finding: Finding
    func: Function
    #: The middleware class it becomes.
    class_name: str
    #: The translated body (``None``: not translatable, a marked place is written).
    code: list[ast.stmt] | None


@dataclass
class Route:
    finding: Finding
    func: Function
    #: ``"router"`` for the app's own routes, else the blueprint's variable.
    router: str
    path: str
    methods: list[str]
    endpoint: str
    #: The translated body (``None``: not translatable, a marked place is written).
    code: list[ast.stmt] | None
    #: ``@auth.login_required`` on the view: the dependency it becomes.
    auth: TokenAuth | None = None


@dataclass
class FlaskExtension:
    report: Report
    tree: ast.Module
    names: FlaskNames
    #: Module-level statements carried over as they are (constants, helpers, imports).
    carried: list[ast.stmt] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    #: Blueprint variable -> (blueprint name, url_prefix at registration or definition).
    blueprints: dict[str, tuple[str, str]] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)
    #: flask-cors options (keyword -> source text), in registration order among the after hooks.
    cors: dict[str, str] | None = None
    #: Hooks and flask-cors (its finding), in the order they were registered.
    order: list[Hook | Finding] = field(default_factory=list)
    #: Header names the hooks read or set, and string values they compare with.
    headers_read: set[str] = field(default_factory=set)
    headers_set: set[str] = field(default_factory=set)
    values: list[str] = field(default_factory=list)


def fastapi_path(rule: str) -> str:
    """A werkzeug rule as a FastAPI path: ``/<int:id>`` -> ``/{id}``, ``<path:p>`` -> ``{p:path}``."""
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "{" + m.group(2) + (":path" if m.group(1) == "path" else "") + "}",
                  rule)


def middleware_name(function: str) -> str:
    """``check_auth`` -> ``CheckAuthMiddleware``."""
    return "".join(part[:1].upper() + part[1:] for part in function.split("_") if part) + "Middleware"
