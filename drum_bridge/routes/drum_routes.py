"""``DrumRoutes``: one Starlette route that answers the whole DRUM table as Flask would.

It sits first in the FastAPI router.  A full werkzeug match is a ``FULL``
match; a path that DRUM would redirect (308) or refuse by method (405, or the
automatic ``OPTIONS`` answer) is ``PARTIAL``, so that a user route matching
exactly still wins; anything else is ``NONE`` and routing goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send
from werkzeug.exceptions import BadHost, MethodNotAllowed, NotFound
from werkzeug.routing import BuildError, Map, MapAdapter, RequestRedirect

from ..asgi.responses import error_response, werkzeug_response
from ..asgi.scope import ROUTE_KEY, request_host, route_path

__all__ = ["DrumRoutes", "Endpoint", "MATCH_KEY", "bind_map"]

Endpoint = Callable[[Request], Awaitable[Response]]
MATCH_KEY = "drum_bridge.match"
SEEN_KEY = "drum_bridge.drum_routes_seen"


def bind_map(url_map: Map, scope: Scope) -> MapAdapter:
    """Bind ``url_map`` to the request, so redirects name the host and root path it used."""
    return url_map.bind(
        request_host(scope),
        script_name=scope.get("root_path") or "/",
        url_scheme=scope.get("scheme", "http"),
        path_info=route_path(scope),
        default_method=scope["method"],
        query_args=scope.get("query_string", b"").decode("latin-1"),
    )


def _exact_paths(url_map: Map) -> dict[str, dict[str, str]]:
    """Static rule paths -> {method: endpoint}: the spellings werkzeug would match as they are."""
    exact: dict[str, dict[str, str]] = {}
    for rule in url_map.iter_rules():
        if rule.arguments:
            continue
        methods = exact.setdefault(rule.rule, {})
        for method in rule.methods or ():
            if method != "OPTIONS":
                methods[method] = str(rule.endpoint)
    return exact


class DrumRoutes(BaseRoute):
    def __init__(self, url_map: Map, endpoints: Mapping[str, Endpoint]) -> None:
        missing = {rule.endpoint for rule in url_map.iter_rules()} - set(endpoints)
        if missing:
            raise ValueError(f"no endpoint for DRUM rules: {sorted(missing)}")
        self.url_map = url_map
        self.endpoints = endpoints
        # Most requests spell a route exactly; they skip binding and matching the map.
        self._exact = _exact_paths(url_map)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        # The Flask hooks middleware asks first, then the router: match once per request.
        seen = scope.get(SEEN_KEY)
        if seen is not None and seen[0] is scope["path"] and seen[1] is scope["method"]:
            return seen[2]  # type: ignore[no-any-return]
        result = self._match(scope)
        scope[SEEN_KEY] = (scope["path"], scope["method"], result)
        return result

    def _match(self, scope: Scope) -> tuple[Match, Scope]:
        method = scope["method"]
        path = route_path(scope)
        exact = self._exact.get(path)
        if exact is not None and method in exact:
            return Match.FULL, {MATCH_KEY: exact[method], ROUTE_KEY: path, "path_params": {}}
        try:
            adapter = bind_map(self.url_map, scope)
        except BadHost as bad_host:
            # A Host werkzeug cannot read (a label over 63 characters): 400, as in DRUM.
            return Match.FULL, {MATCH_KEY: bad_host}
        try:
            rule, args = adapter.match(path, method, return_rule=True)
        except RequestRedirect as redirect:
            return Match.PARTIAL, {MATCH_KEY: redirect}
        except MethodNotAllowed as refusal:
            return Match.PARTIAL, {MATCH_KEY: refusal}
        except NotFound:
            return Match.NONE, {}
        if method == "OPTIONS":
            allowed = adapter.allowed_methods(path)
            return Match.FULL, {MATCH_KEY: allowed, ROUTE_KEY: rule.rule}
        return Match.FULL, {MATCH_KEY: rule.endpoint, ROUTE_KEY: rule.rule, "path_params": args}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        outcome: Any = scope[MATCH_KEY]
        if isinstance(outcome, str):
            response = await self.endpoints[outcome](Request(scope, receive))
        elif isinstance(outcome, list):
            # Flask's automatic OPTIONS answer: empty, with the allowed methods.
            response = Response(headers={"Allow": ", ".join(outcome)}, media_type="text/html")
        elif isinstance(outcome, BadHost):
            response = error_response(f"{outcome.code} {outcome.name}: {outcome.description}", 400)
        else:
            response = werkzeug_response(outcome)
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """``request.url_for("model_api.predict")`` works as ``url_for`` does in Flask."""
        try:
            path = self.url_map.bind("localhost").build(name, path_params)
        except BuildError:
            raise NoMatchFound(name, path_params) from None
        return URLPath(path=path, protocol="http")
