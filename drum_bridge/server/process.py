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
import contextlib
import ctypes
import gc
import logging
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from ..app import DrumApp, create_app
from ..config import Config
from ..errors import DrumBridgeError
from ..model_runtime import DrumRuntime
from ..observability.metrics import MULTIPROC_ENV
from .http_protocol import PROTOCOL
from .logging_config import logging_config
from .worker_config import CONFIG_ENV, decode_config, encode_config

__all__ = ["app_factory", "keep_freed_memory", "metrics_dir", "serve", "server_options"]

logger = logging.getLogger("drum_bridge.server")


def app_factory() -> DrumApp:
    """What the serving process (each worker) calls: the app for the parent's Config.

    The drain is chained in front of the server's own signal handlers when the
    lifespan starts: by then uvicorn (or gunicorn's uvicorn worker) installed them.
    """
    config = decode_config(os.environ[CONFIG_ENV])
    if config.keep_freed_memory and keep_freed_memory():
        logger.debug("malloc keeps freed memory (mmap threshold %d, trim threshold %d)",
                     MMAP_THRESHOLD, TRIM_THRESHOLD)
    try:
        app = create_app(config)
    except DrumBridgeError as exc:
        # One line, and the status that tells the parent not to start the worker again.
        logger.error("%s", exc, exc_info=config.show_stacktrace)
        sys.exit(STARTUP_FAILURE)
    runtime = app.drum_runtime
    # At lifespan start-up: uvicorn's (or gunicorn's) own handlers are in place by then.
    runtime.on_startup.append(lambda: _drain_on_signals(runtime))
    if config.gc_freeze:
        runtime.on_loaded.append(_freeze_start_up_heap)
    return app


#: glibc's own upper bounds for its dynamic thresholds on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``
#: and twice it): an allocation under 32 MiB comes from the heap, and up to 64 MiB freed at
#: its top stays there.
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def keep_freed_memory() -> bool:
    """Stop glibc's malloc from handing a request's memory back to the system after each call.

    A 10,000-row request makes arrays of a few hundred KiB; glibc maps each such array
    afresh or trims it off its heap when freed, and the next request faults every page in
    again: 80 page faults and ~0.2 ms of system time a request, measured, a fifth of the
    call.  Fixed at glibc's own upper bounds, they come from the heap and stay mapped.  The
    cost: up to 64 MiB freed per malloc arena stays with the process.  Left alone when
    ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` is set (glibc applied them),
    and off glibc.  True when set.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _freeze_start_up_heap() -> None:
    """Move what start-up made (imports, the model) out of the garbage collector's reach.

    Under concurrent load a request's objects outlive a young collection or two, so they
    reach the oldest generation, and its full collections come every second or two; each
    then walks the whole heap, which libraries like pandas and scikit-learn make large:
    ~0.1 s a time on this machine, some 7 % of a busy server's time.  Frozen, the start-up
    heap is skipped and a full collection takes under a millisecond.  What it costs: a
    start-up object that later becomes cyclic garbage is never freed (``--gc-freeze off``).
    """
    gc.collect()  # start-up's own garbage is freed, not frozen
    gc.freeze()
    logger.info(
        "Start-up heap frozen (%d objects): the garbage collector's full collections skip it"
        " (--gc-freeze off to keep it collectable)", gc.get_freeze_count(),
    )


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


class _WorkerConfig(uvicorn.Config):
    """uvicorn's Config, with ``--max-requests-jitter``: each worker process draws its own
    limit, so that workers are not all replaced at the same moment."""

    max_requests_jitter = 0
    _drawn: tuple[int, int | None] | None = None

    @property
    def limit_max_requests(self) -> int | None:
        pid = os.getpid()
        if self._drawn is None or self._drawn[0] != pid:
            base = self._base_limit
            extra = random.randint(0, self.max_requests_jitter) if base and self.max_requests_jitter else 0
            self._drawn = (pid, base + extra if base else None)
        return self._drawn[1]

    @limit_max_requests.setter
    def limit_max_requests(self, value: int | None) -> None:
        self._base_limit = value
        self._drawn = None


def server_options(config: Config, level: str) -> dict[str, Any]:
    """uvicorn's settings for ``config`` (``level``: the logging level's name)."""
    return {
        "host": config.host,
        "port": config.port,
        "log_config": logging_config(level, config.log_format, config.access_log),
        "access_log": config.access_log,
        "timeout_graceful_shutdown": config.graceful_timeout,
        "timeout_keep_alive": config.keep_alive,
        "backlog": config.backlog,
        "limit_max_requests": config.max_requests or None,
        "proxy_headers": False,
        "server_header": False,
        "http": PROTOCOL,
    }


def serve(config: Config, level: str) -> int:
    """Serve until a signal stops the server; the exit status.

    ``level`` is the logging level's name.  1 when the workers could not start (each
    logged why) or a second signal cut the drain short.
    """
    from .supervisor import Supervisor

    os.environ[CONFIG_ENV] = encode_config(config)
    with metrics_dir(config):
        server_config = _WorkerConfig(
            f"{__name__}:app_factory", factory=True, workers=config.max_workers,
            **server_options(config, level),
        )
        server_config.max_requests_jitter = config.max_requests_jitter
        supervisor = Supervisor(server_config, sockets=[server_config.bind_socket()])
        supervisor.run()
    if supervisor.startup_failed or supervisor.forced:
        return 1
    logger.info("Shut down")
    return 0


@contextlib.contextmanager
def metrics_dir(config: Config) -> Iterator[None]:
    """prometheus-client's multiprocess directory, made for the workers and removed after.

    A directory the environment names already (``PROMETHEUS_MULTIPROC_DIR``) is used
    as it is and left in place.
    """
    if not config.metrics or os.environ.get(MULTIPROC_ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="drum-bridge-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
