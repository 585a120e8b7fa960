"""``ThreadPool``: a bounded pool of worker threads for blocking code, per app.

Model code and Flask hooks block, so they never run on the event loop.  Each
app owns its pools (nothing per process), sized by settings.  A step that is
cancelled while its thread runs is waited for before the cancellation goes
on: later steps of the same request (a Flask teardown) must not overlap it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["ThreadPool"]

T = TypeVar("T")


class ThreadPool:
    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self.name = name
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=self.name)
        return self._executor

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func`` in a worker thread; an ``async def`` callable is awaited on the loop."""
        if inspect.iscoroutinefunction(func):
            return await func(*args, **kwargs)  # type: ignore[no-any-return]
        call = functools.partial(func, *args, **kwargs) if kwargs else functools.partial(func, *args)
        future = asyncio.get_running_loop().run_in_executor(self._pool(), call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            while not future.done():
                try:
                    await asyncio.shield(future)
                except asyncio.CancelledError:
                    continue
                except Exception:
                    break
            raise

    def shutdown(self) -> None:
        """Let idle threads go; a running call finishes first (nothing is interrupted)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
