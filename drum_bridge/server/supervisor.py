"""``Supervisor``: the parent process that keeps the workers serving, one worker included.

A worker also ends on its own after ``--max-requests``.  Model code can end its process (``os._exit``, a crash in native code).  As
gunicorn's master does for real DRUM, the parent replaces a worker that died,
so the server goes on; a worker that fails to start (the model does not load)
stops the parent instead of being restarted for ever.  The first SIGTERM or
SIGINT drains the workers (each within ``--graceful-timeout``); a second one
kills them at once.
"""

from __future__ import annotations

import functools
import logging
import pickle
import signal
from multiprocessing.connection import wait
from socket import socket
from types import FrameType

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from ..observability.metrics import forget_process

__all__ = ["Supervisor"]

logger = logging.getLogger("drum_bridge.server")


class Supervisor(Multiprocess):
    def __init__(self, config: Config, sockets: list[socket]) -> None:
        super().__init__(config, sockets)
        #: A second signal killed the workers instead of letting them drain.
        self.forced = False
        self._stop_signals = 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_stop_signal)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signals += 1
        if self._stop_signals == 1:
            self.signal_queue.append(signum)  # drained by uvicorn's loop: terminate, then join
            return
        self.forced = True
        logger.warning("Signal %d during the drain: killing the workers now", signum)
        for process in self.processes:
            process.kill()
        self.should_exit.set()

    def keep_subprocess_alive(self) -> None:
        for process in self.processes:
            if "ping" not in vars(process):
                process.ping = functools.partial(_ping_or_exit, process)  # type: ignore[method-assign]
        before = {process.pid for process in self.processes}
        super().keep_subprocess_alive()
        for pid in before - {process.pid for process in self.processes}:
            if pid is not None:
                forget_process(pid)

    @property
    def startup_failed(self) -> bool:
        """A worker failed before serving (its cause is in its log): the parent stopped."""
        return any(process.exitcode == STARTUP_FAILURE for process in self.processes)


def _ping_or_exit(process: Process, timeout: float = 5) -> bool:
    """uvicorn's health check of a worker, ended early when the worker exits.

    uvicorn waits up to ``timeout`` for the answer; a worker that ends on its own while
    pinged (``--max-requests``, ``os._exit``) would leave the port unserved that long.
    """
    try:
        process.parent_conn.send(b"ping")
        ready = wait([process.parent_conn, process.process.sentinel], timeout)
        if process.parent_conn in ready:
            process.parent_conn.recv()
            return True
    except (OSError, EOFError, pickle.UnpicklingError):
        pass
    return False
