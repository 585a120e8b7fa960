"""custom_flask.py: build the legacy Flask app, hand it to ``init_app``, wire it in."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..threads import ThreadPool
from .fastapi_loader import call_init_app, import_extension
from .flask_hooks import has_async_hooks
from .flask_middleware import FlaskHooksMiddleware
from .flask_mount import LegacyFlaskMount
from .legacy_app import build_legacy_app

if TYPE_CHECKING:
    from ..app import DrumApp

__all__ = ["load_flask_extension"]

logger = logging.getLogger("drum_bridge.extensions")


def load_flask_extension(app: DrumApp, config: Config, path: Path) -> None:
    logger.info("Detected %s .. trying to load Flask extensions", path.name)
    module = import_extension(path, "drum_bridge_custom_flask")
    flask_app = build_legacy_app(config.code_dir, config.url_prefix)
    call_init_app(module, path, flask_app)

    inline = config.flask_hooks_inline
    if inline and has_async_hooks(flask_app):
        logger.warning(
            "custom_flask.py has async def hooks; they cannot run on the event loop, so its"
            " hooks run in worker threads despite the inline setting"
        )
        inline = False
    router = app.router
    hook_pool = ThreadPool(config.flask_hook_threads, "drum-flask-hooks")
    app.drum_outer_middleware.append(
        lambda inner: FlaskHooksMiddleware(
            inner, flask_app=flask_app, router=router, inline=inline, pool=hook_pool
        )
    )
    mount = LegacyFlaskMount(flask_app.wsgi_app, threads=config.wsgi_threads)
    router.default = mount
    app.drum_runtime.on_shutdown.append(lambda: mount.aclose(config.graceful_timeout))
    app.drum_runtime.on_shutdown.append(_async(hook_pool.shutdown))
    app.state.legacy_flask_app = flask_app
    logger.info("Successfully loaded Flask extensions")


def _async(func: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        func()

    return call
