"""Serving a ``Config`` with uvicorn: one process, or N worker processes on one port.

The serving process (or each worker) builds its app with ``app_factory``, from
the Config the parent put in the environment (``worker_config``).

The workers, one or more, run under a supervising parent (``Supervisor``)
that replaces a worker that died.

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
import sys
import threading
from types import FrameType
from typing import Any

from uvicorn.config import STARTUP_FAILURE

from ..app import DrumApp, create_app
from ..config import Config
from ..errors import DrumBridgeError
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
    config = decode_config(os.environ[CONFIG_ENV])
    try:
        app = create_app(config)
    except DrumBridgeError as exc:
        # One line, and the status that tells the parent not to start the worker again.
        logger.error("%s", exc, exc_info=config.show_stacktrace)
        sys.exit(STARTUP_FAILURE)
    _drain_on_signals(app.drum_runtime)
    return app


def _drain_on_signals(runtime: DrumRuntime) -> None:
    """Chain the drain in front of uvicorn's own handlers of SIGTERM and SIGINT.

    A worker may get the same stop twice (Ctrl-C reaches the whole process group, and the
    parent passes a SIGTERM on): the drain is idempotent, and forcing is the parent's.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only; an embedding host handles its own
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    draining: list[int] = []

    def chain(previous: Any) -> Any:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            if not draining:
                draining.append(signum)
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
        "Signal %d: draining (queued model calls answered 503: %d; a second signal to the"
        " server ends it at once)", signum, refused,
    )


def serve(config: Config, level: str) -> int:
    """Serve until a signal stops the server; the exit status.

    ``level`` is the logging level's name.  1 when the workers could not start (each
    logged why) or a second signal cut the drain short.
    """
    import uvicorn

    from .supervisor import Supervisor

    os.environ[CONFIG_ENV] = encode_config(config)
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_config": logging_config(level),
        "timeout_graceful_shutdown": config.graceful_timeout,
        "proxy_headers": False,
        "server_header": False,
    }
    server_config = uvicorn.Config(
        f"{__name__}:app_factory", factory=True, workers=config.max_workers, **options
    )
    supervisor = Supervisor(server_config, sockets=[server_config.bind_socket()])
    supervisor.run()
    if supervisor.startup_failed or supervisor.forced:
        return 1
    logger.info("Shut down")
    return 0
