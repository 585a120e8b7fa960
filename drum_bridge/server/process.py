"""Serving a ``Config`` with uvicorn: one process, or N worker processes on one port.

The serving process (or each worker) builds its app with ``app_factory``, from
the Config the parent put in the environment (``worker_config``).

Shutting down, as an orchestrator expects: on SIGTERM (or SIGINT) the
listener closes, model calls still queued are answered 503 at once instead of
running after it (``DrumRuntime.begin_drain``), requests in flight get until
``--graceful-timeout``, and then nothing waits for a stuck model thread.  A
second signal during the drain ends the process at once (exit status 1).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

from ..app import DrumApp, create_app
from ..config import Config
from ..model_runtime import DrumRuntime
from .logging_config import logging_config
from .worker_config import CONFIG_ENV, decode_config, encode_config

__all__ = ["app_factory", "serve"]

logger = logging.getLogger("drum_bridge.server")


def app_factory() -> DrumApp:
    """What the serving process (each worker) calls: the app for the parent's Config.

    uvicorn calls it once its own signal handlers are in place, so that the drain
    can be chained in front of them.
    """
    app = create_app(decode_config(os.environ[CONFIG_ENV]))
    _drain_on_signals(app.drum_runtime)
    return app


def _drain_on_signals(runtime: DrumRuntime) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only; an embedding host handles its own
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    seen: list[int] = []

    def chain(previous: Any) -> Any:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            seen.append(signum)
            if len(seen) > 1:
                logger.warning("Signal %d during the drain: exiting now", signum)
                os._exit(1)
            loop.call_soon_threadsafe(_begin_drain, runtime, signum)
            previous(signum, frame)

        return on_signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if callable(previous):
            signal.signal(sig, chain(previous))


def _begin_drain(runtime: DrumRuntime, signum: int) -> None:
    refused = runtime.begin_drain()
    logger.warning(
        "Signal %d: draining (queued model calls answered 503: %d; a second signal exits at once)",
        signum, refused,
    )


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
    uvicorn.run(f"{__name__}:app_factory", factory=True, workers=config.max_workers, **options)


def _shutdown_done(signum: int, frame: object) -> None:
    logger.info("Shut down on signal %d", signum)
