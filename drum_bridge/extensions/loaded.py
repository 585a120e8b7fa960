"""``LoadedExtensions``: what extensions add around the FastAPI app, for ``create_app`` to wire.

A ``custom_fastapi.py`` changes the FastAPI app itself (its ``init_app`` gets
it).  A ``custom_flask.py`` adds pieces that live outside FastAPI's stack:
a middleware around it, the app that answers what no route claims, and work
to do at shutdown.  The loaders return those; they never wire themselves in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.middleware import Middleware
from starlette.types import ASGIApp

__all__ = ["LoadedExtensions"]


@dataclass(frozen=True)
class LoadedExtensions:
    """What the model dir's extensions add around the FastAPI app."""

    #: Middleware around FastAPI's whole stack, outermost first (the translated Flask hooks).
    middleware: tuple[Middleware, ...] = ()
    #: What answers a request no route claims (the legacy Flask app), else None.
    fallback: ASGIApp | None = None
    #: Awaited at shutdown, in order.
    on_shutdown: tuple[Callable[[], Awaitable[None]], ...] = ()
