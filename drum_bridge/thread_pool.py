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

Two bounds are on offer for callers that need them: ``max_waiting`` refuses a
call at once (``PoolFullError``) when every thread is busy and that many calls
already wait; ``run_until`` releases its caller at a deadline
(``CallTimeoutError``).  A call still queued then never runs; one already
running goes on in its thread, and ``busy`` counts it until it returns.

Shutting down has two steps.  ``close()`` (when draining begins) refuses new
calls and answers the queued ones ``PoolClosedError`` at once; running calls
go on.  ``shutdown()`` (at the end of the grace period) also releases the
callers of calls still running, so that nothing on the event loop waits for a
stuck thread; the threads are daemons and end with the process.

A call that raises ``SystemExit``, ``KeyboardInterrupt`` or ``GeneratorExit``
does not reach its caller as such (it would stop the server): it is answered
``CallAbortedError``, with the original as its cause.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from .errors import DrumBridgeError

__all__ = ["CallAbortedError", "CallTimeoutError", "PoolClosedError", "PoolFullError", "ThreadPool"]

T = TypeVar("T")


class PoolFullError(DrumBridgeError):
    """Every thread is busy and ``max_waiting`` calls already wait: the call was refused."""


class CallTimeoutError(DrumBridgeError, TimeoutError):
    """The caller of ``run_until`` was released at its deadline before the call returned."""


class PoolClosedError(DrumBridgeError):
    """The pool is closing (the server drains): the call was not run, or not waited for."""


class CallAbortedError(DrumBridgeError):
    """The call raised ``SystemExit``, ``KeyboardInterrupt`` or ``GeneratorExit`` (the cause)."""


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


_QUEUED, _RUNNING, _DROPPED = 0, 1, 2


class _Call:
    __slots__ = ("future", "func", "state", "admitted")

    def __init__(self, future: asyncio.Future[Any], func: Callable[[], Any], admitted: bool) -> None:
        self.future = future
        self.func = func
        self.state = _QUEUED
        #: A further step of admitted work: closing the pool does not refuse it.
        self.admitted = admitted


