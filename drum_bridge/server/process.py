"""Serving a ``Config`` with uvicorn: one process, or N worker processes on one port.

Worker processes import ``app_factory`` by name and read the Config the parent
put in the environment (``worker_config``).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from ..app import DrumApp, create_app
from ..config import Config
from .logging_config import logging_config
from .worker_config import CONFIG_ENV, decode_config, encode_config

__all__ = ["app_factory", "serve"]

logger = logging.getLogger("drum_bridge.server")


def app_factory() -> DrumApp:
    """What each uvicorn worker process imports: the app for the parent's Config."""
    return create_app(decode_config(os.environ[CONFIG_ENV]))


def serve(config: Config, level: str) -> None:
    """Serve until a signal stops the server; ``level`` is the logging level's name."""
    import uvicorn

    os.environ[CONFIG_ENV] = encode_config(config)
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_config": logging_config(level),
        "timeout_graceful_shutdown": config.graceful_timeout,
        "proxy_headers": False,
        "server_header": False,
    }
    # uvicorn re-raises the SIGTERM it handled once it has shut down; a shutdown asked
    # for is a clean exit (code 0), so the re-raised signal must not kill the process.
    signal.signal(signal.SIGTERM, _shutdown_done)
    if config.max_workers > 1:
        uvicorn.run(f"{__name__}:app_factory", factory=True, workers=config.max_workers, **options)
    else:
        uvicorn.run(create_app(config), **options)


def _shutdown_done(signum: int, frame: object) -> None:
    logger.info("Shut down on signal %d", signum)
