"""``StartupErrorMiddleware``: a failed start-up reported in one readable line.

Starlette reports a lifespan failure with the whole traceback, which uvicorn
logs before exiting.  A user whose model does not load needs the cause, so the
message becomes ``Model failed to load: <cause>`` on one line; the traceback
stays available with ``--show-stacktrace``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["StartupErrorMiddleware"]


class StartupErrorMiddleware:
    def __init__(
        self, app: ASGIApp, *, cause: Callable[[], BaseException | None], show_stacktrace: bool
    ) -> None:
        self.app = app
        self.cause = cause
        self.show_stacktrace = show_stacktrace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" or self.show_stacktrace:
            await self.app(scope, receive, send)
            return

        async def send_short(message: Message) -> None:
            exc = self.cause()
            if message["type"] == "lifespan.startup.failed" and exc is not None:
                message = {**message, "message": one_line(exc)}
            await send(message)

        await self.app(scope, receive, send_short)


def one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
