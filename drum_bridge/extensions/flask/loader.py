"""custom_flask.py: build the legacy Flask app, hand it to ``init_app``, return its pieces."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.middleware import Middleware
from starlette.routing import Router

from ...config import Config
from ...thread_pool import ThreadPool
from ..importing import call_init_app, import_extension
from ..loaded import LoadedExtensions
from .hooks_middleware import FlaskHooksMiddleware
from .internals import has_async_hooks
from .legacy_app import build_legacy_app
from .mount import LegacyFlaskMount

__all__ = ["load_flask_extension"]

logger = logging.getLogger("drum_bridge.extensions")


def load_flask_extension(config: Config, path: Path, *, router: Router) -> LoadedExtensions:
    """The hooks middleware (deciding with ``router`` who answers), the mount, their shutdown."""
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
    hook_pool = ThreadPool(config.flask_hook_threads, "drum-flask-hooks")
    mount = LegacyFlaskMount(flask_app.wsgi_app, threads=config.wsgi_threads)

    async def close_mount() -> None:
        # At lifespan shutdown the grace period is over: streams get a second to notice.
        await mount.aclose(min(1.0, config.graceful_timeout))

    async def close_hook_pool() -> None:
        hook_pool.shutdown()

    logger.info("Successfully loaded Flask extensions")
    return LoadedExtensions(
        middleware=(
            Middleware(
                FlaskHooksMiddleware, flask_app=flask_app, router=router, inline=inline, pool=hook_pool
            ),
        ),
        fallback=mount,
        on_shutdown=(close_mount, close_hook_pool),
    )
