"""Running a legacy Flask app's request hooks around a response Flask does not make.

This is the only module that touches Flask internals (request contexts,
``preprocess_request``, ``process_response``, ``handle_user_exception``,
``finalize_request``, ``handle_exception``).  Flask 3.2 changes several of
these signatures; setup.cfg pins the Flask range this module is tested with.

A ``FlaskRequestCycle`` is one request: its steps run in the request's own
``contextvars.Context``, so Flask's context-local ``request``, ``g`` and
``session`` stay the same across steps that run in different threads, and
never leak between concurrent requests.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response
from flask.ctx import RequestContext
from flask.signals import request_started

__all__ = ["FlaskRequestCycle", "HeaderList", "has_async_hooks", "has_teardown_work"]

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
