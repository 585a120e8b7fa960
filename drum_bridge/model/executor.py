"""The bounded pool of worker threads that runs model code.

Model code is CPU-bound or blocking, so it never runs on the event loop.  A
capacity limiter per app (not the process-wide default) keeps two mounted
models from starving each other and bounds how many requests score at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

__all__ = ["ModelExecutor"]

T = TypeVar("T")


class ModelExecutor:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        # Created lazily: a CapacityLimiter binds to the running event loop.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return self._limiter

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func`` in a worker thread; ``async def`` callables are awaited on the loop."""
        if inspect.iscoroutinefunction(func):
            return await func(*args, **kwargs)  # type: ignore[no-any-return]
        call = functools.partial(func, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self.limiter)
