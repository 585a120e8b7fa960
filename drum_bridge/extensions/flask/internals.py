"""Everything that depends on Flask's internals: the one module to revisit when Flask changes.

Two things live here:

- ``FlaskRequestCycle`` runs a legacy Flask app's request hooks around a
  response Flask does not make: it drives a ``RequestContext`` by hand
  (``preprocess_request``, ``process_response``, ``handle_user_exception``,
  ``finalize_request``, ``handle_exception``) and reads the context's private
  ``_cv_tokens``, ``_after_request_functions`` and session slot.
- ``LegacyFlask`` overrides ``do_teardown_request``, ``do_teardown_appcontext``,
  ``ensure_sync`` and ``create_url_adapter``, with a ``MapAdapter`` whose
  ``match`` remembers its answers, and a session interface that shares one
  null session.

Flask 3.2 changes the teardown signatures and drops ``_cv_tokens``;
setup.cfg pins the Flask range this module is tested with (3.0 and 3.1).

A ``FlaskRequestCycle`` is one request: its steps run in the request's own
``contextvars.Context``, so Flask's context-local ``request``, ``g`` and
``session`` stay the same across steps that run in different threads, and
never leak between concurrent requests.
"""

from __future__ import annotations

import contextvars
import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from flask.ctx import RequestContext
from flask.sessions import NullSession, SecureCookieSessionInterface
from flask.signals import appcontext_tearing_down, request_started, request_tearing_down
from werkzeug.exceptions import BadHost
from werkzeug.routing import MapAdapter, Rule
from werkzeug.wsgi import get_host

__all__ = ["FlaskRequestCycle", "HeaderList", "LegacyFlask", "has_async_hooks", "has_teardown_work"]

HeaderList = list[tuple[str, str]]
#: What a step answers when the request ends early: status, headers and the whole body.
Answer = tuple[int, HeaderList, bytes]


def _hook_functions(app: Flask) -> Iterable[Any]:
    for registry in (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.url_value_preprocessors,
    ):
        for funcs in registry.values():
            yield from funcs
    yield from app.teardown_appcontext_funcs


def has_async_hooks(app: Flask) -> bool:
    """``async def`` hooks run through asgiref, which refuses a thread running an event loop."""
    return any(inspect.iscoroutinefunction(func) for func in _hook_functions(app))


def has_teardown_work(app: Flask) -> bool:
    """Whether tearing a request down runs user code (which may block)."""
    return bool(any(app.teardown_request_funcs.values()) or app.teardown_appcontext_funcs)


def _answer(response: Response) -> Answer:
    try:
        body = b"".join(response.iter_encoded())
    finally:
        response.close()
    return response.status_code, response.headers.to_wsgi_list(), body


class FlaskRequestCycle:
    """Flask's request handling for one request, minus the view: hooks before and after."""

    def __init__(self, app: Flask, environ: dict[str, Any]) -> None:
        self.app = app
        self.context = contextvars.Context()
        # Making the context reads no context variable; pushing it (in ``begin``) sets them.
        self.ctx: RequestContext = app.request_context(environ)
        self.pushed = False

    def begin(self) -> Answer | None:
        """Push the context and run the before-request hooks.

        Answers the response when a hook ends the request (a returned value, an
        ``abort()``, an exception): after-request hooks have then run on it.
        """
        return self.context.run(self._begin)

    def _begin(self) -> Answer | None:
        app = self.app
        try:
            self.ctx.push()
        finally:
            # A push that failed half-way (a session interface raising) still pops.
            self.pushed = bool(self.ctx._cv_tokens)
        error: BaseException | None = None
        try:
            if request_started.receivers:
                request_started.send(app, _async_wrapper=app.ensure_sync)
            rv = app.preprocess_request()
            if rv is None and isinstance(self.ctx.request.routing_exception, BadHost):
                # Flask would answer it when dispatching: the route must not answer instead.
                raise self.ctx.request.routing_exception
        except Exception as exc:
            error = exc
            rv = self._handle(exc)
        if rv is None:
            return None
        try:
            try:
                return _answer(app.finalize_request(rv))
            except Exception as exc:
                error = exc
                return _answer(app.handle_exception(exc))
        finally:
            # The request ends here, as in Flask: teardown runs once the answer is made.
            self._pop(error)

    def _handle(self, exc: Exception) -> Any:
        try:
            return self.app.handle_user_exception(exc)
        except Exception as unhandled:
            return self.app.handle_exception(unhandled)

    def needs_after(self, app_has_after_hooks: bool) -> bool:
        """Whether the response must pass through Flask: after-request hooks or a session."""
        if app_has_after_hooks:
            return True
        ctx = self.ctx
        # Flask 3.1 keeps the opened session in ``_session`` (``session`` is a property
        # that marks it accessed); Flask 3.0 in the plain attribute ``session``.
        state = vars(ctx)
        session = state.get("_session", state.get("session"))
        return bool(
            ctx._after_request_functions
            or (session is not None and not self.app.session_interface.is_null_session(session))
        )

    def after(self, status: int, headers: HeaderList) -> tuple[int, HeaderList, bytes | None]:
        """Run the after-request hooks on a response made elsewhere.

        The hooks see the status and headers (the body is not buffered, so
        streams keep streaming).  A hook that sets a body, or returns another
        response, replaces the body: it is answered as the third item.
        """
        return self.context.run(self._after, status, headers)

    def _after(self, status: int, headers: HeaderList) -> tuple[int, HeaderList, bytes | None]:
        app = self.app
        placeholder = app.response_class(status=status, headers=headers)
        if not any(name.lower() == "content-type" for name, _ in headers):
            del placeholder.headers["Content-Type"]
        empty = placeholder.response
        try:
            response = app.process_response(placeholder)
        except Exception as exc:
            return _answer(app.handle_exception(exc))
        if response is placeholder and response.response is empty:
            return response.status_code, response.headers.to_wsgi_list(), None
        return _answer(response)

    def end(self, exc: BaseException | None = None) -> None:
        """Tear down: teardown hooks run with the request's exception, if any."""
        if self.pushed:
            self.context.run(self._pop, exc)

    def _pop(self, exc: BaseException | None) -> None:
        if self.pushed:
            self.pushed = False
            self.ctx.pop(exc)


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
