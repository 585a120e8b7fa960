"""``ThreadPool``: a bounded pool of worker threads for blocking code, per app.

Model code and Flask hooks block, so they never run on the event loop.  Each
app owns its pools (nothing per process), sized by settings.

A hop to a thread and back is on the path of every request, so the pool is
lean: its threads take calls from one queue and hand results back with
``call_soon_threadsafe``; under load a thread takes queued calls one after the
other, and the loop is woken once for many results.  (``run_in_executor``
costs several times more per call here.)

A call that is cancelled while its thread runs is waited for before the
cancellation goes on: later steps of the same request (a Flask teardown) must
not overlap it.  The awaited future refuses ``cancel()``, so asyncio delivers
the cancellation to the task once the call is done; this costs nothing per
call, where ``asyncio.shield`` costs a second future and two callbacks.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["ThreadPool"]

T = TypeVar("T")
_Call = tuple["asyncio.Future[Any]", Callable[[], Any]]


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _CallDone(asyncio.Future):  # type: ignore[type-arg]
    """A thread's result: it cannot be cancelled, only settled by the thread.

    ``Task.cancel()`` then marks the awaiting task instead, and the task gets its
    ``CancelledError`` when this future is settled: after the call, not during it.
    """

    def cancel(self, msg: Any = None) -> bool:
        return False


class ThreadPool:
    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self.name = name
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            while len(self._workers) < self.threads:
                worker = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._workers)}", daemon=True
                )
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        calls = self._calls
        while (call := calls.get()) is not None:
            future, func = call
            try:
                result = (True, func())
            except BaseException as exc:  # handed to the awaiting request, not lost
                result = (False, exc)
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, *result)
            except RuntimeError:
                pass  # the loop is closed: nobody awaits the result any more
            del call, future, func, result

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func`` in a worker thread; an ``async def`` callable is awaited on the loop."""
        if inspect.iscoroutinefunction(func):
            return await func(*args, **kwargs)  # type: ignore[no-any-return]
        if len(self._workers) < self.threads:
            self._start()
        future: asyncio.Future[T] = _CallDone(loop=asyncio.get_running_loop())
        self._calls.put((future, functools.partial(func, *args, **kwargs)))
        return await future

    def shutdown(self) -> None:
        """Let the threads go once the calls queued before are done (none is interrupted)."""
        with self._lock:
            for _ in self._workers:
                self._calls.put(None)
            self._workers = []
