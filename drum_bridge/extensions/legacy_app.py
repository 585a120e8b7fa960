"""The Flask app ``custom_flask.py`` receives: shaped like real DRUM's.

It carries the ``model_api`` blueprint with DRUM's rules (under ``URL_PREFIX``),
so ``request.endpoint == "model_api.ping"`` holds in a hook and
``url_for("model_api.predict")`` builds.  DRUM's routes themselves are answered
by FastAPI; the views here only give the rules their names.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from flask.sessions import NullSession, SecureCookieSessionInterface
from flask.signals import appcontext_tearing_down, request_tearing_down
from werkzeug.exceptions import BadHost, HTTPException
from werkzeug.routing import MapAdapter, Rule
from werkzeug.wsgi import get_host

from ..routes.table import BLUEPRINT, DRUM_RULES, prefixed

__all__ = ["build_legacy_app", "LEGACY_APP_NAME"]

#: The app's import name, and so its logger's name (configured with drum_bridge.*).
LEGACY_APP_NAME = "drum_bridge.legacy_flask"


def _served_by_fastapi(**_: Any) -> Any:
    # FlaskHooksMiddleware sends every request for these rules to FastAPI; reaching
    # this view means that routing broke, and answering it would bypass nothing but
    # would be wrong, so fail loudly.
    raise RuntimeError("drum-bridge routing error: a DRUM route reached the legacy Flask app")


def _default_error(exc: Exception) -> Any:
    """The fallback error handler; the user's own handlers take precedence.

    On DRUM's routes it answers as DRUM's blueprint handler does,
    ``{"message": "ERROR: ..."}`` with 500, except that HTTP errors (``abort(403)``)
    keep their status: real DRUM answers those with 500 (see "Differences from
    DRUM" in the README).  Elsewhere HTTP errors get Flask's own pages, as in DRUM.
    """
    on_drum_route = BLUEPRINT in request.blueprints
    if isinstance(exc, HTTPException):
        if not on_drum_route or exc.code is None:
            return exc
        if exc.code == 400:
            return jsonify(error=exc.description), 400
        return jsonify(message=f"ERROR: {exc}"), exc.code
    return jsonify(message=f"ERROR: {exc}"), 500


_SERVER_NAMES_LIMIT = 256
#: Flask's "no argument given" marker for teardown: the exception being handled, if any.
_UNSET: Any = object()
#: Hooks and views are few; per-request closures (after_this_request) stop being remembered.
_SYNC_FUNCTIONS_LIMIT = 256


class _MatchCache:
    """Successful matches of a map by (path, method): the rule and its arguments.

    Bounded: when full it starts again, so random paths cannot grow it.
    """

    LIMIT = 1024

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[Rule, dict[str, Any]]] = {}

    def adapter_class(self) -> type[MapAdapter]:
        entries = self.entries
        limit = self.LIMIT

        class CachedMatchAdapter(MapAdapter):
            def match(self, path_info: str | None = None, method: str | None = None,
                      return_rule: bool = False, query_args: Any = None,
                      websocket: bool | None = None) -> Any:
                if path_info is not None or method is not None or websocket or not return_rule:
                    if return_rule:
                        return super().match(path_info, method, True, query_args, websocket)
                    return super().match(path_info, method, False, query_args, websocket)
                key = (self.path_info, self.default_method)
                hit = entries.get(key)
                if hit is not None:
                    return hit[0], dict(hit[1])
                rule, args = super().match(return_rule=True, query_args=query_args)
                if len(entries) >= limit:
                    entries.clear()
                entries[key] = (rule, dict(args))
                return rule, args

        return CachedMatchAdapter


class _SharedNullSession(SecureCookieSessionInterface):
    """Flask's cookie sessions; without a secret key, one read-only null session for all.

    Flask makes a new null session per request although it refuses every change;
    the one flag it sets on it (``accessed``) only matters to sessions it saves.
    """

    def make_null_session(self, app: Flask) -> NullSession:
        null = getattr(self, "_null", None)
        if null is None:
            null = self._null = super().make_null_session(app)
        return null


class LegacyFlask(Flask):
    """Flask, with a quicker URL adapter for the common configuration.

    ``bind_to_environ`` re-derives the host and decodes the environ on every request,
    and matching walks the rules; without trusted hosts, ``SERVER_NAME``, host or
    subdomain matching, the adapter is bound to what the request already has and
    remembers its matches.  Every hook of every translated request pays for this.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = _SharedNullSession()
        self._adapter_class = _MatchCache().adapter_class()
        self._server_names: dict[tuple[Any, ...], str] = {}
        self._sync_functions: dict[Callable[..., Any], Callable[..., Any]] = {}

    def do_teardown_request(self, exc: BaseException | None = _UNSET) -> None:
        # Nothing registered, nothing listening: Flask's loop and signal would do nothing.
        if any(self.teardown_request_funcs.values()) or request_tearing_down.receivers:
            super().do_teardown_request(sys.exc_info()[1] if exc is _UNSET else exc)

    def do_teardown_appcontext(self, exc: BaseException | None = _UNSET) -> None:
        if self.teardown_appcontext_funcs or appcontext_tearing_down.receivers:
            super().do_teardown_appcontext(sys.exc_info()[1] if exc is _UNSET else exc)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's, remembered per function: it runs for every hook of every request."""
        try:
            known = self._sync_functions.get(func)
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)
        if known is None:
            known = super().ensure_sync(func)
            if len(self._sync_functions) < _SYNC_FUNCTIONS_LIMIT:
                self._sync_functions[func] = known
        return known

    def create_url_adapter(self, request: Any) -> MapAdapter | None:
        if request is None and self.config["SERVER_NAME"] is None:
            return None  # an app context outside a request: nothing to bind to
        if (
            request is None
            or self.config.get("TRUSTED_HOSTS") is not None
            or self.config["SERVER_NAME"] is not None
            or self.url_map.host_matching
            or self.subdomain_matching
        ):
            return super().create_url_adapter(request)
        environ = request.environ
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            return super().create_url_adapter(request)
        # The same adapter bind_to_environ() builds, from the same environ values.
        return self._adapter_class(
            self.url_map,
            self._server_name(environ),
            _wsgi_text(environ.get("SCRIPT_NAME") or "/"),
            self.url_map.default_subdomain or "",
            environ["wsgi.url_scheme"],
            _wsgi_text(environ.get("PATH_INFO") or "/"),
            environ["REQUEST_METHOD"],
            _wsgi_text(environ.get("QUERY_STRING", "")),
        )

    def _server_name(self, environ: dict[str, Any]) -> str:
        """The host as Map.bind() normalises it (port kept, IDNA), cached per Host value."""
        key = (environ["wsgi.url_scheme"], environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
               environ.get("SERVER_PORT"))
        name = self._server_names.get(key)
        if name is None:
            host, sep, port = get_host(environ).lower().partition(":")
            try:
                name = f"{host.encode('idna').decode('ascii')}{sep}{port}"
            except UnicodeError as exc:
                raise BadHost() from exc
            if len(self._server_names) >= _SERVER_NAMES_LIMIT:
                self._server_names.clear()
            self._server_names[key] = name
        return name


def _wsgi_text(value: str) -> str:
    # WSGI strings are latin-1 code points of the raw bytes; werkzeug decodes them so.
    return value.encode("latin-1").decode("utf-8", "replace")


def build_legacy_app(code_dir: Path, url_prefix: str) -> Flask:
    app = LegacyFlask(LEGACY_APP_NAME, root_path=str(code_dir))
    blueprint = Blueprint(BLUEPRINT, LEGACY_APP_NAME)
    for rule in DRUM_RULES:
        blueprint.add_url_rule(
            prefixed(url_prefix, rule.path),
            endpoint=rule.name,
            view_func=_served_by_fastapi,
            methods=list(rule.methods),
        )
    app.register_blueprint(blueprint)
    # App level, not on the blueprint, so that init_app's handlers (per code, per
    # class, or for Exception) take precedence, as the user expects.
    app.register_error_handler(Exception, _default_error)
    return app