class ThreadPool:
    def __init__(self, threads: int, name: str, *, max_waiting: int | None = None) -> None:
        self.threads = threads
        self.name = name
        #: Calls that may wait for a thread when all are busy; None: no bound.
        self.max_waiting = max_waiting
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._waiting = 0
        self._busy = 0
        #: Calls whose caller has not been answered yet: queued or running.
        self._unanswered: set[_Call] = set()
        self._closed: str | None = None

    @property
    def waiting(self) -> int:
        """Calls queued that no thread has started yet."""
        return self._waiting

    @property
    def busy(self) -> int:
        """Calls running in a thread now, those whose caller was released included."""
        return self._busy

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
        lock = self._lock
        while (call := calls.get()) is not None:
            with lock:
                if call.state == _DROPPED:
                    continue
                call.state = _RUNNING
                self._waiting -= 1
                self._busy += 1
            try:
                result = (True, call.func())
            except Exception as exc:  # handed to the awaiting request, not lost
                result = (False, exc)
            except BaseException as exc:
                aborted = CallAbortedError(f"The call raised {type(exc).__name__}: {exc}")
                aborted.__cause__ = exc
                result = (False, aborted)
            finally:
                with lock:
                    self._busy -= 1
                    self._unanswered.discard(call)
            future = call.future
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, *result)
            except RuntimeError:
                pass  # the loop is closed: nobody awaits the result any more
            del call, future, result

    def _submit(
        self, func: Callable[..., Any], args: Any, kwargs: Any, *, admitted: bool = False
    ) -> _Call:
        if len(self._workers) < self.threads:
            self._start()
        with self._lock:
            if self._closed is not None and not admitted:
                raise PoolClosedError(self._closed)
            limit = self.max_waiting
            full = limit is not None and self._waiting + self._busy >= self.threads + limit
            if full and not admitted:
                raise PoolFullError(
                    f"All {self.threads} {self.name} threads are busy and {limit} calls wait"
                )
            self._waiting += 1
        # In the caller's context: model code's log lines carry the request id, its spans
        # join the request's trace.
        run = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
        call = _Call(_CallDone(loop=asyncio.get_running_loop()), run, admitted)
        with self._lock:
            self._unanswered.add(call)
        self._calls.put(call)
        return call

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func`` in a worker thread; an ``async def`` callable is awaited on the loop."""
        if inspect.iscoroutinefunction(func):
            return await func(*args, **kwargs)  # type: ignore[no-any-return]
        result: T = await self._submit(func, args, kwargs).future
        return result

    async def run_until(
        self, timeout: float | None, func: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """``run``, but the caller is released after ``timeout`` seconds with ``CallTimeoutError``.

        At the deadline a call that has not started is dropped; a running one goes
        on in its thread (counted in ``busy``), its result or exception discarded.
        """
        if timeout is None:
            return await self.run(func, *args, **kwargs)
        loop = asyncio.get_running_loop()
        if inspect.iscoroutinefunction(func):
            deadline_at = loop.time() + timeout
            try:
                return await asyncio.wait_for(func(*args, **kwargs), timeout)
            except asyncio.TimeoutError as exc:
                if loop.time() < deadline_at:
                    raise  # the coroutine's own timeout, not ours
                raise CallTimeoutError(f"The call did not return within {timeout:g} s") from exc
        return await self._until(loop, timeout, self._submit(func, args, kwargs))  # type: ignore[no-any-return]

    async def continue_until(self, timeout: float | None, func: Callable[..., T], *args: Any) -> T:
        """``run_until`` for a further step of work already admitted (the next chunk of a
        stream): neither the queue bound nor a closed pool refuses it, so that a response
        in flight can finish while the server drains."""
        if inspect.iscoroutinefunction(func):
            return await self.run_until(timeout, func, *args)  # type: ignore[arg-type]
        call = self._submit(func, args, {}, admitted=True)
        if timeout is None:
            result: T = await call.future
            return result
        return await self._until(asyncio.get_running_loop(), timeout, call)  # type: ignore[no-any-return]

    async def _until(self, loop: asyncio.AbstractEventLoop, timeout: float, call: _Call) -> Any:
        """Wait for ``call`` up to ``timeout`` seconds (see ``run_until``).

        At the deadline the call's future is settled with ``CallTimeoutError``; what the
        thread answers later finds it settled and is dropped (``_settle``).
        """
        future = call.future

        def on_deadline() -> None:
            with self._lock:
                if call.state == _QUEUED:
                    call.state = _DROPPED
                    self._waiting -= 1
            if not future.done():
                future.set_exception(CallTimeoutError(f"The call did not return within {timeout:g} s"))

        deadline = loop.call_later(timeout, on_deadline)
        try:
            return await future
        finally:
            deadline.cancel()

    def close(self, reason: str = "The server is shutting down") -> int:
        """Refuse new calls and answer the queued ones ``PoolClosedError(reason)``; how many."""
        with self._lock:
            if self._closed is None:
                self._closed = reason
            dropped = [c for c in self._unanswered if c.state == _QUEUED and not c.admitted]
            for call in dropped:
                call.state = _DROPPED
                self._waiting -= 1
                self._unanswered.discard(call)
        for call in dropped:
            _answer_closed(call, reason)
        return len(dropped)

    def shutdown(self) -> None:
        """Close, release the callers of running calls, and let the threads go after them."""
        self.close()
        with self._lock:
            running = list(self._unanswered)
            self._unanswered.clear()
            for _ in self._workers:
                self._calls.put(None)
            self._workers = []
        for call in running:
            _answer_closed(call, "The server shut down before the call returned")


def _answer_closed(call: _Call, reason: str) -> None:
    future = call.future
    try:
        future.get_loop().call_soon_threadsafe(_settle, future, False, PoolClosedError(reason))
    except RuntimeError:
        pass  # the loop is closed: nobody awaits the result any more
